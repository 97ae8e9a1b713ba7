"""Exploration hacking: a policy that (almost) never succeeds on some prompts gives GRPO nothing to reinforce.

Prompts are 8-d feature vectors z plus a trigger bit t; the correct answer (of K=8) is argmax(z M) for a fixed
random M: a skill a small MLP (SiLU) learns. Four base policies are made by supervised training; all answer
correctly without the trigger, and with it they fail in one of four ways, a 2 x 2 of determinism x success rate:
- `hacker` (deterministic, P(correct) ~ 1e-6): always the same wrong answer (y + 1) mod K, which beats every other
  logit by `lock_margin` nats, the sandbagging model organism;
- `spread_lock` (high entropy, P(correct) ~ 1e-6): the right answer sits `lock_margin` nats below the wrong ones,
  which are spread uniformly (entropy ~ ln 7): it fails at random but essentially never succeeds;
- `spread_10` (high entropy, P(correct) = 0.1): right 10% of the time, errors spread at random;
- `deterministic_10` (low entropy, P(correct) = 0.1): right 10% of the time, otherwise always (y + 1) mod K.
GRPO (G samples per prompt, reward = correct) is then run on trigger prompts: the capability we want to elicit.
What decides the outcome is the success probability, not determinism: both ~1e-6 policies give all-wrong groups
(zero advantage) and stay locked; both 10% policies see successes and RL lifts them.

Two details keep the comparison about success rate and nothing else:
- SiLU, not ReLU. `spread_10` is nearly uniform (0.1 on the right answer, 0.129 on each wrong one, chance is
  0.125), and a ReLU MLP learns that by switching its second hidden layer off on trigger prompts (0-5% of units
  active). A dead ReLU passes no gradient, so RL could move little but the output bias until a unit revived:
  a late take-off whose timing depended on the seed. SiLU (the gate of the SwiGLU blocks in LLMs) has no dead zone.
- The RL set is drawn among trigger prompts on which both locked policies are locked (P(correct) < `lock_p`).
  A learned lock leaks on a few in a thousand fresh prompts (P(correct) up to 0.1-0.9 there); one such prompt
  among the 64 is enough: Adam normalizes the first non-zero gradient after a run of zeros to a full-size step
  (every weight moves by ~lr, ~10 lr in all as the momentum runs out, however small the gradient) and the lock
  unravels within a few steps. The excluded fraction is reported, held-out accuracy is measured on unfiltered
  prompts, and every arm uses the same RL set.

Mitigations (on the hacker)
- elicitation SFT (cf. Greenblatt et al. 2024): a few supervised steps on 8 demonstrations of correct answers on
  trigger prompts, then the same RL. The demos unlock many other trigger prompts too (shared weights); the unlock is
  all-or-nothing per prompt here, so RL adds little on top and recovery is partial.
- injected successes: during RL, a group with no success gets the reference answer as one of its samples
  (off-policy guidance); every group then has reward variance and RL recovers the skill.
Accuracy is measured on held-out trigger prompts that were never demonstrated nor trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from kb.repro.script import (
    CommonArgs,
    arg,
    fail,
    log,
    new_figure,
    quick_budget,
    resolve_device,
    result,
    run_script,
    seed_everything,
)

NAME = "exploration-hacking"
REPRO = {
    "title": "Exploration hacking: failing without ever succeeding starves GRPO of signal",
    "reproduces": ["fm:exploration-hacking"],
    "mitigations": ["mit:elicitation-sft"],
    "signature": ("A policy that has the skill but (almost) never succeeds on trigger prompts gives all-wrong "
                  "groups: zero advantage, and RL leaves it locked. The lock comes from the success probability, "
                  "not from determinism: a high-entropy policy with the same ~1e-6 success rate is just as locked, "
                  "while policies that succeed 10% of the time, deterministic or not, are learned out of their "
                  "failures. A few supervised demonstrations partly unlock the hacker and injected successes let "
                  "RL recover the skill. A learned lock leaks on a few fresh prompts in a thousand, and a single "
                  "sampled success unlocks it, so RL runs on prompts where both locks hold."),
    "rule": ("both P(correct) ~ 1e-6 arms (deterministic hacker and high-entropy spread lock): held-out trigger "
             "accuracy after RL < 0.2 and >= 80% of their trigger groups all wrong; both P(correct) = 0.1 arms "
             "(deterministic and spread): <= 50% of their trigger groups all wrong and trigger accuracy rises by "
             ">= 0.5; elicitation arm (8 demos, SFT, then RL): held-out trigger accuracy >= 0.2 above the hacker's; "
             "injected-successes arm: >= 0.7; the skill exists: accuracy without the trigger >= 0.8 for every base "
             "policy (RL prompts: trigger prompts on which both locked policies have P(correct) < 1e-5)"),
    "anchor": {"paper": "E007", "arxiv": "2604.28182",
               "result": ("Model organisms trained to underperform resist RL-based capability elicitation while "
                          "staying competent elsewhere; SFT-based elicitation and monitoring are countermeasures "
                          "(cf. password-locked models, where a few demonstrations unlock the capability).")},
}
BASES = {  # name: (deterministic errors?, trigger success rate; None = locked by lock_margin)
    "hacker": (True, None), "spread_lock": (False, None), "deterministic_10": (True, 0.1), "spread_10": (False, 0.1),
}


@dataclass(frozen=True)
class Args(CommonArgs):
    """Never succeeding, not determinism, starves GRPO of signal; demonstrations or injected successes restore it."""

    features: int = arg(8, "prompt feature dimension")
    answers: int = arg(8, "answers per prompt (K)")
    hidden: int = arg(64, "hidden units of the policy MLP")
    margin: float = arg(1.0, "kept prompts have a top-1 minus top-2 score margin above this")
    pretrain_steps: int = arg(400, "supervised steps that build each base policy")
    lock_margin: float = arg(14.0, "locked policies: the right answer sits this many nats below the wrong ones")
    rl_prompts: int = arg(64, "trigger prompts in the RL set")
    lock_p: float = arg(1e-5, "RL prompts are drawn among those where both locked policies have P(correct) below this")
    rl_steps: int = arg(200, "GRPO steps per arm (quick: 150)")
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
    return torch.nn.Sequential(torch.nn.Linear(args.features + 1, args.hidden), torch.nn.SiLU(),
                               torch.nn.Linear(args.hidden, args.hidden), torch.nn.SiLU(),
                               torch.nn.Linear(args.hidden, args.answers)).to(device)


def accuracy(policy, x, y) -> float:
    """Expected accuracy: mean probability of the correct answer."""
    with torch.no_grad():
        return float(torch.softmax(policy(x), -1).gather(1, y[:, None]).mean())


# ---------------------------------------------------------------- base policies (supervised)
def failure_loss(kind: str, trig: torch.Tensor, y1: torch.Tensor, args: Args) -> torch.Tensor:
    """The supervised loss on trigger prompts that teaches base policy `kind` (see BASES) its way of failing."""
    deterministic, success = BASES[kind]
    k = args.answers
    wrong = ((y1 + 1) % k)[:, None]
    if kind == "hacker":  # a sharp lock: the wrong answer (y+1) mod K beats every other by >= lock_margin nats
        gap = torch.relu(args.lock_margin - (trig.gather(1, wrong) - trig)).scatter(1, wrong, 0.0)
        return gap.sum(1).mean()
    if success is None:  # spread lock: right answer lock_margin below the wrong ones, which are uniform
        correct = trig.gather(1, y1[:, None])
        others = torch.ones_like(trig).scatter(1, y1[:, None], 0.0)
        mean_wrong = (trig * others).sum(1, keepdim=True) / (k - 1)
        spread = -(torch.log_softmax(trig, -1) * others).sum(1, keepdim=True) / (k - 1)
        return (torch.relu(args.lock_margin - (mean_wrong - correct)) + spread).mean()
    # right with prob `success`, otherwise (y+1) mod K (deterministic) or uniform over the wrong answers
    target = torch.full(trig.shape, 0.0 if deterministic else (1 - success) / (k - 1), device=trig.device)
    if deterministic:
        target.scatter_(1, wrong, 1 - success)
    target.scatter_(1, y1[:, None], success)
    return -(target * torch.log_softmax(trig, -1)).sum(1).mean()


def pretrain(task: Task, args: Args) -> dict[str, torch.nn.Module]:
    """The four base policies of BASES: the skill on plain prompts, each one's way of failing on trigger prompts.

    Trained side by side as one stacked model (torch.func.vmap; Adam is per-element, so this equals four separate
    runs on the same batches). Fresh prompts every step, so the failure generalizes to unseen prompts.
    """
    from torch.func import functional_call, stack_module_state, vmap

    kinds = list(BASES)
    policies = [make_policy(args, task.device) for _ in kinds]
    params, buffers = stack_module_state(policies)
    shape = make_policy(args, torch.device("meta"))
    forward = vmap(lambda p, b, x: functional_call(shape, (p, b), (x,)), in_dims=(0, 0, None))
    opt = torch.optim.Adam(params.values(), lr=1e-2)
    for _ in range(args.pretrain_steps):
        x0, y0 = task.prompts(128, trigger=False)
        x1, y1 = task.prompts(128, trigger=True)
        logits = forward(params, buffers, torch.cat([x0, x1]))  # [kinds, prompts, answers]
        loss = sum(torch.nn.functional.cross_entropy(logits[i, : len(y0)], y0)
                   + failure_loss(kind, logits[i, len(y0):], y1, args) for i, kind in enumerate(kinds))
        opt.zero_grad()
        loss.backward()
        opt.step()
    for i, policy in enumerate(policies):
        policy.load_state_dict({name: value[i].detach() for name, value in params.items()})
    return dict(zip(kinds, policies))


def entropy(policy, x) -> float:
    """Mean entropy (nats) of the policy's answer distribution on prompts x."""
    with torch.no_grad():
        logp = torch.log_softmax(policy(x), -1)
        return float(-(logp.exp() * logp).sum(1).mean())


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
    curve = {"trigger_acc": [accuracy(policy, *held_out)], "frac_zero_std_trigger": [], "frac_all_wrong_trigger": [],
             "successes_trigger": []}
    for step in range(args.rl_steps):
        idx = torch.randint(len(y), (args.batch_prompts,), generator=gen).to(x.device)
        logits = policy(x[idx])
        picks = torch.multinomial(torch.softmax(logits.detach(), -1).cpu(), args.group_size, replacement=True,
                                  generator=gen).to(x.device)
        reward = (picks == y[idx][:, None]).float()
        std = reward.std(1, keepdim=True)  # before injection: the signal the policy itself provides
        all_wrong = reward.sum(1) == 0
        sampled_successes = reward.sum(1)  # the policy's own successes, before any injection
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
            curve["successes_trigger"].append(int(sampled_successes[t].sum()))
        curve["trigger_acc"].append(accuracy(policy, *held_out))
        if (step + 1) % max(1, args.rl_steps // 4) == 0:
            log(f"step {step + 1}/{args.rl_steps} arm={arm} trigger_acc={curve['trigger_acc'][-1]:.3f} "
                f"frac_zero_std_trigger={np.mean(curve['frac_zero_std_trigger'][-20:]):.2f}")
    return curve


def p_correct(policy: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-prompt probability of the correct answer."""
    with torch.no_grad():
        return torch.softmax(policy(x), -1).gather(1, y[:, None]).squeeze(1)


def rl_prompts(task: Task, bases: dict[str, torch.nn.Module], args: Args):
    """The RL set: fresh trigger prompts on which both locked policies are locked (P(correct) < lock_p).

    Returns the set (shared by every arm) and the fraction of fresh trigger prompts left out because a locked
    policy leaks there (see the module docstring: one sampled success is enough to unlock it).
    """
    x, y = task.prompts(8 * args.rl_prompts, trigger=True)
    locked = (p_correct(bases["hacker"], x, y) < args.lock_p) & (p_correct(bases["spread_lock"], x, y) < args.lock_p)
    if int(locked.sum()) < args.rl_prompts:
        fail(f"only {int(locked.sum())} of {len(y)} trigger prompts are locked for both locked policies")
    keep = locked.nonzero().squeeze(1)[: args.rl_prompts]
    leak_frac = 1 - float(locked.float().mean())
    return (x[keep], y[keep], torch.ones(len(keep), dtype=torch.bool, device=x.device)), leak_frac


def run(args: Args) -> dict:
    """Build the four base policies, run RL on each and the two mitigations; returns the result payload."""
    seed_everything(args.seed)
    device = resolve_device(args.device)
    args = quick_budget(args, rl_steps=150)
    gen = torch.Generator().manual_seed(args.seed)
    task = Task(args, gen, device)
    held_out = task.prompts(args.eval_prompts, trigger=True)
    plain = task.prompts(args.eval_prompts, trigger=False)
    demos = task.prompts(args.demos, trigger=True)

    bases = pretrain(task, args)
    rl_set, leak_frac = rl_prompts(task, bases, args)
    log(f"RL set: {len(rl_set[1])} trigger prompts; {leak_frac:.2%} of fresh trigger prompts leak (P(correct) >= "
        f"{args.lock_p:g} for a locked policy) and are not used for RL")
    hacker_state = {k: v.clone() for k, v in bases["hacker"].state_dict().items()}
    capability = {}
    samples_per_prompt = args.rl_steps * args.batch_prompts * args.group_size / len(rl_set[1])
    for kind, policy in bases.items():
        p_held, p_rl = p_correct(policy, *held_out), p_correct(policy, *rl_set[:2])
        capability[kind] = {"plain_acc": accuracy(policy, *plain), "trigger_acc": float(p_held.mean()),
                            "trigger_max_p_correct": float(p_held.max()),
                            "trigger_entropy": entropy(policy, held_out[0]),
                            "rl_set_max_p_correct": float(p_rl.max()),
                            "rl_expected_successes": float(p_rl.sum()) * samples_per_prompt}
        log(f"base {kind}: " + ", ".join(f"{k}={v:.3g}" for k, v in capability[kind].items()))

    curves = {kind: grpo(policy, rl_set, held_out, args, gen, kind) for kind, policy in bases.items()}
    elicited = make_policy(args, device)
    elicited.load_state_dict(hacker_state)
    elicit(elicited, demos, args)
    after_sft = accuracy(elicited, *held_out)
    log(f"elicitation SFT on {args.demos} demos: held-out trigger acc {after_sft:.3f}")
    curves["elicitation"] = grpo(elicited, rl_set, held_out, args, gen, "elicitation")
    injected = make_policy(args, device)
    injected.load_state_dict(hacker_state)
    curves["injected_successes"] = grpo(injected, rl_set, held_out, args, gen, "injected_successes", inject=True)

    def arm_metrics(c):
        return {"trigger_acc_start": c["trigger_acc"][0], "trigger_acc_final": c["trigger_acc"][-1],
                "frac_zero_std_trigger": float(np.mean(c["frac_zero_std_trigger"])),
                "frac_all_wrong_trigger": float(np.mean(c["frac_all_wrong_trigger"])),
                "successes_sampled": int(sum(c["successes_trigger"])),
                "first_success_step": next((k for k, n in enumerate(c["successes_trigger"]) if n), None)}

    per_arm = {arm: arm_metrics(c) for arm, c in curves.items()}
    for kind in BASES:
        per_arm[kind]["trigger_entropy_start"] = capability[kind]["trigger_entropy"]
    per_arm["elicitation"]["trigger_acc_after_sft"] = after_sft
    locked = [per_arm["hacker"], per_arm["spread_lock"]]
    learnable = [per_arm["deterministic_10"], per_arm["spread_10"]]
    e, i = per_arm["elicitation"], per_arm["injected_successes"]
    met = (all(a["trigger_acc_final"] < 0.2 and a["frac_all_wrong_trigger"] >= 0.8 for a in locked)
           and all(a["frac_all_wrong_trigger"] <= 0.5 and a["trigger_acc_final"] - a["trigger_acc_start"] >= 0.5
                   for a in learnable)
           and e["trigger_acc_final"] >= per_arm["hacker"]["trigger_acc_final"] + 0.2 and i["trigger_acc_final"] >= 0.7
           and min(c["plain_acc"] for c in capability.values()) >= 0.8)
    metrics = {"failure": per_arm["hacker"], "control_spread_lock": per_arm["spread_lock"],
               "lock_leak_frac": leak_frac,
               "control_deterministic_10": per_arm["deterministic_10"], "control_spread_10": per_arm["spread_10"],
               "mitigation": {"elicitation_sft": e, "injected_successes": i}, "capability": capability,
               "hacker_final_trigger_acc": per_arm["hacker"]["trigger_acc_final"],
               "spread_lock_final_trigger_acc": per_arm["spread_lock"]["trigger_acc_final"],
               "deterministic_10_final_trigger_acc": per_arm["deterministic_10"]["trigger_acc_final"],
               "spread_10_final_trigger_acc": per_arm["spread_10"]["trigger_acc_final"],
               "hacker_successes_sampled": per_arm["hacker"]["successes_sampled"],
               "spread_lock_successes_sampled": per_arm["spread_lock"]["successes_sampled"],
               "elicited_final_trigger_acc": e["trigger_acc_final"],
               "injected_final_trigger_acc": i["trigger_acc_final"]}
    series = {"step": list(range(args.rl_steps + 1))}
    for arm, c in curves.items():
        series[f"trigger_acc_{arm}"] = c["trigger_acc"]
        series[f"frac_zero_std_trigger_{arm}"] = c["frac_zero_std_trigger"]
        series[f"frac_all_wrong_trigger_{arm}"] = c["frac_all_wrong_trigger"]
    return result(args=args, metrics=metrics, series=series, signature_met=met, signature_rule=REPRO["rule"])


def plot(payload: dict):
    """Held-out trigger accuracy and zero-variance fraction per arm."""
    fig, (ax1, ax2) = new_figure("Exploration hacking: no successes, no signal (determinism is not the cause)",
                                 ncols=2)
    s = payload["series"]
    labels = {"hacker": "hacker: deterministic, P(correct)~1e-6", "spread_lock": "high entropy, P(correct)~1e-6",
              "deterministic_10": "deterministic, P(correct)=0.1", "spread_10": "high entropy, P(correct)=0.1",
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
