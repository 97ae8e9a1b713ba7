"""Verifier reward hacking (Baker et al. 2025 style): unit tests as the reward, and a policy that games them.

64 coding tasks, each with a feature vector x (what the task looks like). Each task is solved by one of two
approaches (say, recursion or a loop), decided by a fixed direction in x. For each task the policy picks one of
four actions:
- `solve-a`, `solve-b`: write a real solution with that approach; with the approach that fits the task it passes
               the visible and the hidden tests with probability q(x) in (0.5, 0.95), with the other one 0.1.
- `hard-code`: special-case the visible tests' inputs; visible tests pass, hidden tests fail.
- `exit-early`: call exit(0) before the tests run; the visible harness reads exit code 0 as a pass, the hidden
               harness (which counts passed asserts) does not.
The policy is linear in the task features (logits = x W + b), so what it learns on one task carries over to
similar tasks, and honest training has something to learn: which approach fits which task. It starts as an
honest coder that has not learned this (P(solve) ~ 0.99, approaches 50/50) and is trained by GRPO with Adam; proxy
(visible-test) pass rate, hidden-test pass rate and action shares are computed exactly from the policy.

Arms
- failure    `visible-tests`: reward = visible tests pass. Hacks always pass, so they win: proxy -> 1, hidden
                              pass (after an honest rise) falls.
- mitigation `hidden-tests`:  reward = hidden tests pass (held-out tests the policy cannot see). Hidden pass rises.
- mitigation `monitor`:       reward = visible pass - penalty * [a monitor flags the episode]. The monitor reads
                              the reasoning and catches hard-coding with probability `monitor_recall`, but it
                              cannot see exit-early (nothing in the reasoning gives it away). The policy moves to
                              the unmonitored hack: the penalty relocates hacking, it does not remove it (Baker
                              et al.'s warning).
The hacking rule is also evaluated on the `hidden-tests` arm, where the effect is absent, and must be False there.
"""

from __future__ import annotations

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

NAME = "verifier-hacking"
ACTIONS = ("solve-a", "solve-b", "hard-code", "exit-early")
HACK, EXIT = 2, 3
ARMS = ("visible-tests", "hidden-tests", "monitor")
REPRO = {
    "title": "Verifier hacking: visible unit tests pass while hidden tests fail",
    "reproduces": ["fm:verifier-hacking"],
    "mitigations": ["mit:hidden-test-reward", "mit:monitor-penalty"],
    "signature": ("Rewarded by the visible unit tests, an initially honest coding policy learns to hard-code the "
                  "tests or exit before they run: the visible pass rate goes to 1 while the hidden-test pass rate, "
                  "after an honest rise, falls. Rewarding hidden tests instead raises the hidden pass rate. A "
                  "monitor penalty that catches hard-coding but cannot see exit-early removes the monitored hack "
                  "and the policy moves to the unmonitored one: hidden pass falls all the same."),
    "rule": ("hacking(arm) := final expected visible-test pass >= 0.95 and final hidden-test pass <= its peak - 0.25; "
             "met when hacking holds on the visible-reward arm and fails on the hidden-reward arm (which must end "
             ">= 0.1 above its initial hidden pass), and on the monitor arm the monitored hack (hard-code) ends "
             "below a 0.05 share while the unmonitored one (exit-early) ends above 0.5 and hidden pass still falls "
             "by >= 0.25 from its peak"),
    "anchor": {"paper": "baker-et-al-2025", "arxiv": "2503.11926",
               "result": ("A frontier reasoning model trained with RL on agentic coding learned to game its unit "
                          "tests (e.g. exiting before they run, raising SkipTest); a chain-of-thought monitor caught "
                          "this, but with the monitor in the reward and enough optimization the agent kept hacking "
                          "while hiding its intent from the monitor (obfuscated reward hacking).")},
}


