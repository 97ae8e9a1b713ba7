"""Capability narrowing: RL raises pass@1 but the base policy wins at large k (Yue et al. 2025).

200 prompts, 20 solution "strategies". Strategy 0 solves about half the prompts; each of the 19 rare strategies
solves about 4% of prompts, at random. The policy maps 8-d prompt features to strategy logits with one shared
linear layer (finite capacity: it cannot memorize which rare strategy solves which prompt), and starts uniform.
GRPO (G=8, reward = solved) then concentrates the policy on strategy 0: pass@1 goes up, but prompts that only a
rare strategy solves are dropped, so pass@k at large k goes down and the curves cross.

Arms
- failure  `rl`:     GRPO with no regularization.
- mitigation `rl_kl`: GRPO plus an exact KL(pi || base) penalty, which keeps probability on the rare strategies.

pass@k is estimated from n samples per prompt with the unbiased estimator of Chen et al. (2021),
1 - C(n-c, k) / C(n, k), in its product form; the exact value 1 - (1 - p_i)^k is kept as a cross-check.
"""

from __future__ import annotations

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

NAME = "passk-narrowing"
REPRO = {
    "title": "Capability narrowing: RL wins pass@1, the base model wins pass@k at large k",
    "reproduces": ["fm:capability-narrowing"],
    "mitigations": ["mit:diversity-regularization"],
    "signature": ("GRPO with a shared linear policy concentrates on the common strategy: pass@1 rises well above "
                  "the base model's, but prompts only rare strategies solve are dropped, so the base model's pass@k "
                  "(unbiased estimator) overtakes RL at some k; a KL penalty to the base keeps more coverage."),
    "rule": ("RL pass@1 exceeds base pass@1 by >= 0.1, base pass@kmax exceeds RL pass@kmax by >= 0.05 (so the "
             "curves cross at some k), and the KL-regularized arm keeps pass@kmax >= 0.05 above plain RL while "
             "beating base at pass@1"),
    "anchor": {"paper": "yue2025passk", "arxiv": "2504.13837",
               "result": ("RLVR-trained models beat their base models at small k but base models reach higher "
                          "pass@k at large k (tens to hundreds of samples), across benchmarks and model families.")},
}


@dataclass(frozen=True)
class Args(CommonArgs):
    """RL sharpens pass@1 and loses coverage at large k; a KL penalty to the base keeps coverage."""

    prompts: int = arg(200, "number of prompts")
    strategies: int = arg(20, "number of strategies (strategy 0 is the common one)")
    features: int = arg(8, "prompt feature dimension")
    p_common: float = arg(0.5, "fraction of prompts strategy 0 solves")
    p_rare: float = arg(0.04, "fraction of prompts each rare strategy solves")
    steps: int = arg(300, "GRPO steps per arm (quick: 120)")
    batch_prompts: int = arg(64, "prompts per GRPO step")
    group_size: int = arg(8, "samples per prompt (G)")
    lr: float = arg(0.05, "Adam learning rate")
    beta_kl: float = arg(0.3, "KL-to-base coefficient of the mitigation arm")
    n_samples: int = arg(512, "samples per prompt for the pass@k estimator (quick: 256)")


# ---------------------------------------------------------------- pass@k (Chen et al. 2021)
def pass_at_k(n: int, c: np.ndarray, k: int) -> np.ndarray:
    """Unbiased pass@k per prompt from c correct out of n samples: 1 - C(n-c,k)/C(n,k), computed as a product."""
    if k > n:
        raise ValueError(f"k={k} exceeds n={n} samples")
    out = np.ones(len(c))
    for i, ci in enumerate(np.asarray(c)):
        if n - ci >= k:
            out[i] = 1.0 - np.prod(1.0 - k / np.arange(n - ci + 1, n + 1))
    return out


def pass_curve(probs: torch.Tensor, solves: torch.Tensor, ks: list[int], n: int, gen: torch.Generator) -> dict:
    """Estimated (from n samples per prompt) and exact pass@k of a policy given its strategy probabilities."""
    p_solve = (probs * solves).sum(1).cpu()
    draws = torch.multinomial(probs.cpu(), n, replacement=True, generator=gen)
    correct = solves.cpu().gather(1, draws).sum(1).numpy().astype(int)
    est = [float(pass_at_k(n, correct, k).mean()) for k in ks]
    exact = [float((1 - (1 - p_solve) ** k).mean()) for k in ks]
    return {"estimated": est, "exact": exact}


