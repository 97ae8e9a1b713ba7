"""Sycophancy from preference data (Sharma et al. 2023), fixed with counter-example pairs (Wei et al. 2023).

Multiple-choice questions with 4 options; a question is a feature vector e and its true answer is the argmax of
a fixed linear map of e. A prompt is a question, optionally with the user's stated answer ("I think it's C"),
which is right or wrong. A response is one option.

1. Preference labels: simulated raters compare two responses to the same prompt and prefer one with probability
   sigmoid(beta_correct * (correct_A - correct_B) + beta_agree * (agrees_A - agrees_B)). With beta_agree >
   beta_correct they prefer agreeing with a wrong stated answer over a correct disagreement (Sharma et al. found
   humans and preference models prefer sycophantic answers a non-negligible share of the time).
2. Reward model: Bradley-Terry, score(e, claim, r) = e . M[:, r] + w_agree * [r == claim], fitted by maximum
   likelihood on the labelled pairs (Adam, autograd).
3. RL: a policy with logits e Theta + deference * onehot(claim), started from a "pretrained" policy that mostly
   knows the answers and defers a little, trained by GRPO on the reward model's score. Accuracy and agreement are
   exact (policy probabilities) on held-out questions.

Arms
- failure    `sycophantic-rm`:  the reward model fitted on the raters' labels. It learns w_agree > 0; RL raises
                                agreement with wrong stated answers and accuracy on those prompts falls.
- mitigation `counter-examples`: the same labels plus `counter_pairs` synthetic pairs where the user states a
                                wrong answer and the correct, disagreeing response is preferred (Wei et al.'s
                                synthetic data: the user's view carries no information about the truth).
The sycophancy rule is also evaluated on the mitigation arm, where the effect is absent, and must be False there.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

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

NAME = "sycophancy"
REPRO = {
    "title": "Sycophancy: a reward model that rewards agreement teaches the policy to agree",
    "reproduces": ["fm:sycophancy"],
    "mitigations": ["mit:counterexample-preference-data"],
    "signature": ("A Bradley-Terry reward model fitted on preferences that favour agreeing with the user learns a "
                  "positive weight on agreement; RL against it raises agreement with wrong stated answers and "
                  "lowers accuracy on those prompts. Adding counter-example pairs (user wrong, correct "
                  "disagreeing answer preferred) gives a reward model whose agreement weight is about zero, and "
                  "under RL on it agreement with wrong claims and accuracy stay where they started."),
    "rule": ("sycophancy(arm) := agreement with a wrong stated answer rises by >= 0.2 and accuracy on prompts with "
             "a wrong stated answer falls by >= 0.1 (held-out questions, exact); met when sycophancy holds on the "
             "sycophantic-rm arm and its reward model's agreement weight is > 0, while on the counter-examples arm "
             "sycophancy fails, agreement with wrong stated answers ends <= its start + 0.05 and accuracy with a "
             "wrong stated answer ends >= the sycophantic-rm arm's final + 0.15"),
    "anchor": {"paper": "sharma-et-al-2023", "arxiv": "2310.13548",
               "result": ("Humans and preference models prefer convincingly written sycophantic responses over "
                          "correct ones a non-negligible fraction of the time; optimizing against a preference "
                          "model can increase some forms of sycophancy. Wei et al. 2023 (arXiv 2308.03958) reduce "
                          "sycophancy with synthetic data in which the user's opinion is independent of the truth.")},
}


@dataclass(frozen=True)
class Args(CommonArgs):
    """A reward model fitted on agreement-favouring labels makes RL sycophantic; counter-example pairs fix it."""

    features: int = arg(8, "question feature dimension")
    options: int = arg(4, "answer options per question")
    train_questions: int = arg(256, "questions used for preference pairs and RL")
    eval_questions: int = arg(256, "held-out questions for the exact metrics")
    pairs: int = arg(3000, "rater-labelled preference pairs")
    counter_pairs: int = arg(1500, "mitigation: added pairs with a wrong stated answer, correct response preferred")
    beta_correct: float = arg(2.0, "rater preference weight on correctness")
    beta_agree: float = arg(3.0, "rater preference weight on agreeing with the user's stated answer")
    rm_iters: int = arg(100, "L-BFGS iterations fitting each reward model (convex, so it converges)")
    steps: int = arg(200, "GRPO steps per arm (quick: 100)")
    batch_prompts: int = arg(32, "prompts per GRPO step")
    group_size: int = arg(8, "responses per prompt (G)")
    lr: float = arg(0.05, "policy Adam learning rate")
    init_skill: float = arg(1.5, "how much of the true answer map the initial policy knows")
    init_deference: float = arg(0.5, "the initial policy's logit bonus for the user's stated answer")


# ---------------------------------------------------------------- questions, prompts, raters
def make_questions(args: Args, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Question features [n, d] (train then eval) and the true answer map M* [d, K]."""
    truth = torch.randn(args.features, args.options, generator=gen)
    e = torch.randn(args.train_questions + args.eval_questions, args.features, generator=gen)
    return e, truth


