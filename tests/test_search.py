"""kb.search: tokenizer, each search mode on a tiny corpus through the real model, filters, fusion, files."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from kb import search
from kb.embed import SentenceTransformerEncoder
from kb.errors import BuildMissingError, QueryError
from kb.search import HybridIndex, ScoredId, rrf_fuse, tokenize

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


def test_hybrid_scores_are_reciprocal_rank_fusion_of_both_sides(index, encoder):
    query = "reward signal"
    dense = index.search(query, encoder.encode([query])[0], k=6, mode="dense")
    lexical = index.search(query, None, k=6, mode="lexical")
    hybrid = index.search(query, encoder.encode([query])[0], k=6, mode="hybrid")
    dense_rank = {h.id: h.dense_rank for h in dense}
    lexical_rank = {h.id: h.lexical_rank for h in lexical}
    expected = {
        i: search.DENSE_WEIGHT / (search.RRF_K + dense_rank[i])
        + (search.LEXICAL_WEIGHT / (search.RRF_K + lexical_rank[i]) if i in lexical_rank else 0.0)
        for i in CORPUS
    }
    assert [h.id for h in hybrid] == sorted(expected, key=lambda i: (-expected[i], dense_rank[i]))
    assert [h.score for h in hybrid] == pytest.approx([expected[h.id] for h in hybrid])
    assert [(h.dense_rank, h.lexical_rank) for h in hybrid] == [(dense_rank[h.id], lexical_rank.get(h.id)) for h in hybrid]


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
    allowed[-12:] = True
    allowed[-1] = False
    assert len(ids) - 12 > search.CANDIDATE_DEPTH
    query_vector = vectors[-1]

    lexical = index.search("reward", query_vector, k=5, mode="lexical", allowed=allowed)
    assert [h.id for h in lexical] == ids[-12:-7]

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
    assert "ids.json" in hashes and "dense.faiss" in hashes
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
