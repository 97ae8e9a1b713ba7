"""kb.search: tokenizer, each search mode on a tiny corpus through the real model, filters, fusion, files."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from kb import search
from kb.embed import SentenceTransformerEncoder
from kb.errors import BuildMissingError, QueryError
from kb.search import DEFAULT_FUSION as F
from kb.search import Fusion, HybridIndex, ScoredId, bm25_postings, rrf_fuse, rrf_fuse_ranks, score_fuse, tokenize

CORPUS = {
    "hack": "Reward hacking: the policy exploits a loophole in the reward model and scores high without doing the task.",
    "memo": "The forecasting model memorized the outcomes of major events during pretraining instead of predicting them.",
    "reweight": "RL mostly reweights solutions the base model can already sample; pass@k at large k does not improve.",
    "entropy": "Entropy collapse makes the policy deterministic, and exploration stops.",
    "zero": "When every rollout in a group gets zero reward, GRPO advantages vanish and training has no learning signal.",
    "kl": "A KL penalty toward the reference policy limits how far the fine-tuned model drifts.",
}


@pytest.fixture(scope="module")
def encoder():
    return SentenceTransformerEncoder("cpu")


@pytest.fixture(scope="module")
def index(encoder):
    ids = list(CORPUS)
    texts = list(CORPUS.values())
    return HybridIndex.build(ids, texts, encoder.encode(texts))


def _top(index, encoder, query, mode, **kw):
    return index.search(query, encoder.encode([query])[0], k=3, mode=mode, **kw)


def test_tokenize_lowercases_splits_drops_stopwords_and_stems():
    assert tokenize("Memorizes, memorization; MEMORIZE!") == ["memor", "memor", "memor"]
    assert tokenize("hack hacking") == ["hack", "hack"]
    assert tokenize("reweight reweighting") == ["reweight", "reweight"]
    assert tokenize("Is the pass@k of E026 in the base model?") == ["pass", "k", "e026", "base", "model"]
    assert tokenize("the of and, to!") == []


@pytest.mark.parametrize(
    ("mode", "query", "expected"),
    [
        ("dense", "the agent games its scoring function", "hack"),
        ("lexical", "memorization", "memo"),
        ("lexical", "reweighting", "reweight"),
        ("hybrid", "nothing to learn from because all rollouts fail", "zero"),
        ("hybrid", "policy becomes too deterministic to explore", "entropy"),
    ],
)
def test_each_mode_finds_the_expected_top_hit(index, encoder, mode, query, expected):
    hits = _top(index, encoder, query, mode)
    assert hits[0].id == expected, hits


def test_mode_sets_the_ranks_it_used(index, encoder):
    dense = _top(index, encoder, "reward hacking", "dense")
    lexical = _top(index, encoder, "reward hacking", "lexical")
    assert [(h.dense_rank, h.lexical_rank) for h in dense] == [(1, None), (2, None), (3, None)]
    assert [(h.dense_rank, h.lexical_rank) for h in lexical] == [(None, 1), (None, 2)]
    assert [h.id for h in lexical] == ["hack", "zero"]


RANK_FUSION = Fusion(method="rrf", rrf_k=10.0, lexical_weight=1.25)
SCORE_FUSION = Fusion(method="score", dense_share=0.3)


def test_hybrid_scores_are_reciprocal_rank_fusion_of_both_sides(index, encoder):
    query, F = "reward signal", RANK_FUSION
    dense = index.search(query, encoder.encode([query])[0], k=6, mode="dense", fusion=F)
    lexical = index.search(query, None, k=6, mode="lexical", fusion=F)
    hybrid = index.search(query, encoder.encode([query])[0], k=6, mode="hybrid", fusion=F)
    dense_rank = {h.id: h.dense_rank for h in dense}
    lexical_rank = {h.id: h.lexical_rank for h in lexical}
    expected = {
        i: F.dense_weight / (F.rrf_k + dense_rank[i])
        + (F.lexical_weight / (F.rrf_k + lexical_rank[i]) if i in lexical_rank else 0.0)
        for i in CORPUS
    }
    assert [h.id for h in hybrid] == sorted(expected, key=lambda i: (-expected[i], dense_rank[i]))
    assert [h.score for h in hybrid] == pytest.approx([expected[h.id] for h in hybrid])
    assert [(h.dense_rank, h.lexical_rank) for h in hybrid] == [(dense_rank[h.id], lexical_rank.get(h.id)) for h in hybrid]


def test_hybrid_scores_are_scaled_scores_of_both_sides(index, encoder):
    query, F = "reward signal", SCORE_FUSION
    vector = encoder.encode([query])[0]
    dense = {h.id: h.score for h in index.search(query, vector, k=6, mode="dense", fusion=F)}
    lexical = {h.id: h.score for h in index.search(query, None, k=6, mode="lexical", fusion=F)}
    assert len(dense) == 6 and 2 <= len(lexical) < 6   # rows without a query word get nothing from BM25

    def scaled(side: dict[str, float]) -> dict[str, float]:
        low, high = min(side.values()), max(side.values())
        return {i: (v - low) / (high - low) for i, v in side.items()}

    d, lex = scaled(dense), scaled(lexical)
    expected = {i: F.dense_share * d[i] + (1 - F.dense_share) * lex.get(i, 0.0) for i in CORPUS}
    hybrid = index.search(query, vector, k=6, mode="hybrid", fusion=F)
    assert [h.id for h in hybrid] == sorted(expected, key=lambda i: -expected[i])
    assert [h.score for h in hybrid] == pytest.approx([expected[h.id] for h in hybrid])


def test_score_fusion_on_a_hand_computed_example():
    # dense 0.9 / 0.7 / 0.5 scales to 1 / 0.5 / 0; lexical 8 / 2 scales to 1 / 0.
    fused = score_fuse({3: 0.9, 1: 0.7, 2: 0.5}, {2: 8.0, 4: 2.0}, 0.25, [3, 1, 2])
    # 2: 0.25 x 0 + 0.75 x 1, 3: 0.25 x 1, 1: 0.25 x 0.5, 4: 0.75 x 0 (a tie at 0 with nothing else).
    assert fused == [(2, pytest.approx(0.75)), (3, pytest.approx(0.25)), (1, pytest.approx(0.125)),
                     (4, pytest.approx(0.0))]
    assert score_fuse({1: 0.4, 2: 0.4}, {}, 0.5, [2, 1]) == [(2, 0.5), (1, 0.5)]   # equal scores: dense order


def test_rrf_on_a_hand_computed_example():
    fused = rrf_fuse([3, 1, 2], [2, 4], rrf_k=60, dense_weight=1.0, lexical_weight=1.0)
    # 2: 1/63 + 1/61, 3: 1/61, then 1 and 4 tie at 1/62 and the dense-ranked row 1 goes first.
    assert [row for row, _ in fused] == [2, 3, 1, 4]
    assert [s for _, s in fused] == pytest.approx([1 / 63 + 1 / 61, 1 / 61, 1 / 62, 1 / 62])
    weighted = rrf_fuse([3, 1, 2], [2, 4], rrf_k=1, dense_weight=1.0, lexical_weight=3.0)
    # 2: 1/4 + 3/2, 4: 3/3, 3: 1/2, 1: 1/3.
    assert [row for row, _ in weighted] == [2, 4, 3, 1]
    assert [s for _, s in weighted] == pytest.approx([1.75, 1.0, 0.5, 1 / 3])


def test_query_without_lexical_tokens_falls_back_to_dense(index, encoder):
    for query in ("the of and", "zzzunknownword"):
        vector = encoder.encode([query])[0]
        expected = index.search(query, vector, k=3, mode="dense")
        assert index.search(query, vector, k=3, mode="lexical") == expected
        assert index.search(query, vector, k=3, mode="hybrid") == expected


def test_query_without_vector_falls_back_to_lexical(index):
    expected = index.search("memorization", None, k=3, mode="lexical")
    assert expected[0].id == "memo"
    assert index.search("memorization", None, k=3, mode="dense") == expected
    assert index.search("memorization", None, k=3, mode="hybrid") == expected
    assert index.search("the", None, k=3) == []


def _filter_corpus(n=400, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"n{i:03d}" for i in range(n)]
    # Row i says "reward" (n - i) times among filler, so lexical scores fall with i.
    texts = [" ".join(["reward"] * (n - i) + ["filler"] * i) for i in range(n)]
    vectors = rng.normal(size=(n, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return ids, texts, vectors


def test_allowed_mask_applies_before_candidate_depth():
    ids, texts, vectors = _filter_corpus()
    index = HybridIndex.build(ids, texts, vectors)
    allowed = np.zeros(len(ids), dtype=bool)
    n_allowed = F.depth   # every allowed row fits in each side's candidates, so every hit carries both ranks
    allowed[-(n_allowed + 1):] = True
    allowed[-1] = False
    assert len(ids) - n_allowed > F.depth
    query_vector = vectors[-1]

    lexical = index.search("reward", query_vector, k=5, mode="lexical", allowed=allowed)
    assert [h.id for h in lexical] == ids[-(n_allowed + 1):-(n_allowed - 4)]

    dense = index.search("reward", query_vector, k=5, mode="dense", allowed=allowed)
    rows = np.flatnonzero(allowed)
    best = rows[np.argsort(-(vectors[rows] @ query_vector), kind="stable")][:5]
    assert [h.id for h in dense] == [ids[r] for r in best]

    hybrid = index.search("reward", query_vector, k=5, mode="hybrid", allowed=allowed)
    assert len(hybrid) == 5 and all(allowed[ids.index(h.id)] for h in hybrid)
    assert all(h.dense_rank is not None and h.lexical_rank is not None for h in hybrid)


def test_allowed_mask_returns_fewer_when_fewer_exist(index, encoder):
    allowed = np.array([i in ("kl", "entropy") for i in CORPUS])
    hits = index.search("reward", encoder.encode(["reward"])[0], k=5, mode="hybrid", allowed=allowed)
    assert sorted(h.id for h in hits) == ["entropy", "kl"]
    assert index.search("reward", None, k=5, mode="lexical", allowed=allowed) == []


def _file_hashes(directory):
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*")) if p.is_file()
    }


def test_save_load_roundtrip_gives_identical_results(index, encoder, tmp_path):
    index.save(tmp_path / "a")
    loaded = HybridIndex.load(tmp_path / "a")
    assert loaded.ids == index.ids
    mask = np.array([i != "hack" for i in CORPUS])
    for query in ("reward hacking", "memorization of events", "the of"):
        vector = encoder.encode([query])[0]
        for mode in search.SEARCH_MODES:
            for allowed in (None, mask):
                assert loaded.search(query, vector, k=4, mode=mode, allowed=allowed) == index.search(
                    query, vector, k=4, mode=mode, allowed=allowed
                )


def test_save_is_byte_deterministic(tmp_path):
    ids, texts, vectors = _filter_corpus(n=50, seed=3)
    HybridIndex.build(ids, texts, vectors).save(tmp_path / "a")
    HybridIndex.build(ids, texts, vectors).save(tmp_path / "b")
    hashes = _file_hashes(tmp_path / "a")
    assert set(hashes) == {"search.sqlite", "dense.npy"}
    assert hashes == _file_hashes(tmp_path / "b")


def test_empty_index_returns_nothing(tmp_path):
    empty = HybridIndex.build([], [], np.zeros((0, 384), dtype=np.float32))
    empty.save(tmp_path / "e")
    assert HybridIndex.load(tmp_path / "e").search("reward", np.ones(384, dtype=np.float32), k=3) == []


def test_load_missing_index_says_to_build(tmp_path):
    with pytest.raises(BuildMissingError, match="run `kb build`"):
        HybridIndex.load(tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must be at least 1"),
        ({"k": 3, "mode": "fuzzy"}, "unknown search mode"),
        ({"k": 3, "allowed": np.ones(2, dtype=bool)}, "boolean mask of length 6"),
        ({"k": 3, "allowed": np.ones(6, dtype=int)}, "boolean mask of length 6"),
    ],
)
def test_invalid_arguments_raise_query_error(index, kwargs, message):
    with pytest.raises(QueryError, match=message):
        index.search("reward", np.ones(384, dtype=np.float32), **kwargs)


def test_build_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="differ in length"):
        HybridIndex.build(["a", "b"], ["x"], np.zeros((2, 384), dtype=np.float32))
    with pytest.raises(ValueError, match="unique"):
        HybridIndex.build(["a", "a"], ["x", "y"], np.zeros((2, 384), dtype=np.float32))


def test_scored_id_is_a_frozen_value():
    hit = ScoredId("a", 1.0, 1, None)
    with pytest.raises(AttributeError):
        hit.score = 2.0  # type: ignore[misc]


# --- BM25 postings, graph-aware steps, stored records and filters ----------------------------------------


def test_bm25_postings_match_a_hand_computed_lucene_score():
    docs = [["reward", "hack", "reward"], ["reward"], ["kl", "penalti", "drift", "polici"]]
    postings = bm25_postings(docs)
    avg = (3 + 1 + 4) / 3
    idf = np.log(1 + (3 - 2 + 0.5) / (2 + 0.5))  # "reward" is in 2 of 3 documents
    expected = [idf * tf * 2.2 / (tf + 1.2 * (0.5 + 0.5 * length / avg)) for tf, length in ((2, 3), (1, 1))]  # k1 1.2, b 0.5
    rows, weights = postings["reward"]
    assert rows.tolist() == [0, 1]
    assert weights.tolist() == pytest.approx(expected, rel=1e-6)
    assert list(postings) == sorted(postings)


def _unit(i: int, n: int = 384) -> np.ndarray:
    v = np.zeros(n, dtype=np.float32)
    v[i] = 1.0
    return v


def _concept_index() -> HybridIndex:
    """A failure mode whose alias ("sycophancy") only a statement shares; the query is near the concept in
    vector space but shares no word with either."""
    ids = ["fm:syc", "claim:a", "claim:b", "claim:c"]
    texts = ["Agreeing with users: the model says what users want to hear. Also called: sycophancy.",
             "Sycophancy rises after preference training on thumbs-up data.",
             "Entropy falls and exploration stops.",
             "The learning rate was too high."]
    vectors = np.stack([_unit(0), _unit(1), _unit(2), (_unit(0) * 0.3 + _unit(3)) / np.hypot(0.3, 1)])
    return HybridIndex.build(ids, texts, vectors, kinds=["failure_mode", "claim", "claim", "claim"],
                             source_ids=["taxonomy", "doc1", "doc2", "doc2"],
                             ties=[("fm:syc", "claim:a")], neighbours={"fm:syc": ["claim:a"]})


def test_concept_terms_carry_a_symptom_into_the_lexical_query():
    index = _concept_index()
    query = "chat assistant flatters people at a high rate"
    plain = index.search(query, _unit(0), k=4, fusion=Fusion())
    expanded = index.search(query, _unit(0), k=4, fusion=Fusion(concept_terms=1.0, concept_min_cos=0.5))
    assert next(h for h in plain if h.id == "claim:a").lexical_rank is None
    assert next(h for h in expanded if h.id == "claim:a").lexical_rank is not None
    far = index.search(query, _unit(2), k=4, fusion=Fusion(concept_terms=1.0, concept_min_cos=0.5))
    assert next(h for h in far if h.id == "claim:a").lexical_rank is None  # no concept near enough


def test_concept_expansion_lifts_the_statements_tied_to_a_concept_hit():
    index = _concept_index()
    query = "entropy falls"
    plain = [h.id for h in index.search(query, _unit(0), k=4, fusion=Fusion())]
    lifted = [h.id for h in index.search(query, _unit(0), k=4, fusion=Fusion(concept_expansion=1.0))]
    assert plain.index("claim:a") > plain.index("claim:c")
    assert lifted.index("claim:a") < lifted.index("claim:c")
    assert sorted(plain) == sorted(lifted)


def test_synonym_expansions_map_each_phrase_to_the_other_phrases_words():
    groups = [["half precision", "bf16", "fp16"], ["reward model", "scorer"], ["lonely"], ["the", "of"]]
    found = search.synonym_expansions(groups)
    assert found["half precis"] == "bf16 fp16"
    assert found["bf16"] == "fp16 half precis"
    assert found["scorer"] == "model reward"
    assert "lone" not in found and "lonely" not in found  # a group of one phrase expands to nothing
    assert "" not in found  # stopword-only phrases drop out


def test_glossary_file_loads_and_bad_files_are_one_line_errors(tmp_path):
    from pathlib import Path

    from kb.errors import KBError
    from kb.taxonomy import load_glossary

    shipped = load_glossary(Path(__file__).resolve().parents[1] / "data" / "glossary.yaml")
    assert len(shipped.groups) > 40 and all(len(g) >= 2 for g in shipped.groups)
    assert load_glossary(tmp_path / "absent.yaml").groups == []
    for bad in ("groups: 3", "groups: [[a, b]]\nextra: 1", "groups: [[a, b"):
        path = tmp_path / "glossary.yaml"
        path.write_text(bad, encoding="utf-8")
        with pytest.raises(KBError) as err:
            load_glossary(path)
        assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


def test_glossary_expansion_reaches_a_row_only_in_other_words(tmp_path):
    ids = ["claim:bf16", "claim:other"]
    texts = ["Under bf16 the two passes disagree about token probabilities.", "The learning rate was too high."]
    index = HybridIndex.build(ids, texts, np.stack([_unit(0), _unit(1)]),
                              synonyms=[["half precision", "bf16", "fp16"]])
    query = "ratio is off in half precision"
    plain = index.search(query, None, k=2, mode="lexical", fusion=Fusion())
    expanded = index.search(query, None, k=2, mode="lexical", fusion=Fusion(synonym_weight=0.5))
    assert [h.id for h in plain] == []
    assert [h.id for h in expanded] == ["claim:bf16"]
    index.save(tmp_path / "i")
    reloaded = HybridIndex.load(tmp_path / "i")
    assert [h.id for h in reloaded.search(query, None, k=2, mode="lexical", fusion=Fusion(synonym_weight=0.5))] \
        == ["claim:bf16"]
    # dense mode never reads the glossary
    dense = index.search(query, _unit(1), k=1, mode="dense", fusion=Fusion(synonym_weight=0.5))
    assert [h.id for h in dense] == ["claim:other"]


def test_records_and_filter_masks_survive_save_and_load(tmp_path):
    _concept_index().save(tmp_path / "i")
    index = HybridIndex.load(tmp_path / "i")
    assert index.ids == ["fm:syc", "claim:a", "claim:b", "claim:c"]
    assert index.records([2, 0]) == [{"id": "claim:b", "text": "Entropy falls and exploration stops."},
                                     {"id": "fm:syc", "text": index.records([0])[0]["text"]}]
    assert index.kind_mask(["claim"]).tolist() == [False, True, True, True]
    assert index.neighbour_mask("fm:syc").tolist() == [True, True, False, False]
    assert index.source_mask("src:doc2", "doc2").tolist() == [False, False, True, True]
    assert index.kind_of("claim:a") == "claim" and index.kind_of("nope") is None


def test_index_of_another_format_says_to_rebuild(tmp_path):
    _concept_index().save(tmp_path / "i")
    import sqlite3

    with sqlite3.connect(tmp_path / "i" / "search.sqlite") as db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'format'")
    with pytest.raises(BuildMissingError, match="kb build --force"):
        HybridIndex.load(tmp_path / "i")


# Modules a query does not need: the model's training stack, the graph, the build-time models and extraction.
HEAVY_MODULES = ("torch", "transformers", "sentence_transformers", "networkx", "scipy", "bm25s", "pydantic",
                 "kb.extract", "kb.graph", "kb.models", "kb.api", "kb.build")

_DUMP_MODULES = """
import atexit, json, sys
atexit.register(lambda: sys.stderr.write("MODULES " + json.dumps(sorted(sys.modules))))
sys.argv = ["kb", "query", "the scorer keeps rating answers higher but people say they got worse", "--json"]
from kb.cli import main
main()
"""


def test_cold_query_path_imports_nothing_heavy(built_data_dir):
    env = {**os.environ, "KB_DATA_DIR": str(built_data_dir)}
    out = subprocess.run([sys.executable, "-c", _DUMP_MODULES], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    hits = json.loads(out.stdout)
    assert len(hits) == 5 and all({"id", "kind", "score", "source_id", "papers"} <= set(h) for h in hits)
    modules = json.loads(out.stderr.rsplit("MODULES ", 1)[1])
    loaded = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY_MODULES))
    assert loaded == []
    assert "onnxruntime" in modules and "kb.query" in modules  # the check itself sees the query path


def test_search_returns_passages_and_api_hits_agree_with_cli_records(kb):
    records = kb.search_records("what should I monitor to catch reward hacking early", k=20)
    hits = kb.search("what should I monitor to catch reward hacking early", k=20)
    assert [r["id"] for r in records] == [h.id for h in hits]
    assert [h.model_dump() for h in hits] == [{**r} for r in records]
    passages = kb.search_records("reward hacking", k=5, kinds=["passage"])
    assert passages and all(p["kind"] == "passage" and p["source_id"] and p["asserted_by"] == "rule:passage"
                            for p in passages)
    doc = kb.documents[passages[0]["source_id"]]["text"]
    assert passages[0]["text"].split("\n")[0] in doc


def _document_index() -> HybridIndex:
    """Two documents: doc1 has a passage holding two claims, doc2 one claim; row vectors are axis-aligned so
    the dense ranking is set by the query vector."""
    ids = ["psg:doc1:0", "claim:1a", "claim:1b", "claim:2a", "fm:x"]
    texts = ["Gradient norm spikes and the run diverges after a bad batch.",
             "Gradient norm spikes after one bad batch.", "Clip the gradient norm.",
             "Gradient clipping keeps gradient norm bounded.", "Exploding gradients: gradient norm blows up."]
    vectors = np.stack([_unit(0), _unit(1), _unit(2), _unit(3), (_unit(0) + _unit(4)) / np.sqrt(2)])
    return HybridIndex.build(ids, texts, vectors, kinds=["passage", "claim", "claim", "claim", "failure_mode"],
                             source_ids=["doc1", "doc1", "doc1", "doc2", "taxonomy"],
                             contains=[("psg:doc1:0", "claim:1a"), ("psg:doc1:0", "claim:1b")])


def test_statements_off_the_dense_side_take_their_passage_rank():
    index = _document_index()
    with_statements = Fusion(per_source=0, dense_statements=True)
    without = Fusion(per_source=0, dense_statements=False)
    dense_only = index.search("anything", _unit(1), k=5, mode="dense", fusion=without)
    assert {h.id for h in dense_only} == {"psg:doc1:0", "fm:x"}  # no claim ranked on its own vector
    hits = {h.id: h for h in index.search("gradient norm", _unit(0), k=5, fusion=without)}
    assert hits["claim:1a"].dense_rank == hits["psg:doc1:0"].dense_rank == 1
    assert hits["claim:2a"].dense_rank is None  # not inside a ranked passage
    plain = {h.id: h for h in index.search("gradient norm", _unit(0), k=5, fusion=with_statements)}
    assert plain["claim:1a"].dense_rank > 1


def test_per_source_moves_a_documents_extra_hits_below_other_documents():
    index = _document_index()
    query = "gradient norm spikes bad batch"
    plain = [h.id for h in index.search(query, None, k=5, mode="lexical", fusion=Fusion(per_source=0))]
    spread = [h.id for h in index.search(query, None, k=5, mode="lexical", fusion=Fusion(per_source=1))]
    assert sorted(plain) == sorted(spread)
    docs = {"psg:doc1:0": "doc1", "claim:1a": "doc1", "claim:1b": "doc1", "claim:2a": "doc2", "fm:x": "fm:x"}
    first = [docs[i] for i in spread[:len(set(docs[i] for i in plain))]]
    assert len(set(first)) == len(first)  # every document once before any repeats
    assert spread[0] == plain[0]


def test_per_source_spreads_a_hybrid_list_one_document_floods():
    # doc1's passage is the dense side's only row and every claim in it takes its rank, so doc1 fills more than
    # the fusion depth; doc2's claim, the best match on words, must still come up among the first hits
    ids = ["psg:doc1:0", *[f"claim:1{c}" for c in "abcde"], "claim:2a"]
    texts = ["alpha one two", *[f"alpha filler{i} words here" for i in range(5)], "alpha beta"]
    vectors = np.stack([_unit(i) for i in range(len(ids))])
    index = HybridIndex.build(ids, texts, vectors, kinds=["passage", *["claim"] * 6],
                              source_ids=["doc1"] * 6 + ["doc2"],
                              contains=[("psg:doc1:0", f"claim:1{c}") for c in "abcde"])
    fusion = Fusion(method="score", dense_share=0.5, depth=3, per_source=1, dense_statements=False)
    hits = [h.id for h in index.search("alpha beta", _unit(0), k=3, fusion=fusion)]
    assert "claim:2a" in hits[:2]
    assert sum(h.startswith(("psg:doc1", "claim:1")) for h in hits) == 2


def test_rrf_fuse_ranks_scores_tied_ranks_alike():
    fused = rrf_fuse_ranks({1: 1, 2: 1, 3: 2}, {3: 1}, rrf_k=10, dense_weight=1.0, lexical_weight=1.0)
    assert fused == [(3, pytest.approx(1 / 12 + 1 / 11)), (1, pytest.approx(1 / 11)), (2, pytest.approx(1 / 11))]


def test_a_filter_to_statements_alone_still_ranks_them_densely():
    index = _document_index()
    claims = index.kind_mask(["claim"])
    hits = index.search("anything", _unit(3), k=2, mode="dense", allowed=claims)
    assert [h.id for h in hits][0] == "claim:2a"


def test_agreement_lifts_a_document_both_sides_find_above_one_only_words_find():
    # doc a: its passage is the dense favourite, its claim a fair lexical match; doc b: the best lexical match,
    # and its passage is the dense side's last; doc c: between the two on meaning, last on words.
    ids = ["psg:a:0", "claim:a1", "psg:b:0", "claim:b1", "psg:c:0", "claim:c1"]
    texts = ["zeta eta theta", "alpha beta delta epsilon", "kappa lambda mu", "alpha beta gamma",
             "nu xi omicron", "alpha pi rho sigma tau upsilon"]
    vectors = np.stack([_unit(0), _unit(1), _unit(2), _unit(3), 0.6 * _unit(0) + 0.8 * _unit(4), _unit(5)])
    index = HybridIndex.build(ids, texts, vectors, kinds=["passage", "claim"] * 3,
                              source_ids=["a", "a", "b", "b", "c", "c"])
    plain = Fusion(method="score", dense_share=0.3, depth=10, per_source=0, dense_statements=False)
    agreed = Fusion(method="score", dense_share=0.3, depth=10, per_source=0, dense_statements=False, agreement=1.0)
    before = index.search("alpha beta", _unit(0), k=6, fusion=plain)
    after = index.search("alpha beta", _unit(0), k=6, fusion=agreed)
    assert before[0].id == "claim:b1"
    assert after[0].id in ("psg:a:0", "claim:a1")
    scores = ({h.id: h.score for h in before}, {h.id: h.score for h in after})
    assert scores[1]["claim:b1"] == pytest.approx(scores[0]["claim:b1"])   # one side only: no support
    bonus = scores[1]["psg:a:0"] - scores[0]["psg:a:0"]
    assert bonus > 0
    assert scores[1]["claim:a1"] - scores[0]["claim:a1"] == pytest.approx(bonus)   # each row of the document
