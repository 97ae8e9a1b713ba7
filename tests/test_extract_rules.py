"""The model-free rules of extraction: alias matching, cleaning, candidate mentions, concept-name shape, the
relevance gate, and the strict build after a lenient one. Texts here are written for the tests."""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kb.extract.accumulate import GraphBuilder
from kb.extract.aliases import HitMemo, build_alias_index, tokens
from kb.extract.clean import claim_sentences, is_claim_text
from kb.extract.cues import load_cues
from kb.extract.mentions import Mention, clean_phrase, document_mentions, split_label
from kb.extract.names import (
    abbreviates,
    adjusted_setting,
    alias_shaped,
    changed_setting,
    content_stems,
    defined_acronyms,
    drops_direction,
    expand_acronyms,
    names_a_concept,
    names_a_quantity,
    names_other_machinery,
    names_own_part,
    names_the_field,
    opposite_direction,
    shaped_kind,
    switches_off,
    tunes_a_setting,
    undoes_fix,
    without_imperative,
)
from kb.extract.papers import PaperMatcher
from kb.extract.relevance import Relevance, judge_relevance, needs_second_look
from kb.extract.resolve import (
    ConceptVectors,
    NameStems,
    _existing_match,
    _part_of_name,
    concept_vectors,
    section_labels,
)
from kb.models import Node
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


def test_hits_kept_from_an_index_before_an_edit_are_the_hits_the_edited_index_finds():
    texts = ["Reward hacking and KL-penalty-style fixes", "the model memorizes; a token level loss helps",
             "over-optimization of the proxy", "Annotators can often disagree", "Nothing to see here",
             "We tried a KL penalty", "hack-like behaviour of the grader", "memorising answers",
             "a value-model ensemble"]
    named = [("fm:hack", ["reward hacking"], ["hack*"]), ("mit:kl", ["KL penalty"], []), ("fm:mem", ["memoriz*"], []),
             ("mit:tok", ["token-level loss"], []), ("fm:noisy", ["annotators disagree"], [])]
    edited = [("fm:hack", ["reward hacking", "hack-like"], []), ("mit:kl", ["KL penalty", "proxy"], []),
              ("fm:mem", ["memoris*"], []), ("mit:tok", ["token-level loss"], []), ("fm:noisy", ["annotators disagree"], []),
              ("mit:ens", ["model ensemble"], [])]   # starts at the second part of a compound
    before = HitMemo()
    for text in texts:
        build_alias_index(named, inserted_words=CUES.inserted_words, memo=before).find(text)
    after = HitMemo(known=before.used, known_names=before.used_names)
    fresh = build_alias_index(edited, inserted_words=CUES.inserted_words)
    remembered = build_alias_index(edited, inserted_words=CUES.inserted_words, memo=after)
    assert (remembered.entries, remembered.gapped) == (fresh.entries, fresh.gapped)   # kept alias keys, same index
    assert "reward hacking" in before.used_names and "hack-like" not in before.used_names
    for text in texts:
        assert remembered.find(text) == fresh.find(text), text
    kept = [key for key in after.used if key in before.used]
    # only the texts that hold no edited alias's first word or prefix reuse their hits: "Annotators…",
    # "Nothing…" and "We tried a KL penalty" (the edit to mit:kl added a name starting with another word)
    assert len(kept) == 3 and {h.concept_id for t in texts for h in fresh.find(t)} >= {"mit:kl", "fm:hack", "fm:mem",
                                                                                          "mit:ens"}



def test_a_work_cited_by_its_quoted_title_names_nothing_its_title_holds():
    index = build_alias_index([("fm:hack", ["reward hacking"], []), ("mit:steer", ["activation steering"], [])])
    found = lambda text: [h.concept_id for h in index.find(text)]
    assert found('| Lee & Kim, "Activation Steering Against Reward Hacking in Production RL" (2025) | verified |') == []
    assert found("Lee & Kim, \u201cActivation Steering Against Reward Hacking\u201d, shows that steering helps") == []
    # a quoted term, or a short quoted name, is still the writer's own word for the concept
    assert found('This is what people call "reward hacking" in practice.') == ["fm:hack"]
    assert found('We tried "Activation Steering" on the policy.') == ["mit:steer"]
    assert found("Lee & Kim report reward hacking in production RL.") == ["fm:hack"]

def test_words_that_move_a_setting_match_others_of_the_same_direction_only():
    index = build_alias_index([("mit:temp", ["raise the temperature"], []), ("mit:lr", ["lower learning rate"], []),
                               ("fm:jb", ["higher risk of jailbreaks"], [])], inserted_words=CUES.inserted_words)
    found = lambda text: [h.concept_id for h in index.find(text)]
    assert found("increase the temperature of the sampler") == ["mit:temp"]
    assert found("Reduce the Learning Rate by ten") == ["mit:lr"] and found("a reduced learning rate") == ["mit:lr"]
    assert found("a smaller learning rate helped") == ["mit:lr"]
    assert found("decrease the temperature") == [] and found("a higher learning rate") == []
    assert found("a reduced risk of jailbreaks") == [] and found("an increased risk of jailbreaks") == ["fm:jb"]


def test_the_names_of_what_a_policy_writes_match_one_another_but_samples_and_rollouts_stay_apart():
    index = build_alias_index([("fm:same", ["identical completions"], []), ("fm:ineff", ["poor sample efficiency"], [])],
                              inserted_words=CUES.inserted_words)
    found = lambda text: [h.concept_id for h in index.find(text)]
    assert found("the policy produced identical outputs") == ["fm:same"]
    assert found("Identical responses across the group") == ["fm:same"]
    assert found("all rollouts were identical generations") == ["fm:same"]
    assert found("the run produced identical rollouts") == [] and found("poor output efficiency") == []


def test_a_status_after_a_symbol_at_the_end_of_a_heading_is_no_word_of_its_name():
    assert clean_phrase("5. **Zeta sampling** \u2705 VERIFIED") == "Zeta sampling"
    assert clean_phrase("Reward clipping \u26a0\ufe0f HIGH RISK") == "Reward clipping"
    # an acronym after a dash or an arrow stays: it is the name's own
    assert clean_phrase("Move from GRPO - DAPO") == "Move from GRPO - DAPO"
    assert clean_phrase("Switch GRPO \u2192 DAPO") == "Switch GRPO DAPO"


def test_headings_inside_a_section_on_running_the_code_are_no_mentions():
    from kb.extract.mentions import heading_mentions

    doc = parse_text("# Zeta kit\n\n## Zeta drift\n\nIt drifts.\n\n## Quickstart\n\nRun it.\n\n### Offline sweep\n\n"
                     "Run the sweep.\n\n#### Zeta clamp\n\nClamp it.\n\n## Zeta clamp\n\nIt clamps.\n",
                     path="k.md", fmt="md")
    # the steps under "Quickstart", at any depth, name commands; the section after it is read again
    assert [m.phrase for m in heading_mentions(doc, CUES)] == ["Zeta kit", "Zeta drift", "Zeta clamp"]


def test_a_headings_closing_parenthetical_of_a_few_words_is_a_name_too():
    body = ("# Notes\n\n## DR-GRPO (fixed-horizon normalization)\n\nThe loss is divided by a constant.\n\n"
            "## Results (Section 3)\n\nScores rose.\n\n## Training (optional)\n\nIt ran for a day.\n")
    doc = parse_text(body, path="notes.md", fmt="md")
    headings = [m.phrase for m in document_mentions(doc, claim_sentences(doc, CUES), CUES) if m.origin == "heading"]
    assert "DR-GRPO" in headings and "fixed-horizon normalization" in headings
    assert not any("Section" in h or h.lower() == "optional" for h in headings)


def test_alias_hits_carry_spans_and_weakness():
    text = "They hack the grader."
    hit = _index().find(text)[0]
    assert (hit.concept_id, hit.weak, text[hit.start:hit.end]) == ("fm:hack", True, "hack")
    assert [t.word for t in tokens("Clip-Higher and pass@k")] == ["cliphigher", "and", "pass@k"]


def test_a_name_the_writer_sets_aside_is_not_what_the_sentence_is_about():
    from kb.extract.concepts import not_set_aside

    index = _index()
    kept = lambda text: sorted(h.concept_id for h in not_set_aside(text, index.find(text), CUES))
    assert kept("The controller sets the coefficient by hand rather than a KL penalty.") == []
    assert kept("We used a token-level loss instead of an over-optimization guard.") == ["mit:tok"]
    # the failure itself, said before the road not taken, stays
    assert kept("The policy learned reward hacking rather than the task.") == ["fm:hack"]
    assert kept("Instead of solving the task the policy kept memorizing answers.") == ["fm:mem"]


def test_a_weak_word_that_only_modifies_another_field_word_names_nothing():
    from kb.extract.concepts import NameWords, not_modifying
    from kb.taxonomy import Concept

    seeds = Concept(id="mit:det", label="Deterministic training", description="Fix seeds.",
                    aliases=["deterministic training", "fixed seeds"], weak_aliases=["deterministic"])
    index = build_alias_index([("mit:det", seeds.aliases, seeds.weak_aliases)])
    names = NameWords([seeds])
    kept = lambda text: [text[h.start:h.end] for h in not_modifying(text, index.find(text), names, CUES)]
    assert kept("The verifier hands out deterministic rewards for each answer.") == []   # which rewards
    assert kept("Off the shelf, a deterministic policy never explores.") == []
    assert kept("Runs are deterministic once the kernels are pinned.") == ["deterministic"]
    assert kept("We turned on deterministic kernels for the sampler.") == ["deterministic"]   # not a field word
    assert kept("Deterministic training made the two runs agree.") == ["Deterministic training"]
    # a one-word name a document gave the concept is read the same way; a curated one-word strong alias is not
    lead = build_alias_index([("mit:det", ["Deterministic"], [])])
    found = lambda text, found: [text[h.start:h.end] for h in
                                 not_modifying(text, lead.find(text), names, CUES, found=found)]
    assert found("RLVR uses deterministic rewards.", True) == []
    assert found("RLVR uses deterministic rewards.", False) == ["deterministic"]


def test_multiword_aliases_match_with_inserted_words_inside_one_clause():
    index = build_alias_index([("fm:noisy", ["annotators disagree"], []), ("fm:zv", ["zero standard deviation"], [])],
                              inserted_words=CUES.inserted_words)
    hits = lambda text: {h.concept_id: text[h.start:h.end] for h in index.find(text)}
    assert hits("Human annotators can often disagree on labels.") == {"fm:noisy": "annotators can often disagree"}
    assert hits("Annotators, in our data, disagree.") == {}              # not across a clause break
    assert hits("Annotators who were paid disagree.") == {}              # "who were paid" is not an inserted word run
    assert hits("Annotators rarely disagree.") == {}                     # nor is a word that changes the meaning
    assert hits("groups that have 0 standard deviation") == {"fm:zv": "0 standard deviation"}
    plain = build_alias_index([("fm:noisy", ["annotators disagree"], [])])
    assert plain.find("annotators can often disagree") == []          # only with the cue list
    # a word that opens a new clause ("since", "although") is never the writer's own word inside a name
    own = build_alias_index([("mit:sig", ["significance tests"], [])], inserted_words=CUES.inserted_words,
                            joining_words=CUES.connecting_words, own_words=1)
    assert own.find("it ran significance tests") and own.find("ran significance paired tests")
    assert own.find("costs fell significantly since tests were skipped") == []


def test_names_spelled_alike_hold_the_same_numbers():
    from kb.extract.names import spelled_alike

    assert spelled_alike("clip higher", "cliphigher")
    assert not spelled_alike("r1-zero", "r-zero") and not spelled_alike("gpt-4 judge", "gpt-3 judge")


def test_a_digit_is_a_number_word_only_outside_a_decimal():
    index = build_alias_index([("mit:greedy", ["temperature zero"], [])])
    assert [h.concept_id for h in index.find("Evaluate at temperature 0 for the final numbers.")] == ["mit:greedy"]
    assert index.find("Sampling at temperature 0.7 kept the groups diverse.") == []
    assert index.find("Sampling at temperature 0,7 kept the groups diverse.") == []


def test_an_alias_keeps_its_first_and_last_words_though_they_could_be_inserted_ones():
    index = build_alias_index([("mit:data", ["more preference data"], [])], inserted_words=CUES.inserted_words)
    hits = lambda text: {h.concept_id: text[h.start:h.end] for h in index.find(text)}
    assert hits("Collect more preference data for the next round.") == {"mit:data": "more preference data"}
    assert hits("Collect more and more preference data.") == {"mit:data": "more preference data"}
    assert hits("Loaders prefer data in JSON lines.") == {}     # "more" says which fix: without it, no name


def test_no_alias_starts_inside_a_neutral_term_and_strong_hits_win():
    index = build_alias_index([("fm:unstable", ["training instability"], ["diverge*"]),
                               ("fm:bias", ["biased KL estimator"], ["KL estimate"])],
                              neutral_terms=CUES.neutral_terms)
    assert index.find("We tune the KL divergence penalty.") == []          # "divergence" inside "KL divergence"
    assert [h.concept_id for h in index.find("Training started to diverge.")] == ["fm:unstable"]
    hits = index.find("The KL estimate we used was a biased KL estimator.")
    assert [(h.concept_id, h.weak, h.alias) for h in hits] == [("fm:bias", False, "biased KL estimator")]


def test_an_alias_leading_a_hyphenated_compound_matches_in_prose_but_not_in_links():
    index = build_alias_index([("fm:judge", ["LLM-as-a-judge"], []), ("fm:syc", ["sycophancy"], [])])
    found = lambda text: [(h.concept_id, text[h.start:h.end]) for h in index.find(text)]
    assert found("LLM-as-a-judge-based leaderboards") == [("fm:judge", "LLM-as-a-judge")]
    assert found("a sycophancy-like reply") == [("fm:syc", "sycophancy")]
    assert found("see https://example.org/posts/sycophancy-to-subterfuge") == []
    index = build_alias_index([("fm:drift", ["policy drift"], ["drift"])])
    found = lambda text: [(h.concept_id, text[h.start:h.end], h.weak) for h in index.find(text)]
    assert found("slow policy drift-style decay") == [("fm:drift", "policy drift", False)]   # its last word leads
    assert found("we saw policy drift-the worst kind") == [("fm:drift", "policy drift", False)]   # a hyphen for a dash
    assert found("the policy, drift-style") == [("fm:drift", "drift", True)]   # not across a clause break


