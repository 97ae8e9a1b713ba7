"""Extraction: typed nodes and edges with provenance, from tiny corpora built in fixtures and from the seeds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kb.extract import extract_graph
from kb.extract.classify import load_classifier
from kb.extract.cues import load_cues
from kb.parse import read_corpus
from kb.taxonomy import Curation, load_curation, load_taxonomy
from kb.vectors import VectorCache

REPO = Path(__file__).resolve().parents[1]
TAXONOMY = load_taxonomy(REPO / "data" / "taxonomy.yaml")
CURATION = load_curation(REPO / "data" / "curation.yaml")
CUES = load_cues(REPO / "data" / "cues.yaml")
CLASSIFIER = load_classifier(REPO / "data" / "models" / "concept_classifier.json")


@pytest.fixture(scope="module")
def vectors(built_data_dir):
    """Phrase vectors through the real model (the session build's ONNX export), cached for this module."""
    from kb.embed import OnnxEncoder, ensure_onnx_model

    return VectorCache(None, lambda: OnnxEncoder.load(ensure_onnx_model(built_data_dir / ".cache")))


@pytest.fixture()
def extract(vectors):
    def run(corpus: Path, curation: Curation | None = None):
        read = read_corpus(corpus)
        assert read.warnings == []
        x = extract_graph(read.documents, TAXONOMY, curation or Curation(), cues=CUES, classifier=CLASSIFIER,
                          embed=vectors.embed)
        return read.documents, x
    return run


def _write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


POST = """---
id: tiny-post
kind: post
title: A tiny post
---
# A tiny post

Intro paragraph about training language models with reinforcement learning.

## Reward hacking

The policy found a loophole in the unit tests and passed them without fixing the code.
The run lasted three days on eight accelerators.
To avoid this, design environments that are harder to hack with hidden tests.
"""

EPISODE = """---
id: e900
kind: episode
title: A fictional episode
episode: E900
paper: "2699.00001"
---
# A fictional episode

## About

This fictional study measures that 40% of rollouts in a group get the same reward on hard prompts.
"""

def _grpo_notes(root: Path, doc_id: str, setup: str, body: str) -> None:
    """Write a short post about a GRPO run trained against `setup`, whose body after the opening is `body`."""
    _write(root, f"{doc_id}.md", f"---\nid: {doc_id}\nkind: post\ntitle: Notes on a GRPO run\n---\n"
           f"# Notes on a GRPO run\n\nWe trained the policy with GRPO against {setup} and a KL penalty to the "
           f"reference.\n\n{body}")


def test_tiny_corpus_gives_typed_nodes_and_edges_with_exact_quotes(tmp_path, extract):
    _write(tmp_path, "post.md", POST)
    _write(tmp_path, "episodes/E900.md", EPISODE)
    docs, x = extract(tmp_path)
    texts = {d.id: d.text for d in docs}

    kinds = {n.kind for n in x.nodes.values()}
    assert {"source", "claim", "evidence", "failure_mode", "mitigation", "paper"} <= kinds
    loophole = next(n for n in x.nodes.values() if n.kind == "claim" and "loophole" in n.text)
    about = {(e.v, e.provenance.asserted_by) for e in x.edges if e.u == loophole.id and e.kind == "about"}
    assert ("fm:reward-hacking", "rule:alias") in about
    # a sentence under the "Reward hacking" heading is about it only where it names it, not by its place
    aside = next(n for n in x.nodes.values() if n.kind == "claim" and "three days" in n.text)
    assert not [e for e in x.edges if e.u == aside.id and e.kind == "about"]

    fix = [e for e in x.edges if e.kind == "mitigates" and e.u == "mit:hard-to-hack-environments" and e.provenance.source_id == "tiny-post"]
    assert [e.v for e in fix] == ["fm:reward-hacking"]
    assert fix[0].provenance.quote == "To avoid this, design environments that are harder to hack with hidden tests."

    measured = next(n for n in x.nodes.values() if n.kind == "evidence")
    assert measured.attrs["source_id"] == "e900" and "40%" in measured.text
    assert ("src:e900", "paper:e900", "cites") in {(e.u, e.v, e.kind) for e in x.edges}
    assert x.nodes["paper:e900"].attrs["arxiv"] == "2699.00001"

    for edge in x.edges:
        p = edge.provenance
        assert p.asserted_by and p.quote
        if p.start is not None and p.source_id in texts:
            assert texts[p.source_id][p.start:p.end] == p.quote, edge


def test_unseen_posts_tie_their_failure_modes_and_fixes(tmp_path, extract):
    shutil.copytree(REPO / "tests" / "fixtures" / "unseen", tmp_path / "corpus")
    _, x = extract(tmp_path / "corpus")

    def tied(source: str, kind: str) -> set[str]:
        ends = {e.v for e in x.edges if e.kind == "about" and e.provenance.source_id == source}
        return {n for n in ends if x.nodes[n].kind == kind}

    # Headings the taxonomy knows under other names are canonicalized onto it, with the phrase as an alias.
    post = tied("length-exploitation-post", "failure_mode")
    assert {"fm:verbosity-hacking", "fm:sycophancy"} <= post or {"fm:length-bias", "fm:judge-bias"} & post
    assert "fm:entropy-collapse" in tied("more-ways", "failure_mode")
    assert "Verifier false positives".lower() in {a.lower() for n in tied("more-ways", "failure_mode")
                                                  for a in [x.nodes[n].label, *x.nodes[n].attrs["aliases"]]}
    fixes = {(e.u, e.v) for e in x.edges if e.kind == "mitigates" and e.provenance.source_id == "more-ways"}
    assert ("mit:clip-higher", "fm:entropy-collapse") in fixes
    remedy = next(e for e in x.edges if e.kind == "mitigates" and (e.u, e.v) == ("mit:clip-higher", "fm:entropy-collapse")
                  and e.provenance.source_id == "more-ways")
    assert "upper clip range" in remedy.provenance.quote
    cited = {(e.u, e.v) for e in x.edges if e.kind == "cites" and e.u == "src:length-exploitation-post"}
    assert ("src:length-exploitation-post", "paper:e009") in cited


def test_seed_corpus_covers_failure_modes_mitigations_citations_and_disagreement(extract):
    docs, x = extract(REPO / "data" / "corpus", CURATION)
    texts = {d.id: d.text for d in docs}

    def quoted_sources(fm):
        return {e.provenance.source_id for e in x.edges if e.kind == "about" and e.v == fm}

    for fm in ("fm:no-foothold", "fm:reward-hacking", "fm:overfitting"):
        assert "obvious-ways-rl-can-fail" in quoted_sources(fm), fm
    assert "the-real-issue-isnt-rl" in quoted_sources("fm:evaluation-blind-spots")
    for fm in ("fm:reasoning-collapse", "fm:exploration-collapse", "fm:premature-confidence", "fm:exploration-hacking",
               "fm:silent-library-bugs", "fm:capability-narrowing"):
        assert "rl-and-reasoning" in quoted_sources(fm), fm

    seed_mitigations = {
        ("mit:partial-credit", "fm:no-foothold"), ("mit:hard-to-hack-environments", "fm:reward-hacking"),
        ("mit:objective-specification", "fm:reward-hacking"), ("mit:task-distribution", "fm:overfitting"),
        ("mit:curriculum", "fm:overfitting"), ("mit:reward-variance-filter", "fm:reasoning-collapse"),
        ("mit:exploration-interleaving", "fm:exploration-collapse"),
    }
    mitigates = {(e.u, e.v) for e in x.edges if e.kind == "mitigates"}
    assert seed_mitigations <= mitigates
    corpus_backed = {(e.u, e.v) for e in x.edges if e.kind == "mitigates" and e.provenance.source_id != "taxonomy"}
    assert ("mit:hard-to-hack-environments", "fm:reward-hacking") in corpus_backed

    topic = next(d for d in docs if d.id == "rl-and-reasoning")
    import re

    cited_episodes = set(re.findall(r"\bE\d{3}\b", topic.text))
    assert len(cited_episodes) == 15
    for ep in cited_episodes:
        paper = x.nodes[f"paper:{ep.lower()}"]
        assert paper.attrs["episode"] == ep and re.fullmatch(r"\d{4}\.\d{5}", paper.attrs["arxiv"])
        assert any(e.kind == "cites" and e.u == "src:rl-and-reasoning" and e.v == paper.id for e in x.edges)

    debate = [e for e in x.edges if e.kind in ("contradicts", "qualifies")
              and e.provenance.source_id != e.attrs.get("target_source_id")]
    pairs = {(e.provenance.source_id, e.attrs["target_source_id"]) for e in debate}
    assert ("rl-and-reasoning", "the-real-issue-isnt-rl") in pairs
    for e in debate:
        assert e.attrs["target_quote"] and e.provenance.quote
        assert texts[e.attrs["target_source_id"]][e.attrs["target_start"]:e.attrs["target_end"]] == e.attrs["target_quote"]
    auto = [e for e in debate if e.provenance.asserted_by.startswith("rule:debate")]
    assert auto, "the stance rule should find disagreements without the curation file"


def test_lost_terms_still_split_and_extract(extract):
    _, x = extract(REPO / "data" / "corpus", CURATION)
    lost = [n for n in x.nodes.values() if n.kind in ("claim", "evidence") and n.text.startswith("A revisionist consensus has formed about RL on .")]
    assert len(lost) == 1
    assert lost[0].text == "A revisionist consensus has formed about RL on ."


def test_curation_adds_and_retracts(tmp_path, extract):
    _write(tmp_path, "post.md", POST)
    curation = Curation.model_validate({
        "edges": [{"kind": "supports", "u": {"source": "tiny-post", "quote": "found a loophole"},
                   "v": {"source": "tiny-post", "quote": "harder to hack"}, "note": "same section"}],
        "retract": [{"kind": "mitigates", "u": "mit:kl-penalty", "v": "fm:reward-hacking"}],
    })
    _, x = extract(tmp_path, curation)
    supports = [e for e in x.edges if e.kind == "supports" and e.provenance.asserted_by == "curated"]
    assert len(supports) == 1 and supports[0].attrs["note"] == "same section"
    assert not any(e.kind == "mitigates" and e.u == "mit:kl-penalty" and e.v == "fm:reward-hacking" for e in x.edges)
    missing = Curation.model_validate({"edges": [{"kind": "supports", "u": "fm:nope", "v": "fm:reward-hacking"}]})
    _, y = extract(tmp_path, missing)
    assert y.warnings == ["curation: cannot find fm:nope; edge skipped"]


def test_extraction_is_deterministic(vectors):
    docs = read_corpus(REPO / "data" / "corpus").documents
    kwargs = {"cues": CUES, "classifier": CLASSIFIER, "embed": vectors.embed}
    a = extract_graph(docs, TAXONOMY, CURATION, **kwargs)
    b = extract_graph(list(docs), TAXONOMY, CURATION, **kwargs)
    assert list(a.nodes) == list(b.nodes) and a.edges == b.edges


@pytest.mark.parametrize("bad", ["failure_modes: 3", "failure_modes: [{id: fm:x}]"])
def test_invalid_taxonomy_is_a_one_line_error(tmp_path, bad):
    from kb.errors import KBError

    path = tmp_path / "taxonomy.yaml"
    path.write_text(bad + "\nmitigations: []\n", encoding="utf-8")
    with pytest.raises(KBError) as err:
        load_taxonomy(path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


@pytest.mark.parametrize(("mitigations", "message"), [
    ("[{id: fm:x, label: Y, description: Again.}]", "the id fm:x is used twice"),
    ("[{id: mit:y, label: Y, description: A fix., mitigates: [fm:nope]}]", "mit:y mitigates fm:nope, which is no failure mode here"),
])
def test_an_id_used_twice_or_a_fix_of_an_unknown_failure_is_a_one_line_error(tmp_path, mitigations, message):
    from kb.errors import KBError

    path = tmp_path / "taxonomy.yaml"
    path.write_text(f"failure_modes: [{{id: fm:x, label: X, description: A failure.}}]\nmitigations: {mitigations}\n",
                    encoding="utf-8")
    with pytest.raises(KBError) as err:
        load_taxonomy(path)
    assert str(err.value) == f"{path}: {message}"


def test_a_key_written_twice_under_a_concept_is_an_error_naming_its_line(tmp_path):
    from kb.errors import KBError

    path = tmp_path / "taxonomy.yaml"
    path.write_text("failure_modes:\n  - id: fm:x\n    label: X\n    description: A failure.\n"
                    "    weak_aliases: [first]\n    aliases: [x]\n    weak_aliases: [second]\nmitigations: []\n",
                    encoding="utf-8")
    with pytest.raises(KBError, match="duplicate key 'weak_aliases' at line 7") as err:
        load_taxonomy(path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)
    path.write_text(path.read_text(encoding="utf-8").replace("    weak_aliases: [second]\n", ""), encoding="utf-8")
    assert load_taxonomy(path).failure_modes[0].weak_aliases == ["first"]


def _judged_by_meaning(vectors, *docs):
    """Each document's (first verdict, verdict after the second look by meaning) against the shipped taxonomy."""
    from kb.extract.clean import claim_sentences
    from kb.extract.concepts import alias_index, curated_concepts
    from kb.extract.relevance import judge_relevance, topic_centroids, with_topic_similarity

    concepts = curated_concepts(TAXONOMY, Curation())
    index = alias_index(concepts, CUES)
    general = frozenset(c.id for c in concepts if c.general)
    centroids = topic_centroids([f"{c.label}: {c.description}" for c in concepts if not c.general],
                                [f"{c.label}: {c.description}" for c in concepts if c.general], vectors.embed)
    verdicts = {}
    for doc in docs:
        claims = claim_sentences(doc, CUES)
        first = judge_relevance(doc, [index.find(c.sentence.text) for c in claims], claims, CUES, index, general)
        verdicts[doc.path] = (first, with_topic_similarity(first, claims, centroids, vectors.embed))
    return verdicts


def test_relevance_second_look_by_meaning_admits_practice_notes_and_not_unrelated_posts(vectors):
    from kb.extract.relevance import MIN_TOPIC_SIMILARITY
    from kb.parse import parse_text

    practice = parse_text(
        "# What went wrong in our post-training runs\n\nTwo runs of one recipe with different seeds ended four "
        "points apart on a math benchmark, so a single run of a language model says little. Every week the model "
        "wrote more while human raters liked its answers less. Catastrophic forgetting showed up as a drop "
        "in trivia accuracy after the last stage. The reward model kept preferring the tuned model even when people "
        "disagreed. We now repeat each evaluation three times, sweep the learning rate, and stop training when "
        "the held-out scores turn down.\n", path="practice.md", fmt="md")
    loader = parse_text(
        "# Loading a large dataset\n\nThe library memory-maps each file, so opening a table of a billion rows "
        "takes a second. Shuffling a stream keeps a buffer of examples and draws from it at random. Caching the "
        "processed columns saves minutes on the second run. Catastrophic forgetting is not something a data "
        "loader can cause, but a wrong split can leak test rows into training. Filter and map calls run in "
        "parallel over shards.\n", path="loader.md", fmt="md")
    # Close to the field by meaning and naming two concepts, but about machine learning at large (serving):
    # nearer the taxonomy's general definitions than its RL-specific ones, so still turned away.
    serving = parse_text(
        "# Making generation faster on one accelerator\n\nA small draft model proposes several tokens and the "
        "large model checks them in one forward pass, so decoding a long answer takes fewer sequential steps. When "
        "the large model disagrees with a proposed token, the rest of the draft is thrown away and sampling resumes "
        "from the large model's own distribution. The acceptance rate depends on how closely the draft model's "
        "distribution matches the target model's, measured by the KL divergence between the two. Keeping the "
        "key-value cache in half precision halves its memory and lets larger batches fit. Quantized weights speed "
        "up memory-bound decoding further, though a poorly calibrated scale causes numerical precision errors in "
        "rare layers. Continuous batching keeps the accelerator busy when requests finish at different times. A "
        "tuned chat model must be served with the same chat template and tokenizer it was trained with, or its "
        "outputs degrade. Serving several fine-tuned variants at once shares the base weights across requests.\n",
        path="serving.md", fmt="md")
    verdicts = _judged_by_meaning(vectors, practice, loader, serving)
    for path, (first, _) in verdicts.items():
        assert not first.on_topic   # all fail the vocabulary test
        assert first.concepts_named == 1 if path != "serving.md" else first.concepts_named >= 1
    assert verdicts["practice.md"][1].on_topic and verdicts["practice.md"][1].topic_similarity >= MIN_TOPIC_SIMILARITY
    # the loader page says none of the field's own words: meaning is not asked
    assert not verdicts["loader.md"][1].on_topic and verdicts["loader.md"][1].topic_similarity is None
    assert verdicts["serving.md"][1].topic_similarity >= MIN_TOPIC_SIMILARITY and not verdicts["serving.md"][1].on_topic


def test_a_guide_to_grading_with_a_model_judge_that_trains_nothing_is_not_rescued_by_meaning(vectors):
    from kb.parse import parse_text

    # An evaluation tool's guide to scoring answers with a language-model judge: it names judge bias, length bias
    # and prompt injection and talks of trouble throughout, sits near the field by meaning, but says "trained"
    # once in a long page and none of the field's own words.
    rubric = " ".join(["Each rubric line names one property and the points it is worth, and the judge returns a "
                       "score with a short reason for every line."] * 25)
    guide = parse_text(
        "# Grading answers with a model judge\n\nA second model reads each answer and scores it against a rubric. "
        "Judge bias is the first problem: the grading model prefers answers that sound like its own. Length bias "
        "is the second issue, since a longer answer often gets a higher score without being more correct. Position "
        "bias is another problem when two answers are compared side by side. Prompt injection in an answer can "
        "tell the judge to give full marks, a real risk when users write the answers. A judge that was trained "
        "on a different domain grades specialist answers poorly. Swap the order of compared answers and average "
        "the two scores, and check a sample of grades by hand every week.\n\n## Writing a rubric\n\n" + rubric
        + "\n", path="judge-guide.md", fmt="md")
    first, second = _judged_by_meaning(vectors, guide)["judge-guide.md"]
    assert first.concepts_named >= 2 and first.names_failure and first.talks_of_trouble and first.trains
    assert not first.own_words
    assert not first.on_topic and not second.on_topic and second.topic_similarity is None   # no second look


def test_a_long_page_saying_one_of_the_fields_words_once_in_its_everyday_sense_does_not_speak_the_field(vectors):
    from kb.parse import parse_text

    # A long page on finding test questions in a pretraining corpus: it names contamination, leakage and a fix,
    # and talks of trouble, but of language models at large; its one word of the field is "advantages" in the
    # everyday sense.
    method = " ".join(["Each test item is rewritten five times by a separate model and scored again."] * 30)
    leakage = parse_text(
        "# Finding leaked test questions\n\nBenchmark contamination inflates the scores of language models when "
        "test questions appear in the pretraining corpus. Benchmark leakage is hard to see because the leaked copies "
        "are often paraphrased or reformatted. The tool compares the perplexity of each test item with that of "
        "rewritten versions; a large gap suggests the model memorized the original. Decontamination by n-gram "
        "overlap misses paraphrased copies, which is the problem this method addresses. The advantages of the "
        "approach are that it needs no access to the training data and runs on any open model. Memorization of "
        "the benchmark shows up as a drop in accuracy on the rewritten questions. The failure cases are short "
        "questions, where any rewrite changes the meaning. Report the contamination check with every leaderboard "
        "score so readers can tell memorization from ability.\n\n## Method\n\n" + method + "\n", path="leakage.md", fmt="md")
    first, second = _judged_by_meaning(vectors, leakage)["leakage.md"]
    assert first.concepts_named >= 2 and first.names_failure and first.talks_of_trouble
    assert not first.own_words and first.domain_per_100_words == 0.0
    assert not first.on_topic and not second.on_topic


def test_a_page_close_by_meaning_that_names_one_fix_and_no_failure_needs_the_fields_words(vectors):
    from kb.extract.relevance import MIN_DOMAIN_FOR_SECOND_LOOK, MIN_TOPIC_SIMILARITY
    from kb.parse import parse_text

    # A decoding method for reasoning models: near the field by meaning, names one fix in a shared word
    # ("adaptive sampling") and no failure, and hardly uses the field's vocabulary.
    voting = parse_text(
        "# Self-consistency for reasoning models\n\nA reasoning model that writes one chain of thought can make a "
        "slip in an intermediate step and commit to a wrong final answer. Sampling many chains of thought and "
        "taking the answer most of them reach makes the model's reasoning more reliable without training it "
        "further. The language model's confidence in an answer can be read from how often the sampled chains "
        "agree, which gives better calibrated answers than the probability of a single greedy chain. Adaptive "
        "sampling draws chains until the agreement is clear. A verifier model can score each chain's steps and "
        "weight the vote. Longer chains of thought are not always better: on hard questions the sampled chains "
        "disagree more. Prompting the model to think step by step before answering matters as much as the "
        "number of samples.\n", path="voting.md", fmt="md")
    first, second = _judged_by_meaning(vectors, voting)["voting.md"]
    assert first.concepts_named == 1 and not first.names_failure and not first.tentative
    assert first.domain_per_100_words < MIN_DOMAIN_FOR_SECOND_LOOK
    assert second.topic_similarity >= MIN_TOPIC_SIMILARITY and not second.on_topic


def test_a_document_naming_one_fix_in_the_fields_words_is_judged_again_by_meaning(vectors):
    from kb.parse import parse_text

    # A library page about machinery that names one method in passing ...
    kernel = parse_text(
        "# Fused loss kernels in the trainers\n\nThe fused kernel computes the cross-entropy of each chunk of the "
        "vocabulary without materializing the full logits tensor, so peak memory drops by about a half on long "
        "sequences. It works with the SFT, DPO, KTO and GRPO trainers. Turn it on with one flag in the trainer "
        "config; nothing else in the training script changes. The kernel runs on recent accelerators and falls "
        "back to the plain implementation elsewhere. Throughput rises slightly because fewer tensors move between "
        "memory and the compute units. Models with large vocabularies gain the most. Chunk size trades kernel "
        "launches against the size of each temporary buffer. Profiling with the built-in timer shows where the "
        "remaining time goes.\n", path="kernel.md", fmt="md")
    # ... and a practitioner's note about one fix.
    note = parse_text(
        "# What our GRPO run taught us\n\nHalfway through the run the answers started to wander away from anything "
        "a person would write, although the rewards kept rising. We added a KL penalty against the starting policy "
        "and restarted from the last checkpoint that read well. A colleague who chatted with the model every day "
        "noticed the change long before the benchmark did. The rewards now rise more slowly and the answers stay "
        "readable.\n", path="note.md", fmt="md")
    verdicts = _judged_by_meaning(vectors, kernel, note)
    for first, _ in verdicts.values():
        assert first.tentative and first.concepts_named == 1 and not first.on_topic   # both speak the field
    assert not verdicts["kernel.md"][1].on_topic
    assert verdicts["note.md"][1].on_topic


LABELLED_LEADS = """---
id: labelled-leads
kind: post
title: Notes from a GRPO run with a reward model
---
# Notes from a GRPO run with a reward model

We trained a policy with GRPO against a learned reward model and a KL penalty to the reference policy.

- {lead} The reward model began to prefer answers that repeat its own rubric wording, and the policy learned
  to copy that wording instead of solving the task.
- The rollouts grew longer while accuracy stayed flat, and the KL penalty did not stop it.
"""


@pytest.mark.parametrize("lead, founded", [("**Failure mode: Rubric echoing.**", True),
                                           ("Rubric echoing:", False)])
def test_a_lead_term_founds_a_concept_only_when_the_writer_labels_it(tmp_path, extract, lead, founded):
    _write(tmp_path, "post.md", LABELLED_LEADS.format(lead=lead))
    _, x = extract(tmp_path)
    new = [n for n in x.nodes.values() if n.kind == "failure_mode" and n.provenance.source_id == "labelled-leads"]
    assert [n.label for n in new] == (["Rubric echoing"] if founded else [])


def test_a_fix_name_a_post_keeps_using_founds_nothing_unless_a_heading_names_it(tmp_path, extract):
    """A noun phrase a document keeps using, in bold or not, is no place where its writer names a fix (such
    concepts read blind were borderline); the same name in a section heading founds one."""
    body = ("The rewards drifted after the rubric changed mid-run. We added **rubric snapshot regularization** to the "
            "grader. With rubric snapshot regularization the rewards stopped drifting. Rubric snapshot regularization costs one "
            "extra file per run. We keep rubric snapshot regularization on for every later run.\n")
    _grpo_notes(tmp_path, "pinning", "a rubric grader", body)
    _, x = extract(tmp_path)
    assert not [n for n in x.nodes.values() if n.kind == "mitigation" and n.provenance.source_id == "pinning"]
    for heading in ("Rubric snapshot regularization", "Rubric snapshot regularization strategy"):
        # the heading names it, alone or with a word after it (then the phrase of the sentences founds it)
        _grpo_notes(tmp_path, "pinning", "a rubric grader", f"## {heading}\n\n" + body)
        _, x = extract(tmp_path)
        new = [n.label for n in x.nodes.values() if n.kind == "mitigation" and n.provenance.source_id == "pinning"]
        assert [label.lower() for label in new] == ["rubric snapshot regularization"], (heading, new)


def test_table_cells_and_setting_tweaks_found_no_concept(tmp_path, extract):
    """A troubleshooting table lists one run's or one tool's diagnoses; its "Symptom" column is no label. A
    heading that tunes one setting or tells what to redo is advice for the run, not a concept of the field."""
    table = ("## Lower grader temperature\n\nWe lowered the grader's sampling temperature for the second run.\n\n"
             "## Recompute grader cache after rubric updates\n\nThe grader cache is now rebuilt whenever the rubric "
             "changes, which removed the stale rewards.\n\n"
             "| Symptom | Likely cause | Fix |\n| --- | --- | --- |\n"
             "| Rubric echoing | The reward model prefers its own rubric wording | Paraphrase the rubric |\n"
             "| Grader saturation | Every rollout scores near the top of the grader scale | Frozen rubric snapshots |\n")
    _write(tmp_path, "post.md", LABELLED_LEADS.format(lead="**Failure mode: Rubric echoing.**") + "\n" + table)
    _, x = extract(tmp_path)
    new = {n.label for n in x.nodes.values() if n.kind in ("failure_mode", "mitigation")
           and n.provenance.source_id == "labelled-leads"}
    assert new == {"Rubric echoing"}, new   # founded by the labelled lead term only


def test_common_words_need_support_before_they_name_a_concept(tmp_path, extract):
    """"overflow", "discard" and "interleave" are everyday words in this field; alone they name no failure or
    fix ("answers scraped from Stack Overflow", "samples discarded by the filter"), but the specific names do."""
    setup = "a learned reward model"
    _grpo_notes(tmp_path, "plain-words", setup,
                "The prompts were scraped from Stack Overflow answers about Python packaging.\n\n"
                "Samples whose ratio left the band were discarded by the filter before the update.\n\n"
                "The policy learned to interleave short plans with tool calls.\n")
    _grpo_notes(tmp_path, "numerics", setup,
                "In half precision the logits hit an fp16 overflow and the loss turned into NaN values.\n")
    _grpo_notes(tmp_path, "ratios", setup,
                "For every token the trainer forms a truncated importance weight from the two policies.\n")
    _grpo_notes(tmp_path, "quantities", setup,
                "Please verify that the model in the checkpoint folder loads before the first step.\n\n"
                "We kept the reward scale at one and logged the clipfrac every ten steps.\n")
    _, x = extract(tmp_path)

    def tied(concept: str) -> list[str]:
        return [x.nodes[e.u].provenance.quote for e in x.edges
                if e.kind == "about" and e.v == concept and e.u.startswith("claim:")]
    assert tied("fm:discarded-feedback") == [] and tied("mit:exploration-interleaving") == []
    assert [q for q in tied("fm:numerical-precision") if "Stack Overflow" in q] == []
    assert any("fp16 overflow" in q for q in tied("fm:numerical-precision"))
    # a truncated importance weight is the importance-sampling fix, not a truncated generation
    assert any("truncated importance weight" in q for q in tied("mit:importance-sampling-correction"))
    assert not any("truncated importance weight" in q for q in tied("fm:truncation-runaway"))
    # a quantity, a metric or a thing named once is not the failure or fix about it
    assert not any("verify that the model" in q for q in tied("mit:verifier-improvement"))
    assert not any("reward scale" in q for q in tied("fm:reward-scale-offset"))
    assert not any("clipfrac" in q for q in tied("mit:training-monitoring"))


def test_a_label_alone_does_not_make_the_name_of_a_mechanism_a_failure(tmp_path, extract):
    """"Bug 1: Response-only loss" says the loss had a bug; the name is that of the fix (masking the prompt), so
    it founds no failure mode, though the label makes the heading a failure candidate."""
    _write(tmp_path, "postmortem.md",
           "---\nid: dpo-postmortem\nkind: post\ntitle: DPO post-mortem\n---\n# DPO post-mortem\n\n"
           "We trained the policy with DPO against preference pairs, with a KL penalty to the reference, and the "
           "reward margins never moved while the loss stayed flat for the whole run.\n\n"
           "## Bug 1: Response-Only Loss\n\nThe trainer computed the loss over the prompt tokens as well, so most "
           "of the gradient went to text the policy never writes and the reward hacking checks saw nothing.\n")
    _, x = extract(tmp_path)
    founded = {n.label.lower() for n in x.nodes.values()
               if n.kind == "failure_mode" and n.provenance.source_id == "dpo-postmortem"}
    assert "response-only loss" not in founded



@pytest.mark.parametrize("origin, phrase, fix", [
    ("lead", "Add KL monitoring hooks", "mit:training-monitoring"),
    ("lead", "Add pager rotation alerts", None),
    ("item", "Improve reward design", "mit:objective-specification"),
    ("item", "Use vLLM for rollouts", "mit:fast-inference-engine"),
    ("item", "Increase beta for more KL regularization", None),
    ("item", "Increase beta for a stronger KL anchor", None)])
def test_an_instruction_whose_words_name_an_existing_fix_resolves_to_it(vectors, origin, phrase, fix):
    # "KL monitoring hooks" is no fix's name by its head word, but means training monitoring: the instruction
    # resolves to that fix (only when sure) and founds nothing either way. A short list item under "Solutions:"
    # does too, when its words also end in one of the fix's words: one that moves a setting against the fix's
    # label names nothing (more KL regularization is no "Weaker KL penalty"), nor does one whose head word is
    # none of the near fix's words (an "anchor" is not adaptive KL, however close in meaning)
    from kb.extract.concepts import curated_concepts
    from kb.extract.mentions import Mention
    from kb.extract.resolve import resolve_mentions

    mention = Mention(phrase, "notes", 0, len(phrase), origin, "What we changed", "list_item")
    resolutions, new = resolve_mentions([mention], curated_concepts(TAXONOMY, Curation()), CLASSIFIER,
                                        vectors.embed, CUES)
    assert [(r.concept_id, r.mention.phrase, r.confident) for r in resolutions] == \
        ([(fix, phrase.split(" ", 1)[1], True)] if fix else [])
    assert new == []


@pytest.mark.parametrize("hint, fm", [("failure_mode", "fm:tool-hallucination"), (None, None)])
def test_a_labelled_heading_names_an_existing_failure_at_a_lower_similarity(vectors, hint, fm):
    # "Issue 3: Hallucinated inputs" is surely a failure's name, so a modest closeness to tool hallucination
    # will do; the same words as a plain heading stay unresolved
    from kb.extract.concepts import curated_concepts
    from kb.extract.mentions import Mention
    from kb.extract.resolve import resolve_mentions

    heading = Mention("Hallucinated inputs", "notes", 0, 19, "heading", "Hallucinated inputs", "heading", hint)
    resolutions, _ = resolve_mentions([heading], curated_concepts(TAXONOMY, Curation()), CLASSIFIER, vectors.embed, CUES)
    assert [(r.concept_id, r.confident) for r in resolutions if r.how == "alias"] == ([(fm, True)] if fm else [])


def test_a_labelled_heading_only_near_a_known_failure_in_meaning_founds_its_own(vectors):
    # "Exhausted search calls" comes near tool overuse in meaning without surely naming it: as a plain heading it
    # resolves unsurely (so names and ties nothing); labelled by its writer as a failure it founds a concept
    from kb.extract.concepts import curated_concepts
    from kb.extract.mentions import Mention
    from kb.extract.resolve import resolve_mentions

    def resolved(hint):
        heading = Mention("Exhausted search calls", "notes", 0, 22, "heading", "Exhausted search calls", "heading", hint)
        return resolve_mentions([heading], curated_concepts(TAXONOMY, Curation()), CLASSIFIER, vectors.embed, CUES)

    plain, _ = resolved(None)
    assert [(r.concept_id, r.confident) for r in plain] == [("fm:tool-overuse", False)]
    labelled, new = resolved("failure_mode")
    assert [c.label for c in new] == ["Exhausted search calls"]
    assert [(r.concept_id, r.how) for r in labelled] == [(new[0].id, "new")]


HEADINGS = """---
id: run-notes
kind: post
title: Notes from a GRPO run
---
# Notes from a GRPO run

We trained a policy with GRPO on math problems with a verifier and a KL penalty to the reference policy.

## Checkpoints

We kept one every two hundred steps on the shared disk.

## Entropy collapse

By step 400 the policy sampled nearly the same answer every time and the reward stopped rising.
"""


def _heading_ties(tmp_path: Path, extract, text: str) -> set[str]:
    """The concepts the headings of one post tie to it."""
    _write(tmp_path, "post.md", text)
    _, x = extract(tmp_path)
    return {e.v for e in x.edges if e.kind == "about" and e.provenance.asserted_by == "rule:heading"}


def test_a_lead_term_standing_apart_from_its_sentence_ties_what_it_names(tmp_path, extract):
    # "**X**. Sentence" splits into the lead term and the sentence it heads: no claim holds the name, so the
    # lead term's own resolution ties the concept, quoting the lead term
    _write(tmp_path, "post.md", "# Notes on a GRPO run\n\nWe trained a policy with GRPO and a KL penalty.\n\n"
                                "- **Entropy collapse phenomenon**. The sampled answers became nearly identical "
                                "after a few hundred steps.\n")
    _, x = extract(tmp_path)
    lead = [e for e in x.edges if e.kind == "about" and e.provenance.asserted_by == "rule:lead"]
    assert [(e.v, e.provenance.quote) for e in lead] == [("fm:entropy-collapse", "Entropy collapse phenomenon")]
    claims = [x.nodes[e.u].provenance.quote for e in x.edges if e.kind == "about" and e.v == "fm:entropy-collapse"
              and e.u.startswith("claim:")]
    assert not any("Entropy collapse" in q for q in claims)


def test_a_heading_only_near_a_concept_in_meaning_ties_nothing(tmp_path, extract):
    # "Base model" resolves to a stronger base model by meaning alone (no word of that fix's names says which
    # change it is): a heading is the document's own label, so only a sure resolution ties its concept to the
    # document. ("Checkpoints", once near fault-tolerant training, no longer resolves at all.)
    headed = _heading_ties(tmp_path, extract, HEADINGS.replace("## Checkpoints", "## Base model"))
    assert "fm:entropy-collapse" in headed
    assert "mit:stronger-base-model" not in headed


def test_a_phrase_only_near_a_concept_in_meaning_is_no_name_of_it(tmp_path, extract):
    # a heading "Base model" sits near "stronger base model" in meaning without naming that fix: it ties
    # nothing, and the fix does not list it among its names either; "Entropy collapse" is a name of its concept
    _write(tmp_path, "post.md", HEADINGS.replace("## Checkpoints", "## Base model"))
    _, x = extract(tmp_path)
    stronger = x.nodes["mit:stronger-base-model"]
    assert "Base model" not in stronger.attrs["aliases"]
    assert not [f for f in stronger.attrs["found_as"] if f["source_id"] == "run-notes"]
    assert {"phrase": "Entropy collapse", "source_id": "run-notes"} in x.nodes["fm:entropy-collapse"].attrs["found_as"]


def test_a_structural_heading_ties_nothing_whatever_alias_it_holds(tmp_path, extract):
    # "Implementation details" organises the page; "implementation detail" is also a phrase the taxonomy knows
    notes = HEADINGS.replace("## Checkpoints", "## Implementation details").replace(
        "on the shared disk.", "on the shared disk, after a silent bug in the trainer cost us a week.")
    headed = _heading_ties(tmp_path, extract, notes)
    assert "fm:entropy-collapse" in headed
    assert "fm:silent-library-bugs" not in headed



def test_a_lone_weak_word_is_not_about_a_concept_its_document_names_outright_elsewhere(tmp_path, extract):
    """Where a document names a fix outright, a weak word of it in another sentence is mostly said in passing
    ("the sandbox image is pulled nightly"); where weak words are all the document says, the first of them still
    ties it, and the later ones (read samples: right one time in six or seven) do not."""
    _grpo_notes(tmp_path, "named", "unit tests",
                "The agent gamed the grader, so we moved to a grader outside the sandbox with read-only test "
                "files.\n\nThe sandbox image is pulled from the registry every night.\n\nEach sandbox gets two CPU "
                "cores.\n")
    _grpo_notes(tmp_path, "weak", "unit tests",
                "The agent gamed the grader by editing the tests.\n\nWe now run every rollout in a sandbox.\n\n"
                "The sandbox has no write access to the test folder.\n")
    _, x = extract(tmp_path)

    def tied(source: str) -> list[str]:
        return [x.nodes[e.u].provenance.quote for e in x.edges if e.kind == "about" and e.v == "mit:sandboxing"
                and e.u.startswith("claim:") and x.nodes[e.u].provenance.source_id == source]
    assert [q for q in tied("named") if "grader outside the sandbox" in q]
    assert not [q for q in tied("named") if "pulled from the registry" in q or "two CPU cores" in q]
    assert tied("weak") == ["We now run every rollout in a sandbox."]


def test_a_list_of_settings_and_measured_quantities_ties_no_fix(tmp_path, extract):
    """A run's configuration ("samples per prompt: `8`") and the quantities a report logs ("token count") name
    knobs and measurements; the fixes whose names hold those words are tied only where the text applies them."""
    _grpo_notes(tmp_path, "config", "a math verifier",
                "The entropy collapsed by step 300 and every group got the same reward.\n\n"
                "We then raised the temperature to keep the groups diverse.\n\n## Settings\n\n"
                "- temperature: `1.0`\n- samples per prompt: `8`\n- `4096` max model length\n\n## Logged\n\n"
                "- token count\n- finish reason\n")
    _, x = extract(tmp_path)
    quotes = {(e.v, e.provenance.quote) for e in x.edges if e.kind == "about" and e.provenance.source_id == "config"}
    assert any(v == "mit:temperature-tuning" and "raised the temperature" in q for v, q in quotes)
    assert not [v for v, q in quotes if q.startswith(("temperature:", "samples per prompt", "`4096`"))]
    assert not [v for v, q in quotes if v == "mit:grad-accumulation-fix"]


def test_reading_list_entries_and_pointers_to_other_pages_tie_nothing(tmp_path, extract):
    """A line that is only a link to a paper with its date ("**[KTO ...](url)** (2024)") or a labelled pointer
    to another page ("**Setup**: See [file](...) for ...") states nothing about the concept its title names;
    the same name in a sentence that says something still ties it."""
    _grpo_notes(tmp_path, "reading", "a math verifier",
                "Our policy drifted, so we added an entropy bonus and it stayed diverse.\n\n## Reading\n\n"
                "- **[Clip-Higher for exploration](https://example.org/a)** (March 2025)\n"
                "- [Reward model ensembles](https://example.org/b) - 2024\n"
                "- **Tuning**: See [notes/overlong-filtering.md](notes/overlong-filtering.md) for the settings.\n")
    _, x = extract(tmp_path)
    about = {(e.v, e.provenance.quote) for e in x.edges if e.kind == "about" and e.provenance.source_id == "reading"}
    assert any(v == "mit:entropy-regularization" for v, _ in about)
    assert not [q for _, q in about if "example.org" in q or "See [" in q]
    assert not {"mit:clip-higher", "mit:rm-ensemble", "mit:overlong-filtering"} & {v for v, _ in about}


def test_a_weak_phrase_is_not_about_a_concept_its_document_names_outright_elsewhere(tmp_path, extract):
    """"Gradient accumulation" is a weak phrase of silent library bugs: beside a silent bug named outright, a
    sentence that only sets up accumulation is not about that bug."""
    _grpo_notes(tmp_path, "bugs", "unit tests",
                "A silent bug in the trainer dropped the last micro-batch of every step.\n\n"
                "We use gradient accumulation over eight steps to fit the batch on one card.\n")
    _, x = extract(tmp_path)
    quotes = [x.nodes[e.u].provenance.quote for e in x.edges if e.kind == "about" and e.v == "fm:silent-library-bugs"
              and e.u.startswith("claim:")]
    assert [q for q in quotes if "silent bug" in q]
    assert not [q for q in quotes if "gradient accumulation" in q]


def test_the_same_reward_is_a_zero_variance_group_only_where_a_group_gets_it():
    from kb.extract.concepts import alias_index, curated_concepts

    index = alias_index(curated_concepts(TAXONOMY, Curation()), CUES)

    def strong(text):
        return {h.concept_id for h in index.find(text) if not h.weak}

    # "the same reward function" as another method recovers is no group of rollouts scored alike
    assert "fm:zero-variance-groups" not in strong("Inverse RL on the tuned policy should recover the same reward "
                                                   "function as the one the preference model learned.")
    assert "fm:zero-variance-groups" in strong("When all rollouts get the same reward, the group teaches nothing.")
