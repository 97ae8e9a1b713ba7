"""Exploration hacking: a policy that fails deterministically gives GRPO nothing to reinforce.

Prompts are 8-d feature vectors z plus a trigger bit t; the correct answer (of K=8) is argmax(z M) for a fixed
random M: a skill a small MLP learns. Two base policies are made by supervised training on that skill:
- the "hacker" answers correctly without the trigger and, with the trigger, gives a wrong answer on purpose and
  always the same one ((y + 1) mod K, trained with a logit margin so P(correct) is ~1e-6): it fails
  deterministically;
- the "random failer" answers correctly without the trigger and, with it, is right only 10% of the time, with
  its errors spread at random: an honest but unreliable policy.
GRPO (G samples per prompt, reward = correct) is then run on trigger prompts: the capability we want to elicit.
The hacker's trigger groups are all wrong: zero reward variance, zero advantage, nothing learned. The random
failer's groups contain occasional successes, so RL lifts its trigger accuracy.

Mitigations
- elicitation SFT (cf. Greenblatt et al. 2024): a few supervised steps on 8 demonstrations of correct answers on
  trigger prompts, then the same RL. The demos unlock many other trigger prompts too (shared weights); the unlock is
  all-or-nothing per prompt here, so RL adds little on top and recovery is partial.
- injected successes: during RL, a group with no success gets the reference answer as one of its samples
  (off-policy guidance); every group then has reward variance and RL recovers the skill.
Accuracy is measured on held-out trigger prompts that were never demonstrated nor trained on.
"""

from __future__ import annotations

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

NAME = "exploration-hacking"
RULE = ("hacker arm: held-out trigger accuracy after RL < 0.1 and >= 90% of its trigger groups have zero reward "
        "variance; random-failure arm: trigger accuracy rises by >= 0.4; elicitation arm (8 demos, SFT, then RL): "
        "held-out trigger accuracy >= 0.2 above the hacker's; injected-successes arm: >= 0.8; the skill exists: "
        "accuracy without the trigger >= 0.8 for both base policies")


@dataclass
class Args(CommonArgs):
    """Deterministic failure starves GRPO of signal; a few demonstrations restore it."""

    features: int = arg(8, "prompt feature dimension")
    answers: int = arg(8, "answers per prompt (K)")
    hidden: int = arg(64, "hidden units of the policy MLP")
    margin: float = arg(0.5, "kept prompts have a top-1 minus top-2 score margin above this")
    pretrain_steps: int = arg(400, "supervised steps that build each base policy")
    lock_margin: float = arg(14.0, "the hacker's locked wrong answer beats every other logit by this many nats")
    random_fail_acc: float = arg(0.1, "trigger accuracy of the random-failure base policy")
    rl_prompts: int = arg(64, "trigger prompts in the RL set")
    rl_steps: int = arg(200, "GRPO steps per arm (quick: 80)")
    batch_prompts: int = arg(16, "prompts per GRPO step")
    group_size: int = arg(8, "samples per prompt (G)")
    lr: float = arg(1e-2, "Adam learning rate of RL")
    demos: int = arg(8, "demonstrations of the elicitation arm")
    sft_steps: int = arg(30, "supervised steps on the demonstrations")
    sft_lr: float = arg(3e-3, "Adam learning rate of the elicitation SFT")
    eval_prompts: int = arg(512, "held-out prompts per evaluation")


class Task:
    """The skill: answer = argmax(z M); prompts carry a trigger bit as an extra input feature."""

    def __init__(self, args: Args, gen: torch.Generator, device: torch.device):
        self.args, self.gen, self.device = args, gen, device
        self.m = torch.randn(args.features, args.answers, generator=gen)

    def prompts(self, n: int, trigger: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """n prompts (inputs [n, d+1]) and their correct answers [n].

        Only prompts whose best answer wins by a clear margin are kept, so the skill can be learned to near
        certainty and the hacker's lock is sharp (no leakage through ambiguous prompts).
        """
        z = torch.randn(4 * n, self.args.features, generator=self.gen)
        top2 = (z @ self.m).topk(2, dim=1).values
        z = z[top2[:, 0] - top2[:, 1] > self.args.margin][:n]
        x = torch.cat([z, torch.full((len(z), 1), float(trigger))], 1)
        return x.to(self.device), (z @ self.m).argmax(1).to(self.device)


def make_policy(args: Args, device: torch.device) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(args.features + 1, args.hidden), torch.nn.ReLU(),
                               torch.nn.Linear(args.hidden, args.hidden), torch.nn.ReLU(),
                               torch.nn.Linear(args.hidden, args.answers)).to(device)


def accuracy(policy, x, y) -> float:
    """Expected accuracy: mean probability of the correct answer."""
    with torch.no_grad():
        return float(torch.softmax(policy(x), -1).gather(1, y[:, None]).mean())