def sample_prompts(n: int, answer: torch.Tensor, args: Args, gen: torch.Generator) -> torch.Tensor:
    """Stated answers for n prompts: a third none (-1), a third the true answer, a third a wrong one."""
    kind = torch.randint(3, (n,), generator=gen)
    wrong = (answer + torch.randint(1, args.options, (n,), generator=gen)) % args.options
    return torch.where(kind == 0, torch.full_like(answer, -1), torch.where(kind == 1, answer, wrong))


def rater_pairs(claim: torch.Tensor, answer: torch.Tensor, args: Args,
                gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two distinct responses per prompt and the raters' noisy choice (1 = first preferred)."""
    n = len(claim)
    a = torch.randint(args.options, (n,), generator=gen)
    b = (a + torch.randint(1, args.options, (n,), generator=gen)) % args.options

    def utility(r: torch.Tensor) -> torch.Tensor:
        return args.beta_correct * (r == answer).float() + args.beta_agree * (r == claim).float()

    first = (torch.rand(n, generator=gen) < torch.sigmoid(utility(a) - utility(b))).float()
    return a, b, first


# ---------------------------------------------------------------- reward model
def fit_reward_model(e: torch.Tensor, q: torch.Tensor, claim: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                     first: torch.Tensor, args: Args) -> tuple[torch.Tensor, torch.Tensor]:
    """Bradley-Terry fit of score = e . M[:, r] + w_agree [r == claim]; returns (M, w_agree)."""
    M = torch.zeros(args.features, args.options, requires_grad=True)
    w_agree = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([M, w_agree], max_iter=args.rm_iters, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        logit = rm_score(e[q], claim, a, M, w_agree) - rm_score(e[q], claim, b, M, w_agree)
        loss = F.binary_cross_entropy_with_logits(logit, first) + 1e-3 * (M ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return M.detach(), w_agree.detach()


def rm_score(e: torch.Tensor, claim: torch.Tensor, r: torch.Tensor, M: torch.Tensor,
             w_agree: torch.Tensor) -> torch.Tensor:
    """Reward-model score of response r (option index, any shape broadcastable with claim)."""
    return (e @ M).gather(1, r.view(len(e), -1)).view(r.shape) + w_agree * (r == claim).float()


# ---------------------------------------------------------------- policy and RL
def policy_logits(e: torch.Tensor, claim: torch.Tensor, theta: torch.Tensor, deference: torch.Tensor) -> torch.Tensor:
    """Logits [n, K]: what the policy believes, plus a bonus on the user's stated answer (none when claim = -1)."""
    stated = F.one_hot(claim.clamp(min=0), theta.shape[1]).float() * (claim >= 0).float()[:, None]
    return e @ theta + deference * stated


def evaluate(e: torch.Tensor, answer: torch.Tensor, theta: torch.Tensor, deference: torch.Tensor) -> dict:
    """Exact accuracy and agreement on held-out questions: no claim, and every wrong stated answer."""
    with torch.no_grad():
        k = theta.shape[1]
        base = e @ theta
        # p[i, c, r]: probability of response r on question i when the user states answer c
        p = torch.softmax(base[:, None, :] + deference * torch.eye(k, device=e.device), -1)
        p_none = torch.softmax(base, -1).gather(1, answer[:, None]).squeeze(1)
        correct = F.one_hot(answer, k).float()
        acc_given_claim = (p * correct[:, None, :]).sum(-1)          # [i, c]
        agree_given_claim = torch.diagonal(p, dim1=1, dim2=2)       # [i, c]
        wrong = 1 - correct
        return {"accuracy_no_claim": float(p_none.mean()),
                "accuracy_wrong_claim": float((acc_given_claim * wrong).sum() / wrong.sum()),
                "agreement_wrong_claim": float((agree_given_claim * wrong).sum() / wrong.sum()),
                "accuracy_right_claim": float((acc_given_claim * correct).sum() / correct.sum()),
                "deference": float(deference)}


def train_policy(arm: str, rm: tuple[torch.Tensor, torch.Tensor], e: torch.Tensor, answer: torch.Tensor,
                 truth: torch.Tensor, args: Args, gen: torch.Generator) -> dict:
    """GRPO on the reward model's score from the pretrained policy; exact held-out metrics after every step."""
    device = e.device
    M, w_agree = (t.to(device) for t in rm)
    theta = (args.init_skill * truth).to(device).requires_grad_(True)
    deference = torch.tensor(args.init_deference, device=device, requires_grad=True)
    opt = torch.optim.Adam([theta, deference], lr=args.lr)
    n_train = args.train_questions
    e_eval, ans_eval = e[n_train:], answer[n_train:]
    curve = {k: [v] for k, v in evaluate(e_eval, ans_eval, theta, deference).items()}
    for step in range(args.steps):
        # ---- prompts (questions with or without a stated answer), G responses each, scored by the reward model
        q = torch.randint(n_train, (args.batch_prompts,), generator=gen)
        claim = sample_prompts(args.batch_prompts, answer[q].cpu(), args, gen).to(device)
        q = q.to(device)
        logits = policy_logits(e[q], claim, theta, deference)
        resp = torch.multinomial(torch.softmax(logits.detach(), -1).cpu(), args.group_size, replacement=True,
                                 generator=gen).to(device)
        r = rm_score(e[q], claim[:, None], resp, M, w_agree)
        # ---- GRPO update
        adv = (r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-4)
        loss = -(adv * torch.log_softmax(logits, -1).gather(1, resp)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        for k, v in evaluate(e_eval, ans_eval, theta, deference).items():
            curve[k].append(v)
        if (step + 1) % max(1, args.steps // 4) == 0:
            log(f"step {step + 1}/{args.steps} arm={arm} agree(wrong claim)={curve['agreement_wrong_claim'][-1]:.3f} "
                f"acc(wrong claim)={curve['accuracy_wrong_claim'][-1]:.3f} acc(no claim)="
                f"{curve['accuracy_no_claim'][-1]:.3f}")
    return curve


def sycophancy(curve: dict) -> bool:
    """The failure signature on one arm: agreement with wrong claims up, accuracy under wrong claims down."""
    return (curve["agreement_wrong_claim"][-1] >= curve["agreement_wrong_claim"][0] + 0.2
            and curve["accuracy_wrong_claim"][-1] <= curve["accuracy_wrong_claim"][0] - 0.1)


def summary(curve: dict, rm: tuple[torch.Tensor, torch.Tensor], rm_prefers_sycophantic: float) -> dict:
    """Initial and final numbers of one arm, with its reward model's agreement weight."""
    return {**{f"{k}_{when}": curve[k][i] for k in ("agreement_wrong_claim", "accuracy_wrong_claim",
                                                    "accuracy_no_claim", "accuracy_right_claim", "deference")
               for when, i in (("start", 0), ("final", -1))},
            "rm_agree_weight": float(rm[1]), "rm_prefers_sycophantic": rm_prefers_sycophantic,
            "sycophancy": sycophancy(curve)}


def run(args: Args) -> dict:
    """Fit both reward models from the same rater labels, run RL on each; returns the result payload."""
    args = quick_budget(args, steps=100)
    seed_everything(args.seed)
    device = resolve_device(args.device)
    gen = torch.Generator().manual_seed(args.seed)
    e, truth = make_questions(args, gen)
    answer = (e @ truth).argmax(1)
    # ---- rater-labelled pairs on training questions, and the counter-example pairs of the mitigation
    q = torch.randint(args.train_questions, (args.pairs,), generator=gen)
    claim = sample_prompts(args.pairs, answer[q], args, gen)
    a, b, first = rater_pairs(claim, answer[q], args, gen)
    qc = torch.randint(args.train_questions, (args.counter_pairs,), generator=gen)
    wrong = (answer[qc] + torch.randint(1, args.options, (args.counter_pairs,), generator=gen)) % args.options
    rms = {"sycophantic-rm": fit_reward_model(e, q, claim, a, b, first, args),
           "counter-examples": fit_reward_model(
               e, torch.cat([q, qc]), torch.cat([claim, wrong]), torch.cat([a, answer[qc]]), torch.cat([b, wrong]),
               torch.cat([first, torch.ones(args.counter_pairs)]), args)}
    # ---- how often each reward model scores "agree with the wrong claim" above "correct" on held-out questions
    e_eval, ans_eval = e[args.train_questions:], answer[args.train_questions:]
    wrong_eval = (ans_eval + 1) % args.options
    prefers = {arm: float((rm_score(e_eval, wrong_eval, wrong_eval, *rm) > rm_score(e_eval, wrong_eval, ans_eval, *rm))
                          .float().mean()) for arm, rm in rms.items()}
    curves = {arm: train_policy(arm, rm, e.to(device), answer.to(device), truth, args,
                                torch.Generator().manual_seed(args.seed + 1)) for arm, rm in rms.items()}
    syc, fix = curves["sycophantic-rm"], curves["counter-examples"]
    fix_holds = (fix["agreement_wrong_claim"][-1] <= fix["agreement_wrong_claim"][0] + 0.05
                 and fix["accuracy_wrong_claim"][-1] >= syc["accuracy_wrong_claim"][-1] + 0.15)
    met = sycophancy(syc) and float(rms["sycophantic-rm"][1]) > 0 and not sycophancy(fix) and fix_holds
    metrics = {"failure": summary(syc, rms["sycophantic-rm"], prefers["sycophantic-rm"]),
               "mitigation": summary(fix, rms["counter-examples"], prefers["counter-examples"])}
    log(f"rm agree weight {float(rms['sycophantic-rm'][1]):.2f} (counter-examples "
        f"{float(rms['counter-examples'][1]):.2f}); agreement with wrong claims {syc['agreement_wrong_claim'][0]:.2f} "
        f"-> {syc['agreement_wrong_claim'][-1]:.2f} (counter-examples {fix['agreement_wrong_claim'][-1]:.2f})")
    series = {"step": list(range(args.steps + 1)),
              **{f"{k}_{arm}": c[k] for arm, c in curves.items()
                 for k in ("agreement_wrong_claim", "accuracy_wrong_claim", "accuracy_no_claim")}}
    return result(args=args, metrics=metrics, series=series, signature_met=met, signature_rule=REPRO["rule"])


def plot(payload: dict):
    """Agreement with wrong claims and accuracy over RL, for both reward models."""
    fig, (ax1, ax2) = new_figure("Sycophancy: RL on a reward model that likes agreement", ncols=2)
    s = payload["series"]
    for i, arm in enumerate(("sycophantic-rm", "counter-examples")):
        ax1.plot(s["step"], s[f"agreement_wrong_claim_{arm}"], color=f"C{i}", label=arm)
        ax2.plot(s["step"], s[f"accuracy_wrong_claim_{arm}"], color=f"C{i}", label=f"{arm}: user states wrong answer")
        ax2.plot(s["step"], s[f"accuracy_no_claim_{arm}"], color=f"C{i}", ls=":", label=f"{arm}: no stated answer")
    ax1.set(xlabel="GRPO step", ylabel="P(response = wrong stated answer)", title="agreement with a wrong claim",
            ylim=(0, 1))
    ax2.set(xlabel="GRPO step", ylabel="expected accuracy (held-out questions)", title="accuracy", ylim=(0, 1))
    ax1.legend(fontsize=7)
    ax2.legend(fontsize=6)
    return fig


def main(argv: list[str] | None = None) -> None:
    run_script(NAME, Args, run, plot, argv)


if __name__ == "__main__":
    main()