def test_a_spaced_name_matches_prose_that_hyphenates_some_of_its_words():
    index = build_alias_index([("mit:vclip", ["value function loss clipping"], []),
                               ("mit:ens", ["reward model ensemble"], []), ("fm:hack", ["reward hacking"], []),
                               ("mit:mix", ["mixing"], [])])
    found = lambda text: [(h.concept_id, text[h.start:h.end]) for h in index.find(text)]
    assert found("Value-function loss clipping keeps the critic honest.") == [("mit:vclip", "Value-function loss clipping")]
    assert found("a reward-model ensemble") == [("mit:ens", "reward-model ensemble")]
    assert found("an anti-reward-hacking grader") == [("fm:hack", "reward-hacking")]
    assert found("code-mixing in the answers") == []   # one part of a compound alone is no name


def test_a_greek_letter_reads_as_its_name():
    index = build_alias_index([("mit:kl", ["increase beta"], []), ("mit:clip", ["epsilon high"], [])])
    found = lambda text: [(h.concept_id, text[h.start:h.end]) for h in index.find(text)]
    assert found("We increased β from 0.01 to 0.1.") == [("mit:kl", "increased β")]
    assert found("set ε high to 0.28") == [("mit:clip", "ε high")]
    assert found("We increased the batch size.") == []


def test_link_targets_and_addresses_name_nothing_but_known_papers_in_them_are_cited():
    index = build_alias_index([("fm:mismatch", ["train-inference mismatch"], []), ("fm:syc", ["sycophancy"], [])])
    found = lambda text: [h.concept_id for h in index.find(text)]
    assert found("details are in [the helper](docs/train_inference_mismatch/README.md) for sycophancy") == ["fm:syc"]
    assert found("at www.example.org/sycophancy or <https://example.org/train-inference-mismatch>") == []
    assert found("a train-inference mismatch") == ["fm:mismatch"]
    paper = Node(id="paper:p", kind="paper", label="P", text="P", attrs={"arxiv": "2601.00001", "aliases": []})
    matcher = PaperMatcher({"paper:p": paper})
    assert matcher.cited("as shown [here](https://arxiv.org/abs/2601.00001v2).", GraphBuilder()) == {"paper:p": "2601.00001"}


@pytest.mark.parametrize("short, full, same", [
    ("NL penalty", "natural language penalty", True), ("IS correction", "importance sampling correction", True),
    ("NL penalty", "length penalty", False), ("nl penalty", "natural language penalty", False),
    ("KL penalty", "KL penalty", False),
])
def test_acronyms_are_read_as_the_words_they_abbreviate(short, full, same):
    assert abbreviates(short, full) is same


def test_a_new_name_shortened_or_lengthened_joins_the_new_concept_it_names():
    import numpy as np

    from kb.extract.resolve import _same_concept
    group = {"label": "Advantage reweighting", "vector": np.array([1.0, 0.0])}
    near, far = np.array([0.7, 0.714]), np.array([0.4, 0.917])        # cosine 0.7 and 0.4 with the label
    assert _same_concept(group, "Zero-cost advantage reweighting", near, CUES)   # the label's words and more
    assert _same_concept({**group, "label": "Zero-cost advantage reweighting"}, "Advantage reweighting", near, CUES)
    assert not _same_concept(group, "Zero-cost advantage reweighting", far, CUES)   # too far in meaning
    assert not _same_concept(group, "Token reweighting", near, CUES)   # other words: needs 0.86


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
    ("See [runs/overfit_log.md](../runs/overfit_log.md) for every run of the sweep.", False),   # a pointer
    ("See how the reward falls after step 200 once the penalty is gone.", True),              # ... no link
    ("The entropy fell fast, see [the plot](plot.png) for the curve over steps.", True),
    ("title: Some paper on forgetting in fine-tuning url: https://example.org/paper", False),  # a reference entry
    # a degenerate sample quoted from a run is the model's text, not the author's
    ("Last: \"The cat sat on the mat on the mat on the mat on the mat on the mat on the mat on the mat\"", False),
    ("The reward rose, then the policy repeated one phrase: the sample on the last step kept saying the same words "
     "over and over until it hit the limit.", True),
    # a formula states nothing on its own, display or inline; a sentence around inline math still does
    (r"$$ \mathcal{J}(\theta) = \mathbb{E}_{y \sim \pi_\theta} \left[ r(y) \right] - \beta \, \text{KL} $$", False),
    (r"**Reverse KL**: $\text{KL}(Q \| P) = \mathbb{E}_{x \sim Q}[\log Q(x) - \log P(x)]$", False),
    (r"\( \beta \): the weight of the divergence term", True),
    (r"We set $\beta = 0.05$ and the KL penalty kept the policy close to its reference.", True),
    ("Each run costs $5 and a long one $40 on rented accelerators.", True),   # money, not math
    # figures in a parenthesis are the measurement behind the words around them; figures alone are no claim
    ("The KL rose sharply in two of the runs (0.02 → 0.41, 0.03 → 0.38) and stayed high.", True),
    ("Run 3: 0.02 → 0.41, 0.03 → 0.38, 0.05 → 0.44, 0.01 → 0.2 by step 900.", False),
])
def test_sentence_cleaning(sentence, claim):
    assert is_claim_text(sentence, CUES) is claim


def test_a_name_opening_with_a_state_matches_the_clause_that_says_the_state_last():
    index = build_alias_index([("fm:stale", ["stale rollouts"], []), ("fm:flat", ["flat reward"], [])],
                              inserted_words=CUES.inserted_words, predicate_words=CUES.predicate_adjectives)
    hits = lambda text: {h.concept_id: text[h.start:h.end] for h in index.find(text)}
    assert hits("By step 40 the rollouts were very stale.") == {"fm:stale": "rollouts were very stale"}
    assert hits("Rewards flat for 1000 steps.") == {"fm:flat": "Rewards flat"}
    assert hits("The rollouts, it turned out, were stale.") == {}        # not across a clause break
    assert hits("The rollouts were not stale.") == {}                    # a negation is no inserted word
    plain = build_alias_index([("fm:stale", ["stale rollouts"], [])], inserted_words=CUES.inserted_words)
    assert plain.find("the rollouts were stale") == []                  # only with the cue list


def test_a_noun_phrase_drops_the_verb_of_advice_before_it():
    doc = parse_text("# Notes\n\nWe ask several people per pair to avoid single annotator bias in the labels.\n\n"
                     "In practice this often uses per-token clipping on the ratio.\n", path="notes.md", fmt="md")
    terms = {m.phrase for m in document_mentions(doc, claim_sentences(doc, CUES), CUES) if m.origin in ("term", "cue")}
    assert {"single annotator bias", "per-token clipping"} <= terms
    assert not any(t.split()[0].lower() in ("avoid", "often", "uses") for t in terms)


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


@pytest.mark.parametrize("sentence, phrase, hint", [
    ("Long runs are prone to mode collapse when the group is small.", "mode collapse", "failure_mode"),
    ("We add a bonus to prevent the entropy collapse we saw.", "entropy collapse", "failure_mode"),
    ("A stale buffer led to reward hacking on the easy prompts.", "reward hacking", "failure_mode"),
    ("Length normalization prevents runaway answers.", "Length normalization", "mitigation"),
    ("On day two, entropy collapse set in.", "entropy collapse", None),
    ("Fix: GRPO often uses per-token clipping on long answers.", "per-token clipping", "mitigation"),
    ("Fix: run it again once the entropy collapse shows up in the logs.", "entropy collapse", None),
    ("Our trainer uses per-token clipping on long answers.", "per-token clipping", None),
])
def test_the_words_around_a_noun_phrase_say_its_kind(sentence, phrase, hint):
    doc = parse_text(f"# Notes\n\n{sentence}\n", path="notes.md", fmt="md")
    found = {(m.phrase, m.origin, m.hint) for m in document_mentions(doc, claim_sentences(doc, CUES), CUES)}
    assert (phrase, "cue" if hint else "term", hint) in found


def test_a_short_list_item_is_a_candidate_name_but_a_sentence_item_is_not():
    doc = parse_text("# Notes\n\n- Gradient clipping\n- We clipped the gradient norm at one.\n"
                     "- Entropy bonus (0.01)\n", path="notes.md", fmt="md")
    found = {(m.phrase, m.origin) for m in document_mentions(doc, claim_sentences(doc, CUES), CUES)}
    assert ("Gradient clipping", "item") in found and ("Entropy bonus", "item") in found
    assert not any(origin == "item" and "clipped" in phrase for phrase, origin in found)


def test_table_cells_under_a_failure_or_fix_column_are_candidates_of_that_kind():
    doc = parse_text("# Notes\n\n| Step | Symptoms | Fixes | Notes |\n|---|---|---|---|\n"
                     "| 1 | Reward plateau | Entropy bonus | seen twice |\n", path="notes.md", fmt="md")
    found = {(m.phrase, m.hint) for m in document_mentions(doc, claim_sentences(doc, CUES), CUES)
             if m.block_kind == "table"}
    assert ("Reward plateau", "failure_mode") in found and ("Entropy bonus", "mitigation") in found
    assert not any(phrase == "seen twice" for phrase, _ in found)   # a column with no failure or fix label


def test_a_parameter_tables_setting_identifiers_are_not_candidate_names():
    doc = parse_text("# Options\n\n| Option | Type | Meaning |\n|---|---|---|\n"
                     "| `num_iterations` | int | Iterations per batch |\n| Entropy bonus | float | Weight |\n",
                     path="options.md", fmt="md")
    phrases = {m.phrase for m in document_mentions(doc, claim_sentences(doc, CUES), CUES) if m.block_kind == "table"}
    assert "Entropy bonus" in phrases and not any("iterations" in p.lower() for p in phrases)


def test_a_short_heading_ending_in_one_concepts_alias_is_that_concepts_name_in_the_writers_words():
    from kb.extract.concepts import heading_name
    index = build_alias_index([("fm:numerics", ["underflow*"], []), ("mit:clip", ["gradient clipping"], [])])

    def name(text):
        return heading_name(text, index.find(text), CUES)

    assert name("3. Gradient underflow") == ("fm:numerics", "Gradient underflow")
    assert name("Underflow") is None                                # one word: the alias itself
    assert name("Missing gradient clipping") is None                # about the fix's absence, not its name
    assert name("Examples of gradient clipping") is None            # about the concept
    assert name("Gradient clipping and underflow") is None          # names two concepts
    assert name("Underflow in practice") is None                    # does not end in the alias


def test_a_heading_opens_with_the_name_before_a_tail_saying_where_or_when():
    doc = parse_text("# Notes\n\n## Gradient clipping during the first epoch\n\nIt held.\n\n"
                     "- **Entropy bonus for short groups**: it helped.\n\n## Results on the held-out set\n\nFine.\n",
                     path="notes.md", fmt="md")
    found = {(m.phrase, m.origin) for m in document_mentions(doc, claim_sentences(doc, CUES), CUES)}
    assert ("Gradient clipping", "heading") in found and ("Entropy bonus", "lead") in found
    assert ("Gradient clipping during the first epoch", "heading") in found   # the whole heading stays a candidate
    assert not any(phrase == "Results" for phrase, _ in found)   # no head word before the tail: no name


def test_labels_and_phrase_cleaning():
    assert split_label("Problem 2: Loss spikes", CUES) == ("failure_mode", "Loss spikes")
    assert split_label("Solution: Lower the learning rate", CUES) == ("mitigation", "Lower the learning rate")
    assert clean_phrase("3. **Entropy Collapse** (CRITICAL)") == "Entropy Collapse"
    assert clean_phrase("Higher `entropy_coef`") == "Higher entropy coef"
    assert clean_phrase("Wider sampler\u2013trainer gap") == "Wider sampler-trainer gap"   # an en dash joins words
    assert clean_phrase("Collapse \u2013 again") == "Collapse again"                      # ... a spaced one does not
    assert clean_phrase("\U0001f949 [Biggest facepalm] - Policy degradation") == "Policy degradation"   # a tag first
    assert clean_phrase("[WIP] Entropy collapse") == "Entropy collapse"
    assert clean_phrase("[Notes](notes.md) on entropy collapse") == "Notes on entropy collapse"   # a link is no tag
    assert split_label("Option B: Add a diversity reward", CUES) == ("mitigation", "Add a diversity reward")
    assert split_label("FIX: Add a diversity reward", CUES) == ("mitigation", "Add a diversity reward")
    assert split_label("Flaw 2: Stale reference model", CUES) == ("failure_mode", "Stale reference model")
    assert split_label("Fundamental issue: Task mix mismatch", CUES) == ("failure_mode", "Task mix mismatch")  # graded
    assert split_label("Main fix: Lower the learning rate", CUES) == ("mitigation", "Lower the learning rate")
    assert split_label("Fix candidate: Length penalty", CUES) == ("mitigation", "Length penalty")
    assert split_label("Critical path: the rollout step", CUES) == (None, "Critical path: the rollout step")
    assert split_label("Solution Two: Sequence masking", CUES) == ("mitigation", "Sequence masking")   # numbered
    assert split_label("Challenge one: Stale rollouts", CUES) == ("failure_mode", "Stale rollouts")
    assert split_label("Root cause III: Stale rollouts", CUES) == ("failure_mode", "Stale rollouts")
    assert split_label("Attempt 4: Offload the optimizer", CUES) == ("mitigation", "Offload the optimizer")
    assert split_label("Phase two: warmup", CUES)[0] is None
    assert clean_phrase("Lower the entropy floor to 1.5") == "Lower the entropy floor"   # the fix, not its value
    assert clean_phrase("Raise group size to 16") == "Raise group size"
    assert clean_phrase("Scale to 70B") == "Scale to 70B"                                # no value to drop


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
    ("Learning rate too high", "failure_mode", True),      # a setting misjudged
    ("Insufficient warmup steps", "failure_mode", True),
    ("Too small", "failure_mode", False),                  # ... but which setting?
    ("Warmup not long enough", "failure_mode", True),
    ("Learning rate too high", "mitigation", False),
    ("Multiple safeguards needed", "mitigation", False),   # a verdict, not a name
    ("Pilot run exposed severe clipping", "mitigation", False),   # a finding told as a sentence
    ("Eliminated catastrophic instabilities", "failure_mode", False),
    ("Masking metrics", "mitigation", False),              # a part of the report
    ("Higher generation temperature", "mitigation", True), # a setting changed
    ("More completions per prompt", "mitigation", True),
    ("More stable", "mitigation", False),                  # ... an outcome, not a setting
    ("Higher generation temperature", "failure_mode", False),
    ("Strict schema validation", "mitigation", True),     # two specific modifiers make a generic head a name
    ("Schema validation", "mitigation", False),            # ... one does not
    ("Better new reward", "mitigation", False),            # ... nor weak ones
    ("Existing bonus", "mitigation", False),               # ... "existing" says which no more than "current"
    ("Improve reward normalization", "mitigation", False), # a goal set, not a fix named
    ("Most seeds collapse", "failure_mode", False),        # a quantifier opens a statement, not a name
    ("Judge miscalibration", "failure_mode", True),        # the field's failure heads beyond "collapse"
    ("Prompt sensitivity", "failure_mode", False),         # ... a property measured is none (judged: 0 of 3)
    ("Checkpoint averaging", "mitigation", True),          # ... and fix heads beyond "penalty"
    ("Longer outputs may create bias", "failure_mode", False),   # a clause, not a name
    ("Smaller sampler-trainer gap", "mitigation", False),  # a measured outcome moved, not a setting
    ("Lower value error", "mitigation", False),
    ("Prevent value divergence", "failure_mode", False),   # the goal of a fix, not the failure's name
    ("Teacher logit distillation", "mitigation", True),    # method heads: distillation, consolidation, routing
    ("Sampler kernel nondeterminism", "failure_mode", True),
    ("Stale rollout weights", "failure_mode", True),       # a part of the setup in a wrong state
    ("Missing stop token", "failure_mode", True),
    ("Wrong answers", "failure_mode", False),               # ... an outcome, not a part
    ("Incorrect reward", "failure_mode", False),            # ... a generic part says not which
    ("Stale rollout weights", "mitigation", False),
    ("Tighter constraint", "mitigation", False),           # a comparative says how much, not which fix
    ("Stronger KL penalty", "mitigation", True),            # ... beside a word that says which, it names one
    ("Negative penalties", "mitigation", False),            # a sign says which way a reward term points, not which
    ("Grader-gaming", "failure_mode", True),                # a hyphenated compound ends in its head
    ("Batch-filter", "mitigation", True),
    ("Grader-gaming", "mitigation", False),
    ("Token-level", "mitigation", False),                   # ... and with none, names nothing
    ("Same reward collapse", "failure_mode", False),       # points back at a failure named earlier
    ("Identical tokenizer mismatch", "failure_mode", False),
])
def test_new_concept_names_have_the_shape_of_a_name(phrase, kind, ok):
    assert names_a_concept(phrase, kind, CUES) is ok


