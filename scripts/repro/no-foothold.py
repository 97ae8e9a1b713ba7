"""No foothold: exact-match reward on a task the policy never solves gives zero gradient.

A "response" is a string of L tokens over a vocabulary of V; the task is to emit one fixed target string.
The policy is factorized (independent logits per position), starts uniform, and is trained with
group-relative policy gradient (GRPO: G samples per group, advantage = (r - group mean) / group std).

Arms
- failure  `exact`:      reward 1 only for the whole target (base success V^-L = 8^-8 ~ 6e-8): no group ever
                         sees a success, every advantage is 0, the gradient is exactly 0 and nothing is learned.
- mitigation `partial`:  reward = fraction of positions matched (partial credit).
- mitigation `curriculum`: exact match on the first `cur_len` positions; `cur_len` grows when the batch solves > 50%.
- mitigation `foothold`: exact match on a task with ~2% base success (L=2, V=7: 1/49), sampled many times.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

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

NAME = "no-foothold"
RULE = ("exact arm: final P(exact) < 0.01 and its gradient norm was 0 at every step; "
        "partial, curriculum and foothold arms: final P(solve their task) >= 0.5 each")


@dataclass
class Args(CommonArgs):
    """Exact-match reward without a foothold vs partial credit, a curriculum and a ~2%-success task."""

    steps: int = arg(200, "policy-gradient steps per arm (quick: 70)")
    length: int = arg(8, "target length L of the hard task")
    vocab: int = arg(8, "vocabulary size V of the hard task")
    groups: int = arg(16, "groups per step (B)")
    group_size: int = arg(8, "samples per group (G)")
    lr: float = arg(2.0, "SGD learning rate")
    foothold_length: int = arg(2, "length of the foothold task")
    foothold_vocab: int = arg(7, "vocabulary of the foothold task (7^-2 ~ 2% base success)")


def group_advantages(rewards: torch.Tensor, group_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """GRPO advantages (r - mean) / (std + 1e-4) per group, and a flag per group whose rewards are all equal."""
    r = rewards.view(-1, group_size)
    std = r.std(dim=1, keepdim=True)
    adv = (r - r.mean(dim=1, keepdim=True)) / (std + 1e-4)
    return adv.view(-1), torch.isclose(std.view(-1), torch.zeros(()))


def train_arm(arm: str, args: Args, device: torch.device, gen: torch.Generator) -> dict:
    """Train one factorized policy with GRPO under the reward of `arm`; returns its curves."""
    length, vocab = (args.foothold_length, args.foothold_vocab) if arm == "foothold" else (args.length, args.vocab)
    target = torch.randint(vocab, (length,), generator=gen).to(device)
    logits = torch.zeros(length, vocab, device=device, requires_grad=True)
    opt = torch.optim.SGD([logits], lr=args.lr)
    n = args.groups * args.group_size
    cur_len = 1
    curve = {"p_exact": [], "reward": [], "grad_norm": [], "frac_zero_std": [], "cur_len": []}
    first_reward = None
    for step in range(args.steps):
        # ---- sample N responses from the factorized policy
        probs = torch.softmax(logits.detach(), dim=-1)
        u = torch.rand(n, length, 1, generator=gen).to(device)
        tokens = (u > probs.cumsum(-1).unsqueeze(0)).sum(-1).clamp(max=vocab - 1)
        match = (tokens == target).float()
        # ---- reward of this arm
        if arm == "partial":
            reward = match.mean(1)
        elif arm == "curriculum":
            reward = match[:, :cur_len].prod(1)
        else:
            reward = match.prod(1)
        if first_reward is None and bool((reward > 0).any()):
            first_reward = step
        # ---- GRPO update
        adv, zero_std = group_advantages(reward, args.group_size)
        logp = torch.log_softmax(logits, -1).gather(1, tokens.T).T.sum(1)  # sequence log-prob, shape [N]
        loss = -(adv * logp).mean()
        opt.zero_grad()
        loss.backward()
        grad_norm = float(logits.grad.norm())
        opt.step()
        if arm == "curriculum" and float(reward.mean()) > 0.5 and cur_len < length:
            cur_len += 1
        # ---- metrics: exact success probability of the full task, computed from the policy
        p_exact = float(torch.softmax(logits.detach(), -1).gather(1, target[:, None]).prod())
        for key, val in (("p_exact", p_exact), ("reward", float(reward.mean())), ("grad_norm", grad_norm),
                         ("frac_zero_std", float(zero_std.float().mean())), ("cur_len", cur_len)):
            curve[key].append(val)
        if (step + 1) % max(1, args.steps // 5) == 0:
            log(f"step {step + 1}/{args.steps} arm={arm} p_exact={p_exact:.3f} reward={float(reward.mean()):.3f}")
    curve["first_reward_step"] = first_reward
    curve["base_success"] = float(vocab) ** -length
    return curve


def run(args: Args) -> dict:
    """Run all four arms and return the result payload (no files written)."""
    seed_everything(args.seed)
    device = resolve_device(args.device)
    if args.quick:
        args.steps = min(args.steps, 70)
    gen = torch.Generator().manual_seed(args.seed)
    arms = ["exact", "partial", "curriculum", "foothold"]
    curves = {arm: train_arm(arm, args, device, gen) for arm in arms}
    per_arm = {arm: {"final_p_exact": c["p_exact"][-1], "first_reward_step": c["first_reward_step"],
                     "total_grad_norm": sum(c["grad_norm"]), "mean_frac_zero_std": sum(c["frac_zero_std"]) / args.steps,
                     "base_success": c["base_success"]} for arm, c in curves.items()}
    failure = per_arm["exact"]
    mitigations = {a: per_arm[a] for a in arms[1:]}
    met = (failure["final_p_exact"] < 0.01 and failure["total_grad_norm"] == 0.0
           and all(m["final_p_exact"] >= 0.5 for m in mitigations.values()))
    metrics = {"failure": failure, "mitigation": mitigations,
               "exact_final_p": failure["final_p_exact"],
               "min_mitigation_final_p": min(m["final_p_exact"] for m in mitigations.values())}
    series = {"step": list(range(1, args.steps + 1))}
    for arm, c in curves.items():
        series[f"p_exact_{arm}"] = c["p_exact"]
        series[f"grad_norm_{arm}"] = c["grad_norm"]
        series[f"frac_zero_std_{arm}"] = c["frac_zero_std"]
    return result(args=args, metrics=metrics, series=series, signature_met=met, signature_rule=RULE)


def plot(payload: dict):
    """Success probability and gradient norm per arm."""
    fig, (ax1, ax2) = new_figure("No foothold: exact match never rewards, so GRPO never moves", ncols=2)
    s = payload["series"]
    for arm in ("exact", "partial", "curriculum", "foothold"):
        ax1.plot(s["step"], s[f"p_exact_{arm}"], label=arm)
        ax2.plot(s["step"], s[f"grad_norm_{arm}"], label=arm)
    ax1.set(xlabel="GRPO step", ylabel="P(task solved)", title="success probability")
    ax2.set(xlabel="GRPO step", ylabel="gradient norm", title="gradient norm (exact arm: 0)")
    ax1.legend()
    return fig


def main(argv: list[str] | None = None) -> None:
    run_script(NAME, Args, run, plot, argv)


if __name__ == "__main__":
    main()
