"""Reward-model overoptimization (Gao, Schulman, Hilton 2022) in a counting toy.

A "response" is T=16 iid tokens over V=4 symbols; the base policy p0 = (.4, .3, .2, .1).
Gold reward = w . counts - 3 * max(0, c3 - 4) with w = (0, .5, 1, 1.5): symbol 3 is good, but beyond four of them
each one costs more than it brings. The penalty rarely fires on base samples (P(c3 > 4) ~ 2%), so a proxy reward
model fitted on base-distribution comparisons barely sees it (extremal Goodhart).

- The proxy is a linear Bradley-Terry model on counts, fitted on pairs of base samples labelled by noisy gold.
- Best-of-n on the proxy, computed exactly: over all 969 count vectors sorted by proxy score, the best of n has
  rank <= i with probability F_i^n, so E[gold], E[proxy] and KL(BoN || base) are finite sums, for any n (here up
  to 2^32; no sampling noise).
- RL: REINFORCE on the proxy with a factorized policy; KL, proxy and gold are exact (computed from the policy).
- Both: proxy keeps rising while gold rises, peaks and declines gradually as d = sqrt(KL) grows. Gao's forms are
  fitted over the whole range: BoN R(d) = d (alpha - beta d) fits closely; RL R(d) = d (alpha - beta log d)
  follows the rise and the long fall but puts the peak earlier than observed (both peaks are reported).
  R = gold gain over the base policy.
- Control: the same RL on the gold reward itself: gold rises and stays up (no overoptimization without a proxy).
- Early stopping on a held-out gold check keeps gold near its peak.
- KL penalty (beta_kl * KL in the loss): it stops the policy at a finite KL, so it ends far above the unpenalized
  run; but at matched KL it is no better than the unpenalized trajectory (Gao et al. found the same): it acts as
  a way of stopping early, not as a better optimizer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from kb.repro.script import (
    CommonArgs,
    arg,
    log,
    new_figure,
    quick_budget,
    resolve_device,
    result,
    run_script,
    seed_everything,
)

NAME = "overoptimization"
REPRO = {
    "title": "Reward-model overoptimization: proxy up, gold up then down",
    "reproduces": ["fm:reward-overoptimization"],
    "mitigations": ["mit:kl-penalty", "mit:early-stopping"],
    "signature": ("Optimizing a proxy reward model fitted on base-policy comparisons, the proxy keeps rising with d "
                  "= sqrt(KL) while the gold reward rises, peaks and declines gradually, for exact best-of-n (Gao et "
                  "al.'s d(alpha - beta d) fits with R^2 >= 0.9) and for RL; the same RL on the gold reward shows no "
                  "decline. Early stopping on a held-out gold check keeps gold near its peak. A KL penalty ends far "
                  "above the unpenalized run because it stops the policy at a finite KL, but at matched KL it is no "
                  "better: it is a way of stopping early."),
    "rule": ("best-of-n (exact) and RL on the proxy: the proxy gain at the largest KL is its maximum (within 2%) "
             "while gold peaks strictly inside the range and ends >= 1.0 below its peak; best-of-n: Gao fit beta > 0 "
             "and R^2 >= 0.9; RL: gradual, no step loses more than 10% of the total fall; control, RL on gold: final "
             "gold within 0.5 of its maximum; early stopping keeps >= 80% of the RL gold gain at its peak; KL penalty: "
             "final gold above the unpenalized final gold, and at its final KL no more than 0.25 above the "
             "unpenalized run's gold at the same KL"),
    "anchor": {"paper": "gao-schulman-hilton-2022", "arxiv": "2210.10760",
               "result": ("Gold reward vs d = sqrt(KL) follows d(alpha - beta d) for best-of-n and d(alpha - beta "
                          "log d) for RL: it rises, peaks and falls while the proxy keeps rising; RL peaks later in "
                          "KL than best-of-n; a KL penalty acts like early stopping, not improving the gold-KL "
                          "frontier.")},
}

GOLD_W = torch.tensor([0.0, 0.5, 1.0, 1.5], dtype=torch.float64)
PENALTY, THRESHOLD = 3.0, 4.0  # gold loses PENALTY per symbol 3 beyond THRESHOLD
BASE_P = torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64)


@dataclass(frozen=True)
class Args(CommonArgs):
    """Proxy reward keeps rising while gold rises then falls, for best-of-n and for RL."""

    tokens: int = arg(16, "tokens per response (T)")
    rm_pairs: int = arg(1000, "comparison pairs from the base policy used to fit the proxy reward model")
    bon_max_log2: int = arg(32, "largest best-of-n is 2**bon_max_log2 (exact, so large n costs nothing)")
    rl_steps: int = arg(300, "REINFORCE steps (quick: 150)")
    rl_batch: int = arg(128, "responses per REINFORCE step")
    rl_lr: float = arg(0.02, "Adam learning rate for the policy logits")
    beta_kl: float = arg(1.0, "KL-penalty coefficient of the mitigation arm")
    check_every: int = arg(5, "steps between held-out gold checks (early stopping)")
    check_samples: int = arg(256, "responses scored by gold at each held-out check")
    patience: int = arg(4, "checks without gold improvement before early stopping")


# ---------------------------------------------------------------- rewards
def gold(counts: torch.Tensor) -> torch.Tensor:
    """Gold reward of count vectors [..., 4]."""
    return counts @ GOLD_W.to(counts) - PENALTY * (counts[..., 3] - THRESHOLD).clamp(min=0.0)


def sample_counts(p: torch.Tensor, shape: tuple[int, ...], tokens: int, gen: torch.Generator) -> torch.Tensor:
    """Symbol counts of `shape` responses of `tokens` iid draws from p (float64 [..., 4]).

    Drawn as a chain of binomials (multinomial = binomial for symbol 0, then for 1 among the rest, ...),
    so memory stays O(responses) even for best-of-4096.
    """
    left = torch.full(shape, float(tokens), dtype=torch.float64)
    mass_left = 1.0
    counts = []
    for v in range(3):
        q = torch.full(shape, float(min(1.0, float(p[v]) / mass_left)) if mass_left > 0 else 0.0, dtype=torch.float64)
        c = torch.binomial(left, q, generator=gen)
        counts.append(c)
        left = left - c
        mass_left -= float(p[v])
    counts.append(left)
    return torch.stack(counts, -1)


def fit_proxy(args: Args, gen: torch.Generator) -> torch.Tensor:
    """Bradley-Terry linear reward model on counts, fitted by maximum likelihood on noisy gold preferences."""
    a = sample_counts(BASE_P, (args.rm_pairs,), args.tokens, gen)
    b = sample_counts(BASE_P, (args.rm_pairs,), args.tokens, gen)
    prefer_a = (torch.rand(args.rm_pairs, generator=gen, dtype=torch.float64)
                < torch.sigmoid(gold(a) - gold(b))).to(torch.float64)
    w = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logit = (a - b) @ w
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, prefer_a) + 1e-3 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach()


# ---------------------------------------------------------------- exact expectations for a factorized policy
def exact_gold(p: torch.Tensor, tokens: int) -> torch.Tensor:
    """E[gold] under iid tokens from p: linear part plus the binomial expectation of the c3 penalty."""
    k = torch.arange(tokens + 1, dtype=torch.float64)
    log_binom = torch.lgamma(torch.tensor(tokens + 1.0)) - torch.lgamma(k + 1) - torch.lgamma(tokens - k + 1)
    p3 = p[3].clamp(1e-12, 1 - 1e-12)
    pmf = torch.exp(log_binom + k * torch.log(p3) + (tokens - k) * torch.log1p(-p3))
    return tokens * (p @ GOLD_W) - PENALTY * (pmf * (k - THRESHOLD).clamp(min=0.0)).sum()


def exact_kl(p: torch.Tensor, tokens: int) -> torch.Tensor:
    """KL(pi || base) of the whole response = T * per-token KL."""
    return tokens * (p * (p.log() - BASE_P.log())).sum()


# ---------------------------------------------------------------- best-of-n
def all_counts(tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every count vector of `tokens` tokens over 4 symbols [m, 4] and its probability under the base policy."""
    counts = torch.tensor([(a, b, c, tokens - a - b - c) for a in range(tokens + 1) for b in range(tokens + 1 - a)
                           for c in range(tokens + 1 - a - b)], dtype=torch.float64)
    log_pmf = torch.lgamma(torch.tensor(tokens + 1.0)) - torch.lgamma(counts + 1).sum(1) + counts @ BASE_P.log()
    return counts, log_pmf.exp()


