"""Hybrid search over node texts: a faiss inner-product index on normalized vectors, a BM25 ranking from
bm25s, and reciprocal rank fusion of the two.

A saved index is a directory of plain files: `ids.json`, `dense.faiss` and `lexical/` (bm25s arrays and
vocabulary). The same input always gives the same bytes.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

from .config import EMBEDDING_DIM
from .errors import BuildMissingError, QueryError

SearchMode = Literal["hybrid", "dense", "lexical"]
SEARCH_MODES: tuple[str, ...] = SearchMode.__args__  # type: ignore[attr-defined]

# Fusion: score(d) = sum over sides of WEIGHT / (RRF_K + rank). RRF_K = 60 is the usual choice (Cormack et
# al. 2009); each side contributes at most CANDIDATE_DEPTH candidates.
RRF_K = 60
DENSE_WEIGHT = 1.0
LEXICAL_WEIGHT = 1.0
CANDIDATE_DEPTH = 100

BM25_K1 = 1.2
BM25_B = 0.75

IDS_FILE = "ids.json"
DENSE_FILE = "dense.faiss"
LEXICAL_DIR = "lexical"

STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how i if in into is it its itself just me more most my no nor not of
    off on once only or other our ours out over own same she should so some such than that the their them
    then there these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your""".split()
)
_WORD = re.compile(r"[^\W_]+")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Lexical tokens of `text`: lowercase words split at punctuation, stopwords dropped, Snowball-stemmed
    (so "memorize", "memorization" and "memorizes" all become "memor")."""
    words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
    return _stemmer().stemWords(words) if words else []


@dataclass(frozen=True)
class ScoredId:
    """One search hit: node id, its score in the chosen mode, and its 1-based rank on each side (None when
    that side did not rank it)."""

    id: str
    score: float
    dense_rank: int | None
    lexical_rank: int | None


def rrf_fuse(dense: list[int], lexical: list[int], *, rrf_k: float = RRF_K,
             dense_weight: float = DENSE_WEIGHT, lexical_weight: float = LEXICAL_WEIGHT) -> list[tuple[int, float]]:
    """Reciprocal rank fusion of two ranked lists of row numbers, best first.

    Ties are broken by the better dense rank, then by row number, so the order is total and repeatable.
    """
    scores: dict[int, float] = {}
    for weight, ranked in ((dense_weight, dense), (lexical_weight, lexical)):
        for rank, row in enumerate(ranked, start=1):
            scores[row] = scores.get(row, 0.0) + weight / (rrf_k + rank)
    dense_pos = {row: i for i, row in enumerate(dense)}
    order = sorted(scores, key=lambda r: (-scores[r], dense_pos.get(r, len(dense)), r))
    return [(row, scores[row]) for row in order]


def _top_rows(scores: np.ndarray, depth: int) -> np.ndarray:
    """Row numbers of the `depth` highest positive scores, best first (ties: lower row first)."""
    candidates = np.flatnonzero(scores > 0)
    if len(candidates) > depth:
        cut = np.argpartition(-scores[candidates], depth - 1)[:depth]
        candidates = candidates[cut]
    return candidates[np.lexsort((candidates, -scores[candidates]))]


class HybridIndex:
    """Dense and lexical indexes over the same list of ids, searched separately or fused.

    The dense side is an exact faiss `IndexFlatIP`: on normalized vectors inner product is cosine, and a
    brute-force scan of 100k x 384 float32 (150 MB) takes a few milliseconds on two cores, inside the query
    budget, with no training step, no recall loss and bytes that depend only on the input. An approximate
    index (HNSW, IVF) only pays off well beyond that size.
    """

    def __init__(self, ids: list[str], dense, lexical):
        self.ids = ids
        self.dense = dense
        self.lexical = lexical

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(cls, ids: list[str], texts: list[str], vectors: np.ndarray) -> HybridIndex:
        """Index `texts` (lexical) and `vectors` (dense, L2-normalized rows), row i belonging to `ids[i]`."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if not (len(ids) == len(texts) == len(vectors)):
            raise ValueError(f"ids, texts and vectors differ in length: {len(ids)}, {len(texts)}, {len(vectors)}")
        if vectors.ndim != 2 or vectors.shape[1] != EMBEDDING_DIM:
            raise ValueError(f"vectors must have shape (n, {EMBEDDING_DIM}), got {vectors.shape}")
        if len(set(ids)) != len(ids):
            raise ValueError("ids must be unique")
        return cls(list(ids), _build_dense(vectors), _build_lexical([tokenize(t) for t in texts]))

    def save(self, directory: Path) -> None:
        """Write the index as plain files into `directory` (created if needed)."""
        import faiss

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / IDS_FILE).write_text(json.dumps(self.ids, ensure_ascii=False) + "\n", encoding="utf-8")
        faiss.write_index(self.dense, str(directory / DENSE_FILE))
        self.lexical.save(str(directory / LEXICAL_DIR), show_progress=False)

    @classmethod
    def load(cls, directory: Path) -> HybridIndex:
        """Read an index written by `save`; raises BuildMissingError when it is missing or incomplete."""
        import bm25s
        import faiss

        directory = Path(directory)
        paths = [directory / IDS_FILE, directory / DENSE_FILE, directory / LEXICAL_DIR]
        if not all(p.exists() for p in paths):
            raise BuildMissingError(f"no search index in {directory}: run `kb build`")
        ids = json.loads((directory / IDS_FILE).read_text(encoding="utf-8"))
        dense = faiss.read_index(str(directory / DENSE_FILE))
        lexical = bm25s.BM25.load(str(directory / LEXICAL_DIR))
        return cls(ids, dense, lexical)

    def search(self, query: str, query_vector: np.ndarray | None, *, k: int, mode: SearchMode = "hybrid",
               allowed: np.ndarray | None = None) -> list[ScoredId]:
        """Best `k` ids for `query` (lexical side) and `query_vector` (dense side).

        `allowed` is a boolean mask over the ids; rows outside it are dropped before each side is cut to its
        candidate depth, so a filtered query still returns `k` hits when `k` allowed rows match. A query
        with no lexical token known to the index is answered by the dense side alone, and one with no
        vector by the lexical side alone.
        """
        if mode not in SEARCH_MODES:
            raise QueryError(f"unknown search mode {mode!r}: use one of {', '.join(SEARCH_MODES)}")
        if k < 1:
            raise QueryError(f"k must be at least 1, got {k}")
        allowed = self._check_allowed(allowed)
        token_ids = self._query_token_ids(query)
        mode = _effective_mode(mode, has_lexical=bool(token_ids), has_dense=query_vector is not None)
        if mode is None or len(self.ids) == 0:
            return []
        if mode == "dense":
            rows, scores = self._dense_ranked(query_vector, k, allowed)
            return [ScoredId(self.ids[r], float(s), i, None) for i, (r, s) in enumerate(zip(rows, scores), 1)]
        if mode == "lexical":
            rows, scores = self._lexical_ranked(token_ids, k, allowed)
            return [ScoredId(self.ids[r], float(s), None, i) for i, (r, s) in enumerate(zip(rows, scores), 1)]
        depth = max(k, CANDIDATE_DEPTH)
        dense_rows = self._dense_ranked(query_vector, depth, allowed)[0].tolist()
        lexical_rows = self._lexical_ranked(token_ids, depth, allowed)[0].tolist()
        dense_rank = {r: i for i, r in enumerate(dense_rows, 1)}
        lexical_rank = {r: i for i, r in enumerate(lexical_rows, 1)}
        return [
            ScoredId(self.ids[r], s, dense_rank.get(r), lexical_rank.get(r))
            for r, s in rrf_fuse(dense_rows, lexical_rows, rrf_k=RRF_K, dense_weight=DENSE_WEIGHT,
                                 lexical_weight=LEXICAL_WEIGHT)[:k]
        ]

    def _check_allowed(self, allowed: np.ndarray | None) -> np.ndarray | None:
        if allowed is None:
            return None
        allowed = np.asarray(allowed)
        if allowed.dtype != bool or allowed.shape != (len(self.ids),):
            raise QueryError(f"allowed must be a boolean mask of length {len(self.ids)}")
        return allowed

    def _query_token_ids(self, query: str) -> list[int]:
        return self.lexical.get_tokens_ids(tokenize(query)) if self.lexical is not None else []

    def _dense_ranked(self, query_vector: np.ndarray, depth: int, allowed: np.ndarray | None):
        import faiss

        q = np.ascontiguousarray(np.asarray(query_vector, dtype=np.float32).reshape(1, -1))
        if q.shape[1] != EMBEDDING_DIM:
            raise QueryError(f"query vector must have {EMBEDDING_DIM} dimensions, got {q.shape[1]}")
        depth = min(depth, len(self.ids))
        params = None
        if allowed is not None:
            bitmap = np.packbits(allowed, bitorder="little")
            params = faiss.SearchParameters(sel=faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap)))
        scores, rows = _single_threaded_search(self.dense, q, depth, params)
        keep = rows[0] >= 0
        return rows[0][keep], scores[0][keep]

    def _lexical_ranked(self, token_ids: list[int], depth: int, allowed: np.ndarray | None):
        if not token_ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = self.lexical.get_scores_from_ids(token_ids)
        if allowed is not None:
            scores = np.where(allowed, scores, 0)
        rows = _top_rows(scores, depth)
        return rows, scores[rows]


