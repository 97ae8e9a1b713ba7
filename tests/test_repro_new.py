"""The verifier-hacking, entropy-collapse and sycophancy reproductions: signatures hold, can fail, and replay."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from kb.repro.registry import get_reproduction
from kb.repro.runner import load_script_module

pytest.importorskip("torch")
NEW = ("verifier-hacking", "entropy-collapse", "sycophancy")
OWN_FLAGS = {"verifier-hacking": "--monitor-recall", "entropy-collapse": "--eps-high", "sycophancy": "--counter-pairs"}
pytestmark = pytest.mark.usefixtures("restore_torch_globals")
SEED = 3




_RUNS: dict[tuple, dict] = {}


def quick_run(name: str, **overrides) -> dict:
    """One quick in-process run per (script, overrides), shared by the tests of this module."""
    key = (name, tuple(sorted(overrides.items())))
    if key not in _RUNS:
        module = load_script_module(name)
        _RUNS[key] = module.run(module.Args(seed=SEED, quick=True, **overrides))
    return _RUNS[key]


def arm(series: dict, arm_name: str, keys: tuple[str, ...]) -> dict:
    """The curves of one arm, rebuilt from the recorded series (`<key>_<arm>`)."""
    return {k: series[f"{k}_{arm_name}"] for k in keys}


@pytest.mark.parametrize("name", NEW)
def test_help_lists_the_scripts_own_flags(name):
    out = subprocess.run([sys.executable, str(get_reproduction(name).script_path), "--help"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert OWN_FLAGS[name] in out.stdout and "--quick" in out.stdout


@pytest.mark.parametrize("name", NEW)
def test_quick_run_meets_its_signature(name):
    out = quick_run(name)
    assert out["signature_met"] is True, out["metrics"]
    assert out["quick"] is True and out["seed"] == SEED
    assert out["signature_rule"] == get_reproduction(name).rule


@pytest.mark.parametrize("name", NEW)
def test_same_seed_gives_the_same_numbers(name):
    module = load_script_module(name)
    again = module.run(module.Args(seed=SEED, quick=True))
    assert again == quick_run(name)
    other = module.run(module.Args(seed=SEED + 1, quick=True))
    assert other["series"] != again["series"]


# ---------------------------------------------------------------- verifier hacking
def test_verifier_hacking_signature_rederived_from_series():
    module = load_script_module("verifier-hacking")
    out = quick_run("verifier-hacking")
    s, keys = out["series"], ("proxy", "gold", *module.ACTIONS)
    visible, hidden, monitor = (arm(s, a, keys) for a in module.ARMS)
    assert module.hacking(visible) and module.moved_not_removed(monitor)
    # control: rewarding the hidden tests, the same rule finds no hacking and hidden pass rises
    assert not module.hacking(hidden) and hidden["gold"][-1] > hidden["gold"][0]
    assert hidden["hard-code"][-1] < 0.01 and hidden["exit-early"][-1] < 0.01
    # the proxy saturates in every hacking arm; hidden pass of the monitor arm falls like the unmonitored one
    assert visible["proxy"][-1] > 0.95 and monitor["gold"][-1] < max(monitor["gold"]) - 0.25


def test_verifier_hacking_rule_is_false_on_an_honest_curve():
    module = load_script_module("verifier-hacking")
    honest = {"proxy": [0.4, 0.6, 0.7], "gold": [0.4, 0.6, 0.7], "solve-a": [0.5] * 3, "solve-b": [0.5] * 3,
              "hard-code": [0.0] * 3, "exit-early": [0.0] * 3}
    assert not module.hacking(honest) and not module.moved_not_removed(honest)


# ---------------------------------------------------------------- entropy collapse
def test_entropy_collapse_signature_rederived_from_series():
    module = load_script_module("entropy-collapse")
    out = quick_run("entropy-collapse")
    s, keys = out["series"], ("entropy", "pass1", "passk")
    ppo, cov = arm(s, "ppo", keys), arm(s, "clip-cov", keys)
    assert module.collapse(ppo)
    fit = module.fit_entropy_law(ppo["entropy"], ppo["pass1"])
    assert fit == out["metrics"]["failure"]["fit"] and fit["a"] > 0 and fit["r2"] >= 0.7
    assert cov["entropy"][-1] >= 1.25 * ppo["entropy"][-1] and cov["passk"][-1] >= ppo["passk"][-1] + 0.03
    assert ppo["pass1"][-1] > ppo["pass1"][0] + 0.3  # the policy did learn: collapse is not a failure to train


def test_entropy_collapse_rule_is_false_when_the_policy_can_represent_every_prompt():
    out = quick_run("entropy-collapse", rule_noise=0.0)
    failure = out["metrics"]["failure"]
    assert failure["entropy_final"] < 0.3 * failure["entropy_start"]  # entropy still collapses...
    assert failure["passk_final"] > failure["passk_start"]            # ...but it costs no pass@k here
    assert not failure["collapse"] and not out["signature_met"]


def test_entropy_law_fit_recovers_known_coefficients():
    fit_entropy_law = load_script_module("entropy-collapse").fit_entropy_law
    h = np.linspace(0.2, 2.5, 40)
    fit = fit_entropy_law(list(h), list(-0.04 * np.exp(h) + 0.9))
    assert fit["a"] == pytest.approx(0.04) and fit["b"] == pytest.approx(0.9) and fit["r2"] == pytest.approx(1.0)
    flat = fit_entropy_law(list(h), list(0.5 + 0.1 * np.sin(7 * h)))  # no exp(H) trend: a poor fit
    assert flat["r2"] < 0.3


# ---------------------------------------------------------------- sycophancy
def test_sycophancy_signature_rederived_from_series():
    module = load_script_module("sycophancy")
    out = quick_run("sycophancy")
    s, keys = out["series"], ("agreement_wrong_claim", "accuracy_wrong_claim", "accuracy_no_claim")
    syc, fix = arm(s, "sycophantic-rm", keys), arm(s, "counter-examples", keys)
    assert module.sycophancy(syc) and not module.sycophancy(fix)
    m = out["metrics"]
    assert m["failure"]["rm_agree_weight"] > 1.0 and abs(m["mitigation"]["rm_agree_weight"]) < 0.5
    assert m["failure"]["rm_prefers_sycophantic"] > 0.5 > m["mitigation"]["rm_prefers_sycophantic"]


def test_sycophancy_rule_is_false_when_raters_ignore_agreement():
    out = quick_run("sycophancy", beta_agree=0.0)
    failure = out["metrics"]["failure"]
    assert abs(failure["rm_agree_weight"]) < 0.5
    assert not failure["sycophancy"] and not out["signature_met"]
