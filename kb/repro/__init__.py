"""Reproductions: small scripts in scripts/repro that make one failure mode happen, beside a mitigation arm.

Modules
- `script`:   plumbing the scripts import (`CommonArgs`, `arg`, `quick_budget`, `run_script`, `result`, ...).
- `registry`: every script that declares a `REPRO` block, read with `ast` (no torch import).
- `runner`:   runs a script in a subprocess, records its result with the script's sha256 (`run_reproduction`,
              `run_all`, `load_result`, `record_run`).
- `evidence`: the build stage that turns the registry and the recorded runs into graph nodes.
Stage modules (`registry`, `evidence`) never import build, api or cli; only `runner.record_run` calls build.

Registering a new reproduction = adding one file `scripts/repro/<name>.py`; nothing else to edit:

    from dataclasses import dataclass
    from kb.repro.script import CommonArgs, arg, quick_budget, result, run_script, seed_everything

    NAME = "entropy-collapse"                      # must equal the file name
    REPRO = {                                       # plain literals only: read with ast.literal_eval
        "title": "Entropy collapse: ...",
        "reproduces": ["fm:entropy-collapse"],       # failure-mode ids from data/taxonomy.yaml
        "mitigations": ["mit:clip-higher", "mit:covariance-clip"],
        "signature": "What the run shows, in words.",
        "rule": "The exact test that sets signature_met (the script applies it; the registry shows it).",
        "anchor": {"paper": "cui-et-al-2025", "arxiv": "2505.22617", "result": "The published finding."},
    }

    @dataclass(frozen=True)                         # frozen: run(args) must not mutate its arguments
    class Args(CommonArgs):
        \"\"\"One line: what the script compares.\"\"\"
        steps: int = arg(200, "training steps per arm")

    def run(args: Args) -> dict:
        args = quick_budget(args, steps=60)       # --quick: smaller budget, same hyper-parameters
        seed_everything(args.seed)
        ...
        return result(args=args, metrics={"failure": {...}, "mitigation": {...}}, series={...},
                      signature_met=met, signature_rule=REPRO["rule"])

    def plot(payload: dict): ...                    # a matplotlib figure from new_figure(...)

    if __name__ == "__main__":
        run_script(NAME, Args, run, plot)

Then `kb repro list` shows it, `kb repro run NAME` (or `--all`) records `data/runs/NAME.json` + `.png`, and the
next `kb build` adds it to the graph, tied to its failure modes and mitigations.
"""

from __future__ import annotations

_EXPORTS = {
    "Anchor": "registry", "Reproduction": "registry", "get_reproduction": "registry",
    "list_reproductions": "registry",
    "run_reproduction": "runner", "run_all": "runner", "load_result": "runner", "load_script_module": "runner",
    "record_run": "runner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    # Lazy, so `import kb.repro.script` in a script does not pay for pydantic, and importing the evidence
    # stage from build never pulls in the runner (which imports build).
    if name in _EXPORTS:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(name)