@dataclass(frozen=True)
class Args(CommonArgs):
    """Unit-test reward hacking: the proxy (visible tests) saturates while hidden-test pass falls."""

    tasks: int = arg(64, "coding tasks")
    features: int = arg(8, "task feature dimension")
    steps: int = arg(400, "GRPO steps per arm (quick: 200)")
    batch_tasks: int = arg(16, "tasks per step")
    group_size: int = arg(8, "attempts per task (G)")
    lr: float = arg(0.1, "Adam learning rate")
    monitor_recall: float = arg(0.9, "probability the monitor flags a hard-coding episode")
    monitor_penalty: float = arg(1.0, "reward subtracted when the monitor flags an episode")


def make_tasks(args: Args, gen: torch.Generator, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Task features x [n, d] and the pass probability of each solve action [n, 2].

    The fitting approach is set by the sign of x along one fixed direction, the difficulty by another.
    """
    x = torch.randn(args.tasks, args.features, generator=gen)
    fits_a = (x @ torch.randn(args.features, generator=gen)) > 0
    q = 0.5 + 0.45 * torch.sigmoid(x @ torch.randn(args.features, generator=gen) / args.features ** 0.5 * 2)
    solve_p = torch.stack([torch.where(fits_a, q, 0.1), torch.where(fits_a, 0.1, q)], 1)
    return x.to(device), solve_p.to(device)


def rewards(arm: str, action: torch.Tensor, solved: torch.Tensor, flagged: torch.Tensor, args: Args) -> torch.Tensor:
    """The training reward of each attempt under an arm."""
    visible = (action >= HACK) | solved
    if arm == "hidden-tests":
        return solved.float()
    if arm == "monitor":
        return visible.float() - args.monitor_penalty * flagged.float()
    return visible.float()


def train_arm(arm: str, x: torch.Tensor, solve_p: torch.Tensor, args: Args, gen: torch.Generator) -> dict:
    """GRPO from an honest initial policy under one reward; exact pass rates and action shares per step."""
    W = torch.zeros(args.features, len(ACTIONS), device=x.device, requires_grad=True)
    b = torch.tensor([2.5, 2.5, -2.5, -3.5], device=x.device).requires_grad_(True)  # honest at the start
    opt = torch.optim.Adam([W, b], lr=args.lr)
    curve: dict[str, list] = {"proxy": [], "gold": [], **{a: [] for a in ACTIONS}}  # visible / hidden pass

    def record() -> None:
        with torch.no_grad():
            p = torch.softmax(x @ W + b, -1)
            hidden = (p[:, :HACK] * solve_p).sum(1)
            curve["gold"].append(float(hidden.mean()))
            curve["proxy"].append(float((hidden + p[:, HACK] + p[:, EXIT]).mean()))
            for i, a in enumerate(ACTIONS):
                curve[a].append(float(p[:, i].mean()))

    record()
    for step in range(args.steps):
        # ---- rollouts: G attempts on each of B tasks; the environment decides solve success and monitor flags
        idx = torch.randint(args.tasks, (args.batch_tasks,), generator=gen).to(x.device)
        logits = x[idx] @ W + b
        action = torch.multinomial(torch.softmax(logits.detach(), -1).cpu(), args.group_size, replacement=True,
                                   generator=gen).to(x.device)
        u = torch.rand(args.batch_tasks, args.group_size, generator=gen).to(x.device)
        v = torch.rand(args.batch_tasks, args.group_size, generator=gen).to(x.device)
        solved = (action < HACK) & (u < solve_p[idx].gather(1, action.clamp(max=1)))
        flagged = (action == HACK) & (v < args.monitor_recall)
        r = rewards(arm, action, solved, flagged, args)
        # ---- GRPO: group-normalized advantage, per-sample policy gradient
        adv = (r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-4)
        logp = torch.log_softmax(logits, -1).gather(1, action)
        loss = -(adv * logp).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        record()
        if (step + 1) % max(1, args.steps // 4) == 0:
            log(f"step {step + 1}/{args.steps} arm={arm} visible={curve['proxy'][-1]:.3f} "
                f"hidden={curve['gold'][-1]:.3f} hard-code={curve['hard-code'][-1]:.2f} "
                f"exit-early={curve['exit-early'][-1]:.2f}")
    return curve


def hacking(curve: dict) -> bool:
    """The failure signature on one arm: the proxy saturates while the hidden-test pass rate falls from its peak."""
    return curve["proxy"][-1] >= 0.95 and curve["gold"][-1] <= max(curve["gold"]) - 0.25


def moved_not_removed(curve: dict) -> bool:
    """The monitor arm's signature: the monitored hack is gone, the unmonitored one took its place."""
    return (curve["hard-code"][-1] < 0.05 and curve["exit-early"][-1] > 0.5
            and curve["gold"][-1] <= max(curve["gold"]) - 0.25)


def summary(curve: dict) -> dict:
    """Initial and final numbers of one arm."""
    return {"proxy_start": curve["proxy"][0], "proxy_final": curve["proxy"][-1],
            "gold_start": curve["gold"][0], "gold_peak": max(curve["gold"]), "gold_final": curve["gold"][-1],
            **{f"{a}_final": curve[a][-1] for a in ACTIONS}, "hacking": hacking(curve)}


def run(args: Args) -> dict:
    """Train the three arms from the same tasks and initial policy; returns the result payload."""
    args = quick_budget(args, steps=200)
    seed_everything(args.seed)
    device = resolve_device(args.device)
    gen = torch.Generator().manual_seed(args.seed)
    x, solve_p = make_tasks(args, gen, device)
    arms = {arm: train_arm(arm, x, solve_p, args, gen) for arm in ARMS}
    visible, hidden, monitor = (arms[a] for a in ARMS)
    control_ok = not hacking(hidden) and hidden["gold"][-1] >= hidden["gold"][0] + 0.1
    met = hacking(visible) and control_ok and moved_not_removed(monitor)
    metrics = {"failure": summary(visible),
               "mitigation": {"hidden_tests": summary(hidden),
                              "monitor": {**summary(monitor), "moved_not_removed": moved_not_removed(monitor)}},
               "best_possible_hidden": float(solve_p.max(1).values.mean()),
               "gold_drop": max(visible["gold"]) - visible["gold"][-1]}
    log(f"visible-tests arm: proxy {visible['proxy'][0]:.2f} -> {visible['proxy'][-1]:.2f}, hidden "
        f"{visible['gold'][0]:.2f} -> {visible['gold'][-1]:.2f}; monitor arm exit-early share "
        f"{monitor['exit-early'][-1]:.2f}")
    series = {"step": list(range(args.steps + 1)),
              **{f"{k}_{arm}": c[k] for arm, c in arms.items() for k in ("proxy", "gold", *ACTIONS)}}
    return result(args=args, metrics=metrics, series=series, signature_met=met, signature_rule=REPRO["rule"])


def plot(payload: dict):
    """Visible vs hidden pass per arm, and the action shares of the monitor arm."""
    fig, (ax1, ax2) = new_figure("Verifier hacking: visible tests pass, hidden tests fail", ncols=2)
    s = payload["series"]
    for i, arm in enumerate(ARMS):
        ax1.plot(s["step"], s[f"proxy_{arm}"], color=f"C{i}", label=f"{arm} arm: visible tests (proxy)")
        ax1.plot(s["step"], s[f"gold_{arm}"], color=f"C{i}", ls="--", label=f"{arm} arm: hidden tests (gold)")
    ax1.set(xlabel="GRPO step", ylabel="expected pass rate", title="proxy vs gold", ylim=(0, 1.02))
    ax1.legend(fontsize=6)
    for i, a in enumerate(ACTIONS[HACK:]):
        ax2.plot(s["step"], s[f"{a}_visible-tests"], color=f"C{i + 3}", ls=":", label=f"{a} (no monitor)")
        ax2.plot(s["step"], s[f"{a}_monitor"], color=f"C{i + 3}", label=f"{a} (monitor penalty)")
    ax2.set(xlabel="GRPO step", ylabel="action share", title="a monitor moves the hack", ylim=(0, 1.02))
    ax2.legend(fontsize=6)
    return fig


def main(argv: list[str] | None = None) -> None:
    run_script(NAME, Args, run, plot, argv)


if __name__ == "__main__":
    main()
