"""The reproduction registry and runner: consistency, quick smoke runs, errors, determinism."""

from __future__ import annotations

import json

import pytest

from kb import repro
from kb.errors import NotFoundError, ReproError
from kb.repro import (
    REPRODUCTIONS,
    Reproduction,
    get_reproduction,
    list_reproductions,
    load_result,
    load_script_module,
    run_reproduction,
)

NAMES = list(REPRODUCTIONS)
FINAL_KEYS = {"name", "reproduces", "mitigations", "signature", "signature_met", "signature_rule", "seed", "device",
              "quick", "seconds", "run_id", "started_at", "metrics", "series", "plot", "anchor"}
REQUIRED_SERIES = {"overoptimization": {"kl", "proxy", "gold"}, "passk-narrowing": {"k", "pass_base", "pass_rl"}}


def test_registry_is_consistent():
    assert [r.name for r in list_reproductions()] == NAMES
    assert len(NAMES) == 7
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
    assert module.RULE == REPRODUCTIONS[name].rule


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
    result = run_reproduction(name, tmp_path, quick=True, seed=0, on_line=lines.append)
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
    assert load_result(name, tmp_path) == result
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


def _fake(monkeypatch, tmp_path, body: str) -> str:
    script = tmp_path / "fake.py"
    script.write_text(body)
    fake = Reproduction(name="fake", title="t", script=str(script), reproduces=["fm:no-foothold"],
                        mitigations=["mit:curriculum"], signature="s", rule="r",
                        anchor={"paper": "p", "arxiv": None, "result": "r"})
    monkeypatch.setitem(repro.REPRODUCTIONS, "fake", fake)
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


def test_cuda_request_without_gpu_fails_clearly(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ReproError, match="CUDA requested but not available"):
        run_reproduction("no-foothold", tmp_path, quick=True, device="cuda")


def test_unknown_device_is_rejected(tmp_path):
    with pytest.raises(ReproError, match="unknown device"):
        run_reproduction("no-foothold", tmp_path, device="tpu")