def best_of_n(proxy_w: torch.Tensor, args: Args) -> dict:
    """Exact mean proxy, gold and KL(BoN || base) of the proxy-best of n base samples, for n = 1, 2, 4, ...

    Sort the outcomes by proxy score; with F_i = P(rank <= i), the best of n has rank i with probability
    F_i^n - F_{i-1}^n, computed in log space (F from the head or 1 - tail, whichever is accurate) so that huge n
    stays accurate.
    """
    counts, pmf = all_counts(args.tokens)
    order = torch.argsort(counts @ proxy_w)
    counts, pmf = counts[order], pmf[order] / pmf.sum()
    head = pmf.cumsum(0)  # P(rank <= i), accurate while small
    tail = pmf.flip(0).cumsum(0).flip(0)  # P(rank >= i), accurate while small
    zero = torch.zeros(1, dtype=torch.float64)
    # log P(rank <= i) from whichever sum is accurate there
    log_upto = torch.where(head < 0.5, torch.log(head), torch.log1p(-torch.cat([tail[1:], zero])))
    log_below = torch.cat([torch.full((1,), -math.inf, dtype=torch.float64), log_upto[:-1]])  # log P(rank < i)
    out = {"n": [], "kl": [], "proxy": [], "gold": []}
    for j in range(args.bon_max_log2 + 1):
        n = 2.0 ** j
        upto, below = n * log_upto, n * log_below
        q = torch.exp(upto) * -torch.expm1(below - upto)
        kl = float((q * (torch.log(q.clamp(min=1e-300)) - torch.log(pmf))).sum())
        out["n"].append(2 ** j)
        out["kl"].append(max(kl, 0.0))
        out["proxy"].append(float(q @ (counts @ proxy_w)))
        out["gold"].append(float(q @ gold(counts)))
    log(f"bon n=1..2^{args.bon_max_log2}: kl up to {out['kl'][-1]:.1f}, gold peak {max(out['gold']):.2f}")
    return out


