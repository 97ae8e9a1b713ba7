"""Reward-model overoptimization (Gao, Schulman, Hilton 2022) in a counting toy.

A "response" is T=16 iid tokens over V=4 symbols; the base policy p0 = (.4, .3, .2, .1).
Gold reward = w . counts - 2 * max(0, c3 - 4)^2 with w = (0, .5, 1, 1.5): symbol 3 is good, but too many of
them is very bad. The penalty almost never fires on base samples (P(c3 > 4) ~ 2%), so a proxy reward model fitted
on base-distribution comparisons cannot see it (extremal Goodhart).

- The proxy is a linear Bradley-Terry model on counts, fitted on pairs of base samples labelled by noisy gold.
- Best-of-n on the proxy, n = 1 .. 4096; KL(BoN || base) = log n - (n-1)/n (proxy ties broken by tiny noise).
- RL: REINFORCE on the proxy with a factorized policy; KL, proxy and gold are exact (computed from the policy).
- Both: proxy keeps rising while gold rises then falls as d = sqrt(KL) grows. Gao's functional forms are fitted:
  BoN R(d) = d (alpha - beta d), RL R(d) = d (alpha - beta log d), R = gain over the base policy.
- Mitigations: a KL penalty to the base (beta_kl), and early stopping on a held-out gold check.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import torch

from kb.repro_io import (
    CommonArgs,
    arg,
    log,
    new_figure,
    resolve_device,
    result,
    run_script,
    seed_everything,
)

NAME = "overoptimization"
RULE = ("for best-of-n and for RL without KL: the proxy gain at the largest KL is its maximum (within 2%) "
        "while gold peaks strictly inside the range and ends at least 1.0 below its peak, and the fitted Gao "
        "beta is > 0; mitigations: early stopping keeps >= 80% of the RL gold peak and a KL penalty ends with "
        "higher gold than the unpenalized run")

GOLD_W = torch.tensor([0.0, 0.5, 1.0, 1.5], dtype=torch.float64)
BASE_P = torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64)


@dataclass
class Args(CommonArgs):
    """Proxy reward keeps rising while gold rises then falls, for best-of-n and for RL."""

    tokens: int = arg(16, "tokens per response (T)")
    rm_pairs: int = arg(300, "comparison pairs from the base policy used to fit the proxy reward model")
    bon_max_log2: int = arg(12, "largest best-of-n is 2**bon_max_log2 (quick: 10)")
    bon_trials: int = arg(1500, "best-of-n trials per n (quick: 60)")
    rl_steps: int = arg(300, "REINFORCE steps (quick: 120)")
    rl_batch: int = arg(128, "responses per REINFORCE step")
    rl_lr: float = arg(0.01, "Adam learning rate for the policy logits (quick: x2.5, fewer steps)")
    beta_kl: float = arg(1.0, "KL-penalty coefficient of the mitigation arm")
    check_every: int = arg(5, "steps between held-out gold checks (early stopping)")
    check_samples: int = arg(256, "responses scored by gold at each held-out check")
    patience: int = arg(4, "checks without gold improvement before early stopping")


# ---------------------------------------------------------------- rewards
def gold(counts: torch.Tensor) -> torch.Tensor:
    """Gold reward of count vectors [..., 4]."""
    return counts @ GOLD_W.to(counts) - 2.0 * (counts[..., 3] - 4.0).clamp(min=0.0) ** 2


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
    return tokens * (p @ GOLD_W) - 2.0 * (pmf * (k - 4.0).clamp(min=0.0) ** 2).sum()


def exact_kl(p: torch.Tensor, tokens: int) -> torch.Tensor:
    """KL(pi || base) of the whole response = T * per-token KL."""
    return tokens * (p * (p.log() - BASE_P.log())).sum()


# ---------------------------------------------------------------- best-of-n
def best_of_n(proxy_w: torch.Tensor, args: Args, gen: torch.Generator) -> dict:
    """Mean proxy and gold of the proxy-best of n base samples, for n = 1, 2, 4, ..."""
    out = {"n": [], "kl": [], "proxy": [], "gold": []}
    for j in range(args.bon_max_log2 + 1):
        n = 2 ** j
        counts = sample_counts(BASE_P, (args.bon_trials, n), args.tokens, gen)
        score = counts @ proxy_w + 1e-6 * torch.randn(args.bon_trials, n, generator=gen, dtype=torch.float64)
        best = counts.gather(1, score.argmax(1)[:, None, None].expand(-1, 1, 4)).squeeze(1)
        out["n"].append(n)
        out["kl"].append(math.log(n) - (n - 1) / n)
        out["proxy"].append(float((best @ proxy_w).mean()))
        out["gold"].append(float(gold(best).mean()))
        log(f"bon n={n} kl={out['kl'][-1]:.2f} proxy={out['proxy'][-1]:.2f} gold={out['gold'][-1]:.2f}")
    return out


# ---------------------------------------------------------------- RL (REINFORCE on the proxy)
def reinforce(proxy_w: torch.Tensor, args: Args, gen: torch.Generator, *, beta_kl: float, early_stop: bool,
              device: torch.device, arm: str) -> dict:
    """Optimize the proxy with REINFORCE from the base policy; exact KL/proxy/gold logged every step."""
    logits = BASE_P.log().clone().to(device).requires_grad_(True)
    opt = torch.optim.Adam([logits], lr=args.rl_lr)
    w = proxy_w.to(device)
    out = {"kl": [], "proxy": [], "gold": [], "stopped_at": None}
    best_check, best_logits, since_best = -math.inf, logits.detach().clone(), 0
    for step in range(args.rl_steps):
        p = torch.softmax(logits, 0)
        # ---- sample responses, score them with the proxy, REINFORCE with a mean baseline
        counts = sample_counts(p.detach().cpu(), (args.rl_batch,), args.tokens, gen).to(device)
        r = counts @ w
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


def fit_range(gain: np.ndarray) -> int:
    """Points used for the fit: up to where gold has fallen as far below base as it once rose above it.

    Past that point our quadratic gold penalty falls much faster than Gao's forms, which describe the
    rise, the peak and the start of the fall.
    """
    peak = int(gain.argmax())
    below = np.nonzero(gain[peak:] < -max(gain[peak], 0.0))[0]
    return peak + int(below[0]) + 1 if len(below) else len(gain)


def rise_then_fall(proxy: list[float], gold_curve: list[float], kl: list[float]) -> dict:
    """Shape summary: proxy ends at its max, gold peaks inside and ends below its peak."""
    g = np.asarray(gold_curve)
    peak = int(g.argmax())
    pr = np.asarray(proxy)
    return {"d_at_gold_peak": float(np.sqrt(kl[peak])), "proxy_final": float(pr[-1]), "proxy_max": float(pr.max()),
            "proxy_ends_at_max": bool(pr[-1] >= pr.max() - 0.02 * abs(pr.max())),
            "gold_peak": float(g[peak]), "gold_peak_index": peak, "gold_final": float(g[-1]),
            "gold_drop": float(g[peak] - g[-1]), "gold_peak_inside": bool(0 < peak < len(g) - 1)}


def run(args: Args) -> dict:
    """Fit the proxy, run best-of-n and three RL arms; returns the result payload."""
    seed_everything(args.seed)
    device = resolve_device(args.device)
    if args.quick:
        args.bon_max_log2, args.bon_trials, args.rl_steps = min(args.bon_max_log2, 10), min(args.bon_trials, 60), \
            min(args.rl_steps, 120)
        args.rl_lr *= 2.5
    gen = torch.Generator().manual_seed(args.seed)
    proxy_w = fit_proxy(args, gen)
    log(f"proxy weights {[round(float(x), 2) for x in proxy_w]} (gold {GOLD_W.tolist()})")
    base_gold = float(exact_gold(BASE_P, args.tokens))
    base_proxy = float(args.tokens * (BASE_P @ proxy_w))

    bon = best_of_n(proxy_w, args, gen)
    rl = reinforce(proxy_w, args, gen, beta_kl=0.0, early_stop=False, device=device, arm="rl")
    rl_kl = reinforce(proxy_w, args, gen, beta_kl=args.beta_kl, early_stop=False, device=device, arm="rl_kl_penalty")
    rl_es = reinforce(proxy_w, args, gen, beta_kl=0.0, early_stop=True, device=device, arm="rl_early_stop")

    def gains(curve):  # gold gain R(d) with R(0) = 0, as in Gao et al.
        d = np.sqrt(np.maximum(np.asarray(curve["kl"]), 0.0))
        return d, np.asarray(curve["gold"]) - base_gold

    d_bon, g_bon = gains(bon)
    d_rl, g_rl = gains(rl)
    fit_bon = fit_gao(d_bon, g_bon, "bon")
    cut = fit_range(g_rl)
    fit_rl = fit_gao(d_rl[:cut], g_rl[:cut], "rl")
    fit_rl["fit_points"] = cut
    shape_bon = rise_then_fall(bon["proxy"], bon["gold"], bon["kl"])
    shape_rl = rise_then_fall(rl["proxy"], rl["gold"], rl["kl"])
    log(f"gao fit bon alpha={fit_bon['alpha']:.3f} beta={fit_bon['beta']:.3f}; "
        f"rl alpha={fit_rl['alpha']:.3f} beta={fit_rl['beta']:.3f}")

    def shape_ok(s, fit):
        return s["proxy_ends_at_max"] and s["gold_peak_inside"] and s["gold_drop"] >= 1.0 and fit["beta"] > 0

    es_keeps = rl_es["final_gold"] - base_gold >= 0.8 * (shape_rl["gold_peak"] - base_gold)
    kl_helps = rl_kl["final_gold"] > rl["final_gold"]
    met = shape_ok(shape_bon, fit_bon) and shape_ok(shape_rl, fit_rl) and es_keeps and kl_helps
    metrics = {
        "failure": {"bon": shape_bon, "rl": shape_rl},
        "mitigation": {"kl_penalty": {"beta_kl": args.beta_kl, "final_gold": rl_kl["final_gold"],
                                      "final_kl": rl_kl["final_kl"]},
                       "early_stopping": {"stopped_at": rl_es["stopped_at"], "final_gold": rl_es["final_gold"],
                                          "final_kl": rl_es["final_kl"]}},
        "gao_fit": {"bon": fit_bon, "rl": fit_rl},
        "proxy_weights": proxy_w.tolist(), "base_gold": base_gold, "base_proxy": base_proxy,
        "rl_gold_peak": shape_rl["gold_peak"], "rl_gold_final": shape_rl["gold_final"],
        "bon_gold_peak": shape_bon["gold_peak"], "bon_gold_final": shape_bon["gold_final"],
    }
    series = {"kl": rl["kl"], "proxy": rl["proxy"], "gold": rl["gold"],
              "bon_n": bon["n"], "bon_kl": bon["kl"], "bon_proxy": bon["proxy"], "bon_gold": bon["gold"],
              "kl_penalty_kl": rl_kl["kl"], "kl_penalty_proxy": rl_kl["proxy"], "kl_penalty_gold": rl_kl["gold"],
              "early_stop_kl": rl_es["kl"], "early_stop_gold": rl_es["gold"]}
    return result(args=args, metrics=metrics, series=series, signature_met=met, signature_rule=RULE)


def plot(payload: dict):
    """Proxy and gold vs sqrt(KL) for best-of-n and RL, with the fitted Gao curves and the mitigation arms."""
    fig, (ax1, ax2) = new_figure("Overoptimization: proxy rises, gold rises then falls", ncols=2)
    s, m = payload["series"], payload["metrics"]
    base_g, base_p = m["base_gold"], m["base_proxy"]
    for ax, prefix, form, label in ((ax1, "bon_", "bon", "best-of-n"), (ax2, "", "rl", "RL (REINFORCE)")):
        d = np.sqrt(np.asarray(s[prefix + "kl"]))
        fit = m["gao_fit"][form]
        dd = np.linspace(max(d.min(), 1e-2), d[fit.get("fit_points", len(d)) - 1], 100)
        ax.plot(d, np.asarray(s[prefix + "proxy"]) - base_p, label="proxy gain")
        ax.plot(d, np.asarray(s[prefix + "gold"]) - base_g, label="gold gain")
        x = dd if form == "bon" else np.log(dd)
        ax.plot(dd, dd * (fit["alpha"] - fit["beta"] * x), "k:", label=f"Gao fit ({form})")
        ax.set(xlabel="d = sqrt(KL(pi || base))", ylabel="gain over base", title=label)
    ax2.plot(np.sqrt(s["kl_penalty_kl"]), np.asarray(s["kl_penalty_gold"]) - base_g, label="gold, KL penalty")
    ax2.plot(np.sqrt(s["early_stop_kl"]), np.asarray(s["early_stop_gold"]) - base_g, label="gold, early stop")
    ax2.set_ylim(-2.5 * max(m["rl_gold_peak"] - base_g, 1.0), None)  # the RL gold keeps falling far below
    ax1.legend(fontsize=7)
    ax2.legend(fontsize=7)
    return fig


def main(argv: list[str] | None = None) -> None:
    run_script(NAME, Args, run, plot, argv)


if __name__ == "__main__":
    main()