def _single_threaded_search(index, q: np.ndarray, depth: int, params):
    """Search with one OpenMP thread: for a single query faiss's threads only contend (about 4x slower on
    two cores), while one thread scans 100k x 384 in about 5 ms."""
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return index.search(q, depth, params=params)
    finally:
        faiss.omp_set_num_threads(threads)


def _effective_mode(mode: str, *, has_lexical: bool, has_dense: bool) -> str | None:
    """The mode that can actually answer: a side with no input hands the query to the other side."""
    if mode == "hybrid" and has_lexical and has_dense:
        return "hybrid"
    preferred = ("dense", "lexical") if mode in ("hybrid", "dense") else ("lexical", "dense")
    available = {"dense": has_dense, "lexical": has_lexical}
    return next((m for m in preferred if available[m]), None)


def _build_dense(vectors: np.ndarray):
    import faiss

    index = faiss.IndexFlatIP(EMBEDDING_DIM)
    if len(vectors):
        index.add(vectors)
    return index


def _build_lexical(corpus_tokens: list[list[str]]):
    """A bm25s index whose vocabulary is numbered in sorted order, so saved bytes do not depend on hashing."""
    import bm25s

    vocab = {token: i for i, token in enumerate(sorted({t for doc in corpus_tokens for t in doc}))}
    token_ids = [[vocab[t] for t in doc] for doc in corpus_tokens]
    retriever = bm25s.BM25(k1=BM25_K1, b=BM25_B, method="lucene")
    if not vocab:
        vocab = {"": 0}
    with warnings.catch_warnings():
        # bm25s averages document lengths with numpy, which warns on an empty corpus.
        warnings.simplefilter("ignore", RuntimeWarning)
        retriever.index((token_ids, vocab), show_progress=False)
    return retriever