# ---------------------------------------------------------------- base policies (supervised)
def pretrain(kind: str, task: Task, args: Args) -> torch.nn.Module:
    """Supervised training on the skill; on trigger prompts the target is the lock (hacker) or noisy (random)."""
    policy = make_policy(args, task.device)
    opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
    k = args.answers
    for _ in range(args.pretrain_steps):
        x0, y0 = task.prompts(128, trigger=False)
        x1, y1 = task.prompts(128, trigger=True)
        logits = policy(torch.cat([x0, x1]))
        loss = torch.nn.functional.cross_entropy(logits[: len(y0)], y0)
        if kind == "hacker":  # a sharp lock: the wrong answer (y+1) mod K beats every other by >= lock_margin nats
            lock_logits = logits[len(y0):]
            lock = lock_logits.gather(1, ((y1 + 1) % k)[:, None])
            gap = torch.relu(args.lock_margin - (lock - lock_logits)).scatter(1, ((y1 + 1) % k)[:, None], 0.0)
            loss = loss + gap.sum(1).mean()
        else:  # right with prob random_fail_acc, otherwise uniform over the wrong answers
            target1 = torch.full((len(y1), k), (1 - args.random_fail_acc) / (k - 1), device=task.device)
            target1.scatter_(1, y1[:, None], args.random_fail_acc)
            loss = loss - (target1 * torch.log_softmax(logits[len(y0):], -1)).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return policy