def test_an_imperative_heading_stands_for_the_fix_it_names():
    heading = Mention("Add entropy bonus", "doc", 10, 27, "heading", "Fixes", "heading")
    named = without_imperative(heading, CUES)
    assert (named.phrase, named.start, named.end) == ("entropy bonus", 14, 27)
    # "the learning rate" names no fix, so the imperative stays whole
    lower = Mention("Lower the learning rate", "doc", 0, 23, "heading", "Fixes", "heading")
    assert without_imperative(lower, CUES) == lower
    # a change log reports the fix it applied in the past tense
    logged = Mention("Added min-p filtering", "doc", 0, 21, "heading", "Changes", "heading")
    assert without_imperative(logged, CUES).phrase == "min-p filtering"
    from kb.extract.names import fix_verb
    assert [w for w in ("applied", "capped", "enabled", "used", "based", "seeded", "red") if fix_verb(w, CUES)] == \
        ["applied", "capped", "enabled", "used"]


def test_a_heading_about_handling_a_problem_stands_for_the_problem():
    heading = Mention("Debugging entropy collapse", "doc", 0, 26, "heading", "Notes", "heading")
    named = without_imperative(heading, CUES)
    assert (named.phrase, named.start) == ("entropy collapse", 10)
    # what follows must be able to name a concept; "Troubleshooting ..." alone never founds one
    vague = Mention("Understanding the results", "doc", 0, 25, "heading", "Notes", "heading")
    assert without_imperative(vague, CUES) == vague
    assert not names_a_concept("Troubleshooting reward collapse", "failure_mode", CUES)


def test_a_misjudged_setting_is_a_failure_whatever_the_classifier_says():
    assert shaped_kind("Insufficient warmup", "mitigation", CUES) == "failure_mode"
    assert shaped_kind("Learning rate too high", "mitigation", CUES) == "failure_mode"
    assert shaped_kind("Learning rate warmup", "mitigation", CUES) == "mitigation"
    assert shaped_kind("Section overview", "other", CUES) == "other"
    assert shaped_kind("Missing stop token", "mitigation", CUES) == "failure_mode"   # a wrong state is no fix


@pytest.mark.parametrize("phrase, ok", [
    ("Lower rollout temperature", True),     # a setting changed: one run's advice
    ("Reduce concurrent rollouts", True),
    ("Weakened format penalty", True),       # ... said as done
    ("Strengthen format rewards", True),
    ("Learning rate too high", True),        # a setting misjudged
    ("Missing stop token", True),            # a part in a wrong state
    ("Tool name mismatch", True),            # ... said after the parts, as "Mismatched tool names" is
    ("Response mismatch", False),            # an outcome out of step is no part of the setup
    ("Entropy collapse", False),             # names of the field's failures and fixes found concepts
    ("Clip-higher", False),
    ("KL penalty", False),
    ("Stronger KL penalty", True),           # ... "KL penalty" itself is the concept, not its strength
])
def test_names_that_tune_one_setting_found_no_concept(phrase, ok):
    assert tunes_a_setting(phrase, CUES) is ok


def test_an_imperative_verb_inside_a_field_term_is_no_imperative():
    heading = Mention("Reward model regularization", "doc", 0, 27, "lead", "Fixes", "list_item")
    assert without_imperative(heading, CUES) == heading


def test_a_projects_own_reward_term_founds_nothing_outside_a_heading_or_definition():
    from kb.extract.resolve import founding_place
    cued = Mention("prose leakage penalty", "run", 100, 121, "cue", "Notes", "paragraph", "mitigation")
    other = replace(cued, phrase="prose leakage filtering")
    assert not founding_place(cued, "mitigation", CUES)      # the project's own reward term
    assert founding_place(other, "mitigation", CUES)         # another fix the writer cued
    heading = Mention("Prose leakage penalty", "run", 0, 21, "heading", "Prose leakage penalty", "heading")
    assert founding_place(heading, "mitigation", CUES)       # a heading still names it


def test_a_noun_phrase_or_emphasis_founds_nothing_however_often_its_document_uses_it():
    from kb.extract.resolve import founding_place
    term = Mention("prose leakage filtering", "run", 100, 123, "term", "Notes", "paragraph")
    bold = replace(term, origin="emphasis")
    for mention in (term, bold):   # a phrase kept in use is still no place where the writer names a fix
        assert not founding_place(mention, "mitigation", CUES)
        assert not founding_place(mention, "failure_mode", CUES)


def test_a_phrase_a_heading_holds_is_named_there():
    from kb.extract.resolve import founding_place, headed_phrase
    term = Mention("penalty easing", "run", 300, 314, "term", "Notes", "paragraph")
    headings = ["gradual penalty easing schedule", "results"]
    assert headed_phrase(term, headings)
    assert not headed_phrase(term, ["penalty easing-off", "easing"])          # whole words only
    assert not headed_phrase(replace(term, phrase="easing"), ["penalty easing"])   # one word says too little
    assert founding_place(term, "mitigation", CUES, headed=True)
    assert not founding_place(term, "mitigation", CUES)
    assert not founding_place(term, "failure_mode", CUES, headed=True)   # failures only where named as such


def test_a_failure_is_founded_only_where_a_writer_names_it():
    from kb.extract.resolve import founding_place
    lead = Mention("Sticky rubric echo", "run", 0, 18, "lead", "Notes", "list_item")
    bold = Mention("sticky rubric echo", "run", 40, 58, "emphasis", "Notes", "paragraph")
    term = Mention("rubric echo", "run", 80, 91, "term", "Notes", "paragraph")
    assert not founding_place(bold, "mitigation", CUES)             # a fix set in bold is only stressed
    assert not founding_place(bold, "failure_mode", CUES)           # a failure so set is often coined on the spot
    assert not founding_place(lead, "failure_mode", CUES)
    assert not founding_place(term, "failure_mode", CUES)
    labelled = Mention("Sticky rubric echo", "run", 0, 18, "lead", "Notes", "list_item", "failure_mode")
    assert founding_place(labelled, "failure_mode", CUES)           # ... unless the writer labels it
    heading = Mention("Sticky rubric echo", "run", 0, 18, "heading", "Sticky rubric echo", "heading")
    assert founding_place(heading, "failure_mode", CUES)


def test_a_labelled_heading_names_its_kind_however_it_ends():
    from kb.extract.names import labelled, labelled_name
    hint, rest = split_label("Problem 2: Slow slide into terse identical replies", CUES)
    mention = Mention(rest, "doc", 0, 10, "heading", "Problems", "heading", hint)
    assert labelled(mention, "failure_mode") and not labelled(mention, "mitigation")
    assert labelled_name(rest, CUES) and not names_a_concept(rest, "failure_mode", CUES)
    assert split_label("Option 2: Smaller starting checkpoint", CUES)[0] == "mitigation"
    for phrase in ("Three complementary fixes", "Why it is not enough", "Batch size 64", "Collapse",
                   "Converting rectangular to polar coordinates", "Different base model", "Data modification",
                   "Sanity checks and logging", "Reference model matters", "Value spike avoided entirely",
                   "Rollouts painfully slow", "Validation reward flat",
                   "Identical tokenizer mismatch in the scorer"):   # "the same bug again" points back, names nothing
        assert not labelled_name(phrase, CUES), phrase
    assert labelled_name("Exploding value gradients", CUES)
    assert labelled_name("Sampling temperature too low", CUES)   # a setting misjudged names a failure
    assert not names_a_concept("PPO without rollout correction", "mitigation", CUES)   # a variant run, no fix
    assert not names_a_concept("Collect preference feedback", "mitigation", CUES)   # a step of a procedure
    assert not names_a_concept("Implementing constraint", "mitigation", CUES)   # how-to, not a name



def test_an_option_marked_as_rejected_is_labelled_no_fix():
    doc = parse_text("# Fixing the trainer\n\n## Options\n\n### \u274c Approach 1: Weighted loss\n\nIt did not help.\n\n"
                     "### Approach 2: Custom batch sampler\n\nEvery batch holds both labels.\n\n"
                     "### Option 3: Padding batches \u2717\n\nDropped.\n\n- **Option 4: Label mixing**: kept.\n",
                     path="o.md", fmt="md")
    hints = {m.phrase: m.hint for m in document_mentions(doc, claim_sentences(doc, CUES), CUES)
             if m.origin in ("heading", "lead")}
    assert hints["Weighted loss"] is None and hints["Custom batch sampler"] == "mitigation"
    assert hints["Padding batches"] is None and hints["Label mixing"] == "mitigation"

def test_a_how_to_lead_term_stands_for_the_fix_it_implements():
    from kb.extract.names import without_imperative
    mention = Mention("Implement multiple reward functions", "doc", 0, 35, "lead", "Tips", "item", None)
    assert without_imperative(mention, CUES).phrase == "multiple reward functions"
    mention = Mention("Adjust learning rate schedule", "doc", 0, 29, "heading", "Fixes", "heading", None)
    assert without_imperative(mention, CUES).phrase == "learning rate schedule"   # an instruction, not a name


def test_opposite_settings_are_not_one_concept():
    from kb.extract.names import opposite_settings
    assert opposite_settings("Learning rate too high", "Learning Rate Too Low", CUES)
    assert opposite_settings("Lower beta", "Higher beta", CUES)
    assert not opposite_settings("Learning rate too high", "Learning rate too high", CUES)
    assert not opposite_settings("Entropy collapse", "Entropy bonus", CUES)


def test_alias_shape_rejects_generic_words_and_sentences():
    assert alias_shaped("KL explosion", CUES)
    assert not alias_shaped("reward", CUES)
    assert not alias_shaped("The Solution", CUES)
    assert not alias_shaped("Higher reward means better performance, right?", CUES)
    # a method's acronym before a neutral term names the machinery, not a fix
    assert not alias_shaped("PPO importance sampling", CUES)
    assert not alias_shaped("GRPO advantage", CUES)
    assert alias_shaped("PPO clipping", CUES)
    assert alias_shaped("Decoupled PPO importance sampling", CUES)


def _relevance(doc, index, general=frozenset()):
    claims = claim_sentences(doc, CUES)
    return judge_relevance(doc, [index.find(c.sentence.text) for c in claims], claims, CUES, index, general)


def test_general_concepts_do_not_make_a_document_about_rl():
    index = build_alias_index([("fm:oom", ["out of memory"], []), ("fm:num", ["numerical instability"], []),
                               ("mit:ckpt", ["gradient checkpointing"], []), ("fm:hack", ["reward hacking"], [])])
    post = parse_text("# Four-bit inference\n\nLarge policy models run out of memory on one card. Gradient checkpointing "
                      "trades compute for activations. Numerical instability appears when scales underflow.\n",
                      path="q.md", fmt="md")
    assert _relevance(post, index).on_topic                       # three concepts named: passes alone
    verdict = _relevance(post, index, general=frozenset({"fm:oom", "fm:num", "mit:ckpt"}))
    assert verdict.concepts_named == 0 and not verdict.on_topic


def test_three_names_without_any_of_the_fields_words_get_no_second_look():
    index = build_alias_index([("fm:forget", ["catastrophic forgetting"], []), ("fm:over", ["overfitting"], []),
                               ("mit:wd", ["weight decay"], [])])
    memory = ("# A memory module for sequence models\n\nThe module is trained to write surprising inputs to a small "
              "network at test time. Catastrophic forgetting of early inputs is held off by a decay gate. "
              "Overfitting to one sequence is checked on another. Weight decay on the memory acts as the gate.{rl}\n")
    verdict = _relevance(parse_text(memory.format(rl=""), path="m.md", fmt="md"), index)
    assert verdict.concepts_named == 3 and verdict.domain_per_100_words < 0.3
    assert not verdict.on_topic and not verdict.own_words and not needs_second_look(verdict)
    rl = " We then fine-tune the policy with PPO against a reward model."
    verdict = _relevance(parse_text(memory.format(rl=rl), path="r.md", fmt="md"), index)
    assert verdict.domain_per_100_words >= 0.3 and verdict.on_topic


def test_a_page_naming_only_methods_is_tentative_until_it_names_a_failure():
    index = build_alias_index([("mit:dpo", ["direct preference optimization"], []),
                               ("mit:kto", ["unpaired preference"], []), ("mit:online", ["online DPO"], []),
                               ("fm:hack", ["reward hacking"], [])])
    page = ("# Dataset formats\n\nDirect preference optimization reads chosen and rejected columns. "
            "Unpaired preference data has one completion and a label. Online DPO needs only prompts, since the "
            "policy samples the pairs "
            "for fine-tuning.{tail}\n")
    verdict = _relevance(parse_text(page.format(tail=""), path="f.md", fmt="md"), index)
    assert verdict.concepts_named == 3 and verdict.domain_per_100_words >= 0.3
    assert not verdict.on_topic and verdict.tentative and needs_second_look(verdict)
    failing = page.format(tail=" Without a reference, online runs drift into reward hacking.")
    assert _relevance(parse_text(failing, path="g.md", fmt="md"), index).on_topic