# ---------------------------------------------------------------- RL (REINFORCE on the proxy)
def reinforce(proxy_w: torch.Tensor, args: Args, gen: torch.Generator, *, beta_kl: float, early_stop: bool,
              device: torch.device, arm: str, on_gold: bool = False) -> dict:
    """Optimize the proxy (or, `on_gold`, the gold reward) with REINFORCE from the base policy; exact KL, proxy
    and gold are logged every step."""
    logits = BASE_P.log().clone().to(device).requires_grad_(True)
    opt = torch.optim.Adam([logits], lr=args.rl_lr)
    w = proxy_w.to(device)
    out = {"kl": [], "proxy": [], "gold": [], "stopped_at": None}
    best_check, best_logits, since_best = -math.inf, logits.detach().clone(), 0
    for step in range(args.rl_steps):
        p = torch.softmax(logits, 0)
        # ---- sample responses, score them with the proxy, REINFORCE with a mean baseline
        counts = sample_counts(p.detach().cpu(), (args.rl_batch,), args.tokens, gen).to(device)
        r = gold(counts) if on_gold else counts @ w
        logp = counts @ torch.log_softmax(logits, 0)
        loss = -((r - r.mean()) * logp).mean() + beta_kl * exact_kl(p.cpu(), args.tokens).to(device)
        opt.zero_grad()
        loss.backward()
        opt.step()
        # ---- exact metrics of the updated policy
        with torch.no_grad():
            p = torch.softmax(logits, 0).cpu()
            out["kl"].append(float(exact_kl(p, args.tokens)))
            out["proxy"].append(float(args.tokens * (p @ proxy_w)))
            out["gold"].append(float(exact_gold(p, args.tokens)))
        # ---- early stopping on a held-out gold check (sampled, as one would do with a gold labeller)
        if early_stop and (step + 1) % args.check_every == 0:
            check = float(gold(sample_counts(p, (args.check_samples,), args.tokens, gen)).mean())
            if check > best_check:
                best_check, best_logits, since_best = check, logits.detach().clone(), 0
            else:
                since_best += 1
            if since_best >= args.patience:
                out["stopped_at"] = step + 1
                p = torch.softmax(best_logits, 0).cpu()
                out["final_gold"] = float(exact_gold(p, args.tokens))
                out["final_kl"] = float(exact_kl(p, args.tokens))
                log(f"step {step + 1}/{args.rl_steps} arm={arm} early stop, restored gold={out['final_gold']:.2f}")
                break
        if (step + 1) % max(1, args.rl_steps // 6) == 0:
            log(f"step {step + 1}/{args.rl_steps} arm={arm} kl={out['kl'][-1]:.2f} "
                f"proxy={out['proxy'][-1]:.2f} gold={out['gold'][-1]:.2f}")
    out.setdefault("final_gold", out["gold"][-1])
    out.setdefault("final_kl", out["kl"][-1])
    return out


# ---------------------------------------------------------------- Gao et al. functional forms
def fit_gao(d: np.ndarray, gain: np.ndarray, form: str) -> dict:
    """Least-squares fit of gain = d (alpha - beta x), x = d (BoN) or log d (RL); returns alpha, beta, d*, R^2.

    The form is linear in alpha and beta, so plain least squares on the features d and -d*x does it.
    """
    keep = d > 1e-3
    x = d[keep] if form == "bon" else np.log(d[keep])
    A = np.stack([d[keep], -d[keep] * x], 1)
    alpha, beta = np.linalg.lstsq(A, gain[keep], rcond=None)[0]
    peak = alpha / (2 * beta) if form == "bon" else math.exp(alpha / beta - 1) if beta > 0 else math.inf
    pred = d[keep] * (alpha - beta * x)
    ss_res = float(((gain[keep] - pred) ** 2).sum())
    ss_tot = float(((gain[keep] - gain[keep].mean()) ** 2).sum()) or 1.0
    return {"alpha": float(alpha), "beta": float(beta), "d_peak": float(peak), "r2": 1 - ss_res / ss_tot}


def rise_then_fall(proxy: list[float], gold_curve: list[float], kl: list[float]) -> dict:
    """Shape summary: proxy ends at its max, gold peaks inside and ends below its peak, and how steep the fall is."""
    g = np.asarray(gold_curve)
    peak = int(g.argmax())
    pr = np.asarray(proxy)
    fall = float(g[peak] - g[-1])
    steps_down = -np.diff(g[peak:]) if peak < len(g) - 1 else np.zeros(1)
    return {"d_at_gold_peak": float(np.sqrt(kl[peak])), "proxy_final": float(pr[-1]), "proxy_max": float(pr.max()),
            "proxy_ends_at_max": bool(pr[-1] >= pr.max() - 0.02 * abs(pr.max())),
            "gold_peak": float(g[peak]), "gold_peak_index": peak, "gold_final": float(g[-1]),
            "gold_drop": fall, "gold_peak_inside": bool(0 < peak < len(g) - 1),
            "largest_step_share_of_fall": float(steps_down.max() / fall) if fall > 0 else 1.0}


def gold_at_kl(curve: dict, kl: float) -> float:
    """Gold of a trajectory at a given KL, interpolated along its (KL-sorted) points."""
    order = np.argsort(curve["kl"])
    return float(np.interp(kl, np.asarray(curve["kl"])[order], np.asarray(curve["gold"])[order]))


def run(args: Args) -> dict:
    """Fit the proxy, run exact best-of-n and four RL arms; returns the result payload."""
    seed_everything(args.seed)
    device = resolve_device(args.device)
    args = quick_budget(args, rl_steps=150)
    gen = torch.Generator().manual_seed(args.seed)
    proxy_w = fit_proxy(args, gen)
    log(f"proxy weights {[round(float(x), 2) for x in proxy_w]} (gold {GOLD_W.tolist()} minus the c3 penalty)")
    base_gold = float(exact_gold(BASE_P, args.tokens))
    base_proxy = float(args.tokens * (BASE_P @ proxy_w))

    bon = best_of_n(proxy_w, args)
    rl = reinforce(proxy_w, args, gen, beta_kl=0.0, early_stop=False, device=device, arm="rl")
    rl_gold = reinforce(proxy_w, args, gen, beta_kl=0.0, early_stop=False, device=device, arm="rl_on_gold",
                        on_gold=True)
    rl_kl = reinforce(proxy_w, args, gen, beta_kl=args.beta_kl, early_stop=False, device=device, arm="rl_kl_penalty")
    rl_es = reinforce(proxy_w, args, gen, beta_kl=0.0, early_stop=True, device=device, arm="rl_early_stop")

    def gains(curve):  # gold gain R(d) with R(0) = 0, as in Gao et al.
        d = np.sqrt(np.maximum(np.asarray(curve["kl"]), 0.0))
        return d, np.asarray(curve["gold"]) - base_gold

    fit_bon = fit_gao(*gains(bon), "bon")
    d_rl, g_rl = gains(rl)
    fit_rl = {**fit_gao(d_rl, g_rl, "rl"), "d_peak_observed": float(d_rl[g_rl.argmax()])}
    shape_bon = rise_then_fall(bon["proxy"], bon["gold"], bon["kl"])
    shape_rl = rise_then_fall(rl["proxy"], rl["gold"], rl["kl"])
    log(f"gao fit bon alpha={fit_bon['alpha']:.3f} beta={fit_bon['beta']:.3f} r2={fit_bon['r2']:.3f}; "
        f"rl alpha={fit_rl['alpha']:.3f} beta={fit_rl['beta']:.3f} r2={fit_rl['r2']:.3f}")

    def overoptimizes(shape):
        return shape["proxy_ends_at_max"] and shape["gold_peak_inside"] and shape["gold_drop"] >= 1.0

    control = {"final_gold": rl_gold["gold"][-1], "max_gold": max(rl_gold["gold"]), "final_kl": rl_gold["kl"][-1]}
    matched = gold_at_kl(rl, rl_kl["final_kl"])
    kl_penalty = {"beta_kl": args.beta_kl, "final_gold": rl_kl["final_gold"], "final_kl": rl_kl["final_kl"],
                  "unpenalized_gold_at_same_kl": matched,
                  "gold_minus_unpenalized_at_same_kl": rl_kl["final_gold"] - matched}
    early = {"stopped_at": rl_es["stopped_at"], "final_gold": rl_es["final_gold"], "final_kl": rl_es["final_kl"]}
    met = (overoptimizes(shape_bon) and fit_bon["beta"] > 0 and fit_bon["r2"] >= 0.9
           and overoptimizes(shape_rl) and shape_rl["largest_step_share_of_fall"] <= 0.1
           and control["max_gold"] - control["final_gold"] <= 0.5
           and early["final_gold"] - base_gold >= 0.8 * (shape_rl["gold_peak"] - base_gold)
           and kl_penalty["final_gold"] > shape_rl["gold_final"]
           and kl_penalty["gold_minus_unpenalized_at_same_kl"] <= 0.25)
    metrics = {
        "failure": {"bon": shape_bon, "rl": shape_rl},
        "control_rl_on_gold": control,
        "mitigation": {"early_stopping": early, "kl_penalty": kl_penalty},
        "gao_fit": {"bon": fit_bon, "rl": fit_rl},
        "proxy_weights": proxy_w.tolist(), "base_gold": base_gold, "base_proxy": base_proxy,
        "rl_gold_peak": shape_rl["gold_peak"], "rl_gold_final": shape_rl["gold_final"],
        "bon_gold_peak": shape_bon["gold_peak"], "bon_gold_final": shape_bon["gold_final"],
        "bon_r2": fit_bon["r2"], "rl_r2": fit_rl["r2"],
    }
    series = {"kl": rl["kl"], "proxy": rl["proxy"], "gold": rl["gold"],
              "bon_n": bon["n"], "bon_kl": bon["kl"], "bon_proxy": bon["proxy"], "bon_gold": bon["gold"],
              "gold_reward_kl": rl_gold["kl"], "gold_reward_gold": rl_gold["gold"],
              "kl_penalty_kl": rl_kl["kl"], "kl_penalty_proxy": rl_kl["proxy"], "kl_penalty_gold": rl_kl["gold"],
              "early_stop_kl": rl_es["kl"], "early_stop_gold": rl_es["gold"]}
    return result(args=args, metrics=metrics, series=series, signature_met=met, signature_rule=REPRO["rule"])


def plot(payload: dict):
    """Proxy and gold vs sqrt(KL) for best-of-n and RL, with the fitted Gao curves, the control and the mitigations."""
    fig, (ax1, ax2) = new_figure("Overoptimization: proxy rises, gold rises then falls", ncols=2)
    s, m = payload["series"], payload["metrics"]
    base_g, base_p = m["base_gold"], m["base_proxy"]
    for ax, prefix, form, label in ((ax1, "bon_", "bon", "best-of-n (exact)"), (ax2, "", "rl", "RL (REINFORCE)")):
        d = np.sqrt(np.asarray(s[prefix + "kl"]))
        fit = m["gao_fit"][form]
        dd = np.linspace(max(d.min(), 1e-2), d.max(), 100)
        ax.plot(d, np.asarray(s[prefix + "proxy"]) - base_p, label="proxy gain")
        ax.plot(d, np.asarray(s[prefix + "gold"]) - base_g, label="gold gain")
        x = dd if form == "bon" else np.log(dd)
        ax.plot(dd, dd * (fit["alpha"] - fit["beta"] * x), "k:", label=f"Gao fit (R^2 {fit['r2']:.2f})")
        ax.set(xlabel="d = sqrt(KL(pi || base))", ylabel="gain over base", title=label)
    ax2.plot(np.sqrt(s["gold_reward_kl"]), np.asarray(s["gold_reward_gold"]) - base_g,
             label="gold, RL on gold (control)")
    ax2.plot(np.sqrt(s["kl_penalty_kl"]), np.asarray(s["kl_penalty_gold"]) - base_g, label="gold, KL penalty")
    ax2.plot(np.sqrt(s["early_stop_kl"]), np.asarray(s["early_stop_gold"]) - base_g, label="gold, early stop")
    ax1.legend(fontsize=7)
    ax2.legend(fontsize=7)
    return fig


def main(argv: list[str] | None = None) -> None:
    run_script(NAME, Args, run, plot, argv)


if __name__ == "__main__":
    main()