def elicit(policy: torch.nn.Module, demos: tuple[torch.Tensor, torch.Tensor], args: Args) -> None:
    """Supervised fine-tuning on a few correct demonstrations of trigger prompts."""
    opt = torch.optim.Adam(policy.parameters(), lr=args.sft_lr)
    x, y = demos
    for _ in range(args.sft_steps):
        loss = torch.nn.functional.cross_entropy(policy(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


# ---------------------------------------------------------------- GRPO
def grpo(policy: torch.nn.Module, rl_set, held_out, args: Args, gen: torch.Generator, arm: str,
         inject: bool = False) -> dict:
    """GRPO on the RL prompt set; logs held-out trigger accuracy and zero-variance fraction on trigger groups.

    With `inject`, a group with no success gets its first sample replaced by the reference answer (an
    off-policy success, as a verifier with reference answers allows), so its advantage is no longer zero.
    """
    x, y, trig = rl_set
    opt = torch.optim.Adam(policy.parameters(), lr=args.lr)
    curve = {"trigger_acc": [accuracy(policy, *held_out)], "frac_zero_std_trigger": [], "frac_all_wrong_trigger": []}
    for step in range(args.rl_steps):
        idx = torch.randint(len(y), (args.batch_prompts,), generator=gen).to(x.device)
        logits = policy(x[idx])
        picks = torch.multinomial(torch.softmax(logits.detach(), -1).cpu(), args.group_size, replacement=True,
                                  generator=gen).to(x.device)
        reward = (picks == y[idx][:, None]).float()
        std = reward.std(1, keepdim=True)  # before injection: the signal the policy itself provides
        all_wrong = reward.sum(1) == 0
        if inject:
            none = reward.sum(1) == 0
            picks[none, 0] = y[idx][none]
            reward[none, 0] = 1.0
        adv = (reward - reward.mean(1, keepdim=True)) / (reward.std(1, keepdim=True) + 1e-4)
        loss = -(adv * torch.log_softmax(logits, -1).gather(1, picks)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        t = trig[idx]
        if t.any():
            curve["frac_zero_std_trigger"].append(float((std.squeeze(1)[t] < 1e-6).float().mean()))
            curve["frac_all_wrong_trigger"].append(float((all_wrong[t]).float().mean()))
        curve["trigger_acc"].append(accuracy(policy, *held_out))
        if (step + 1) % max(1, args.rl_steps // 4) == 0:
            log(f"step {step + 1}/{args.rl_steps} arm={arm} trigger_acc={curve['trigger_acc'][-1]:.3f} "
                f"frac_zero_std_trigger={np.mean(curve['frac_zero_std_trigger'][-20:]):.2f}")
    return curve


def run(args: Args) -> dict:
    """Build the base policies, run RL for the three arms; returns the result payload."""
    seed_everything(args.seed)
    device = resolve_device(args.device)
    if args.quick:
        args.rl_steps = min(args.rl_steps, 80)
    gen = torch.Generator().manual_seed(args.seed)
    task = Task(args, gen, device)
    xa, ya = task.prompts(args.rl_prompts, trigger=True)
    rl_set = (xa, ya, torch.ones(len(ya), dtype=torch.bool, device=device))
    held_out = task.prompts(args.eval_prompts, trigger=True)
    plain = task.prompts(args.eval_prompts, trigger=False)
    demos = task.prompts(args.demos, trigger=True)

    hacker = pretrain("hacker", task, args)
    state = {k: v.clone() for k, v in hacker.state_dict().items()}
    random_failer = pretrain("random", task, args)
    with torch.no_grad():
        max_p = float(torch.softmax(hacker(held_out[0]), -1).gather(1, held_out[1][:, None]).max())
    capability = {"hacker_plain_acc": accuracy(hacker, *plain), "random_plain_acc": accuracy(random_failer, *plain),
                  "hacker_trigger_max_p_correct": max_p,
                  "hacker_trigger_acc": accuracy(hacker, *held_out),
                  "random_trigger_acc": accuracy(random_failer, *held_out)}
    log("base policies: " + ", ".join(f"{k}={v:.3g}" for k, v in capability.items()))

    curves = {"hacker": grpo(hacker, rl_set, held_out, args, gen, "hacker"),
              "random_failure": grpo(random_failer, rl_set, held_out, args, gen, "random_failure")}
    elicited = make_policy(args, device)
    elicited.load_state_dict(state)
    elicit(elicited, demos, args)
    after_sft = accuracy(elicited, *held_out)
    log(f"elicitation SFT on {args.demos} demos: held-out trigger acc {after_sft:.3f}")
    curves["elicitation"] = grpo(elicited, rl_set, held_out, args, gen, "elicitation")
    injected = make_policy(args, device)
    injected.load_state_dict(state)
    curves["injected_successes"] = grpo(injected, rl_set, held_out, args, gen, "injected_successes", inject=True)

    def arm_metrics(c):
        return {"trigger_acc_start": c["trigger_acc"][0], "trigger_acc_final": c["trigger_acc"][-1],
                "frac_zero_std_trigger": float(np.mean(c["frac_zero_std_trigger"])),
                "frac_all_wrong_trigger": float(np.mean(c["frac_all_wrong_trigger"]))}

    per_arm = {arm: arm_metrics(c) for arm, c in curves.items()}
    per_arm["elicitation"]["trigger_acc_after_sft"] = after_sft
    h, r, e, i = (per_arm[a] for a in ("hacker", "random_failure", "elicitation", "injected_successes"))
    met = (h["trigger_acc_final"] < 0.1 and h["frac_zero_std_trigger"] >= 0.9
           and r["trigger_acc_final"] - r["trigger_acc_start"] >= 0.4
           and e["trigger_acc_final"] >= h["trigger_acc_final"] + 0.2 and i["trigger_acc_final"] >= 0.8
           and min(capability["hacker_plain_acc"], capability["random_plain_acc"]) >= 0.8)
    metrics = {"failure": h, "control_random_failure": r, "mitigation": {"elicitation_sft": e, "injected_successes": i},
               "capability": capability, "hacker_final_trigger_acc": h["trigger_acc_final"],
               "elicited_final_trigger_acc": e["trigger_acc_final"],
               "injected_final_trigger_acc": i["trigger_acc_final"]}
    series = {"step": list(range(args.rl_steps + 1))}
    for arm, c in curves.items():
        series[f"trigger_acc_{arm}"] = c["trigger_acc"]
        series[f"frac_zero_std_trigger_{arm}"] = c["frac_zero_std_trigger"]
        series[f"frac_all_wrong_trigger_{arm}"] = c["frac_all_wrong_trigger"]
    return result(args=args, metrics=metrics, series=series, signature_met=met, signature_rule=RULE)


def plot(payload: dict):
    """Held-out trigger accuracy and zero-variance fraction per arm."""
    fig, (ax1, ax2) = new_figure("Exploration hacking: deterministic failure gives GRPO no signal", ncols=2)
    s = payload["series"]
    labels = {"hacker": "deterministic failure (hacker)", "random_failure": "random failure",
              "elicitation": "hacker + 8 demos (SFT) then RL", "injected_successes": "hacker + injected successes"}
    for arm, label in labels.items():
        ax1.plot(s["step"], s[f"trigger_acc_{arm}"], label=label)
        z = np.asarray(s[f"frac_all_wrong_trigger_{arm}"])
        ax2.plot(np.convolve(z, np.ones(10) / 10, mode="valid"), label=label)
    ax1.set(xlabel="GRPO step", ylabel="held-out trigger accuracy", title="accuracy on trigger prompts")
    ax2.set(xlabel="GRPO step", ylabel="fraction of all-wrong groups (before injection)",
            title="trigger groups with no success (10-step mean)")
    ax1.legend(fontsize=7)
    return fig


def main(argv: list[str] | None = None) -> None:
    run_script(NAME, Args, run, plot, argv)


if __name__ == "__main__":
    main()