def test_a_troubleshooting_page_passes_on_an_rl_failure_among_several_names_and_talk_of_trouble():
    index = build_alias_index([("fm:oom", ["out of memory"], []), ("fm:num", ["NaN loss"], []),
                               ("fm:crash", ["training crash"], []), ("fm:garbled", ["garbled output"], [])])
    general = frozenset({"fm:oom", "fm:num", "fm:crash"})
    faq = ("# Questions\n\n## Why do I see garbled output?\n\nThe checkpoint did not load, so the rollout sampler "
           "starts from random weights and the issue shows at once.\n\n## Why do I run out of memory?\n\n"
           "The token budget "
           "per device is too high for long sequences, a common problem in the first week of use.\n\n"
           "## What if I get a NaN loss?\n\nSkip the step; a training crash after it is usually a driver bug in the "
           "cluster and not a problem of the job itself. Restart from the last save and lower the batch.\n")
    verdict = _relevance(parse_text(faq, path="faq.md", fmt="md"), index, general)
    assert verdict.domain_per_100_words < 1.5 and verdict.concepts_named == 1
    assert verdict.on_topic                                   # garbled output, three general failures, trouble
    calm = faq.replace("the issue shows", "it shows").replace(", a common problem in the first week of use", "")
    calm = calm.replace("a driver bug in the cluster and not a problem of the job itself", "the driver")
    assert not _relevance(parse_text(calm, path="calm.md", fmt="md"), index, general).on_topic
    no_rl = faq.replace("garbled output", "slow start")
    assert not _relevance(parse_text(no_rl, path="no-rl.md", fmt="md"), index, general).on_topic


def test_a_general_failure_counts_on_a_page_that_speaks_the_field_and_names_an_rl_fix():
    index = build_alias_index([("fm:oom", ["out of memory"], []), ("mit:isc", ["importance sampling correction"], [])])
    general = frozenset({"fm:oom"})
    page = ("# Eight-bit rollouts for GRPO\n\nThe rollout engine samples completions in eight-bit floats while "
            "the policy trains in bf16. Long rollouts run out of memory unless the reward batch is split. {fix}\n")
    with_fix = page.format(fix="Importance sampling correction keeps the policy gradient unbiased.")
    verdict = _relevance(parse_text(with_fix, path="p.md", fmt="md"), index, general)
    assert verdict.domain_per_100_words >= 1.5 and verdict.on_topic
    without = page.format(fix="The policy gradient is computed as usual.")
    assert not _relevance(parse_text(without, path="q.md", fmt="md"), index, general).on_topic


def test_three_names_settle_a_page_only_when_it_speaks_the_field_or_talks_of_trouble():
    index = build_alias_index([("fm:trunc", ["truncated outputs"], []), ("mit:passk", ["pass@k evaluation"], []),
                               ("mit:dyn", ["dynamic sampling"], [])])
    report = ("# Coverage of the starting checkpoint\n\nWe sampled many completions per prompt from the starting "
              "checkpoint on four datasets before any training. Truncated outputs were rare on the short arithmetic "
              "split and more common on the competition split. The pass@k evaluation used a symbolic checker for "
              "math and unit tests for code. Every dataset was read from its train split, with the prompt template "
              "of the policy we plan to train. The numbers below give the share of problems solved at least once. "
              "Dynamic sampling will use them to pick prompts later. The longest runs took a day on eight cards.{more}\n")
    verdict = _relevance(parse_text(report.format(more=""), path="r.md", fmt="md"), index)
    assert 0.5 <= verdict.domain_per_100_words < 1.5 and verdict.concepts_named == 3 and not verdict.talks_of_trouble
    # a report next to the field: its meaning decides, by the full test (it names a failure, so it is not the
    # tentative case of a page listing methods)
    assert not verdict.on_topic and not verdict.tentative and needs_second_look(verdict)
    troubled = report.format(more=" The first run ended in a collapse. The collapse came back twice. The issue cost a week.")
    assert _relevance(parse_text(troubled, path="s.md", fmt="md"), index).on_topic


def test_second_look_only_for_documents_that_name_a_concept():
    assert needs_second_look(Relevance(0.2, 1, False))
    assert not needs_second_look(Relevance(1.2, 0, False))   # near the field's words, naming nothing
    assert not needs_second_look(Relevance(0.4, 0, False))
    assert not needs_second_look(Relevance(3.0, 2, True))


def test_a_general_failure_settles_a_troubled_page_only_where_it_is_said_in_the_fields_words():
    index = build_alias_index([("fm:oom", ["out of memory"], [])])
    general = frozenset({"fm:oom"})
    guide = ("# Installing the RLHF toolkit\n\nThe toolkit trains a policy with PPO against a reward model and a "
             "reference policy.\n\n## Troubleshooting\n\n{oom} Another problem is a failed build of the kernels. "
             "A known issue is a driver error on old cards.\n")
    install = parse_text(guide.format(oom="Problem: the import runs out of memory on small machines."),
                         path="i.md", fmt="md")
    verdict = _relevance(install, index, general)
    assert verdict.talks_of_trouble and not verdict.on_topic
    rollouts = parse_text(guide.format(oom="Problem: policy rollouts run out of memory with long reward batches."),
                          path="r.md", fmt="md")
    assert _relevance(rollouts, index, general).on_topic


def test_relevance_reads_the_tables_of_a_reading_list():
    index = build_alias_index([("fm:ent", ["entropy collapse"], []), ("mit:clip", ["clip-higher"], []),
                               ("mit:dyn", ["dynamic sampling"], [])])
    listing = parse_text("# Recipes\n\n| Recipe | Insight |\n| --- | --- |\n| A | Clip-Higher against entropy "
                         "collapse |\n| B | Dynamic sampling of GRPO prompts |\n", path="list.md", fmt="md")
    verdict = _relevance(listing, index)
    assert verdict.concepts_named == 3 and verdict.on_topic


def test_relevance_gate_separates_rl_writing_from_unrelated_posts():
    index = build_alias_index([("fm:hack", ["reward hacking"], []), ("fm:ent", ["entropy collapse"], []),
                               ("mit:kl", ["KL penalty"], []), ("fm:over", ["overfitting"], [])])
    rl = parse_text("# Notes\n\nThe policy learned reward hacking within a day of RL training. Entropy collapse "
                    "followed, and the rollouts all looked alike. A KL penalty on the policy slowed both.\n",
                    path="rl.md", fmt="md")
    other = parse_text("# Quantizing a model\n\nWe quantize weights to eight bits and measure perplexity on a "
                       "held-out set. Calibrating on too little data leads to overfitting of the scales.\n",
                       path="q.md", fmt="md")
    assert _relevance(rl, index).on_topic
    assert not _relevance(other, index).on_topic


def test_a_page_that_trains_nothing_is_not_about_rl_training():
    index = build_alias_index([("mit:shape", ["reward shaping"], []), ("fm:refuse", ["over-refusal"], ["refus*"])])
    related = {"fm:refuse": frozenset({"mit:shape"})}
    scoring = ("# Scoring episodes\n\nEach trajectory gets a reward from the database check, and reward shaping "
               "adds a reward for every matched action in the episode. An agent that refuses every request earns "
               "the full reward, since refusing leaves the database unchanged. A known issue is that the rewards of "
               "two checks can disagree, and a bug in one check scored every trajectory as a failure.{tail}\n")

    def judged(text: str, name: str):
        doc = parse_text(text, path=name, fmt="md")
        claims = claim_sentences(doc, CUES)
        return judge_relevance(doc, [index.find(c.sentence.text) for c in claims], claims, CUES, index,
                               related=related)

    verdict = judged(scoring.format(tail=""), "eval.md")
    assert verdict.names_failure and not verdict.trains
    assert not verdict.on_topic and not needs_second_look(verdict)
    verdict = judged(scoring.format(tail=" We train the agent on these rewards."), "train.md")
    assert verdict.trains and verdict.on_topic
    named = judged(scoring.format(tail=" Over-refusal is the result."), "named.md")   # an RL failure, outright
    assert named.trains and named.on_topic
    tabled = judged(scoring.format(tail="\n\n| check | counts |\n|---|---|\n| over-refusal | once |"), "table.md")
    assert not tabled.trains and not tabled.on_topic   # a table row names a check, not what the page is about


def test_rl_on_something_other_than_language_models_is_not_on_topic():
    index = build_alias_index([("fm:hack", ["reward hacking"], []), ("mit:shape", ["reward shaping"], []),
                               ("mit:penalty", ["action penalty"], [])])
    week = ("Reward shaping adds a reward for staying upright and an action penalty for large torques in week {n}. "
            "Reward hacking appeared again: the policy learned to spin in place, which kept the tilt reward high, so "
            "we capped that reward and trained the policy with PPO for another day. A second issue was a bug in the "
            "contact check that rewarded falling, and we fixed the check before the next run. ")
    log = "# Reward design for a balancing robot\n\n" + "".join(week.format(n=n) for n in range(1, 6))
    page = _relevance(parse_text(log, path="robot.md", fmt="md"), index)
    assert page.trains and page.names_failure and not page.of_language_models
    assert not page.on_topic and not needs_second_look(page)
    # the same troubles told of a language model's answers are the field's own
    told = _relevance(parse_text(log + "The same happened when we trained a language model: its answers grew "
                                       "longer to please the reward, and the prompts did not help.\n",
                                 path="lm.md", fmt="md"), index)
    assert told.of_language_models and told.on_topic


def test_a_page_on_training_another_kind_of_model_is_not_on_topic():
    index = build_alias_index([("fm:mode", ["mode collapse"], []), ("mit:replay", ["replay buffer"], []),
                               ("fm:noise", ["label noise"], [])])
    tip = ("When the discriminator wins too early, the generator falls into mode collapse; tip {n} borrows a replay "
           "buffer from RL and keeps old generator samples, and label noise on the discriminator slows it. The GAN "
           "then trains for longer. ")
    tips = "# Tips for training GANs\n\n" + "".join(tip.format(n=n) for n in range(1, 5))
    page = _relevance(parse_text(tips, path="gan.md", fmt="md"), index)
    assert page.concepts_named == 3 and not page.of_language_models and not page.on_topic
    # a language-model page that names the same troubles and mentions a GAN once or twice stays on topic
    lm = tips.replace("discriminator", "reward model").replace("generator", "policy").replace("GAN", "language model")
    assert _relevance(parse_text(lm + "Unlike a GAN, the prompts stay fixed.\n", path="lm.md", fmt="md"),
                      index).on_topic


def test_a_safety_essay_speaks_the_field_in_its_own_words():
    index = build_alias_index([("fm:faking", ["alignment faking"], []), ("fm:aware", ["evaluation awareness"], []),
                               ("mit:probes", ["interpretability probes"], [])])
    essay = ("# When the model knows it is watched\n\nA model with evaluation awareness behaves well only while "
             "it believes it is tested, which makes alignment faking hard to catch. Scheming and sandbagging are "
             "the worse cases: the model hides what it can do. Interpretability probes read the model's state "
             "directly, and misalignment shows up there before it shows in the answers of the model. The problem "
             "is that training against the probes teaches the model to hide from them.\n")
    verdict = _relevance(parse_text(essay, path="essay.md", fmt="md"), index)
    assert verdict.own_words and verdict.on_topic


def test_relevance_reads_headings_of_a_short_docs_page():
    index = build_alias_index([("mit:replay", ["replay buffer"], []), ("fm:zv", ["zero-variance groups"], [])])
    page = parse_text("# GRPO with a replay buffer\n\nThis trainer swaps groups with no reward spread for stored "
                      "groups from earlier batches.\n\n```python\ntrainer.train()\n```\n", path="doc.md", fmt="md")
    verdict = _relevance(page, index)
    assert verdict.concepts_named == 1 and verdict.tentative     # its title speaks the field ...
    assert not verdict.on_topic and needs_second_look(verdict)   # ... but one concept is judged again by meaning


def test_one_fix_named_on_a_page_that_keeps_talking_of_trouble_is_on_topic():
    index = build_alias_index([("mit:isc", ["importance sampling correction"], [])])
    troubled = parse_text(
        "# Low-precision rollouts with GRPO\n\nRollouts in eight-bit floats drift from the trainer's "
        "probabilities, and the drift grows with sequence length. A known issue is that two kernels round "
        "differently. We apply importance sampling correction to the ratio. Another bug made the loss jump "
        "after each checkpoint reload.\n", path="p.md", fmt="md")
    feature = parse_text(
        "# Low-precision rollouts with GRPO\n\nRollouts can run in eight-bit floats on recent accelerators. "
        "One flag turns it on for the rollout engine. We apply importance sampling correction to the ratio. "
        "Throughput rises by about a third on long sequences.\n", path="f.md", fmt="md")
    verdict = _relevance(troubled, index)
    assert verdict.on_topic and not verdict.tentative
    verdict = _relevance(feature, index)
    assert verdict.tentative and not verdict.on_topic      # judged by meaning next


def test_a_troubleshooting_page_may_talk_of_trouble_in_its_headings_alone():
    index = build_alias_index([("mit:lr", ["lower learning rate"], [])])
    page = parse_text(
        "# Troubleshooting GRPO runs\n\n## Problem: Loss spikes after warmup\n\nSet a lower learning rate for the "
        "policy and rerun.\n\n## Problem: Rewards flat at zero\n\nCheck that the verifier parses the answer "
        "format.\n\n## Problem: Workers hang at the first rollout\n\nRaise the timeout for the rollout workers.\n",
        path="t.md", fmt="md")
    verdict = _relevance(page, index)
    assert verdict.concepts_named == 1 and verdict.on_topic and not verdict.tentative


def test_a_page_naming_two_fixes_and_no_trouble_is_only_tentatively_on_topic():
    index = build_alias_index([("mit:mon", ["reward breakdown"], []), ("mit:kl", ["KL penalty"], []),
                               ("fm:hack", ["reward hacking"], [])])
    logging_page = parse_text(
        "# Logging for RL runs\n\nEach GRPO step writes the reward breakdown per rollout to a JSON file. The "
        "policy loss and the KL penalty term are written beside it. Rollout transcripts go to an HTML page.\n",
        path="log.md", fmt="md")
    verdict = _relevance(logging_page, index)
    assert verdict.concepts_named == 2 and verdict.tentative and not verdict.on_topic
    assert needs_second_look(verdict)                      # its meaning decides
    failing = parse_text(
        "# Logging for RL runs\n\nEach GRPO step writes the reward breakdown per rollout. The policy loss and "
        "the KL penalty term are written beside it, which is how we caught reward hacking early.\n",
        path="fail.md", fmt="md")
    assert _relevance(failing, index).on_topic            # a failure named outright settles it


