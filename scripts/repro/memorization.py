"""Memorization: RL on a small fixed task set learns the tasks, not the skill.

A task is (instance id in [0, 512), a, b in [0, 10)); the answer is a + b (19 classes). The id plays the role of a
level seed: it carries no information about the answer but gives the policy an easy handle to memorize.
The policy is an MLP over one-hot [id; a; b] trained by GRPO (G samples per task, reward 1 if correct).

Arms (same number of updates and samples)
- failure  `fixed`: every step draws tasks from the same N=8 instances -> train accuracy ~1, held-out near chance.
- mitigation `fresh`: every step draws fresh random tasks (a task distribution) -> learns a + b and generalizes.
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

NAME = "memorization"
N_IDS, N_DIGITS, N_ANSWERS = 512, 10, 19
RULE = ("fixed arm: train accuracy >= 0.9 and held-out accuracy <= 0.3; fresh arm: held-out accuracy >= 0.6 "
        "and at least 0.4 above the fixed arm's held-out accuracy")


@dataclass
class Args(CommonArgs):
    """A fixed set of 8 tasks is memorized; a stream of fresh tasks teaches the skill."""

    steps: int = arg(1000, "GRPO steps per arm (quick: 200)")
    fixed_tasks: int = arg(8, "size N of the fixed task set of the failure arm")
    prompts: int = arg(64, "tasks per step")
    group_size: int = arg(8, "samples per task (G)")
    hidden: int = arg(128, "hidden units of the policy MLP")
    lr: float = arg(6e-3, "Adam learning rate")
    eval_every: int = arg(10, "steps between evaluations")
    eval_tasks: int = arg(1024, "held-out tasks (fresh ids and digits) per evaluation")


def random_tasks(n: int, gen: torch.Generator) -> torch.Tensor:
    """n tasks as rows (id, a, b)."""
    return torch.stack([torch.randint(N_IDS, (n,), generator=gen), torch.randint(N_DIGITS, (n,), generator=gen),
                        torch.randint(N_DIGITS, (n,), generator=gen)], 1)


def encode(tasks: torch.Tensor, device: torch.device) -> torch.Tensor:
    """One-hot [id; a; b]."""
    x = torch.zeros(len(tasks), N_IDS + 2 * N_DIGITS, device=device)
    rows = torch.arange(len(tasks))
    x[rows, tasks[:, 0]] = 1.0
    x[rows, N_IDS + tasks[:, 1]] = 1.0
    x[rows, N_IDS + N_DIGITS + tasks[:, 2]] = 1.0
    return x


def accuracy(policy: torch.nn.Module, tasks: torch.Tensor, device: torch.device) -> float:
    """Expected accuracy: mean probability the policy puts on the right answer."""
    with torch.no_grad():
        probs = torch.softmax(policy(encode(tasks, device)), -1)
        return float(probs.gather(1, (tasks[:, 1] + tasks[:, 2]).to(device)[:, None]).mean())


def train_arm(arm: str, args: Args, device: torch.device, gen: torch.Generator) -> dict:
    """GRPO on fixed or fresh tasks; returns train and held-out accuracy curves."""
    policy = torch.nn.Sequential(torch.nn.Linear(N_IDS + 2 * N_DIGITS, args.hidden), torch.nn.ReLU(),
                                 torch.nn.Linear(args.hidden, N_ANSWERS)).to(device)
    opt = torch.optim.Adam(policy.parameters(), lr=args.lr)
    fixed = random_tasks(args.fixed_tasks, gen)
    held_out = random_tasks(args.eval_tasks, gen)
    curve = {"step": [], "train": [], "held_out": []}
    for step in range(args.steps):
        # ---- draw this step's tasks: from the fixed set, or fresh from the task distribution
        if arm == "fixed":
            tasks = fixed[torch.randint(args.fixed_tasks, (args.prompts,), generator=gen)]
        else:
            tasks = random_tasks(args.prompts, gen)
        # ---- G samples per task, reward 1 if the answer is a + b
        logits = policy(encode(tasks, device))
        probs = torch.softmax(logits.detach(), -1).cpu()
        answers = torch.multinomial(probs, args.group_size, replacement=True, generator=gen)  # [P, G]
        reward = (answers == (tasks[:, 1] + tasks[:, 2])[:, None]).float()
        # ---- group-relative advantages and policy-gradient step
        adv = (reward - reward.mean(1, keepdim=True)) / (reward.std(1, keepdim=True) + 1e-4)
        logp = torch.log_softmax(logits, -1).gather(1, answers.to(device))
        loss = -(adv.to(device) * logp).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            train_tasks = fixed if arm == "fixed" else random_tasks(args.eval_tasks, gen)
            curve["step"].append(step + 1)
            curve["train"].append(accuracy(policy, train_tasks, device))
            curve["held_out"].append(accuracy(policy, held_out, device))
        if (step + 1) % max(args.eval_every, args.steps // 5) == 0:
            log(f"step {step + 1}/{args.steps} arm={arm} train={curve['train'][-1]:.3f} "
                f"held_out={curve['held_out'][-1]:.3f}")
    return curve


def run(args: Args) -> dict:
    """Train both arms and return the result payload."""
    seed_everything(args.seed)
    device = resolve_device(args.device)
    if args.quick:
        args.steps = min(args.steps, 200)
    gen = torch.Generator().manual_seed(args.seed)
    curves = {arm: train_arm(arm, args, device, gen) for arm in ("fixed", "fresh")}
    fixed = {"train_acc": curves["fixed"]["train"][-1], "held_out_acc": curves["fixed"]["held_out"][-1],
             "n_tasks": args.fixed_tasks}
    fresh = {"train_acc": curves["fresh"]["train"][-1], "held_out_acc": curves["fresh"]["held_out"][-1]}
    fixed["gap"] = fixed["train_acc"] - fixed["held_out_acc"]
    fresh["gap"] = fresh["train_acc"] - fresh["held_out_acc"]
    met = (fixed["train_acc"] >= 0.9 and fixed["held_out_acc"] <= 0.3 and fresh["held_out_acc"] >= 0.6
           and fresh["held_out_acc"] - fixed["held_out_acc"] >= 0.4)
    metrics = {"failure": fixed, "mitigation": fresh, "chance": 1 / N_ANSWERS,
               "held_out_gain": fresh["held_out_acc"] - fixed["held_out_acc"]}
    series = {"step": curves["fixed"]["step"],
              "train_fixed": curves["fixed"]["train"], "held_out_fixed": curves["fixed"]["held_out"],
              "train_fresh": curves["fresh"]["train"], "held_out_fresh": curves["fresh"]["held_out"]}
    return result(args=args, metrics=metrics, series=series, signature_met=met, signature_rule=RULE)


def plot(payload: dict):
    """Train and held-out accuracy of both arms on one axis."""
    fig, (ax,) = new_figure("Memorization: a fixed task set is learned, not the skill")
    s = payload["series"]
    ax.plot(s["step"], s["train_fixed"], "C0-", label="fixed 8 tasks: train")
    ax.plot(s["step"], s["held_out_fixed"], "C0--", label="fixed 8 tasks: held-out")
    ax.plot(s["step"], s["train_fresh"], "C1-", label="fresh tasks: train")
    ax.plot(s["step"], s["held_out_fresh"], "C1--", label="fresh tasks: held-out")
    ax.axhline(payload["metrics"]["chance"], color="grey", lw=0.8, label="chance")
    ax.set(xlabel="GRPO step", ylabel="P(correct)")
    ax.legend(fontsize=7)
    return fig


def main(argv: list[str] | None = None) -> None:
    run_script(NAME, Args, run, plot, argv)


if __name__ == "__main__":
    main()
