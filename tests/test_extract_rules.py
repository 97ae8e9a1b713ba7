"""The model-free rules of extraction: alias matching, cleaning, candidate mentions, concept-name shape, the
relevance gate, and the strict build after a lenient one. Texts here are written for the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.extract.aliases import build_alias_index, tokens
from kb.extract.clean import claim_sentences, is_claim_text
from kb.extract.cues import load_cues
from kb.extract.mentions import clean_phrase, document_mentions, split_label
from kb.extract.relevance import judge_relevance
from kb.extract.resolve import alias_shaped, names_a_concept
from kb.parse import parse_text

REPO = Path(__file__).resolve().parents[1]
CUES = load_cues(REPO / "data" / "cues.yaml")


def _index():
    return build_alias_index([
        ("fm:over", ["over-optimization"], []), ("mit:kl", ["KL penalty"], []), ("mit:rpp", ["reinforce++"], []),
        ("fm:mem", ["memoriz*"], []), ("mit:mon", ["monitorability"], []), ("mit:akl", ["adaptive KL controller"], []),
        ("fm:hack", ["reward hacking"], ["hack*"]), ("mit:tok", ["token-level loss"], []),
    ])


def test_alias_matching_stems_words_but_not_across_derivations():
    found = {h.concept_id: h.alias for h in _index().find(
        "Overoptimization despite KL penalties; the model memorized answers; a token level loss helps.")}
    assert found == {"fm:over": "over-optimization", "mit:kl": "KL penalty", "fm:mem": "memoriz",
                     "mit:tok": "token-level loss"}
    # "reinforcement" is not "reinforce++" and "monitoring" is not "monitorability", though their stems agree.
    assert _index().find("Reinforcement learning with monitoring") == []
    assert [h.concept_id for h in _index().find("set AdaptiveKLController in the config")] == ["mit:akl"]


def test_alias_hits_carry_spans_and_weakness():
    text = "They hack the grader."
    hit = _index().find(text)[0]
    assert (hit.concept_id, hit.weak, text[hit.start:hit.end]) == ("fm:hack", True, "hack")
    assert [t.word for t in tokens("Clip-Higher and pass@k")] == ["cliphigher", "and", "pass@k"]


@pytest.mark.parametrize("line", [
    "[19] A. Author and B. Author. Some title about rewards. arXiv preprint arXiv:2401.00001, 2024.",
    "| Method | Reward | Notes |",
    "Figure 3: Reward over training steps for the three runs.",
])
def test_boilerplate_blocks_are_not_claims(line):
    doc = parse_text(f"# Title\n\n{line}\n", path="x.md", fmt="md")
    assert claim_sentences(doc, CUES) == []


@pytest.mark.parametrize("sentence, claim", [
    ("12 min read", False),
    ("Tags: rlhf, grpo, reward models", False),
    ("Alice and Bob advised the project throughout its second year.", False),
    ("By contrast, the policy trained with a KL penalty kept its entropy.", True),
    ("model.train(batch, lr=1e-6, beta=0.04, eps=0.2) # x = y", False),
])
def test_sentence_cleaning(sentence, claim):
    assert is_claim_text(sentence, CUES) is claim


def test_mentions_come_from_headings_leads_and_terms_but_not_structural_headings():
    doc = parse_text(
        "# Debugging a run\n\n## TL;DR\n\nThe run fell into entropy collapse after a day.\n\n"
        "## Key Takeaways\n\n- **Reward cap**: cap the reward of runaway completions.\n\n"
        "## Fix 2: Add a stop sequence\n\nIt stops runaway generations at the end marker.\n",
        path="post.md", fmt="md")
    mentions = document_mentions(doc, claim_sentences(doc, CUES), CUES)
    found = {(m.phrase, m.origin, m.hint) for m in mentions}
    phrases = {p for p, _, _ in found}
    assert "TL;DR" not in phrases and "Key Takeaways" not in phrases
    assert ("Reward cap", "lead", None) in found
    assert ("entropy collapse", "term", None) in found
    assert ("Add a stop sequence", "heading", "mitigation") in found


def test_labels_and_phrase_cleaning():
    assert split_label("Problem 2: Loss spikes", CUES) == ("failure_mode", "Loss spikes")
    assert split_label("Solution: Lower the learning rate", CUES) == ("mitigation", "Lower the learning rate")
    assert clean_phrase("3. **Entropy Collapse** (CRITICAL)") == "Entropy Collapse"


@pytest.mark.parametrize("phrase, kind, ok", [
    ("Entropy collapse", "failure_mode", True),
    ("Reward capping", "mitigation", True),
    ("Sycophancy", "failure_mode", True),
    ("Current collapse", "failure_mode", False),
    ("Why mode collapse happened", "failure_mode", False),
    ("Fabricated reasoning and hallucination", "failure_mode", False),
    ("Relative rewards", "mitigation", False),
    ("Entropy collapse", "mitigation", False),
    ("Fix 3 clipping", "mitigation", False),
])
def test_new_concept_names_have_the_shape_of_a_name(phrase, kind, ok):
    assert names_a_concept(phrase, kind, CUES) is ok


def test_alias_shape_rejects_generic_words_and_sentences():
    assert alias_shaped("KL explosion", CUES)
    assert not alias_shaped("reward", CUES)
    assert not alias_shaped("The Solution", CUES)
    assert not alias_shaped("Higher reward means better performance, right?", CUES)


def test_relevance_gate_separates_rl_writing_from_unrelated_posts():
    index = build_alias_index([("fm:hack", ["reward hacking"], []), ("fm:ent", ["entropy collapse"], []),
                               ("mit:kl", ["KL penalty"], []), ("fm:over", ["overfitting"], [])])
    rl = parse_text("# Notes\n\nThe policy learned reward hacking within a day of RL training. Entropy collapse "
                    "followed, and the rollouts all looked alike. A KL penalty on the policy slowed both.\n",
                    path="rl.md", fmt="md")
    other = parse_text("# Quantizing a model\n\nWe quantize weights to eight bits and measure perplexity on a "
                       "held-out set. Calibrating on too little data leads to overfitting of the scales.\n",
                       path="q.md", fmt="md")
    assert judge_relevance(rl, claim_sentences(rl, CUES), CUES, index).on_topic
    assert not judge_relevance(other, claim_sentences(other, CUES), CUES, index).on_topic