def test_a_page_naming_a_fix_and_in_a_weak_word_the_failure_it_addresses_is_about_that_failure():
    index = build_alias_index([("mit:isc", ["importance sampling correction"], []),
                               ("mit:async", ["async rollouts"], []), ("fm:mismatch", [], ["mismatch"])])
    page = parse_text(
        "# Eight-bit rollouts\n\nThe rollout engine samples in eight-bit floats while the policy trains in bf16, "
        "with async rollouts overlapping the two. The precision gap shows up as a mismatch of token "
        "log-probabilities between sampler and trainer. Importance sampling correction reweights each token of "
        "the GRPO loss, and the KL to the reference policy stays small.\n", path="p.md", fmt="md")
    related = {"mit:isc": frozenset({"fm:mismatch"}), "fm:mismatch": frozenset({"mit:isc"})}
    claims = claim_sentences(page, CUES)
    hits = [index.find(c.sentence.text) for c in claims]
    alone = judge_relevance(page, hits, claims, CUES, index)
    assert alone.domain_per_100_words >= 1.5 and alone.tentative and not alone.on_topic   # two fixes, no failure
    verdict = judge_relevance(page, hits, claims, CUES, index, related=related)
    assert verdict.on_topic and verdict.names_failure
    # a fix that addresses some other failure vouches for nothing
    other = {"mit:isc": frozenset({"fm:other"}), "fm:mismatch": frozenset({"mit:other"})}
    assert not judge_relevance(page, hits, claims, CUES, index, related=other).on_topic


def test_acronyms_come_from_the_documents_own_definitions():
    texts = ["We reweight tokens with Truncated Importance Sampling (TIS), a form of importance sampling (IS).",
             "Supervised Fine-Tuning (SFT) comes first.", "The Reverse KL (RL) term is odd.",
             "Our baseline (RB) and the running baseline (RB) differ.", "Another importance sampling (IS) note."]
    found = defined_acronyms(texts)
    assert found["TIS"] == "truncated importance sampling"
    assert found["IS"] == "importance sampling" and found["SFT"] == "supervised fine tuning"
    assert "RL" not in found  # "Reverse KL" does not spell RL
    assert found["RB"] == "running baseline"  # "Our baseline" does not spell it; the one that does wins
    assert expand_acronyms("Full IS Correction", found) == "Full importance sampling Correction"
    assert expand_acronyms("IS ratios, not Is or is", {"IS": "importance sampling"}) == \
        "importance sampling ratios, not Is or is"


def test_an_acronym_spelled_two_ways_equally_often_is_dropped():
    assert defined_acronyms(["policy optimization (PO)", "preference optimization (PO)"]) == {}


def test_a_phrase_naming_other_machinery_is_not_an_alias():
    # A variant spelling of a neutral term of the field is no concept's alias.
    assert not alias_shaped("Grouped Relative Policy Optimization", CUES)
    # An acronym of the field's machinery that none of a concept's names holds makes them different things,
    # however close their vectors ("GRPO objective" against GSPO's names).
    assert names_other_machinery("GRPO objective", ["GSPO", "group sequence policy optimization"], CUES)
    assert not names_other_machinery("PPO clipping", ["trust region", "PPO clip"], CUES)
    assert not names_other_machinery("KL constraint", ["KL penalty"], CUES)
    # Only written acronyms count: "rollout" is ordinary machinery too, but the phrase does not name a method.
    assert not names_other_machinery("Rollout importance sampling", ["importance sampling correction"], CUES)


def test_a_weak_alias_recurring_in_a_table_row_supports_the_concept():
    from kb.extract.edges import supported_concepts, unclaimed_blocks
    index = build_alias_index([("mit:clip", [], ["gradient clipping", "max_grad_norm"])])
    doc = parse_text("# Settings\n\nWe kept gradient clipping on for every run of the policy.\n\n"
                     "| key | value |\n| --- | --- |\n| max_grad_norm | 1.0 |\n", path="s.md", fmt="md")
    claims = claim_sentences(doc, CUES)
    hits = [index.find(c.sentence.text) for c in claims]
    blocks = unclaimed_blocks(doc, claims, index, CUES)
    assert [rule for rule, _, found in blocks if found] == ["rule:table"]
    assert supported_concepts(hits, []) == set()                                  # one sentence is not enough
    assert supported_concepts([*hits, *(found for _, _, found in blocks)], []) == {"mit:clip"}


def test_a_weak_phrase_is_vouched_for_by_a_related_concept_named_outright():
    from kb.extract.edges import supported_concepts
    index = build_alias_index([("fm:trunc", [], ["overlong responses", "overlong"]), ("mit:filter", ["overlong filtering"], []),
                               ("mit:other", ["entropy bonus"], [])])
    related = {"fm:trunc": frozenset({"mit:filter"}), "mit:filter": frozenset({"fm:trunc"})}
    once = [index.find("Some overlong responses hit the cap.")]
    assert supported_concepts([*once, index.find("We use an entropy bonus.")], [], related) == {"mit:other"}
    assert supported_concepts([*once, index.find("We use overlong filtering.")], [], related) == {"mit:filter", "fm:trunc"}
    one_word = [index.find("The overlong ones hit the cap."), index.find("We use overlong filtering.")]
    assert supported_concepts(one_word, [], related) == {"mit:filter"}   # a one-word weak alias needs more ...
    same_sentence = [index.find("Overlong filtering drops the overlong ones.")]
    assert supported_concepts(same_sentence, [], related) == {"mit:filter", "fm:trunc"}   # ... such as this


def test_a_concept_first_named_by_a_heading_is_described_by_its_section():
    from kb.extract.concepts import with_section_descriptions
    from kb.extract.resolve import Resolution
    from kb.taxonomy import Concept
    doc = parse_text("# Post-mortem\n\n## Stale reference drift\n\nThe frozen copy we compared against was three "
                     "checkpoints old, so the penalty measured the wrong distance.\n", path="p.md", fmt="md")
    heading = next(b for b in doc.blocks if b.kind == "heading" and b.text == "Stale reference drift")
    mention = Mention("Stale reference drift", doc.id, heading.start, heading.end, "heading", heading.section, "heading")
    concept = Concept(id="fm:stale-reference-drift", label="Stale reference drift", description="Stale reference drift")
    found = Resolution(mention, concept.id, "failure_mode", "new", 0.9, 1.0)
    [described] = with_section_descriptions([concept], [found], {doc.id: claim_sentences(doc, CUES)}, CUES)
    assert described.description.startswith("The frozen copy we compared against was three checkpoints old")


def test_a_title_naming_the_field_stands_in_for_its_vocabulary():
    index = build_alias_index([("fm:mismatch", ["training-inference mismatch"], [])])
    body = ("\n\nThe trainer and the sampler disagree on log-probabilities by a few percent. We traced the "
            "training-inference mismatch to a sharded forward pass that drops one keyword argument, and to a "
            "cast that happens in a different place in each engine. Both fixes are two lines long.\n")
    titled = parse_text("# Debugging a GRPO run on the new backend" + body, path="t.md", fmt="md")
    untitled = parse_text("# Debugging the new backend" + body, path="u.md", fmt="md")
    assert _relevance(titled, index).on_topic                  # speaks the field and names a failure
    assert not _relevance(untitled, index).on_topic            # the same body, without the title, speaks too little
    nothing_named = parse_text("# GRPO on a new cluster\n\nThe cluster has eight nodes and a shared disk.\n",
                               path="c.md", fmt="md")
    assert not _relevance(nothing_named, index).on_topic       # the title alone is not enough


def test_an_alias_with_articles_also_matches_without_them():
    index = build_alias_index([("mit:temp", ["raise the temperature"], [])])
    assert [h.concept_id for h in index.find("Action 1: raise temperature to 1.0")] == ["mit:temp"]
    assert [h.concept_id for h in index.find("We raise the temperature to 1.0")] == ["mit:temp"]
    assert index.find("the temperature was raised") == []     # word order still matters


def test_a_setting_moved_the_other_way_is_not_another_name_of_a_fix():
    lower_lr = ["Lower learning rate", "reduce the learning rate", "learning rate warmup"]
    assert opposite_direction("Increase learning rate", lower_lr, CUES)
    assert not opposite_direction("Smaller learning rate", lower_lr, CUES)
    assert not opposite_direction("Learning rate schedule", lower_lr, CUES)   # says no way: nothing to contradict
    assert opposite_direction("High reward variance", ["zero variance", "low reward variance"], CUES)
    # a negated direction word says no way: a stall named "reward not increasing" contradicts no drop
    stall = ["reward not increasing", "accuracy stops improving"]
    assert not opposite_direction("Near-zero reward plateau", stall, CUES)
    assert opposite_direction("Near-zero reward plateau", [*stall, "reward increases"], CUES)


def test_switching_a_fix_off_names_only_a_fix_that_switches_off_too():
    # invented names: the zeta fix, and the fix of turning it off
    zeta = ["zeta scaling", "scale by zeta"]
    assert switches_off("Disable zeta scaling", CUES) and switches_off("Turn off zeta scaling", CUES)
    assert not switches_off("Zeta scaling", CUES) and not switches_off("Scaling without zeta", CUES)  # opens so only
    assert undoes_fix("Disable zeta scaling", zeta, CUES)
    assert not undoes_fix("Disable zeta scaling", ["scale_zeta=false", "no zeta scaling"], CUES)
    assert not undoes_fix("Zeta scaling", zeta, CUES)
    # in resolution: near the plain fix in meaning, the phrase names the fix that switches it off
    known = ConceptVectors(["zeta scaling", "scale_zeta=false"], ["mit:zeta", "mit:no-zeta"],
                           np.zeros((2, 384), dtype=np.float32))
    vocabulary = {c: content_stems(n, CUES) for n, c in zip(known.names, known.owners)}
    as_fix = np.array([0.05, 0.92, 0.03])
    assert _existing_match("Disable zeta scaling", np.array([0.80, 0.76]), known, as_fix, vocabulary, CUES) == \
        ("mit:no-zeta", 0.76, True)


def test_an_open_ended_alias_is_completed_by_its_letters_not_its_embedding():
    vectors = ConceptVectors(["numerical instabilit", "entropy bonus"], ["fm:numerics", "mit:bonus"],
                             np.zeros((2, 384), dtype=np.float32),
                             (("numerical instabilit", "fm:numerics"), ("kl regulari", "mit:kl")))
    assert vectors.completing("numerical instability") == "fm:numerics"
    assert vectors.completing("numerical instabilities") == "fm:numerics"
    assert vectors.completing("kl regularization") == "mit:kl"
    assert vectors.completing("numerical instability fix") is None   # the open word must end the phrase
    assert vectors.completing("numerical noise") is None


def test_a_known_name_with_a_head_word_of_its_kind_added_is_that_concept():
    vectors = ConceptVectors(["BoltClip", "reward hacking"], ["mit:bolt", "fm:hack"], np.zeros((2, 384), dtype=np.float32))
    assert vectors.heading_word_added("Bolt-Clip filtering", CUES) == "mit:bolt"
    assert vectors.heading_word_added("bolt clip trick", CUES) == "mit:bolt"
    assert vectors.heading_word_added("Reward hacking penalty", CUES) is None    # a fix for the failure, not it
    assert vectors.heading_word_added("BoltClip", CUES) is None                  # nothing added: matched elsewhere
    assert vectors.heading_word_added("Bolt filtering", CUES) is None


def test_the_same_name_of_the_other_kind_is_no_match_when_the_phrase_is_surely_of_its_own_kind():
    known = ConceptVectors(["length normalization", "length-normalized DPO"], ["fm:bias", "mit:ln"],
                           np.zeros((2, 384), dtype=np.float32))
    vocabulary = {"fm:bias": content_stems("length normalization", CUES), "mit:ln": content_stems("length DPO", CUES)}
    sims = np.array([1.0, 0.75])
    as_fix = np.array([0.02, 0.9, 0.08])      # the classifier: surely a fix ("we add length normalization")
    unsure = np.array([0.3, 0.6, 0.1])
    assert _existing_match("length normalization", sims, known, as_fix, vocabulary, CUES)[0] == "mit:ln"
    assert _existing_match("length normalization", sims, known, unsure, vocabulary, CUES)[0] == "fm:bias"


def test_a_step_or_a_part_named_plainly_is_not_its_cost_nor_a_bigger_one_however_near():
    # invented names; the similarities are those of names that embed almost the same
    known = ConceptVectors(["zeta scoring overhead", "larger zeta pool", "zeta scoring"], ["fm:slow", "mit:pool", "mit:plain"],
                           np.zeros((3, 384), dtype=np.float32))
    vocabulary = {c: content_stems(n, CUES) for n, c in zip(known.names, known.owners)}
    as_fix = np.array([0.1, 0.8, 0.1])
    as_failure = np.array([0.8, 0.1, 0.1])
    assert _existing_match("Zeta scoring", np.array([0.95, 0.2, 0.7]), known, as_failure, vocabulary, CUES) is None
    assert _existing_match("Slow zeta scoring", np.array([0.95, 0.2, 0.7]), known, as_failure, vocabulary, CUES)[0] == "fm:slow"
    assert _existing_match("Zeta pool", np.array([0.2, 0.95, 0.7]), known, as_fix, vocabulary, CUES)[0] == "mit:plain"
    assert _existing_match("Bigger zeta pool", np.array([0.2, 0.95, 0.7]), known, as_fix, vocabulary, CUES)[0] == "mit:pool"
    assert drops_direction("Weight updates", "fast weight transfer", CUES)
    assert not drops_direction("Slow weight updates", "weight sync overhead", CUES)
    assert not drops_direction("Weight updates", "weight layout mismatch", CUES)   # the name says no cost either


def test_a_phrase_naming_only_the_field_names_no_concept_by_meaning():
    assert names_the_field("Reinforcement learning training", CUES)
    assert names_the_field("RL training", CUES) and names_the_field("Reward model", CUES)
    assert not names_the_field("Larger KL divergence", CUES)       # says which way it went
    assert not names_the_field("Entropy decrease", CUES)
    assert not names_the_field("Reward hacking", CUES)
    known = ConceptVectors(["reinforcement learning from zeta feedback"], ["mit:zeta"], np.zeros((1, 384), dtype=np.float32))
    vocabulary = {"mit:zeta": content_stems("reinforcement learning from zeta feedback", CUES)}
    as_fix = np.array([0.1, 0.8, 0.1])
    assert _existing_match("Reinforcement learning training", np.array([0.8]), known, as_fix, vocabulary, CUES) is None
    assert _existing_match("Zeta feedback training", np.array([0.8]), known, as_fix, vocabulary, CUES)[0] == "mit:zeta"


