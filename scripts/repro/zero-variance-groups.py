"""Zero-variance groups: in group-relative PG, a group whose rewards are all equal has zero advantage.

64 prompts with K=8 candidate answers each and a tabular softmax policy per prompt. An eighth of the prompts are
easy (correct-answer logit +4), three quarters medium (+2, about 50% success), an eighth near-impossible (-3).
GRPO samples B=8 prompts and G=4 answers each. Easy prompts give all-correct groups and hard ones all-wrong
groups: their advantage is 0, so they add nothing but still count in the batch mean, shrinking the update. Their
share grows as training solves the medium prompts.

Arms
- failure  `grpo`:      plain GRPO; log the fraction of all-equal-reward groups per step.
- control  `filter`:    drop the all-equal groups of the same single batch and average the loss over the rest; no
                        resampling, so exactly plain GRPO's samples. It isolates the normalizer.
- mitigation `dynamic`: DAPO dynamic sampling: drop all-equal groups and draw more prompts until B informative
                        groups are collected (at most `max_gen_batches` generation batches per step).
All are compared per gradient step and per generated sample. The filter-only control shows where dynamic
sampling's per-step gain comes from: mostly from not diluting the mean with zero-advantage groups, which
filtering alone gives at no extra generation; resampling adds a little more per step at several times the samples.
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

NAME = "zero-variance-groups"
REPRO = {
    "title": "Zero-variance groups: all-equal rewards give zero advantage",
    "reproduces": ["fm:zero-variance-groups"],
    "mitigations": ["mit:dynamic-sampling"],
    "signature": ("As GRPO solves prompts, the share of groups whose rewards are all equal grows; those groups add no "
                  "gradient but still count in the loss mean, shrinking every update. Dropping them and averaging "
                  "over the rest (filter only, no extra samples) learns faster per step; DAPO's dynamic sampling "
                  "(drop and resample) gets most of its per-step gain from that same normalizer, and pays for the "
                  "rest with several times the generated samples."),
    "rule": ("plain GRPO: the expected fraction of all-equal-reward groups (mean over prompts of p^G + (1-p)^G) "
             "averaged over the last 20% of steps is >= 0.1 above its average over the first 10%; filter-only "
             "(same samples as plain GRPO): expected accuracy after the same number of steps >= 0.03 above plain "
             "GRPO; dynamic sampling: >= 0.03 above plain GRPO per step, with its gain over filter-only smaller "
             "than filter-only's gain over plain GRPO (per-sample efficiency is reported, not required)"),
    "anchor": {"paper": "yu-et-al-2025-dapo", "arxiv": "2503.14476",
               "result": ("Prompts with all-correct or all-wrong groups give zero advantage and their share grows "
                          "during training; Dynamic Sampling over-samples and filters them, reaching the baseline's "
                          "AIME score with fewer training steps.")},
}


@dataclass(frozen=True)
class Args(CommonArgs):
    """All-equal-reward groups carry no gradient; dynamic sampling filters them and resamples."""

    prompts: int = arg(64, "number of prompts")
    answers: int = arg(8, "candidate answers per prompt (K)")
    steps: int = arg(200, "gradient steps per arm (quick: 100)")
    batch_prompts: int = arg(8, "groups per gradient step (B)")
    group_size: int = arg(4, "samples per group (G)")
    lr: float = arg(2.0, "SGD learning rate")
    max_gen_batches: int = arg(8, "dynamic sampling: most generation batches drawn per gradient step")


def init_logits(args: Args, device: torch.device) -> torch.Tensor:
    """Logits per prompt: answer 0 is correct; its logit sets the difficulty (+4 easy, +2 medium, -3 hard)."""
    q = args.prompts // 8
    boost = torch.tensor([4.0] * q + [2.0] * (args.prompts - 2 * q) + [-3.0] * q)
    logits = torch.zeros(args.prompts, args.answers)
    logits[:, 0] = boost
    return logits.to(device)


def rollout(logits: torch.Tensor, idx: torch.Tensor, args: Args, gen: torch.Generator) -> tuple:
    """G answers for each prompt in idx; returns (answers [n, G], rewards [n, G], all-equal flag [n])."""
    probs = torch.softmax(logits[idx].detach(), -1).cpu()
    answers = torch.multinomial(probs, args.group_size, replacement=True, generator=gen).to(logits.device)
    reward = (answers == 0).float()
    return answers, reward, reward.std(1) < 1e-6


def train_arm(arm: str, args: Args, device: torch.device, gen: torch.Generator) -> dict:
    """GRPO with or without dynamic sampling; returns per-step curves."""
    logits = init_logits(args, device).requires_grad_(True)
    opt = torch.optim.SGD([logits], lr=args.lr)
    curve = {"accuracy": [], "frac_zero_std": [], "expected_frac_zero_std": [], "samples": [], "grad_norm": []}
    generated = 0
    for step in range(args.steps):
        # ---- generation: one batch (plain) or batches until B informative groups are kept (dynamic)
        kept_idx, kept_ans, kept_rew, zero_flags = [], [], [], []
        for _ in range(args.max_gen_batches if arm == "dynamic" else 1):  # filter and plain: one batch
            idx = torch.randint(args.prompts, (args.batch_prompts,), generator=gen).to(device)
            ans, rew, zero = rollout(logits, idx, args, gen)
            generated += args.batch_prompts * args.group_size
            zero_flags.append(zero)
            keep = ~zero if arm in ("dynamic", "filter") else torch.ones_like(zero)
            kept_idx.append(idx[keep]), kept_ans.append(ans[keep]), kept_rew.append(rew[keep])
            if arm != "dynamic" or sum(len(i) for i in kept_idx) >= args.batch_prompts:
                break
        idx = torch.cat(kept_idx)[: args.batch_prompts]
        ans = torch.cat(kept_ans)[: args.batch_prompts]
        rew = torch.cat(kept_rew)[: args.batch_prompts]
        # ---- GRPO update; the mean runs over every kept sample, so all-equal groups dilute it
        if len(idx):
            adv = (rew - rew.mean(1, keepdim=True)) / (rew.std(1, keepdim=True) + 1e-4)
            loss = -(adv * torch.log_softmax(logits[idx], -1).gather(1, ans)).mean()
        else:  # every group of the batch was filtered out: no update this step
            loss = logits.sum() * 0.0
        opt.zero_grad()
        loss.backward()
        curve["grad_norm"].append(float(logits.grad.norm()))
        opt.step()
        with torch.no_grad():
            p = torch.softmax(logits, -1)[:, 0]
            curve["accuracy"].append(float(p.mean()))
            # probability that a fresh group of G is all-correct or all-wrong, averaged over prompts
            curve["expected_frac_zero_std"].append(float((p ** args.group_size + (1 - p) ** args.group_size).mean()))
        curve["frac_zero_std"].append(float(torch.cat(zero_flags).float().mean()))
        curve["samples"].append(generated)
        if (step + 1) % max(1, args.steps // 5) == 0:
            log(f"step {step + 1}/{args.steps} arm={arm} acc={curve['accuracy'][-1]:.3f} "
                f"frac_zero_std={np.mean(curve['frac_zero_std'][-10:]):.2f} samples={generated}")
    return curve


def run(args: Args) -> dict:
    """Train both arms and compare per step and per sample; returns the result payload."""
    seed_everything(args.seed)
    device = resolve_device(args.device)
    args = quick_budget(args, steps=100)
    gen = torch.Generator().manual_seed(args.seed)
    start_acc = float(torch.softmax(init_logits(args, device), -1)[:, 0].mean())
    plain = train_arm("grpo", args, device, gen)
    filt = train_arm("filter", args, device, gen)
    dyn = train_arm("dynamic", args, device, gen)
    n = args.steps
    head, tail = max(1, n // 10), max(1, n // 5)
    zero_first = float(np.mean(plain["expected_frac_zero_std"][:head]))
    zero_last = float(np.mean(plain["expected_frac_zero_std"][-tail:]))
    # ---- per-sample comparison: dynamic sampling's accuracy once it had generated as many samples as plain GRPO
    budget = plain["samples"][-1]
    at_budget = int(np.searchsorted(dyn["samples"], budget, side="right")) - 1
    dyn_acc_same_samples = dyn["accuracy"][at_budget] if at_budget >= 0 else start_acc
    failure = {"final_accuracy": plain["accuracy"][-1], "frac_zero_std_first": zero_first,
               "frac_zero_std_last": zero_last, "samples": budget,
               "mean_grad_norm": float(np.mean(plain["grad_norm"]))}
    mitigation = {"final_accuracy": dyn["accuracy"][-1], "samples": dyn["samples"][-1],
                  "accuracy_at_plain_sample_budget": dyn_acc_same_samples,
                  "mean_generated_frac_zero_std": float(np.mean(dyn["frac_zero_std"])),
                  "mean_grad_norm": float(np.mean(dyn["grad_norm"]))}
    control = {"final_accuracy": filt["accuracy"][-1], "samples": filt["samples"][-1],
               "mean_grad_norm": float(np.mean(filt["grad_norm"]))}
    per_step_gain = mitigation["final_accuracy"] - failure["final_accuracy"]
    filter_gain = control["final_accuracy"] - failure["final_accuracy"]
    resample_gain = mitigation["final_accuracy"] - control["final_accuracy"]
    per_sample_gain = dyn_acc_same_samples - failure["final_accuracy"]
    met = (zero_last >= zero_first + 0.1 and filter_gain >= 0.03 and per_step_gain >= 0.03
           and resample_gain < filter_gain)
    metrics = {"failure": failure, "mitigation": mitigation, "control_filter_only": control,
               "start_accuracy": start_acc, "per_step_gain": per_step_gain, "filter_only_gain": filter_gain,
               "resampling_gain_over_filter": resample_gain, "per_sample_gain": per_sample_gain,
               "sample_cost_ratio": mitigation["samples"] / budget}
    series = {"step": list(range(1, n + 1)),
              "accuracy_grpo": plain["accuracy"], "accuracy_filter": filt["accuracy"],
              "accuracy_dynamic": dyn["accuracy"],
              "frac_zero_std_grpo": plain["frac_zero_std"], "frac_zero_std_dynamic": dyn["frac_zero_std"],
              "expected_frac_zero_std_grpo": plain["expected_frac_zero_std"],
              "expected_frac_zero_std_dynamic": dyn["expected_frac_zero_std"],
              "samples_grpo": plain["samples"], "samples_filter": filt["samples"], "samples_dynamic": dyn["samples"]}
    log(f"per-step gain {per_step_gain:+.3f} (filter only {filter_gain:+.3f}, resampling {resample_gain:+.3f}), "
        f"per-sample gain {per_sample_gain:+.3f}, "
        f"sample cost x{metrics['sample_cost_ratio']:.2f}")
    return result(args=args, metrics=metrics, series=series, signature_met=met, signature_rule=REPRO["rule"])


def plot(payload: dict):
    """Zero-variance fraction, and accuracy per step and per generated sample."""
    fig, (ax1, ax2, ax3) = new_figure("Zero-variance groups and dynamic sampling", ncols=3)
    s = payload["series"]
    sampled = np.convolve(s["frac_zero_std_grpo"], np.ones(10) / 10, mode="valid")  # 10-step mean of a noisy count
    ax1.plot(s["step"][9:], sampled, color="C0", alpha=0.4, label="plain GRPO, sampled (10-step mean)")
    ax1.plot(s["step"], s["expected_frac_zero_std_grpo"], color="C0", label="plain GRPO, expected")
    ax1.plot(s["step"], s["expected_frac_zero_std_dynamic"], color="C1", label="dynamic, expected (before filter)")
    ax1.legend(fontsize=6)
    ax1.set(xlabel="gradient step", ylabel="fraction of all-equal groups", title="groups with zero advantage")
    ax2.plot(s["step"], s["accuracy_grpo"], label="plain GRPO")
    ax2.plot(s["step"], s["accuracy_filter"], label="filter only (1x samples)")
    ax2.plot(s["step"], s["accuracy_dynamic"], label="dynamic sampling")
    ax2.set(xlabel="gradient step", ylabel="expected accuracy", title="per gradient step")
    ax3.plot(s["samples_grpo"], s["accuracy_grpo"], label="plain GRPO")
    ax3.plot(s["samples_filter"], s["accuracy_filter"], label="filter only")
    ax3.plot(s["samples_dynamic"], s["accuracy_dynamic"], label="dynamic sampling")
    ax3.set(xlabel="samples generated", ylabel="expected accuracy", title="per generated sample")
    ax2.legend(fontsize=7)
    return fig


def main(argv: list[str] | None = None) -> None:
    run_script(NAME, Args, run, plot, argv)


if __name__ == "__main__":
    main()
