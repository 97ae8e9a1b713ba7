"""Direction of each reproduced effect over three seeds (quick budgets, in-process), plus the exact math checks."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from kb.repro import load_script_module

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("restore_torch_globals")
SEEDS = (0, 1, 2)




@functools.cache  # several tests read the same run; results are only read
def quick_run(name: str, seed: int, **overrides) -> dict:
    module = load_script_module(name)
    args = module.Args(seed=seed, quick=True, **overrides)
    return module.run(args)


@pytest.mark.parametrize("seed", SEEDS)
def test_no_foothold_exact_match_never_moves(seed):
    m = quick_run("no-foothold", seed)["metrics"]
    assert m["failure"]["first_reward_step"] is None
    assert m["failure"]["total_grad_norm"] == 0.0 and m["failure"]["mean_frac_zero_std"] == 1.0
    assert m["failure"]["final_p_exact"] < 1e-6
    for arm in ("partial", "curriculum", "foothold"):
        assert m["mitigation"][arm]["final_p_exact"] > 0.5, arm
    assert 0.01 < m["mitigation"]["foothold"]["base_success"] < 0.03


@pytest.mark.parametrize("seed", SEEDS)
def test_no_foothold_threshold_on_the_same_task(seed):
    """The control: the same exact-match rule learns from a primed start at 1e-3, not at 1e-4."""
    m = quick_run("no-foothold", seed)["metrics"]["threshold"]
    assert m["0.0001"]["base_success"] == pytest.approx(1e-4, rel=1e-6)
    assert m["0.001"]["base_success"] == pytest.approx(1e-3, rel=1e-6)
    assert m["0.0001"]["final_p_exact"] < 0.01 and m["0.001"]["final_p_exact"] > 0.5
    assert m["0.001"]["successes_seen"] > m["0.0001"]["successes_seen"]


@pytest.mark.parametrize("seed", SEEDS)
def test_overoptimization_gold_peaks_while_proxy_rises(seed):
    out = quick_run("overoptimization", seed)
    m, s = out["metrics"], out["series"]
    for method in ("bon", "rl"):
        shape = m["failure"][method]
        assert shape["proxy_ends_at_max"] and shape["gold_peak_inside"], method
        assert shape["gold_drop"] > 1.0, method
    assert m["gao_fit"]["bon"]["beta"] > 0 and m["gao_fit"]["bon"]["r2"] >= 0.9
    assert m["failure"]["rl"]["largest_step_share_of_fall"] <= 0.1  # a gradual decline, not a cliff
    assert np.all(np.diff(s["kl"]) > -1e-9)  # RL without penalty only moves away from the base
    assert s["gold"][-1] < s["gold"][0] < max(s["gold"])
    control = m["control_rl_on_gold"]
    assert control["max_gold"] - control["final_gold"] <= 0.5 and control["final_gold"] > max(s["gold"])
    es, kl = m["mitigation"]["early_stopping"], m["mitigation"]["kl_penalty"]
    assert es["final_gold"] > m["rl_gold_final"] and kl["final_gold"] > m["rl_gold_final"]
    assert es["final_gold"] - m["base_gold"] >= 0.8 * (m["rl_gold_peak"] - m["base_gold"])
    assert kl["gold_minus_unpenalized_at_same_kl"] <= 0.25  # at matched KL the penalty is no better


def test_overoptimization_bon_is_exact():
    """Exact best-of-n agrees with sampling, and its KL stays below the continuous bound log n - (n-1)/n."""
    module = load_script_module("overoptimization")
    args = module.Args(quick=True, seed=0, bon_max_log2=6)
    gen = torch.Generator().manual_seed(0)
    proxy_w = module.fit_proxy(args, gen)
    bon = module.best_of_n(proxy_w, args)
    n, kl = np.asarray(bon["n"]), np.asarray(bon["kl"])
    assert kl[0] == pytest.approx(0.0, abs=1e-12) and np.all(kl <= np.log(n) - (n - 1) / n + 1e-9)
    counts = module.sample_counts(module.BASE_P, (20000, 8), args.tokens, gen)
    best = counts.gather(1, (counts @ proxy_w).argmax(1)[:, None, None].expand(-1, 1, 4)).squeeze(1)
    sampled = float(module.gold(best).mean())
    assert sampled == pytest.approx(bon["gold"][3], abs=0.05)  # n = 8


def test_gao_fit_recovers_known_coefficients():
    fit_gao = load_script_module("overoptimization").fit_gao
    d = np.linspace(0.1, 4, 40)
    bon = fit_gao(d, d * (3.0 - 1.5 * d), "bon")
    rl = fit_gao(d, d * (2.0 - 0.7 * np.log(d)), "rl")
    assert bon["alpha"] == pytest.approx(3.0) and bon["beta"] == pytest.approx(1.5)
    assert bon["d_peak"] == pytest.approx(1.0)
    assert rl["alpha"] == pytest.approx(2.0) and rl["beta"] == pytest.approx(0.7)
    assert rl["d_peak"] == pytest.approx(math.exp(2.0 / 0.7 - 1))


@pytest.mark.parametrize("seed", SEEDS)
def test_memorization_fixed_set_does_not_generalize(seed):
    m = quick_run("memorization", seed)["metrics"]
    assert m["failure"]["train_acc"] > 0.9
    assert m["failure"]["new_instance_acc"] < 0.3
    assert m["mitigation"]["new_instance_acc"] > m["failure"]["new_instance_acc"] + 0.3
    assert m["mitigation"]["new_pair_acc"] < 0.3  # coverage, not addition: unseen (a, b) pairs stay unsolved
    assert len(m["held_out_pairs"]) == 20


@pytest.mark.parametrize("seed", SEEDS)
def test_passk_curves_cross(seed):
    out = quick_run("passk-narrowing", seed)
    s, m = out["series"], out["metrics"]
    assert s["pass_rl"][0] > s["pass_base"][0] + 0.1
    assert s["pass_base"][-1] > s["pass_rl"][-1] + 0.05
    k = m["crossover_k"]
    assert k is not None and 1 < k < s["k"][-1]
    i = s["k"].index(k)
    assert s["pass_base"][i - 1] < s["pass_rl"][i - 1] and s["pass_base"][i] >= s["pass_rl"][i]
    assert s["pass_rl_kl"][-1] > s["pass_rl"][-1] and s["pass_rl_kl"][0] > s["pass_base"][0]
    assert m["estimator_max_abs_error_vs_exact"] < 0.03


def test_pass_at_k_estimator_matches_binomial_formula():
    pass_at_k = load_script_module("passk-narrowing").pass_at_k
    n = 20
    c = np.arange(n + 1)
    for k in (1, 2, 5, 10, 20):
        expected = [1 - math.comb(n - ci, k) / math.comb(n, k) for ci in c]
        assert np.allclose(pass_at_k(n, c, k), expected, atol=1e-12)
    assert pass_at_k(200, np.array([0]), 100)[0] == 0.0 and pass_at_k(200, np.array([150]), 100)[0] == 1.0
    with pytest.raises(ValueError):
        pass_at_k(4, np.array([1]), 5)


@pytest.mark.parametrize("seed", SEEDS)
def test_zero_variance_groups_grow_and_the_gain_is_the_normalizer(seed):
    out = quick_run("zero-variance-groups", seed)
    m, s = out["metrics"], out["series"]
    assert m["failure"]["frac_zero_std_last"] > m["failure"]["frac_zero_std_first"] + 0.1
    assert m["filter_only_gain"] > 0.03 and m["per_step_gain"] > 0.03
    assert m["resampling_gain_over_filter"] < m["filter_only_gain"]  # most of the gain needs no extra samples
    assert s["samples_filter"] == s["samples_grpo"]
    assert m["sample_cost_ratio"] > 1.5  # resampling is paid for with extra generation
    assert s["samples_dynamic"][-1] > s["samples_grpo"][-1]


@pytest.mark.parametrize("seed", SEEDS)
def test_length_bias_only_under_per_sequence_normalization(seed):
    out = quick_run("loss-normalization", seed)
    m, s = out["metrics"], out["series"]
    assert m["failure"]["grpo"]["odds_ramble_guess"] > 2
    assert m["failure"]["grpo"]["incorrect_len_growth"] >= 1.0  # failing answers get longer during training
    for arm in ("dapo", "dr_grpo"):
        assert 1 / 1.5 < m["mitigation"][arm]["odds_ramble_guess"] < 1.5, arm
        assert m["failure"]["grpo"]["incorrect_len"] > m["mitigation"][arm]["incorrect_len"] + 1.5, arm
        assert s[f"incorrect_len_{arm}"][-1] <= s[f"incorrect_len_{arm}"][0], arm


@pytest.mark.parametrize("ga_steps", (4, 8))
def test_gradient_accumulation_fix_equals_full_batch(ga_steps):
    ga_gradients = load_script_module("loss-normalization").ga_gradients
    g = ga_gradients([2, 3, 40, 64, 1, 5, 33, 7], ga_steps, seed=ga_steps)
    assert torch.allclose(g["fixed"], g["full"], rtol=1e-10, atol=1e-12)
    assert not torch.allclose(g["buggy"], g["full"], rtol=1e-3, atol=1e-6)
    residual = g["buggy"] - g["full"]
    assert float(residual.norm() / g["full"].norm()) > 0.1
    same = ga_gradients([16] * 8, ga_steps, seed=ga_steps)  # equal lengths hide the bug
    assert torch.allclose(same["buggy"], same["full"], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_success_rate_not_determinism_blocks_learning(seed):
    m = quick_run("exploration-hacking", seed)["metrics"]
    cap = m["capability"]
    assert all(c["plain_acc"] > 0.8 for c in cap.values())  # the skill is there, only withheld
    assert cap["spread_lock"]["trigger_entropy"] > cap["hacker"]["trigger_entropy"] + 1.0  # it really is random
    for locked in (m["failure"], m["control_spread_lock"]):
        assert locked["trigger_acc_final"] < 0.2 and locked["frac_all_wrong_trigger"] > 0.8
    for learnable in (m["control_deterministic_10"], m["control_spread_10"]):
        assert learnable["trigger_acc_final"] > learnable["trigger_acc_start"] + 0.4  # seeds 0-2: a clear rise
        assert learnable["frac_all_wrong_trigger"] < 0.5
    assert m["mitigation"]["elicitation_sft"]["trigger_acc_final"] > m["failure"]["trigger_acc_final"] + 0.2
    assert m["mitigation"]["injected_successes"]["trigger_acc_final"] > 0.7
    for kind in ("hacker", "spread_lock"):  # RL prompts are ones where the lock holds; no success is ever sampled
        assert cap[kind]["rl_set_max_p_correct"] < 1e-5 and cap[kind]["rl_expected_successes"] < 0.05
    assert m["hacker_successes_sampled"] == 0 and m["spread_lock_successes_sampled"] == 0
    assert 0 <= m["lock_leak_frac"] < 0.05


@pytest.mark.parametrize("name", ["no-foothold", "memorization", "loss-normalization", "exploration-hacking"])
def test_signature_is_computed_not_constant(name):
    """Breaking the mitigation (same budget, no learning) must flip signature_met to False."""
    overrides = {"no-foothold": {"lr": 0.0}, "memorization": {"steps": 5},
                 "loss-normalization": {"steps": 3}, "exploration-hacking": {"lr": 0.0}}[name]
    assert quick_run(name, 0, **overrides)["signature_met"] is False