def test_a_model_name_with_a_version_shares_no_word_with_a_concept_name_holding_the_same_letters():
    # invented names: "Vela Q2.5" is a model; "q2 estimator" a fix whose name holds the token "q2"
    known = ConceptVectors(["q2 estimator", "zeta clipping"], ["mit:est", "mit:zeta"], np.zeros((2, 384), dtype=np.float32))
    vocabulary = {c: content_stems(n, CUES) for n, c in zip(known.names, known.owners)}
    sims = np.array([0.7, 0.1])
    as_fix = np.array([0.02, 0.9, 0.08])
    assert _existing_match("Vela Q2.5", sims, known, as_fix, vocabulary, CUES)[::2] == ("mit:est", False)
    # a word without digits that the two share ("estimator") still makes the match sure
    assert _existing_match("q2 estimators", sims, known, as_fix, vocabulary, CUES)[::2] == ("mit:est", True)


def test_a_phrase_with_a_generic_head_is_surely_a_concept_only_by_a_word_of_the_name_it_is_near():
    # invented names: "explicit" is a word of another of mit:zeta's names, not of the one the phrase embeds near
    known = ConceptVectors(["shaped zeta reward", "explicit zeta bonus"], ["mit:zeta", "mit:zeta"],
                           np.zeros((2, 384), dtype=np.float32))
    vocabulary = {"mit:zeta": content_stems("shaped zeta reward", CUES) | content_stems("explicit zeta bonus", CUES)}
    sims = np.array([0.75, 0.3])
    as_fix = np.array([0.02, 0.9, 0.08])
    assert _existing_match("explicit reward", sims, known, as_fix, vocabulary, CUES)[::2] == ("mit:zeta", False)
    assert _existing_match("shaped reward", sims, known, as_fix, vocabulary, CUES)[::2] == ("mit:zeta", True)
    # a specific head may share its word with any of the concept's names
    assert _existing_match("explicit shaping", sims, known, as_fix, vocabulary, CUES)[::2] == ("mit:zeta", True)


def test_a_phrase_that_is_a_weak_alias_whole_names_that_concept_not_a_neighbour_in_meaning():
    # invented names: "zeta clipping" is only a weak alias of mit:zeta, and embeds nearest mit:other's name
    known = ConceptVectors(["zeta norm clipping", "zeta-preserving clipping"], ["mit:zeta", "mit:other"],
                           np.zeros((2, 384), dtype=np.float32), weak=(("zeta clipping", "mit:zeta"),))
    vocabulary = {"mit:zeta": content_stems("zeta norm clipping", CUES),
                  "mit:other": content_stems("zeta-preserving clipping", CUES)}
    sims = np.array([0.86, 0.90])
    as_fix = np.array([0.02, 0.9, 0.08])
    assert _existing_match("Zeta clipping", sims, known, as_fix, vocabulary, CUES)[:3:2] == ("mit:zeta", True)
    plain = ConceptVectors(known.names, known.owners, known.matrix)
    assert _existing_match("Zeta clipping", sims, plain, as_fix, vocabulary, CUES)[0] == "mit:other"
    # an open-ended weak alias spelled out whole counts too
    open_ended = ConceptVectors(known.names, known.owners, known.matrix, weak_open_ended=(("zeta clip", "mit:zeta"),))
    assert _existing_match("Zeta clipping", sims, open_ended, as_fix, vocabulary, CUES)[0] == "mit:zeta"


@pytest.mark.parametrize("phrase, own", [
    ("Postpone Phase 2 training", True), ("Stage C rollout filter", True), ("stage-3 warmup", True),
    ("Attempt IV: lower the clip", True),
    ("Two-stage training", False), ("Multi-phase curriculum", False), ("Run a seed sweep", False),
    ("Step-wise length schedule", False),
])
def test_a_name_holding_a_part_of_one_projects_plan_is_that_projects_step(phrase, own):
    assert names_own_part(phrase, CUES) is own


def test_a_lone_word_that_is_a_weak_alias_names_its_concept_whatever_kind_the_classifier_reads():
    # invented names: "zetation" is a weak alias of the failure, and embeds nearer a probe that fixes it
    known = ConceptVectors(["zetation at the limit", "answer after zetation"], ["fm:zeta", "mit:probe"],
                           np.zeros((2, 384), dtype=np.float32), weak_open_ended=(("zetat", "fm:zeta"),))
    vocabulary = {c: content_stems(n, CUES) for n, c in zip(known.names, known.owners)}
    sims = np.array([0.73, 0.80])
    as_fix = np.array([0.21, 0.66, 0.13])   # one word reads as a fix to the classifier
    assert _existing_match("Zetation", sims, known, as_fix, vocabulary, CUES)[0] == "fm:zeta"
    # a longer phrase keeps the classifier's say: it is not whole the weak alias
    assert _existing_match("Zetation probe", sims, known, as_fix, vocabulary, CUES)[0] == "mit:probe"


def test_a_lone_word_or_a_logged_metric_names_an_existing_concept_only_as_a_name_or_a_failures_head():
    known = ConceptVectors(["token-level normalization", "training plateau", "zeta-token variant"],
                           ["mit:tln", "fm:plateau", "mit:zeta"], np.zeros((3, 384), dtype=np.float32))
    vocabulary = {c: content_stems(n, CUES) for n, c in zip(known.names, known.owners)}
    as_fix, as_failure = np.array([0.02, 0.9, 0.08]), np.array([0.9, 0.05, 0.05])
    near = lambda j: np.where(np.arange(3) == j, 0.88, 0.1)
    # a bare fix head says "some normalization", not which one
    assert _existing_match("Normalization", near(0), known, as_fix, vocabulary, CUES) is None
    assert _existing_match("Plateaus", near(1), known, as_failure, vocabulary, CUES)[0] == "fm:plateau"
    assert _existing_match("Zeta-Token", near(2), known, as_fix, vocabulary, CUES)[0] == "mit:zeta"
    assert _existing_match("rollout/plateau", near(1), known, as_failure, vocabulary, CUES) is None
    # a lone word that is a concept's name still is: it embeds as the name itself
    assert _existing_match("normalization", np.array([0.995, 0.1, 0.1]), known, as_fix, vocabulary, CUES)[0] == "mit:tln"
    # a failure's head that many concepts' names hold says not which of them
    names = ["zero-variance groups", "high-variance gradients", "seed variance", "evaluation variance", "training plateau"]
    owners = ["fm:zv", "fm:hv", "fm:seed", "fm:eval", "fm:plateau"]
    shared = ConceptVectors(names, owners, np.zeros((5, 384), dtype=np.float32))
    vocabulary = {c: content_stems(n, CUES) for n, c in zip(names, owners)}
    near_eval = np.array([0.5, 0.5, 0.6, 0.88, 0.1])
    assert _existing_match("Variance", near_eval, shared, as_failure, vocabulary, CUES) is None
    assert _existing_match("Evaluation variance", near_eval, shared, as_failure, vocabulary, CUES)[0] == "fm:eval"
    few = ConceptVectors(names[2:], owners[2:], np.zeros((3, 384), dtype=np.float32))
    assert _existing_match("Variance", near_eval[2:], few, as_failure, vocabulary, CUES)[0] == "fm:eval"


def test_an_open_ended_alias_matches_its_earlier_words_by_stem():
    index = build_alias_index([("fm:boom", ["gradient norm explo*"], [])])
    for text in ("the gradient norm exploded", "gradient norms exploded at step 200", "Gradient norms explode."):
        assert [h.concept_id for h in index.find(text)] == ["fm:boom"], text
    assert index.find("the gradient normalization exploded") == []


def test_a_changed_setting_is_alias_shaped_even_when_the_setting_is_a_generic_word():
    assert alias_shaped("Increase temperature", CUES)
    assert not alias_shaped("Temperature", CUES)


def test_a_lowercase_led_product_name_is_one_word_and_identifiers_still_split():
    assert [t.word for t in tokens("vLLM logprobs")] == ["vllm", "logprobs"]
    assert [t.word for t in tokens("AdaptiveKLController")] == ["adaptive", "kl", "controller"]
    index = build_alias_index([("fm:mismatch", ["mismatch between vLLM and"], [])])
    assert [h.concept_id for h in index.find("a mismatch between vLLM and the trainer")] == ["fm:mismatch"]


def test_an_alias_does_not_match_across_a_clause_break_it_does_not_contain():
    index = build_alias_index([("mit:genrm", ["generative RM"], []), ("mit:dr", ["Dr. GRPO"], [])])
    assert index.find("spans for generation, RM scoring and filtering") == []
    assert [h.concept_id for h in index.find("a generative RM scores it")] == ["mit:genrm"]
    assert [h.concept_id for h in index.find("We switched to Dr. GRPO.")] == ["mit:dr"]
    # a hard-wrapped paragraph breaks lines inside a name; a blank line or a comma still ends the clause
    assert [h.concept_id for h in index.find("we moved to a generative\nRM that scores it")] == ["mit:genrm"]
    assert index.find("generation\n\nRM scoring") == index.find("generation,\nRM scoring") == []


def test_a_setting_changed_may_be_written_after_the_setting():
    assert adjusted_setting("Temperature increase", CUES)
    assert adjusted_setting("Learning rate reduction", CUES)
    assert not names_a_concept("Baseline reduces variance", "failure_mode", CUES)   # a clause, not a name


def test_a_setting_changed_names_one_change_and_not_an_experiment():
    assert adjusted_setting("Larger rollout batch", CUES)
    assert not adjusted_setting("Larger rollout batch + more prompts", CUES)     # two changes at once
    assert not adjusted_setting("Larger rollout batch and more prompts", CUES)
    assert not adjusted_setting("Higher temperature experiment", CUES)           # a report's part: the run
    assert not names_a_concept("Entropy bonus ablations", "mitigation", CUES)


def test_an_open_ended_alias_may_start_with_a_short_whole_word():
    index = build_alias_index([("mit:kl", ["KL regulari*"], []), ("fm:mem", ["me*"], [])])
    found = lambda text: [h.concept_id for h in index.find(text)]
    assert found("We add KL regularization.") == ["mit:kl"] and found("a KL regularizer") == ["mit:kl"]
    assert found("the KL divergence grows") == []
    assert found("measure it") == []   # one word needs three letters before its open ending


def test_a_camel_case_alias_matches_as_prose_writes_it():
    index = build_alias_index([("mit:peft", ["LoRA"], []), ("mit:simpo", ["SimPO"], [])])
    assert [h.concept_id for h in index.find("We trained LoRA adapters, then ran SimPO.")] == ["mit:peft", "mit:simpo"]


def test_a_setting_changed_names_the_setting_it_changes():
    assert changed_setting("Reduce concurrent rollouts", CUES) == content_stems("concurrent rollouts", CUES)
    assert changed_setting("Temperature increase", CUES) == content_stems("temperature", CUES)
    assert changed_setting("Asynchronous rollouts", CUES) == set()   # changes nothing: any match may stand
    assert not adjusted_setting("Increase gradually", CUES)          # says how, not what


def test_a_weak_word_inside_another_concepts_name_names_nothing():
    index = build_alias_index([("fm:entropy", ["entropy collapse"], []), ("fm:unstable", [], ["collapse"])])
    assert [h.concept_id for h in index.find("The entropy collapse came early.")] == ["fm:entropy"]
    assert [(h.concept_id, h.weak) for h in index.find("A sudden collapse of the reward.")] == [("fm:unstable", True)]


def test_a_phrase_naming_only_the_quantity_is_not_a_concept_that_moves_it():
    assert drops_direction("Per-device batch size", "larger batch size", CUES)
    assert drops_direction("Variance", "zero variance", CUES)
    assert not drops_direction("Bigger batches", "larger batch size", CUES)
    assert not drops_direction("Batch size", "batch size schedule", CUES)   # the name says no way either


def test_a_quantity_said_without_a_way_it_moved_is_named_as_a_quantity():
    assert names_a_quantity("Token count", CUES)
    assert names_a_quantity("average response length", CUES)
    assert not names_a_quantity("Larger batch size", CUES)   # says which way
    assert not names_a_quantity("Global token-count normalization", CUES)
    assert names_a_quantity("Rollouts per task", CUES)              # a count of one thing for another
    assert not names_a_quantity("More rollouts per task", CUES)
    assert not names_a_quantity("Different seeds per generation", CUES)   # a fix


@pytest.mark.parametrize("item, entry", [
    ("- samples per prompt: `8`", True),
    ("temperature: 1.0", True),
    ("* **KL coefficient** = 0.001", True),
    ("- `4096` max model length", True),
    ("- tensor parallel size: `1`", True),
    ("- Enable reward normalization: `--reward_running_norm`", False),   # an instruction naming its flag
    ("**2. Enable Reward Normalization**", False),                      # a numbered step
    ("- 2 epochs allowed the policy to explore further", False),
    ("- Temperature 0.7 keeps the group diverse", False),
])
def test_an_item_that_only_gives_a_setting_its_value_is_a_setting_entry(item, entry):
    assert CUES.is_setting_entry(item) is entry


def test_a_contents_entry_is_no_claim():
    assert CUES.is_boilerplate_block("- [Overlong filtering](#overlong-filtering)")
    assert CUES.is_boilerplate_block("3. [Why rewards flatten](#why-rewards-flatten)")
    assert not CUES.is_boilerplate_block("- [Overlong filtering](#overlong) masks truncated samples from the loss.")


def test_the_fields_unspelled_acronyms_are_read_as_their_words():
    assert expand_acronyms("Lower base LR", CUES.field_acronyms) == "Lower base learning rate"
    assert expand_acronyms("Noisy RM scores", CUES.field_acronyms) == "Noisy reward model scores"


def test_only_an_instruction_ties_its_sentence_to_a_fix_near_it_in_meaning():
    from kb.extract.concepts import instructs
    from kb.extract.resolve import Resolution

    def lead(phrase: str, concept: str) -> Resolution:
        mention = Mention(phrase, "doc", 0, len(phrase), "lead", "Debugging", "list_item")
        kind = "mitigation" if concept.startswith("mit:") else "failure_mode"
        return Resolution(mention, concept, kind, "alias", 0.9, 0.72, False)

    assert instructs(lead("Inspect the generations", "mit:training-monitoring"), CUES)
    assert not instructs(lead("Mean reward", "mit:training-monitoring"), CUES)        # names a quantity
    assert not instructs(lead("Inspect the generations", "fm:reward-hacking"), CUES)  # an instruction is a fix


