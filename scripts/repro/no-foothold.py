"""No foothold: RL only reinforces what the policy already samples; an exact-match reward that never fires is 0.

A "response" is a string of L tokens over a vocabulary of V; the task is to emit one fixed target string.
The policy is factorized (independent logits per position) and trained with group-relative policy gradient
(GRPO: G samples per group, advantage = (r - group mean) / group std).

Arms (same task, same GRPO, same steps)
- failure  `exact`:       uniform start, reward 1 only for the whole target (base success V^-L = 8^-8): no group
                          ever sees a success, every advantage is 0, the gradient is exactly 0.
- threshold `primed:P0`:  the same exact-match task from a policy primed so that P(exact) = P0 at the start
                          (each position puts P0^(1/L) on its target token). With B*G samples per step the run
                          learns once successes are frequent enough to compound: at 1e-3 it does, at 1e-4 it does
                          not (a few lucky successes move it too little). This is the control: the same rule,
                          with a foothold, gives learning.
- mitigation `partial`:   reward = fraction of positions matched (partial credit).
- mitigation `curriculum`: exact match on the first `cur_len` positions; `cur_len` grows when the batch solves > 50%.
- mitigation `foothold`:  exact match on a task with ~2% base success (L=2, V=7: 1/49).
Quick mode runs fewer steps and only the two threshold levels the rule needs (1e-4 and 1e-3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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

NAME = "no-foothold"
REPRO = {
    "title": "No foothold: exact-match reward that never fires gives zero gradient",
    "reproduces": ["fm:no-foothold"],
    "mitigations": ["mit:partial-credit", "mit:curriculum", "mit:foothold-tasks"],
    "signature": ("GRPO with exact-match reward on an 8-token target learns only from a foothold: from a uniform "
                  "policy (base success 8^-8) no group ever succeeds and the gradient is exactly 0; primed to a "
                  "base success of 1e-4 it sees a handful of successes and still does not learn, primed to 1e-3 it "
                  "learns the target. Partial credit, a curriculum over the target prefix and a task with ~2% base "
                  "success all learn."),
    "rule": ("exact arm (uniform start): gradient norm 0 at every step and final P(exact) < 0.01; same task primed "
             "to base P(exact) = 1e-4: final P(exact) < 0.01; primed to 1e-3: final P(exact) >= 0.5; partial, "
             "curriculum and foothold arms: final P(solve their task) >= 0.5 each"),
    "anchor": {"paper": "gandhi-et-al-2025", "arxiv": "2503.01307",
               "result": ("Under identical RL on Countdown, a base model that already shows the needed behaviours "
                          "improves while one that does not plateaus; priming with examples of the behaviours "
                          "restores improvement. RL only reinforces what the policy already samples.")},
}
THRESHOLD = (1e-4, 1e-3)  # the two priming levels the rule compares (quick runs only these)
EXTRA_LEVELS = (1e-5, 1e-2)  # full runs add these to draw the threshold curve


@dataclass(frozen=True)
class Args(CommonArgs):
    """Exact-match reward without a foothold vs partial credit, a curriculum and a ~2%-success task."""

    steps: int = arg(200, "policy-gradient steps per arm (quick: 150)")
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
    logits = torch.zeros(length, vocab, device=device)
    if arm.startswith("primed:"):  # put P0^(1/L) on each target token, the rest uniform: P(exact) = P0
        q = float(arm.split(":")[1]) ** (1 / length)
        logits[torch.arange(length), target] = math.log(q / (1 - q) * (vocab - 1))
    logits.requires_grad_(True)
    opt = torch.optim.SGD([logits], lr=args.lr)
    n = args.groups * args.group_size
    cur_len = 1
    curve = {"p_exact": [], "reward": [], "grad_norm": [], "frac_zero_std": [], "cur_len": []}
    first_reward, successes = None, 0
    start_p = float(torch.softmax(logits.detach(), -1).gather(1, target[:, None]).prod())
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
        successes += int((match.prod(1) > 0).sum())
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
    curve["base_success"] = start_p
    curve["successes"] = successes
    return curve


def run(args: Args) -> dict:
    """Run every arm and return the result payload (no files written)."""
    seed_everything(args.seed)
    device = resolve_device(args.device)
    args = quick_budget(args, steps=150)
    gen = torch.Generator().manual_seed(args.seed)
    levels = sorted(THRESHOLD if args.quick else THRESHOLD + EXTRA_LEVELS)
    arms = ["exact", *(f"primed:{p:g}" for p in levels), "partial", "curriculum", "foothold"]
    curves = {arm: train_arm(arm, args, device, gen) for arm in arms}
    per_arm = {arm: {"final_p_exact": c["p_exact"][-1], "first_reward_step": c["first_reward_step"],
                     "successes_seen": c["successes"], "total_grad_norm": sum(c["grad_norm"]),
                     "mean_frac_zero_std": sum(c["frac_zero_std"]) / args.steps,
                     "base_success": c["base_success"]} for arm, c in curves.items()}
    failure = per_arm["exact"]
    below, above = (per_arm[f"primed:{p:g}"] for p in THRESHOLD)
    mitigations = {a: per_arm[a] for a in ("partial", "curriculum", "foothold")}
    met = (failure["final_p_exact"] < 0.01 and failure["total_grad_norm"] == 0.0
           and below["final_p_exact"] < 0.01 and above["final_p_exact"] >= 0.5
           and all(m["final_p_exact"] >= 0.5 for m in mitigations.values()))
    metrics = {"failure": failure, "mitigation": mitigations,
               "threshold": {f"{p:g}": per_arm[f"primed:{p:g}"] for p in levels},
               "exact_final_p": failure["final_p_exact"],
               "primed_1e-4_final_p": below["final_p_exact"], "primed_1e-3_final_p": above["final_p_exact"],
               "min_mitigation_final_p": min(m["final_p_exact"] for m in mitigations.values())}
    series = {"step": list(range(1, args.steps + 1)), "levels": levels,
              "final_p_by_level": [per_arm[f"primed:{p:g}"]["final_p_exact"] for p in levels]}
    for arm, c in curves.items():
        series[f"p_exact_{arm}"] = c["p_exact"]
        series[f"grad_norm_{arm}"] = c["grad_norm"]
        series[f"frac_zero_std_{arm}"] = c["frac_zero_std"]
    return result(args=args, metrics=metrics, series=series, signature_met=met, signature_rule=REPRO["rule"])


def plot(payload: dict):
    """Success probability per arm over training, and final success against the primed base success."""
    fig, (ax1, ax2) = new_figure("No foothold: exact match learns only from a foothold", ncols=2)
    s = payload["series"]
    arms = [k.removeprefix("p_exact_") for k in s if k.startswith("p_exact_")]
    for arm in arms:
        style = "--" if arm.startswith("primed:") else "-"
        ax1.plot(s["step"], s[f"p_exact_{arm}"], style, label=arm)
    ax1.set(xlabel="GRPO step", ylabel="P(task solved)", title="success probability")
    ax1.legend(fontsize=7)
    base = [payload["metrics"]["failure"]["base_success"], *s["levels"]]
    final = [payload["metrics"]["failure"]["final_p_exact"], *s["final_p_by_level"]]
    ax2.semilogx(base, final, "o-")
    ax2.set(xlabel="P(exact) at the start (8-token task)", ylabel="P(exact) after training",
            title="the foothold threshold")
    return fig


def main(argv: list[str] | None = None) -> None:
    run_script(NAME, Args, run, plot, argv)


if __name__ == "__main__":
    main()
