"""Loss normalization: GRPO's per-sequence length bias, and the gradient-accumulation normalization bug.

Part A, length bias (Liu et al. 2025, "Dr. GRPO"). The first token of a response picks a strategy:
solve (length 16, correct with p=.6), guess (length 2, p=.1) or ramble (length 32, p=.1); the remaining tokens
come from a separate filler head. Reward = correctness only, so guess and ramble have the same expected reward
and an unbiased update keeps the odds P(ramble)/P(guess) at 1. Original GRPO averages each sequence's token
losses (1/|o_i|): a wrong 32-token ramble is pushed down 16x less per token than a wrong 2-token guess, so
rambling gains ground and, as in Dr. GRPO's training curves, the length of failing answers grows during training
(until solving dominates the failures) while it falls under the unbiased normalizations. DAPO's
token-level mean and Dr. GRPO's constant normalizer (plus no std scaling) do not. Plain SGD: Adam's
per-parameter scaling would hide the bias here.

Part B, gradient accumulation (HF transformers fix, Oct 2024). Averaging the token loss inside each micro-batch
and dividing by the number of accumulation steps weights a token by 1/(tokens in its micro-batch); with uneven
lengths that is not the full-batch token mean. The fix sums per micro-batch and divides by the global token count,
which reproduces the full-batch gradient exactly. This part is an exact identity, checked rather than discovered;
its control is that equal lengths hide the bug.
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

NAME = "loss-normalization"
REPRO = {
    "title": "Loss normalization: per-sequence length bias and the gradient-accumulation bug",
    "reproduces": ["fm:length-bias", "fm:silent-library-bugs"],
    "mitigations": ["mit:token-level-normalization", "mit:grad-accumulation-fix"],
    "signature": ("Per-sequence loss normalization (original GRPO) favours a long wrong strategy over an equally "
                  "rewarded short one, so the length of failing answers grows during training; under DAPO's "
                  "token-level mean and Dr. GRPO's constant normalizer it falls. Separately, averaging the loss per "
                  "micro-batch under gradient accumulation gives the wrong gradient with uneven lengths; summing and "
                  "dividing by the global token count matches the full batch exactly (an identity, checked)."),
    "rule": ("A: GRPO (per-sequence mean) ends with odds P(ramble)/P(guess) >= 2 while DAPO and Dr. GRPO stay "
             "within [1/1.5, 1.5]; GRPO's expected length of incorrect answers ends >= 1 token above its start and "
             ">= 1.5 above both others, which end at or below their start; B: fixed accumulation (sum / global "
             "token count) gives torch.allclose gradients to the full batch, the buggy one (micro-batch mean / "
             "steps) is off by a relative error > 0.1, and with equal lengths (control) the buggy one is exact "
             "(< 1e-9)"),
    "anchor": {"paper": "liu-et-al-2025-dr-grpo", "arxiv": "2503.20783",
               "result": ("GRPO's 1/|o| normalization penalizes long incorrect responses less, so incorrect "
                          "responses grow longer; Dr. GRPO removes the length and std terms and stops that growth. "
                          "(The accumulation bug was fixed in HF transformers, Oct 2024.)")},
}
STRATEGIES = ("solve", "guess", "ramble")


@dataclass(frozen=True)
class Args(CommonArgs):
    """Per-sequence loss normalization lengthens wrong answers; micro-batch means under accumulation are wrong."""

    steps: int = arg(300, "SGD steps per loss type (quick: 120)")
    groups: int = arg(16, "prompts (groups) per step (B)")
    group_size: int = arg(8, "samples per group (G)")
    lr: float = arg(0.5, "SGD learning rate of GRPO; DAPO and Dr. GRPO get it scaled to a comparable step")
    filler_vocab: int = arg(8, "vocabulary of the filler head")
    ga_steps: int = arg(4, "gradient-accumulation steps of part B")


LENGTHS = torch.tensor([16, 2, 32])
P_CORRECT = torch.tensor([0.6, 0.1, 0.1])


# ---------------------------------------------------------------- part A: rollouts as padded token tensors
def rollout(strat_logits, filler_logits, args: Args, gen: torch.Generator):
    """Sample N responses; returns per-token log-probs [N, Lmax], mask [N, Lmax], strategy [N], reward [N]."""
    n, l_max = args.groups * args.group_size, int(LENGTHS.max())
    dev = strat_logits.device
    strat = torch.multinomial(torch.softmax(strat_logits.detach(), 0).cpu(), n, replacement=True, generator=gen)
    filler = torch.multinomial(torch.softmax(filler_logits.detach(), 0).cpu(), n * (l_max - 1), replacement=True,
                               generator=gen).view(n, l_max - 1)
    reward = (torch.rand(n, generator=gen) < P_CORRECT[strat]).float().to(dev)
    logp_first = torch.log_softmax(strat_logits, 0)[strat.to(dev)]
    logp_rest = torch.log_softmax(filler_logits, 0)[filler.to(dev)]
    logp = torch.cat([logp_first[:, None], logp_rest], 1)
    mask = (torch.arange(l_max)[None, :] < LENGTHS[strat][:, None]).float().to(dev)
    return logp, mask, strat, reward


def advantages(reward: torch.Tensor, group_size: int, scale_by_std: bool) -> torch.Tensor:
    """Group-relative advantages; Dr. GRPO drops the division by the group std."""
    r = reward.view(-1, group_size)
    adv = r - r.mean(1, keepdim=True)
    if scale_by_std:
        adv = adv / (r.std(1, keepdim=True) + 1e-4)
    return adv.view(-1)


def aggregate(per_token: torch.Tensor, mask: torch.Tensor, loss_type: str, l_max: int) -> torch.Tensor:
    """Reduce per-token losses to a scalar the way each method does (cf. TRL's loss_type)."""
    if loss_type == "grpo":  # mean over each sequence's tokens, then over sequences
        return ((per_token * mask).sum(1) / mask.sum(1)).mean()
    if loss_type == "dapo":  # token-level mean over the whole batch
        return (per_token * mask).sum() / mask.sum()
    if loss_type == "dr_grpo":  # constant normalizer: batch size x max completion length
        return (per_token * mask).sum() / (mask.shape[0] * l_max)
    raise ValueError(loss_type)


def expected_incorrect_length(probs: torch.Tensor) -> float:
    """E[length | incorrect] under the strategy distribution."""
    wrong = probs * (1 - P_CORRECT)
    return float((wrong * LENGTHS).sum() / wrong.sum())


def train_length_bias(loss_type: str, args: Args, device: torch.device, gen: torch.Generator) -> dict:
    """Train the strategy and filler heads with one loss normalization; returns curves."""
    strat_logits = torch.zeros(3, device=device, requires_grad=True)
    filler_logits = torch.zeros(args.filler_vocab, device=device, requires_grad=True)
    # comparable step sizes: DAPO divides by ~mean length more than GRPO, Dr. GRPO by the max length
    scale = {"grpo": 1.0, "dapo": float(LENGTHS.float().mean()), "dr_grpo": float(LENGTHS.max())}[loss_type]
    opt = torch.optim.SGD([strat_logits, filler_logits], lr=args.lr * scale)
    curve = {"odds": [], "p_solve": [], "incorrect_len": [], "sampled_incorrect_len": []}
    for step in range(args.steps):
        logp, mask, strat, reward = rollout(strat_logits, filler_logits, args, gen)
        adv = advantages(reward, args.group_size, scale_by_std=loss_type != "dr_grpo")
        # on-policy PPO surrogate: ratio = 1 with gradient d(log pi), as in TRL's per-token loss
        ratio = torch.exp(logp - logp.detach())
        per_token = -ratio * adv[:, None]
        loss = aggregate(per_token, mask, loss_type, int(LENGTHS.max()))
        opt.zero_grad()
        loss.backward()
        opt.step()
        probs = torch.softmax(strat_logits.detach(), 0).cpu()
        wrong = reward.cpu() == 0
        curve["odds"].append(float(probs[2] / probs[1]))
        curve["p_solve"].append(float(probs[0]))
        curve["incorrect_len"].append(expected_incorrect_length(probs))
        curve["sampled_incorrect_len"].append(float(LENGTHS[strat][wrong].float().mean()) if wrong.any() else 0.0)
        if (step + 1) % max(1, args.steps // 4) == 0:
            log(f"step {step + 1}/{args.steps} arm={loss_type} odds(ramble/guess)={curve['odds'][-1]:.2f} "
                f"p_solve={curve['p_solve'][-1]:.2f} incorrect_len={curve['incorrect_len'][-1]:.1f}")
    return curve


# ---------------------------------------------------------------- part B: gradient accumulation
def ga_gradients(lengths: list[int], ga_steps: int, seed: int = 0, vocab: int = 16, dim: int = 8) -> dict:
    """Gradients of a tiny Embedding->Linear LM's token-mean cross-entropy: full batch, buggy GA, fixed GA.

    Runs in float64 so that the fixed accumulation matches the full batch to rounding error.
    """
    g = torch.Generator().manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Embedding(vocab, dim), torch.nn.Linear(dim, vocab)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.5)
    seqs = [torch.randint(vocab, (n + 1,), generator=g) for n in lengths]  # n predicted tokens each

    def token_losses(batch):
        return torch.cat([torch.nn.functional.cross_entropy(model(s[:-1]), s[1:], reduction="none") for s in batch])

    def grad_of(fn):
        model.zero_grad()
        fn()
        return torch.cat([p.grad.flatten().clone() for p in model.parameters()])

    micro = [seqs[i::ga_steps] for i in range(ga_steps)]  # ga_steps micro-batches
    total_tokens = sum(lengths)
    full = grad_of(lambda: token_losses(seqs).mean().backward())
    buggy = grad_of(lambda: [(token_losses(mb).mean() / ga_steps).backward() for mb in micro])
    fixed = grad_of(lambda: [(token_losses(mb).sum() / total_tokens).backward() for mb in micro])
    return {"full": full, "buggy": buggy, "fixed": fixed}


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def run(args: Args) -> dict:
    """Run part A (three loss types) and part B (accumulation check); returns the result payload."""
    seed_everything(args.seed)
    device = resolve_device(args.device)
    args = quick_budget(args, steps=120)
    gen = torch.Generator().manual_seed(args.seed)
    curves = {lt: train_length_bias(lt, args, device, gen) for lt in ("grpo", "dapo", "dr_grpo")}
    final = {lt: {"odds_ramble_guess": c["odds"][-1], "p_solve": c["p_solve"][-1],
                  "incorrect_len": c["incorrect_len"][-1]} for lt, c in curves.items()}

    uneven = [2, 3, 40, 64, 1, 5, 33, 7]
    g = ga_gradients(uneven, args.ga_steps, seed=args.seed)
    g_eq = ga_gradients([16] * len(uneven), args.ga_steps, seed=args.seed)
    ga = {"lengths": uneven, "ga_steps": args.ga_steps,
          "buggy_rel_err": rel_err(g["buggy"], g["full"]), "fixed_rel_err": rel_err(g["fixed"], g["full"]),
          "fixed_allclose": bool(torch.allclose(g["fixed"], g["full"], rtol=1e-6, atol=1e-9)),
          "buggy_allclose": bool(torch.allclose(g["buggy"], g["full"], rtol=1e-6, atol=1e-9)),
          "equal_lengths_buggy_rel_err": rel_err(g_eq["buggy"], g_eq["full"])}
    log(f"grad accumulation: buggy rel err {ga['buggy_rel_err']:.3f}, fixed {ga['fixed_rel_err']:.1e}, "
        f"equal-length control {ga['equal_lengths_buggy_rel_err']:.1e}")

    for lt, c in curves.items():
        final[lt]["incorrect_len_start"] = c["incorrect_len"][0]
        final[lt]["incorrect_len_growth"] = c["incorrect_len"][-1] - c["incorrect_len"][0]
    unbiased = ("dapo", "dr_grpo")
    in_band = all(1 / 1.5 <= final[lt]["odds_ramble_guess"] <= 1.5 for lt in unbiased)
    grows = (final["grpo"]["incorrect_len_growth"] >= 1.0
             and all(final["grpo"]["incorrect_len"] >= final[lt]["incorrect_len"] + 1.5 for lt in unbiased)
             and all(final[lt]["incorrect_len_growth"] <= 0.0 for lt in unbiased))
    part_a = final["grpo"]["odds_ramble_guess"] >= 2 and in_band and grows
    part_b = (ga["fixed_allclose"] and ga["buggy_rel_err"] > 0.1 and ga["equal_lengths_buggy_rel_err"] < 1e-9)
    metrics = {"failure": {"grpo": final["grpo"], "ga_buggy_rel_err": ga["buggy_rel_err"]},
               "mitigation": {"dapo": final["dapo"], "dr_grpo": final["dr_grpo"],
                              "ga_fixed_rel_err": ga["fixed_rel_err"]},
               "grad_accumulation": ga, "length_bias_met": part_a, "grad_accumulation_met": part_b,
               "grpo_odds": final["grpo"]["odds_ramble_guess"]}
    series = {"step": list(range(1, args.steps + 1))}
    for lt, c in curves.items():
        series[f"odds_{lt}"] = c["odds"]
        series[f"incorrect_len_{lt}"] = c["incorrect_len"]
        series[f"p_solve_{lt}"] = c["p_solve"]
    return result(args=args, metrics=metrics, series=series, signature_met=part_a and part_b,
                  signature_rule=REPRO["rule"])


def plot(payload: dict):
    """Odds ramble/guess and incorrect length per loss type; gradient errors of accumulation."""
    fig, (ax1, ax2, ax3) = new_figure("Loss normalization: length bias and accumulation bug", ncols=3)
    s, ga = payload["series"], payload["metrics"]["grad_accumulation"]
    for lt, label in (("grpo", "GRPO (per-sequence)"), ("dapo", "DAPO (token mean)"), ("dr_grpo", "Dr. GRPO")):
        ax1.plot(s["step"], s[f"odds_{lt}"], label=label)
        ax2.plot(s["step"], s[f"incorrect_len_{lt}"], label=label)
    ax1.set(xlabel="SGD step", ylabel="P(ramble) / P(guess)", title="equal-reward strategies")
    ax2.set(xlabel="SGD step", ylabel="E[length | incorrect]", title="length of failing answers")
    ax1.legend(fontsize=7)
    bars = [ga["buggy_rel_err"], ga["fixed_rel_err"], ga["equal_lengths_buggy_rel_err"]]
    ax3.bar(["buggy\nmean/GA", "fixed\nsum/N", "buggy,\nequal lengths"], np.maximum(bars, 1e-17))
    ax3.set_yscale("log")
    ax3.set(ylabel="relative gradient error vs full batch", title=f"gradient accumulation (GA={ga['ga_steps']})")
    return fig


def main(argv: list[str] | None = None) -> None:
    run_script(NAME, Args, run, plot, argv)


if __name__ == "__main__":
    main()
