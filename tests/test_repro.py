"""The reproduction registry and runner: consistency, quick smoke runs, errors, determinism."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from kb.errors import NotFoundError, ReproError
from kb.repro import registry
from kb.repro.registry import SCRIPTS_DIR, get_reproduction, list_reproductions, read_declaration
from kb.repro.runner import load_result, load_script_module, run_all, run_reproduction

REPRODUCTIONS = registry.registry()
NAMES = list(REPRODUCTIONS)
FINAL_KEYS = {"name", "reproduces", "mitigations", "signature", "signature_met", "signature_rule", "seed", "device",
              "quick", "seconds", "run_id", "started_at", "metrics", "series", "plot", "anchor", "script",
              "script_sha256"}
REQUIRED_SERIES = {"overoptimization": {"kl", "proxy", "gold"}, "passk-narrowing": {"k", "pass_base", "pass_rl"}}


def test_every_script_in_the_folder_is_registered():
    scripts = sorted(p.stem for p in SCRIPTS_DIR.glob("*.py"))
    assert NAMES == scripts  # a script without a REPRO block would silently be missing from the graph
    assert {"no-foothold", "overoptimization", "memorization", "passk-narrowing", "zero-variance-groups",
            "loss-normalization", "exploration-hacking"} <= set(NAMES)


def test_registry_is_consistent():
    assert [r.name for r in list_reproductions()] == NAMES
    for name, r in REPRODUCTIONS.items():
        assert r.name == name and r.script == f"scripts/repro/{name}.py"
        assert r.script_path.is_file(), r.script
        assert r.reproduces and all(i.startswith("fm:") for i in r.reproduces), r.reproduces
        assert r.mitigations and all(i.startswith("mit:") for i in r.mitigations), r.mitigations
        assert r.anchor.paper and r.anchor.result and r.signature and r.rule


@pytest.mark.parametrize("name", NAMES)
def test_script_states_the_registry_rule(name):
    module = load_script_module(name)
    assert module.NAME == name
    assert module.REPRO["rule"] == REPRODUCTIONS[name].rule  # one owner: the registry reads the script's block


@pytest.mark.parametrize("name", NAMES)
def test_help_works(name):
    out = subprocess.run([sys.executable, str(REPRODUCTIONS[name].script_path), "--help"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "--seed" in out.stdout and "--quick" in out.stdout


@pytest.mark.parametrize("name", NAMES)
def test_run_does_not_mutate_its_arguments(name):
    module = load_script_module(name)
    args = module.Args(quick=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        args.seed = 1  # frozen: run(args) cannot change its caller's arguments


def test_bad_declaration_is_named(tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text('NAME = "broken"\nREPRO = {"title": "t", "reproduces": ["no-prefix"], "mitigations": ["mit:x"], '
                   '"signature": "s", "rule": "r", "anchor": {"paper": "p", "result": "r"}}\n')
    with pytest.raises(ReproError, match=r"broken.py: REPRO reproduces: .*fm:"):
        read_declaration(bad)
    bad.write_text('NAME = "other"\nREPRO = {}\n')
    with pytest.raises(ReproError, match="NAME must be 'broken'"):
        read_declaration(bad)


def test_unknown_name_raises_not_found_naming_the_valid_ones(tmp_path):
    with pytest.raises(NotFoundError) as err:
        get_reproduction("no-such-thing")
    assert "no-such-thing" in str(err.value) and "overoptimization" in str(err.value)
    with pytest.raises(NotFoundError):
        run_reproduction("no-such-thing", tmp_path)
    with pytest.raises(NotFoundError):
        load_result("no-such-thing", tmp_path)


@pytest.mark.parametrize("name", NAMES)
def test_quick_run_writes_result_and_plot(name, tmp_path):
    lines: list[str] = []
    # a generous limit: this checks what a run writes, not how fast it is (scripts/bench_repro.py times them)
    result = run_reproduction(name, tmp_path, quick=True, seed=0, on_line=lines.append, timeout=600)
    assert set(result) == FINAL_KEYS
    assert result["name"] == name and result["quick"] is True and result["seed"] == 0 and result["device"] == "cpu"
    assert result["reproduces"] == REPRODUCTIONS[name].reproduces
    assert result["anchor"] == REPRODUCTIONS[name].anchor.model_dump()
    assert result["run_id"].startswith(f"{name}-") and result["run_id"].endswith("-s0")
    assert result["plot"] == f"{name}.png" and (tmp_path / f"{name}.png").stat().st_size > 1000
    assert result["signature_met"] is True, result["metrics"]
    assert {"failure", "mitigation"} <= set(result["metrics"])
    required = REQUIRED_SERIES.get(name, set())
    assert required <= set(result["series"])
    assert len({len(result["series"][key]) for key in required}) <= 1  # paired curves have equal lengths
    assert all(isinstance(v, list) and v for v in result["series"].values())
    assert any(line.startswith("step ") for line in lines) and lines[-1].startswith(f"done {name}")
    assert load_result(name, tmp_path) == {**result, "stale": False}  # just made by the script as it is
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # temp dir and files cleaned up


def test_same_seed_gives_same_numbers(tmp_path):
    a = run_reproduction("zero-variance-groups", tmp_path / "a", quick=True, seed=3)
    b = run_reproduction("zero-variance-groups", tmp_path / "b", quick=True, seed=3)
    c = run_reproduction("zero-variance-groups", tmp_path / "c", quick=True, seed=4)
    assert a["metrics"] == b["metrics"] and a["series"] == b["series"]
    assert a["series"] != c["series"]


def test_timeout_raises_repro_error(tmp_path):
    with pytest.raises(ReproError, match=r"timed out after 0.5 s"):
        run_reproduction("memorization", tmp_path, timeout=0.5)
    assert load_result("memorization", tmp_path) is None


FAKE_BLOCK = ('NAME = "fake"\nREPRO = {"title": "t", "reproduces": ["fm:no-foothold"], "mitigations": '
              '["mit:curriculum"], "signature": "s", "rule": "r", "anchor": {"paper": "p", "result": "r"}}\n')


def _fake(monkeypatch, tmp_path, body: str) -> str:
    scripts = tmp_path / "scripts"
    scripts.mkdir(exist_ok=True)
    (scripts / "fake.py").write_text(FAKE_BLOCK + body)
    monkeypatch.setattr(registry, "SCRIPTS_DIR", scripts)
    return "fake"


def test_failing_script_raises_with_last_stderr_line(monkeypatch, tmp_path):
    name = _fake(monkeypatch, tmp_path, "import sys\nprint('step 1/2', flush=True)\n"
                                        "sys.exit('boom: the toy broke')\n")
    with pytest.raises(ReproError, match="boom: the toy broke"):
        run_reproduction(name, tmp_path / "out")


def test_script_without_json_raises(monkeypatch, tmp_path):
    name = _fake(monkeypatch, tmp_path, "print('done', flush=True)\n")
    with pytest.raises(ReproError, match="wrote no fake.json"):
        run_reproduction(name, tmp_path / "out")


def test_fake_script_result_gets_registry_fields(monkeypatch, tmp_path):
    body = ("import json, sys, pathlib\nout = pathlib.Path(sys.argv[sys.argv.index('--out') + 1])\n"
            "(out / 'fake.json').write_text(json.dumps({'metrics': {'failure': {'x': 1}, 'mitigation': {'x': 2}}, "
            "'series': {'s': [1, 2]}, 'signature_met': True, 'signature_rule': 'r', 'seed': 7, 'device': 'cpu', "
            "'quick': False}))\n")
    name = _fake(monkeypatch, tmp_path, body)
    out = tmp_path / "out"
    result = run_reproduction(name, out, seed=7)
    assert set(result) == FINAL_KEYS and result["metrics"]["mitigation"] == {"x": 2} and result["seed"] == 7
    assert json.loads((out / "fake.json").read_text()) == result
    assert not (out / "fake.png").exists()
    assert load_result(name, out)["stale"] is False
    script = tmp_path / "scripts" / "fake.py"
    script.write_text(script.read_text() + "# edited after the run\n")
    assert load_result(name, out)["stale"] is True  # never stale silently


def test_run_all_reports_failures_without_stopping(monkeypatch, tmp_path):
    _fake(monkeypatch, tmp_path, "import sys\nsys.exit('boom')\n")
    outcomes = run_all(tmp_path / "out")
    assert list(outcomes) == ["fake"] and isinstance(outcomes["fake"], ReproError)


def test_cuda_request_without_gpu_fails_clearly(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ReproError, match="CUDA requested but not available"):
        run_reproduction("no-foothold", tmp_path, quick=True, device="cuda")


def test_cuda_run_when_a_gpu_is_present(tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no GPU here")
    result = run_reproduction("no-foothold", tmp_path, quick=True, device="cuda")
    assert result["device"] == "cuda" and result["signature_met"] is True


def test_unknown_device_is_rejected(tmp_path):
    with pytest.raises(ReproError, match="unknown device"):
        run_reproduction("no-foothold", tmp_path, device="tpu")



def _recorded(name: str, sha: str) -> dict:
    repro = REPRODUCTIONS[name]
    return {"name": name, "run_id": f"{name}-x-s0", "signature_met": True, "quick": False, "seed": 0,
            "device": "cpu", "seconds": 1.0, "signature": repro.signature, "reproduces": repro.reproduces,
            "mitigations": repro.mitigations, "script_sha256": sha, "metrics": {}, "plot": f"{name}.png"}


def test_recorded_runs_are_evidence_only_while_current(tmp_path):
    from kb.repro.evidence import load_repro_results, reproduction_nodes

    name = "no-foothold"
    current = _recorded(name, REPRODUCTIONS[name].script_hash())
    (tmp_path / f"{name}.json").write_text(json.dumps(current))
    (tmp_path / "memorization.json").write_text(json.dumps(_recorded("memorization", "0" * 64)))
    (tmp_path / "not-registered.json").write_text(json.dumps({"name": "not-registered"}))
    (tmp_path / "broken.json").write_text("{")
    results = {r["name"]: r for r in load_repro_results(tmp_path)}
    assert set(results) == {name, "memorization"}
    assert results[name]["stale"] is False and results["memorization"]["stale"] is True
    known = {"fm:no-foothold", "mit:partial-credit", "fm:overfitting", "mit:task-distribution"}
    nodes, edges = reproduction_nodes(list(results.values()), known)
    by_id = {n.id: n for n in nodes}
    assert {f"repro:{n}" for n in NAMES} <= set(by_id)
    about = {(e.u, e.v) for e in edges if e.kind == "about"}
    assert ("ev:run:no-foothold", "fm:no-foothold") in about
    assert not any(u == "ev:run:memorization" for u, _ in about)  # stale: shown, but evidence for nothing
    assert by_id["ev:run:memorization"].text.startswith("STALE") and by_id["ev:run:memorization"].attrs["stale"]
    assert not by_id["ev:run:no-foothold"].attrs["stale"]


def test_shipped_runs_are_current():
    """data/runs ships a recorded run for every reproduction, each made by the script as it is now."""
    from kb.repro.evidence import load_repro_results
    from kb.repro.registry import REPO_ROOT

    results = {r["name"]: r for r in load_repro_results(REPO_ROOT / "data" / "runs")}
    assert set(results) == set(NAMES), "record missing runs with `kb repro run --all`"
    stale = sorted(n for n, r in results.items() if r["stale"])
    assert not stale, f"rerun these (their scripts changed): {stale}"
    for name, r in results.items():
        plot = REPO_ROOT / "data" / "runs" / f"{name}.png"
        assert plot.is_file() and plot.stat().st_size < 100_000, name
        assert r["quick"] is False, name