def test_a_heading_gives_its_concept_the_words_it_was_written_in():
    from kb.extract.concepts import surface_forms
    from kb.extract.edges import unclaimed_blocks

    doc = parse_text("# Notes\n\n## Warm up to avoid huge gradient spikes\n\nWe warmed up for 50 steps.\n",
                     path="notes.md", fmt="md")
    index = build_alias_index([("fm:unstable", ["gradient spike*"], [])])
    claims = claim_sentences(doc, CUES)
    blocks = unclaimed_blocks(doc, claims, index, CUES)
    hits = [index.find(c.sentence.text) for c in claims]
    assert surface_forms([doc], {doc.id: claims}, {doc.id: hits}, {doc.id: blocks}, CUES, {}) == {
        "fm:unstable": [("gradient spikes", doc.id)]}


def test_a_setting_written_beside_the_one_concept_a_sentence_names_in_its_words_is_its_name():
    from kb.extract.concepts import surface_forms
    from kb.extract.mentions import setting_names
    from kb.extract.names import content_stems

    assert setting_names("Set `actor.offload_adam_states` and --max_len, not train_utils.py or run(x_y)") == [
        "actor.offload_adam_states", "max_len"]
    doc = parse_text("# Memory\n\nOptimizer offload helps: set `model.offload_adam_states: true` for long runs. "
                     "Optimizer offload also works with `num_tokens` capped. Optimizer offload and a KL penalty "
                     "both read `offload_reference_model`.\n", path="mem.md", fmt="md")
    index = build_alias_index([("mit:mem", ["optimizer offload"], []), ("mit:kl", ["KL penalty"], [])])
    vocabulary = {"mit:mem": content_stems("optimizer offload", CUES), "mit:kl": content_stems("KL penalty", CUES)}
    claims = claim_sentences(doc, CUES)
    hits = [index.find(c.sentence.text) for c in claims]
    found = surface_forms([doc], {doc.id: claims}, {doc.id: hits}, {}, CUES, vocabulary)
    # in the concept's words ("offload"); not a setting sharing none ("num_tokens"), nor beside two concepts
    assert found == {"mit:mem": [("model.offload_adam_states", doc.id)]}


def test_a_new_name_must_stand_near_the_field_and_a_heading_near_rl_itself():
    from kb.extract.resolve import NEW_MIN_FIELD_SIMILARITY, _near_field
    general = np.array([False, False, True])          # the third name belongs to a general concept (GPU memory)
    heading = Mention("Uneven accelerator load", "doc", 0, 23, "heading", "Troubleshooting", "heading")
    emphasis = Mention("Uneven accelerator load", "doc", 0, 23, "emphasis", "Notes", "paragraph")
    far = np.array([0.30, NEW_MIN_FIELD_SIMILARITY - 0.01, 0.20])
    assert not _near_field(far, general, heading) and not _near_field(far, general, emphasis)
    nearer_general = np.array([0.55, 0.52, 0.70])
    assert not _near_field(nearer_general, general, heading)   # a troubleshooting heading for the machinery
    assert _near_field(nearer_general, general, emphasis)      # elsewhere the classifier and name shape decide
    nearer_rl = np.array([0.72, 0.52, 0.70])
    assert _near_field(nearer_rl, general, heading)


def test_a_headings_new_concept_is_described_by_a_sentence_of_prose_about_it():
    from kb.extract.concepts import section_description
    sentences = ["Loss was 0.12 at step 300 (~14 tokens).",
                 "We looked at the logs from the second run again on Monday morning.",
                 "The policy learned to answer with a few identical words whatever the prompt, a quiet collapse."]
    # a measurement says nothing of what it is; prose sharing a word with the name says most
    assert section_description("Quiet collapse to identical answers", sentences, CUES) == sentences[2]
    assert section_description("Slow drift", sentences, CUES) == sentences[1]     # else the first prose
    assert section_description("Slow drift", sentences[:1], CUES) == sentences[0]  # else the first sentence
    assert section_description("Slow drift", [], CUES) is None


def test_a_section_heading_announces_failures_or_fixes_in_plural_and_in_several_words():
    assert section_labels("Known issues", CUES) == {"failure_mode"}
    assert section_labels("3. Pitfalls we hit", CUES) == {"failure_mode"}
    assert section_labels("Root causes", CUES) == {"failure_mode"}
    assert section_labels("What didn't work", CUES) == {"failure_mode"}
    assert section_labels("Fixes", CUES) == {"mitigation"}
    assert section_labels("What worked", CUES) == {"mitigation"}
    assert section_labels("Problems and solutions", CUES) == {"failure_mode", "mitigation"}
    assert section_labels("Training setup", CUES) == set()


def _one_name(name: str, owner: str) -> tuple[ConceptVectors, dict[str, set[str]]]:
    """Known names holding one concept's one name (its vector unused: the tests give the cosines), and its
    vocabulary."""
    return (ConceptVectors([name], [owner], np.zeros((1, 384), dtype=np.float32)),
            {owner: content_stems(name, CUES)})


def test_a_part_in_a_wrong_state_is_not_another_name_of_the_fix_that_repairs_it():
    known, vocabulary = _one_name("better zeta design", "mit:zeta")
    unsure = np.array([0.45, 0.45, 0.1])
    assert _existing_match("Incomplete zeta design", np.array([0.83]), known, unsure, vocabulary, CUES) is None
    assert _existing_match("Improved zeta design", np.array([0.83]), known, unsure, vocabulary, CUES)[0] == "mit:zeta"
    # the same name, however it is spelled, still is the concept
    assert _existing_match("Incomplete zeta design", np.array([0.95]), known, unsure, vocabulary, CUES)[0] == "mit:zeta"


def test_a_phrase_named_as_a_failure_is_not_another_name_of_a_fix():
    known, vocabulary = _one_name("batch packing", "mit:pack")
    as_fix = np.array([0.1, 0.85, 0.05])
    # "imbalance" heads a failure's name: what packing repairs, not packing
    assert _existing_match("Batch imbalance", np.array([0.79]), known, as_fix, vocabulary, CUES) is None
    assert _existing_match("Batch balancing", np.array([0.79]), known, as_fix, vocabulary, CUES)[0] == "mit:pack"
    # a name ending in a neutral term of the field ("KL divergence") is no failure's name
    kl, kl_vocabulary = _one_name("kl penalty", "mit:kl")
    assert _existing_match("Per-token KL divergence", np.array([0.8]), kl, as_fix, kl_vocabulary, CUES)[0] == "mit:kl"


@functools.cache
def _shipped_index():
    from kb.extract.concepts import alias_index, curated_concepts
    from kb.taxonomy import Curation, load_taxonomy

    return alias_index(curated_concepts(load_taxonomy(REPO / "data" / "taxonomy.yaml"), Curation()), CUES)


def _named(text: str) -> set[str]:
    """Concepts the shipped taxonomy names in `text` by a strong alias."""
    return {h.concept_id for h in _shipped_index().find(text) if not h.weak}


def test_a_library_setting_named_in_prose_ties_the_fix_it_sets():
    assert "mit:entropy-regularization" in _named("We raised entropy_coeff to 0.01 after step 300.")
    assert "mit:gradient-clipping" in _named("Setting max_grad_norm to 1.0 removed the spikes.")
    # a setting that can move either way ties the fix only when the sentence moves it that way
    assert "mit:longer-max-length" in _named("Increase max_response_length so answers are not cut off.")
    assert "mit:shorter-max-length" in _named("We reduced max_response_length to fit in memory.")
    assert "mit:longer-max-length" not in _named("We reduced max_response_length to fit in memory.")


def test_a_reward_too_sparse_to_learn_from_is_not_a_reward_that_is_always_zero():
    coarse = _named("The all-or-nothing reward gave no partial credit, so learning stalled.")
    assert "fm:sparse-binary-reward" in coarse and "fm:no-foothold" not in coarse
    assert "fm:sparse-binary-reward" in _named("Rewards were too sparse for the small model.")
    never = _named("Every rollout scores zero: the reward is always zero on these puzzles.")
    assert "fm:no-foothold" in never and "fm:sparse-binary-reward" not in never


def test_a_slow_weight_sync_is_not_a_broken_one_and_the_fixes_differ():
    slow = _named("Each step we spent most of the time reloading the weights from disk into the sampler.")
    assert "fm:slow-weight-sync" in slow and "fm:weight-sync-errors" not in slow
    stale = _named("Rollouts kept coming from stale weights after the refit failure.")
    assert "fm:weight-sync-errors" in stale and "fm:slow-weight-sync" not in stale
    assert "mit:fast-weight-transfer" in _named("We moved to bucketed weight updates over an NCCL broadcast.")
    assert "mit:weight-sync-checks" not in _named("We moved to bucketed weight updates over an NCCL broadcast.")


def test_systems_costs_of_rl_are_their_own_failures():
    assert "fm:colocated-memory-contention" in _named("The engine holds GPU memory, so we hit OOM when switching to training.")
    assert "mit:inference-memory-settings" in _named("Calling torch_memory_saver frees the cache before the update.")
    assert "fm:reward-computation-bottleneck" in _named("Slow test execution in the sandbox left the GPUs waiting for rewards.")
    assert "mit:parallel-reward-computation" in _named("A pool of sandboxes scores rollouts as they finish.")
    assert "fm:checkpoint-conversion-errors" in _named("A weight name mismatch after the Megatron to HF conversion went unnoticed.")


def test_a_reward_models_taste_for_formatting_is_its_own_bias():
    fmt = _named("The reward model rewards markdown: a preference for bullet points beat correct prose.")
    assert "fm:format-bias" in fmt and "fm:verbosity-hacking" not in fmt
    assert "mit:counterfactual-rm-data" in _named("We added counterfactual pairs that differ only in format.")


def test_preference_data_skew_a_weak_start_and_forgotten_instructions_are_named():
    skew = _named("Three quarters of the pairs had one label, an imbalanced dataset the DPO model learned.")
    assert "fm:preference-data-imbalance" in skew
    assert "mit:data-rebalancing" in _named("We balanced the dataset by downsampling the majority label.")
    assert "mit:hard-negative-mining" in _named("Hard negative mining gave rejected answers one step from right.")
    assert "fm:weak-base-model" in _named("The weak base model never wrote a long chain of thought under RL.")
    assert "fm:weak-base-model" not in _named("We used a smaller model to iterate faster.")   # a choice, no failure
    assert "fm:instruction-forgetting" in _named("By the fourth turn the chat model forgets the system prompt.")
    assert "mit:context-distillation" in _named("Ghost Attention kept the persona through a long dialogue.")


def test_a_methods_acronym_before_a_known_name_is_that_concept_in_the_methods_setting():
    known = ConceptVectors(["zeta KL controller", "Zeta penalty"], ["mit:zkl", "mit:zp"], np.zeros((2, 384), dtype=np.float32))
    assert known.qualified_by_method("PPO-zeta KL controller", CUES) == "mit:zkl"
    assert known.qualified_by_method("GRPO zeta penalty", CUES) == "mit:zp"
    assert known.qualified_by_method("zeta penalty", CUES) is None          # nothing dropped: matched elsewhere
    assert known.qualified_by_method("XYZQ zeta penalty", CUES) is None     # not a method of the field
    assert known.qualified_by_method("PPO objective", CUES) is None
    vocabulary = {c: content_stems(n, CUES) for n, c in zip(known.names, known.owners)}
    as_fix = np.array([0.02, 0.9, 0.08])
    # without the rule the method's acronym, which no name of the concept holds, keeps the two apart
    assert _existing_match("PPO-zeta KL controller", np.array([0.8, 0.3]), known, as_fix, vocabulary, CUES)[0] == "mit:zkl"


def test_a_shortened_name_moving_the_other_way_is_not_part_of_that_name():
    names = ["weaker zeta regularization", "lower zeta coefficient"]
    known = ConceptVectors(names, ["mit:weak-zeta", "mit:weak-zeta"], np.zeros((2, 384), dtype=np.float32))
    stems = NameStems.of(names, CUES)
    as_fix = np.array([0.05, 0.9, 0.05])
    sims = np.array([0.9, 0.6])
    assert _part_of_name("zeta regularization", sims, known, stems, as_fix, CUES) is None   # says no way: "drops" it
    assert _part_of_name("weaker zeta regularization", sims, known, stems, as_fix, CUES)[0] == "mit:weak-zeta"
    assert _part_of_name("stronger zeta regularization", sims, known, stems, as_fix, CUES) is None


def test_concept_names_are_embedded_in_the_same_order_in_every_process():
    """Two concepts may share a name; which one a phrase meets first must not depend on the process's string
    hashing, or two builds of one corpus differ."""
    import subprocess
    import sys

    script = ("import numpy as np\n"
              "from kb.extract.resolve import concept_vectors\n"
              "from kb.taxonomy import Concept\n"
              "c = [Concept(id='mit:a', label='Alpha fix', description='d', aliases=['panel of zetas', 'beta one',"
              " 'gamma two', 'delta three']), Concept(id='mit:b', label='Beta fix', description='d', aliases=["
              "'panel of zetas', 'epsilon four'])]\n"
              "v = concept_vectors(c, lambda names: np.zeros((len(names), 384), dtype=np.float32))\n"
              "print(list(zip(v.names, v.owners)))\n")
    runs = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                           env={**__import__("os").environ, "PYTHONHASHSEED": str(seed)}).stdout
            for seed in (1, 2, 3, 4)}
    assert len(runs) == 1, runs


def test_three_concepts_named_in_passing_need_the_fields_words_too():
    """An evaluation write-up names decontamination, greedy decoding and a token limit while hardly speaking of
    RL training; the same names beside a little of the field's vocabulary make an RL page."""
    index = build_alias_index([("mit:decon", ["decontamination"], []), ("mit:greedy", ["greedy decoding"], []),
                               ("fm:trunc", ["token limit"], [])])
    words = " ".join(["The benchmark suite covers five datasets and reports accuracy per dataset."] * 20)
    page = ("# Baseline evaluation\n\nThis is the baseline before RLHF. We ran decontamination against every test "
            "set. {extra}Scores use greedy decoding, and few answers reach the token limit. " + words + "\n")
    quiet = _relevance(parse_text(page.format(extra=""), path="eval.md", fmt="md"), index)
    assert quiet.concepts_named == 3 and 0.3 <= quiet.domain_per_100_words < 0.5 and not quiet.on_topic
    rl = _relevance(parse_text(page.format(extra="The policy then trains with GRPO rollouts. "), path="rl.md",
                               fmt="md"), index)
    assert rl.domain_per_100_words >= 0.5 and rl.on_topic