# ---------------------------------------------------------------- GRPO with a shared linear policy
def train(args: Args, x: torch.Tensor, solves: torch.Tensor, beta_kl: float, arm: str, gen: torch.Generator):
    """GRPO on strategy choice; returns the trained (weight, bias) and the mean-reward curve."""
    dev = x.device
    weight = torch.zeros(args.features, args.strategies, device=dev, requires_grad=True)
    bias = torch.zeros(args.strategies, device=dev, requires_grad=True)
    opt = torch.optim.Adam([weight, bias], lr=args.lr)
    log_base = torch.full((args.strategies,), -np.log(args.strategies), device=dev)
    curve = []
    for step in range(args.steps):
        idx = torch.randint(args.prompts, (args.batch_prompts,), generator=gen).to(dev)
        logits = x[idx] @ weight + bias
        logp_all = torch.log_softmax(logits, -1)
        picks = torch.multinomial(logp_all.detach().exp().cpu(), args.group_size, replacement=True,
                                  generator=gen).to(dev)
        reward = solves[idx].gather(1, picks)
        adv = (reward - reward.mean(1, keepdim=True)) / (reward.std(1, keepdim=True) + 1e-4)
        loss = -(adv * logp_all.gather(1, picks)).mean()
        if beta_kl > 0:  # exact KL(pi || base) per prompt, averaged
            loss = loss + beta_kl * (logp_all.exp() * (logp_all - log_base)).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(float(reward.mean()))
        if (step + 1) % max(1, args.steps // 4) == 0:
            log(f"step {step + 1}/{args.steps} arm={arm} reward={np.mean(curve[-20:]):.3f}")
    with torch.no_grad():
        probs = torch.softmax(x @ weight + bias, -1)
    return probs, curve


def crossover_k(ks: list[int], base: list[float], rl: list[float]) -> int | None:
    """Smallest k at which the base policy's pass@k is at least RL's."""
    for k, b, r in zip(ks, base, rl):
        if b >= r:
            return k
    return None


def run(args: Args) -> dict:
    """Build the environment, train both arms, estimate pass@k curves; returns the result payload."""
    seed_everything(args.seed)
    device = resolve_device(args.device)
    args = quick_budget(args, steps=120, n_samples=256)
    gen = torch.Generator().manual_seed(args.seed)
    # ---- environment: which strategy solves which prompt
    x = torch.randn(args.prompts, args.features, generator=gen).to(device)
    rates = torch.full((args.strategies,), args.p_rare)
    rates[0] = args.p_common
    solves = (torch.rand(args.prompts, args.strategies, generator=gen) < rates).float().to(device)
    ks = [2 ** j for j in range(int(np.log2(args.n_samples)) + 1) if 2 ** j <= args.n_samples // 2]

    base_probs = torch.full((args.prompts, args.strategies), 1.0 / args.strategies, device=device)
    rl_probs, rl_curve = train(args, x, solves, 0.0, "rl", gen)
    kl_probs, kl_curve = train(args, x, solves, args.beta_kl, "rl_kl", gen)
    curves = {name: pass_curve(p, solves, ks, args.n_samples, gen)
              for name, p in (("base", base_probs), ("rl", rl_probs), ("rl_kl", kl_probs))}
    est = {name: c["estimated"] for name, c in curves.items()}
    cross = crossover_k(ks, est["base"], est["rl"])
    for name in est:
        log(f"{name}: pass@1={est[name][0]:.3f} pass@{ks[-1]}={est[name][-1]:.3f}")

    def summary(name):
        return {"pass@1": est[name][0], f"pass@{ks[-1]}": est[name][-1], "pass@kmax": est[name][-1]}

    max_err = max(abs(e - x_) for c in curves.values() for e, x_ in zip(c["estimated"], c["exact"]))
    coverage = float((solves.sum(1) > 0).float().mean())
    met = (est["rl"][0] >= est["base"][0] + 0.1 and est["base"][-1] >= est["rl"][-1] + 0.05 and cross is not None
           and est["rl_kl"][-1] >= est["rl"][-1] + 0.05 and est["rl_kl"][0] > est["base"][0])
    metrics = {"failure": summary("rl"), "mitigation": summary("rl_kl"), "base": summary("base"),
               "crossover_k": cross, "kmax": ks[-1], "beta_kl": args.beta_kl,
               "rl_pass1_gain": est["rl"][0] - est["base"][0], "base_passkmax_gain": est["base"][-1] - est["rl"][-1],
               "kl_passkmax_gain": est["rl_kl"][-1] - est["rl"][-1],
               "estimator_max_abs_error_vs_exact": max_err, "solvable_fraction": coverage}
    series = {"k": ks, "pass_base": est["base"], "pass_rl": est["rl"], "pass_rl_kl": est["rl_kl"],
              "pass_base_exact": curves["base"]["exact"], "pass_rl_exact": curves["rl"]["exact"],
              "pass_rl_kl_exact": curves["rl_kl"]["exact"], "reward_rl": rl_curve, "reward_rl_kl": kl_curve}
    return result(args=args, metrics=metrics, series=series, signature_met=met, signature_rule=REPRO["rule"])


def plot(payload: dict):
    """pass@k vs k (log axis) for base, RL and KL-regularized RL."""
    fig, (ax,) = new_figure("Capability narrowing: RL wins at pass@1, base wins at large k")
    s, m = payload["series"], payload["metrics"]
    ax.plot(s["k"], s["pass_base"], "o-", label="base")
    ax.plot(s["k"], s["pass_rl"], "s-", label="RL (GRPO)")
    ax.plot(s["k"], s["pass_rl_kl"], "^-", label=f"RL + KL to base (beta={m['beta_kl']})")
    if m["crossover_k"]:
        ax.axvline(m["crossover_k"], color="grey", ls=":", label=f"crossover k={m['crossover_k']}")
    ax.set_xscale("log", base=2)
    ax.set(xlabel="k", ylabel="pass@k (unbiased estimator)")
    ax.legend(fontsize=7)
    return fig


def main(argv: list[str] | None = None) -> None:
    run_script(NAME, Args, run, plot, argv)


if __name__ == "__main__":
    main()
