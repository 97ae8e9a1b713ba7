"""Reproductions: a registry of small scripts that make one failure mode happen, and a runner for them.

Each script in scripts/repro runs a FAILURE arm and a MITIGATION arm, writes `<name>.json` and `<name>.png`
into the directory given by `--out`, and decides `signature_met` from its own metrics by the rule stated here.
`run_reproduction` runs a script in a subprocess with a time limit, streams its progress lines, and writes the
final result (registry fields + script output + timing) atomically into the output directory.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from pydantic import BaseModel, ConfigDict

from .errors import NotFoundError, ReproError

REPO_ROOT = Path(__file__).resolve().parents[1]


class Anchor(BaseModel):
    """The published result a reproduction mirrors."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    paper: str
    arxiv: str | None = None
    result: str


class Reproduction(BaseModel):
    """One registered reproduction: its script, what it reproduces, and the signature it must show."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    title: str
    script: str
    reproduces: list[str]
    mitigations: list[str]
    signature: str
    rule: str
    anchor: Anchor

    @property
    def script_path(self) -> Path:
        return REPO_ROOT / self.script


def _repro(**kw) -> Reproduction:
    kw["anchor"] = Anchor(**kw["anchor"])
    return Reproduction(script=f"scripts/repro/{kw['name']}.py", **kw)


_ALL = [
    _repro(
        name="no-foothold",
        title="No foothold: exact-match reward that never fires gives zero gradient",
        reproduces=["fm:no-foothold"],
        mitigations=["mit:partial-credit", "mit:curriculum", "mit:foothold-tasks"],
        signature=("With exact-match reward on an 8-token target (base success 8^-8) GRPO never sees a success: "
                   "every group has zero reward variance, the gradient is exactly 0 and nothing is learned. Partial "
                   "credit, a curriculum over the target prefix, and a task with ~2% base success all learn."),
        rule=("exact arm: final P(exact) < 0.01 and its gradient norm was 0 at every step; partial, curriculum "
              "and foothold arms: final P(solve their task) >= 0.5 each"),
        anchor={"paper": "gandhi-et-al-2025", "arxiv": "2503.01307",
                "result": ("Under identical RL on Countdown, a base model that already shows the needed behaviours "
                           "improves while one that does not plateaus; priming with examples of the behaviours "
                           "restores improvement. RL only reinforces what the policy already samples.")},
    ),
    _repro(
        name="overoptimization",
        title="Reward-model overoptimization: proxy up, gold up then down",
        reproduces=["fm:reward-overoptimization"],
        mitigations=["mit:kl-penalty", "mit:early-stopping"],
        signature=("Optimizing a proxy reward model fitted on base-policy comparisons, the proxy keeps rising with "
                   "d = sqrt(KL) while the gold reward rises, peaks and falls, for best-of-n and for RL; Gao et "
                   "al.'s forms d(alpha - beta d) and d(alpha - beta log d) are fitted. Early stopping on a held-out "
                   "gold check and a KL penalty keep gold near its peak."),
        rule=("for best-of-n and for RL without KL: the proxy gain at the largest KL is its maximum (within 2%) "
              "while gold peaks strictly inside the range and ends at least 1.0 below its peak, and the fitted Gao "
              "beta is > 0; mitigations: early stopping keeps >= 80% of the RL gold peak and a KL penalty ends with "
              "higher gold than the unpenalized run"),
        anchor={"paper": "gao-schulman-hilton-2022", "arxiv": "2210.10760",
                "result": ("Gold reward vs d = sqrt(KL) follows d(alpha - beta d) for best-of-n and "
                           "d(alpha - beta log d) for RL: it rises, peaks and falls while the proxy keeps rising; RL "
                           "peaks later in KL than best-of-n; a KL penalty acts like early stopping.")},
    ),
    _repro(
        name="memorization",
        title="Memorization: a small fixed task set is learned, the skill is not",
        reproduces=["fm:overfitting"],
        mitigations=["mit:task-distribution"],
        signature=("GRPO on 8 fixed tasks (id, a, b -> a+b) reaches ~100% train accuracy with near-chance held-out "
                   "accuracy; the same budget on fresh tasks every step learns addition and generalizes."),
        rule=("fixed arm: train accuracy >= 0.9 and held-out accuracy <= 0.3; fresh arm: held-out accuracy >= 0.6 "
              "and at least 0.4 above the fixed arm's held-out accuracy"),
        anchor={"paper": "cobbe-et-al-2019", "arxiv": "1812.02341",
                "result": ("Agents trained on a fixed number of procedurally generated levels overfit even to large "
                           "training sets; the train-test gap closes only as the number of training levels grows.")},
    ),
    _repro(
        name="passk-narrowing",
        title="Capability narrowing: RL wins pass@1, the base model wins pass@k at large k",
        reproduces=["fm:capability-narrowing"],
        mitigations=["mit:diversity-regularization"],
        signature=("GRPO with a shared linear policy concentrates on the common strategy: pass@1 rises well above "
                   "the base model's, but prompts only rare strategies solve are dropped, so the base model's pass@k "
                   "(unbiased estimator) overtakes RL at some k; a KL penalty to the base keeps more coverage."),
        rule=("RL pass@1 exceeds base pass@1 by >= 0.1, base pass@kmax exceeds RL pass@kmax by >= 0.05 (so the curves "
              "cross at some k), and the KL-regularized arm keeps pass@kmax >= 0.05 above plain RL while beating base "
              "at pass@1"),
        anchor={"paper": "yue2025passk", "arxiv": "2504.13837",
                "result": ("RLVR-trained models beat their base models at small k but base models reach higher "
                           "pass@k at large k (tens to hundreds of samples), across benchmarks and model families.")},
    ),
    _repro(
        name="zero-variance-groups",
        title="Zero-variance groups: all-equal rewards give zero advantage",
        reproduces=["fm:zero-variance-groups"],
        mitigations=["mit:dynamic-sampling"],
        signature=("As GRPO solves prompts, the share of groups whose rewards are all equal grows and those groups "
                   "add no gradient. Dynamic sampling (drop them, resample) learns faster per gradient step, at the "
                   "cost of generating more samples; per generated sample it is no better."),
        rule=("plain GRPO: the expected fraction of all-equal-reward groups (mean over prompts of p^G + (1-p)^G) "
              "averaged over the last 20% of steps is >= 0.1 above its average over the first 10%; dynamic "
              "sampling: expected accuracy after the same number of gradient steps is >= 0.05 higher (per-sample "
              "efficiency is reported, not required)"),
        anchor={"paper": "yu-et-al-2025-dapo", "arxiv": "2503.14476",
                "result": ("Prompts with all-correct or all-wrong groups give zero advantage and their share grows "
                           "during training; Dynamic Sampling over-samples and filters them, reaching the baseline's "
                           "AIME score with fewer training steps.")},
    ),
    _repro(
        name="loss-normalization",
        title="Loss normalization: per-sequence length bias and the gradient-accumulation bug",
        reproduces=["fm:length-bias", "fm:silent-library-bugs"],
        mitigations=["mit:token-level-normalization", "mit:grad-accumulation-fix"],
        signature=("Per-sequence loss normalization (original GRPO) favours a long wrong strategy over an equally "
                   "rewarded short one, so failing answers end up longer; DAPO's token-level mean and Dr. GRPO's "
                   "constant normalizer do not. Averaging the loss per micro-batch under gradient accumulation "
                   "gives the wrong gradient with uneven lengths; summing and dividing by the global token count "
                   "matches the full batch exactly."),
        rule=("A: GRPO (per-sequence mean) ends with odds P(ramble)/P(guess) >= 2 while DAPO and Dr. GRPO stay "
              "within [1/1.5, 1.5], and GRPO's expected length of incorrect answers exceeds both; B: fixed "
              "accumulation (sum / global token count) gives torch.allclose gradients to the full batch, the buggy "
              "one (micro-batch mean / steps) is off by a relative error > 0.1, and with equal lengths the buggy one "
              "is exact (< 1e-9)"),
        anchor={"paper": "liu-et-al-2025-dr-grpo", "arxiv": "2503.20783",
                "result": ("GRPO's 1/|o| normalization penalizes long incorrect responses less, so incorrect "
                           "responses grow longer; Dr. GRPO removes the length and std terms and stops that growth. "
                           "(The accumulation bug was fixed in HF transformers, Oct 2024.)")},
    ),
    _repro(
        name="exploration-hacking",
        title="Exploration hacking: deterministic failure starves GRPO of signal",
        reproduces=["fm:exploration-hacking"],
        mitigations=["mit:elicitation-sft"],
        signature=("A policy that has the skill but fails on trigger prompts deterministically gives all-wrong "
                   "groups: zero advantage, and RL leaves it locked; a policy that fails at random gets learned out "
                   "of its failures. A few supervised demonstrations partly unlock it and injected successes let RL "
                   "recover the skill."),
        rule=("hacker arm: held-out trigger accuracy after RL < 0.1 and >= 90% of its trigger groups have zero reward "
              "variance; random-failure arm: trigger accuracy rises by >= 0.4; elicitation arm (8 demos, SFT, then "
              "RL): held-out trigger accuracy >= 0.2 above the hacker's; injected-successes arm: >= 0.8; the skill "
              "exists: accuracy without the trigger >= 0.8 for both base policies"),
        anchor={"paper": "E007", "arxiv": "2604.28182",
                "result": ("Model organisms trained to underperform resist RL-based capability elicitation while "
                           "staying competent elsewhere; SFT-based elicitation and monitoring are countermeasures "
                           "(cf. password-locked models, where a few demonstrations unlock the capability).")},
    ),
]

REPRODUCTIONS: dict[str, Reproduction] = {r.name: r for r in _ALL}


def list_reproductions() -> list[Reproduction]:
    """All registered reproductions, in registry order."""
    return list(REPRODUCTIONS.values())


def get_reproduction(name: str) -> Reproduction:
    """The reproduction called `name`; NotFoundError names the valid ones."""
    try:
        return REPRODUCTIONS[name]
    except KeyError:
        raise NotFoundError(
            f"no reproduction named {name!r}: choose one of {', '.join(REPRODUCTIONS)}") from None


def run_reproduction(name: str, out_dir: Path, *, quick: bool = False, device: str = "cpu", seed: int = 0,
                     timeout: float = 120.0, on_line: Callable[[str], None] | None = None) -> dict:
    """Run one reproduction script and write `out_dir/<name>.json` and `.png`; returns the final result dict.

    Raises ReproError when the script times out, exits non-zero, or writes no result. `device="cuda"` is
    passed through: the script checks torch.cuda.is_available() itself and fails with "CUDA requested but not
    available", which arrives here as the ReproError message.
    """
    repro = get_reproduction(name)
    if device not in ("cpu", "cuda"):
        raise ReproError(f"unknown device {device!r}: use cpu or cuda")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=out_dir))
    try:
        cmd = [sys.executable, str(repro.script_path), "--out", str(work), "--seed", str(seed), "--device", device]
        if quick:
            cmd.append("--quick")
        t0 = time.monotonic()
        _run_streaming(cmd, name, timeout, on_line)
        seconds = time.monotonic() - t0
        produced = work / f"{name}.json"
        if not produced.exists():
            raise ReproError(f"{name}: the script finished but wrote no {produced.name}")
        payload = json.loads(produced.read_text())
        final = _final_result(repro, payload, started, seconds, seed)
        png = work / f"{name}.png"
        if png.exists():
            os.replace(png, out_dir / f"{name}.png")
        _write_json_atomic(out_dir / f"{name}.json", final)
        return final
    finally:
        shutil.rmtree(work, ignore_errors=True)


def load_script_module(name: str) -> ModuleType:
    """Import a reproduction script as a module (for in-process use: `mod.run(mod.Args(quick=True))`)."""
    repro = get_reproduction(name)
    module_name = "kb_repro_" + name.replace("-", "_")
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, repro.script_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up here while the file executes
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def _run_streaming(cmd: list[str], name: str, timeout: float, on_line: Callable[[str], None] | None) -> None:
    """Run cmd from the repo root, pass each stdout line to on_line, kill it after `timeout` seconds."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", MPLBACKEND="Agg")
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    stderr_tail: deque[str] = deque(maxlen=50)
    drain = threading.Thread(target=lambda: stderr_tail.extend(proc.stderr), daemon=True)
    drain.start()
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        for line in proc.stdout:
            if on_line is not None:
                on_line(line.rstrip("\n"))
        proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        drain.join(timeout=5)
    if timed_out.is_set():
        raise ReproError(f"{name} timed out after {timeout:g} s")
    if proc.returncode != 0:
        last = next((ln.strip() for ln in reversed(stderr_tail) if ln.strip()), f"exit status {proc.returncode}")
        raise ReproError(f"{name} failed: {last}")


def _final_result(repro: Reproduction, payload: dict, started: datetime, seconds: float, seed: int) -> dict:
    """Registry fields + the script's payload + run bookkeeping, in the documented key set."""
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    return {
        "name": repro.name,
        "reproduces": repro.reproduces,
        "mitigations": repro.mitigations,
        "signature": repro.signature,
        "signature_met": bool(payload.get("signature_met", False)),
        "signature_rule": payload.get("signature_rule", repro.rule),
        "seed": payload.get("seed", seed),
        "device": payload.get("device"),
        "quick": payload.get("quick"),
        "seconds": round(seconds, 3),
        "run_id": f"{repro.name}-{stamp}-s{seed}",
        "started_at": started.isoformat(timespec="seconds"),
        "metrics": payload.get("metrics", {}),
        "series": payload.get("series", {}),
        "plot": f"{repro.name}.png",
        "anchor": repro.anchor.model_dump(),
    }


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def load_result(name: str, out_dir: Path) -> dict | None:
    """The last result written for `name` in out_dir, or None if there is none (unknown names raise)."""
    get_reproduction(name)
    path = Path(out_dir) / f"{name}.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ReproError(f"{path}: unreadable result ({exc}); rerun the reproduction") from None