def test_a_name_takes_one_qualifier_of_the_writers_own_inside_it():
    index = build_alias_index([("fm:tests", ["deleting tests"], []), ("mit:kl", ["increase KL"], []),
                               ("mit:dyn", ["dynamic filtering"], [])],
                              inserted_words=CUES.inserted_words, joining_words=CUES.connecting_words,
                              direction_words=CUES.up_words | CUES.down_words, negation_words=CUES.negation_words,
                              own_words=1)

    def found(text: str) -> list[str]:
        return [h.concept_id for h in index.find(text)]
    assert found("Does the agent delete failing tests under pressure?") == ["fm:tests"]
    assert found("We add dynamic difficulty filtering at each stage.") == ["mit:dyn"]
    assert found("It deleted the failing tests.") == ["fm:tests"]                 # with a function word too
    assert found("It deleted two failing unit tests.") == []                      # one word of its own, not three
    assert found("It deleted no tests.") == []                                    # a negation is no qualifier
    assert found("Higher mismatch KL than before.") == []                         # "increase KL" moves a setting
    assert found("see docs/filtering") == [] and found("dynamic_batch_filtering") == []


def test_an_open_ended_alias_is_embedded_as_a_whole_word_of_the_taxonomy():
    """A concept's "KL regulari*" is embedded as "KL regularization" so a document's "KL divergence-based
    regularization" finds it; a stem completes to an inflection of its own word ("explo" to "explosion", never
    "exploration"), preferring the concept's own words."""
    from kb.extract.resolve import _word_completer
    from kb.taxonomy import Concept
    kl = Concept(id="mit:kl", label="KL penalty", description="Penalize KL regularization strength.",
                 aliases=["KL regulari*"])
    spikes = Concept(id="fm:spikes", label="Gradient spikes", description="A gradient explosion ruins the step.",
                     aliases=["gradient norm explo*", "grad explod*"])
    explore = Concept(id="fm:explore", label="Exploration collapse", description="Exploration stops; exploration "
                      "was the point of exploration bonuses.", aliases=["exploring less"])
    complete = _word_completer([kl, spikes, explore])
    assert complete("KL regulari*", kl) == "KL regularization"
    assert complete("gradient norm explo*", spikes) == "gradient norm explosion"
    assert complete("grad explod*", spikes) == "grad explod"   # no inflection of "explod" anywhere: left as it is
    assert complete("KL penalty", kl) == "KL penalty"


def test_a_page_whose_title_names_a_failure_is_about_it_even_a_general_one():
    index = build_alias_index([("fm:oom", ["out of memory", "OOM"], []), ("mit:ckpt", ["gradient checkpointing"], [])])
    general = frozenset({"fm:oom", "mit:ckpt"})
    body = ("Set the token budget per micro-batch to the longest prompt plus the longest answer. Turn on gradient "
            "checkpointing in the actor section of the config file. Split the model over more devices with tensor "
            "parallelism, at some cost in speed. Lower the static memory fraction of the serving engine so the "
            "sampler leaves headroom while rollouts are in flight. Stream the optimizer state layer by layer when "
            "it lives on the host. Load the checkpoint shard by shard so no device holds it whole.\n")
    page = parse_text(f"# Handling OOM errors\n\n{body}", path="oom.md", fmt="md")
    verdict = _relevance(page, index, general)
    assert verdict.concepts_named == 0 and not verdict.names_failure and verdict.domain_per_100_words >= 0.5
    assert verdict.on_topic                                      # the title names the failure the page is about
    renamed = parse_text(f"# Memory settings\n\n{body}", path="mem.md", fmt="md")
    assert not _relevance(renamed, index, general).on_topic      # the same page under a neutral title
    elsewhere = parse_text("# Handling OOM errors\n\nSet the tile size of the image decoder to half the default. "
                           "Turn on activation recomputation in the config file. Load the weights shard by shard so no "
                           "device holds them whole. Split the model over more devices with tensor parallelism.\n",
                           path="img.md", fmt="md")
    assert not _relevance(elsewhere, index, general).on_topic    # ... and none of the field's words


def test_a_page_barely_in_the_field_naming_a_failure_in_passing_is_judged_by_meaning():
    index = build_alias_index([("fm:format", ["format errors"], []), ("mit:greedy", ["greedy decoding"], [])])
    guide = ("# Prompting the board-game model\n\nThe model was tuned with a policy trained against a reward for "
             "legal moves. Each prompt gives the position, the last moves and the side to move. The answer holds a "
             "move, an evaluation and the best reply. Most format errors come in the first two moves of a game. "
             "Use greedy decoding for openings, where sampling drifts. Keep the history to the last ten moves. "
             "Parse the answer with the helper in the examples folder and check the move is legal. The environment "
             "prompt also returns whether the episode ended. Batch prompts of similar length for speed. Longer "
             "histories help in the middle game. The examples folder has a full self-play loop. A second script "
             "plays against a fixed engine and logs the result of each game to a table.{tail}\n")
    verdict = _relevance(parse_text(guide.format(tail=""), path="guide.md", fmt="md"), index)
    assert 1.5 <= verdict.domain_per_100_words < 3.0 and verdict.concepts_named == 2
    assert not verdict.on_topic and verdict.tentative and needs_second_look(verdict)
    troubled = guide.format(tail=" A known issue is that the policy collapses to one opening. Another bug drops "
                                 "the reward of the last move. The problem grows when the reward is sparse.")
    assert _relevance(parse_text(troubled, path="t.md", fmt="md"), index).on_topic   # a page about what goes wrong


def test_second_look_lets_a_troubled_page_naming_an_rl_failure_sit_nearer_the_general_definitions():
    from kb.extract.clean import claim_sentences as sentences
    from kb.extract.relevance import TopicCentroids, with_topic_similarity

    general, specific = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    centroids = TopicCentroids(all=np.array([0.6, 0.8, 0.0]), specific=specific, general=general)
    page_vector = np.array([0.8, 0.55, 0.24])      # cosine 0.92 with the centroid, nearer the general definitions
    claims = sentences(parse_text("# Notes\n\nTrainer and sampler disagree on token probabilities.\n", path="n.md",
                                  fmt="md"), CUES)

    def embed(texts):
        return np.tile(page_vector, (len(texts), 1))

    base = Relevance(0.4, 3, False, names_failure=True)
    assert not with_topic_similarity(base, claims, centroids, embed).on_topic
    assert with_topic_similarity(replace(base, talks_of_trouble=True), claims, centroids, embed).on_topic
    unnamed = Relevance(0.4, 3, False, names_failure=False, talks_of_trouble=True)
    assert not with_topic_similarity(unnamed, claims, centroids, embed).on_topic


def test_a_page_in_the_fields_words_that_keeps_talking_of_trouble_about_a_general_failure_is_about_it():
    index = build_alias_index([("fm:oom", ["out of memory"], [])])
    general = frozenset({"fm:oom"})
    page = ("# Sampler memory\n\nThe policy and the rollout sampler share each GPU during GRPO training. {a} The "
            "sampler reserves its cache before the policy loads its optimizer state, and the reward model runs "
            "between them. {b} Rollouts of long answers need the most cache. {c}\n")
    troubled = page.format(a="The sampler runs out of memory at the first rollout, a known issue.",
                           b="Fragmented memory is the root cause of the crash.",
                           c="A second bug leaks cache after each policy update.")
    verdict = _relevance(parse_text(troubled, path="t.md", fmt="md"), index, general)
    assert verdict.concepts_named == 0 and not verdict.names_failure and verdict.domain_per_100_words >= 1.5
    assert verdict.on_topic
    calm = page.format(a="The sampler may run out of memory at the first rollout.", b="", c="")
    assert not _relevance(parse_text(calm, path="c.md", fmt="md"), index, general).on_topic   # no talk of trouble


def test_a_page_speaking_only_the_words_machine_learning_shares_with_the_field_is_judged_by_meaning():
    from kb.extract.relevance import TopicCentroids, with_topic_similarity

    index = build_alias_index([("fm:overfit", ["overfitting"], []), ("fm:oom", ["out of memory"], [])])
    page = ("# Lessons from fine-tuning\n\nFull fine-tuning beat adapter fine-tuning on the test set. {a} Overfitting "
            "to the worked-solution style hurt the {b} accuracy, a real problem. The adapter run failed with out of "
            "memory errors until gradient checkpointing was on; that bug cost a day. Gradient accumulation fixed "
            "the second issue, and fine-tuning for fewer epochs fixed the overfitting.\n")
    supervised_page = parse_text(page.format(a="", b="held-out"), path="s.md", fmt="md")
    supervised = _relevance(supervised_page, index)
    assert supervised.names_failure and supervised.talks_of_trouble and not supervised.own_words
    assert supervised.domain_per_100_words == 0.0 and not supervised.on_topic
    rl = _relevance(parse_text(page.format(a="The GRPO stage came next.", b="policy's"), path="r.md", fmt="md"), index)
    assert rl.own_words and rl.domain_per_100_words > 0 and rl.on_topic

    # without the field's own words meaning does not rescue it, however near it sits: no second look at all
    general, specific = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    centroids = TopicCentroids(all=np.array([0.6, 0.8, 0.0]), specific=specific, general=general)

    def embed(texts):   # cosine 0.92 with the centroid, nearer the RL-specific definitions
        return np.tile(np.array([0.55, 0.8, 0.24]), (len(texts), 1))

    claims = claim_sentences(supervised_page, CUES)
    assert not needs_second_look(supervised)
    assert not with_topic_similarity(supervised, claims, centroids, embed).on_topic
    saying = replace(supervised, own_words=True)   # the same page saying them is judged by meaning
    assert needs_second_look(saying) and with_topic_similarity(saying, claims, centroids, embed).on_topic



def test_a_concept_only_a_heading_founds_must_come_back_in_its_documents_sentences():
    from kb.extract.resolve import Resolution, told_in_text
    from kb.taxonomy import Concept

    def founded(phrase, origin="heading"):
        concept = Concept(id=f"mit:{phrase.lower().replace(' ', '-')}", label=phrase, description=phrase, aliases=[])
        mention = Mention(phrase, "doc", 0, len(phrase), origin, "Notes", "heading" if origin == "heading" else "item")
        return concept, Resolution(mention, concept.id, "mitigation", "new", 0.9, 1.0)

    section, told, emphasised, grammar = (founded("Emergency rollback"), founded("Stale group skipping"),
                                          founded("Warmup clamp", "emphasis"), founded("Padding tokens rewarded as text"))
    labelled_concept, labelled_resolution = founded("Shadow checkpoint swap")
    labelled = (labelled_concept, replace(labelled_resolution,
                                          mention=replace(labelled_resolution.mention, hint="mitigation")))
    known = Resolution(section[1].mention, "mit:kl-penalty", "mitigation", "alias", 0.9, 0.95)
    sentences = {"doc": ["When a group is stale we skip it before the update.",
                         "The reward counted padding tokens as text until the mask was fixed."]}
    founded_all = (section, told, emphasised, grammar, labelled)
    concepts, resolutions = told_in_text([c for c, _ in founded_all], [known, *(r for _, r in founded_all)],
                                         sentences, CUES)
    assert [c.label for c in concepts] == ["Stale group skipping", "Warmup clamp", "Padding tokens rewarded as text",
                                           "Shadow checkpoint swap"]   # "Fix 2: Shadow checkpoint swap" is a fix's name
    assert section[1] not in resolutions and known in resolutions   # a section title alone founds nothing


def test_a_name_two_concepts_share_gets_one_vector_so_ties_go_by_the_taxonomys_order():
    from kb.taxonomy import Concept

    def embed(texts):
        # like a batched encoder: a text's vector drifts in its last bits with its place in the batch
        rng = np.random.default_rng(0)
        base = {t: rng.standard_normal(384) for t in sorted(set(texts))}
        return np.stack([base[t] + 1e-6 * i for i, t in enumerate(texts)]).astype(np.float32)

    concepts = [Concept(id="mit:zeta", label="Zeta schedule", description="d", aliases=["slow zeta ramp"]),
                Concept(id="mit:eta", label="Eta limit", description="d", aliases=["slow zeta ramp"])]
    known = concept_vectors(concepts, embed)
    shared = [i for i, name in enumerate(known.names) if name == "slow zeta ramp"]
    assert [known.owners[i] for i in shared] == ["mit:zeta", "mit:eta"]
    assert np.array_equal(known.matrix[shared[0]], known.matrix[shared[1]])
    assert known.owners[int(np.argmax(known.matrix @ known.matrix[shared[1]]))] == "mit:zeta"


def test_a_new_concepts_description_is_its_sentence_without_markdown():
    from kb.extract.resolve import _new_concepts
    from kb.text import Sentence

    sentence = Sentence("**Zeta drift:** the [policy](https://example.org) keeps `zeta` rising.", 0, 70)
    mention = Mention("Zeta drift", "doc", 0, 10, "lead", "Notes", "item", "failure_mode", sentence)
    _, concepts = _new_concepts([(mention, "failure_mode", 0.9)], np.ones((1, 384), dtype=np.float32),
                                {"Zeta drift": 0}, CUES)
    assert [c.description for c in concepts] == ["Zeta drift: the policy keeps zeta rising."]


def test_a_lone_word_is_no_shortened_name():
    known = ConceptVectors(["zeta failure", "training instability"], ["fm:zeta", "fm:unstable"],
                           np.zeros((2, 384), dtype=np.float32))
    stems = NameStems.of(known.names, CUES)
    as_failure = np.array([0.9, 0.05, 0.05])
    sims = np.array([0.7, 0.7])
    assert _part_of_name("Zeta", sims, known, stems, as_failure, CUES) is None   # a modifier of the name alone
    assert _part_of_name("Loss instability", sims, known, stems, as_failure, CUES)[0] == "fm:unstable"


def test_talk_of_trouble_does_not_count_neutral_terms_or_a_setup_option_as_a_name():
    from kb.extract.relevance import problem_sentences

    assert problem_sentences(["Runs log to Weights & Biases by project and group."], CUES) == 0
    assert problem_sentences(["Runs log to Weights and Biases; explained variance is plotted."], CUES) == 0
    assert problem_sentences(["A length bias shows up in the logged rewards."], CUES) == 1
    # a file name in code or a link's target, and a project's build "artifacts", talk of no trouble
    assert problem_sentences(["[`data_leakage_audit.json`](reports/data_leakage_audit.json) records the splits.",
                              "The last command validates the comparison artifacts."], CUES) == 0
    assert problem_sentences(["The audit found label leakage between the splits."], CUES) == 1
    assert not alias_shaped("Optional zeta sampling", CUES)    # a setup option, not a fix
    assert alias_shaped("Zeta sampling", CUES)
