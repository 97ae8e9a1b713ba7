"""Hybrid search over node and passage texts: exact inner product on normalized vectors, BM25 over
Snowball-stemmed words, and reciprocal rank fusion of the two, with two graph-aware steps (concept terms
added to the lexical query, concept hits lifting the statements tied to them) and glossary expansion of the
lexical query (a phrase of a glossary group brings the group's other phrases in at a lower weight).

A saved index is a directory of two files: `dense.npy` (the vectors) and `search.sqlite`, which holds the
row ids and kinds, the BM25 postings (one row per term: the rows it occurs in and their precomputed BM25
weights), what each hit shows (a JSON record computed at build time, so a query never loads the graph),
the concept links the two graph-aware steps follow, and the glossary's expansions. A query reads only the
postings of its own terms and the records of the hits it returns. The same input always gives the same bytes.

This module is on the cold query path: it imports numpy, sqlite3 and PyStemmer, nothing else.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np

from .config import EMBEDDING_DIM
from .errors import BuildMissingError, QueryError
from .kinds import CONCEPT_KINDS

SearchMode = Literal["hybrid", "dense", "lexical"]
SEARCH_MODES: tuple[str, ...] = SearchMode.__args__  # type: ignore[attr-defined]

BM25_K1 = 1.2
# Weaker length normalization than Lucene's 0.75: a one-sentence claim that shares two words with a question
# should not outrank the paragraph that answers it (chosen from 0.3, 0.5, 0.75, 0.9 on the development queries).
BM25_B = 0.5

DENSE_FILE = "dense.npy"
SQLITE_FILE = "search.sqlite"
INDEX_FORMAT = "4"
# How many rows a single ranking reads so that `per_source` can bring other documents into its top k.
SPREAD_DEPTH = 100
# Longest glossary phrase matched in a query, in stemmed words.
MAX_SYNONYM_WORDS = 4


FusionMethod = Literal["rrf", "score"]
_V = TypeVar("_V", int, float)


@dataclass(frozen=True)
class Fusion:
    """How the two rankings are combined, each side cut to its top `depth` candidates.

    `method` "rrf": score(d) = sum over sides of weight / (rrf_k + rank). `method` "score": each side's scores
    (cosine, BM25) are min-max scaled over its candidates and combined as dense_share x dense + (1 - dense_share)
    x lexical. Ranks throw away how far ahead a side's first hit is; scaled scores keep it, so a confident BM25
    match is not pulled down by rows the model only half likes.

    `concept_terms`: when the best dense concept (failure mode or mitigation) has cosine >= `concept_min_cos`
    with the query, its label and aliases join the lexical query at this weight per term. This maps a
    symptom worded in a practitioner's words onto the field's vocabulary through the taxonomy.
    `concept_expansion`: each concept in the fused top `k` adds this fraction of its score to the
    statements tied to it that either side ranked.
    `per_source`: when above 0, a hit from a document that already has this many better hits moves below the
    hits from other documents (every mode), so five hits show up to five documents instead of one.
    `dense_statements`: False keeps single claim and evidence sentences off the dense side, which then ranks
    passages, concepts, sources and papers: a lone sentence is too short for the model to place, while the
    paragraph around it carries the context. A statement takes the dense rank of the passage it stands in
    (BM25 still ranks every row on its own words).
    `synonym_weight`: when the query contains a phrase of a glossary group (data/glossary.yaml), the words of the
    group's other phrases join the lexical query at this weight per term (lexical and hybrid modes), so a
    practitioner's "half precision" also reaches "bf16".
    `agreement`: each fused row gains this weight times its document's support from both sides: the lower of
    the best scaled dense and the best scaled lexical score of any row of the same document among each side's
    top `agreement_depth`. A document both rankings find is likelier to answer than one only one of them
    likes, even when they like different rows of it (a passage by meaning, a sentence by its words). Its scale
    is that of score fusion (0 to 1), not of rank fusion.
    """

    rrf_k: float = 60.0
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    depth: int = 100
    concept_terms: float = 0.0
    concept_min_cos: float = 0.45
    concept_expansion: float = 0.0
    per_source: int = 0
    dense_statements: bool = True
    synonym_weight: float = 0.0
    method: FusionMethod = "rrf"
    dense_share: float = 0.5
    agreement: float = 0.0
    agreement_depth: int = 100


# Chosen by 5-fold cross-validation (scripts/eval_search.py --cv) over the dev questions and realdev merged with
# eight outside sets (146 documents, 208 questions): three folds of five and the whole set chose it, and four fresh
# sets read afterwards confirmed it (README). A lower dense share and lone sentences off the dense side suit a
# corpus of realdev's size or larger, where MiniLM's nearest rows crowd with documents on neighbouring symptoms;
# on a dozen documents the earlier 0.4, depth 50, sentences on, did about as well (one question more of 128). The
# glossary weight was lowered from 0.5 to 0.2 after a sweep over ~900 outside questions: 0.2 to 0.3 was at least as
# good as 0.5 on every group; with no glossary at all realdev and the merged corpora lose 3 to 7 points.
DEFAULT_FUSION = Fusion(method="score", dense_share=0.2, depth=20, per_source=1, synonym_weight=0.2,
                        dense_statements=False, agreement=0.2, agreement_depth=100)

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


def rrf_fuse(dense: list[int], lexical: list[int], *, rrf_k: float = DEFAULT_FUSION.rrf_k,
             dense_weight: float = DEFAULT_FUSION.dense_weight,
             lexical_weight: float = DEFAULT_FUSION.lexical_weight) -> list[tuple[int, float]]:
    """Reciprocal rank fusion of two ranked lists of row numbers, best first.

    Ties are broken by the better dense rank, then by row number, so the order is total and repeatable.
    """
    return rrf_fuse_ranks({r: i for i, r in enumerate(dense, 1)}, {r: i for i, r in enumerate(lexical, 1)},
                          rrf_k=rrf_k, dense_weight=dense_weight, lexical_weight=lexical_weight)


def rrf_fuse_ranks(dense: dict[int, int], lexical: dict[int, int], *, rrf_k: float = DEFAULT_FUSION.rrf_k,
                   dense_weight: float = DEFAULT_FUSION.dense_weight,
                   lexical_weight: float = DEFAULT_FUSION.lexical_weight) -> list[tuple[int, float]]:
    """Reciprocal rank fusion of two {row: 1-based rank} maps (ranks may tie), best first; ties broken by the
    better dense rank, then by row number."""
    scores: dict[int, float] = {}
    for weight, ranks in ((dense_weight, dense), (lexical_weight, lexical)):
        for row, rank in ranks.items():
            scores[row] = scores.get(row, 0.0) + weight / (rrf_k + rank)
    order = sorted(scores, key=lambda r: (-scores[r], dense.get(r, len(dense) + 1), r))
    return [(row, scores[row]) for row in order]


def _spread(scores: np.ndarray) -> np.ndarray:
    """Scores scaled to [0, 1] over the candidates (all 1 when they are equal)."""
    if len(scores) == 0:
        return scores
    low, high = float(scores.min()), float(scores.max())
    return (scores - low) / (high - low) if high > low else np.ones_like(scores)


def score_fuse(dense: dict[int, float], lexical: dict[int, float], dense_share: float,
               dense_order: list[int]) -> list[tuple[int, float]]:
    """Convex combination of each side's {row: score} min-max scaled over its candidates, best first; a row one
    side did not rank gets nothing from that side. Ties are broken by the order of `dense_order`, then row."""
    scores: dict[int, float] = {}
    for share, side in ((dense_share, dense), (1 - dense_share, lexical)):
        scaled = _spread(np.fromiter(side.values(), dtype=np.float64, count=len(side)))
        for row, v in zip(side, scaled.tolist()):
            scores[row] = scores.get(row, 0.0) + share * v
    return _ordered(scores, dense_order)


def _ordered(scores: dict[int, float], dense: list[int]) -> list[tuple[int, float]]:
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


# --- building -------------------------------------------------------------------------------------------


def synonym_expansions(groups: Iterable[Iterable[str]]) -> dict[str, str]:
    """Stemmed phrase -> the stemmed words of the other phrases in its glossary groups (space-joined, sorted).
    A phrase of several groups expands to the words of all of them; words of the phrase itself are left out."""
    words: dict[str, set[str]] = {}
    for group in groups:
        phrases = {" ".join(tokenize(p)) for p in group} - {""}
        if len(phrases) < 2:
            continue
        group_words = {w for p in phrases for w in p.split()}
        for phrase in phrases:
            if len(phrase.split()) <= MAX_SYNONYM_WORDS:
                words.setdefault(phrase, set()).update(group_words - set(phrase.split()))
    return {phrase: " ".join(sorted(w)) for phrase, w in words.items() if w}


def bm25_postings(corpus_tokens: list[list[str]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """BM25 (Lucene variant) postings: for each term, the rows it occurs in (ascending) and the weight it
    contributes to each row's score, idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avg_len))."""
    n = len(corpus_tokens)
    lengths = np.array([len(doc) for doc in corpus_tokens], dtype=np.float64)
    avg = float(lengths.mean()) if n and lengths.sum() else 1.0
    vocabulary: dict[str, int] = {}
    term_ids = np.fromiter((vocabulary.setdefault(term, len(vocabulary)) for doc in corpus_tokens for term in doc),
                           dtype=np.int64, count=int(lengths.sum()))
    if not len(term_ids):
        return {}
    # every (term, row) pair once with its count, ordered by term then row: the postings, all terms at once
    pairs, tf = np.unique(term_ids * n + np.repeat(np.arange(n), lengths.astype(np.int64)), return_counts=True)
    terms, rows = pairs // n, (pairs % n).astype(np.int32)
    df = np.bincount(terms, minlength=len(vocabulary))
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
    norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths[rows] / avg)
    weights = (idf[terms] * tf * (BM25_K1 + 1) / (tf + norm)).astype(np.float32)
    bounds = np.concatenate(([0], np.cumsum(df)))
    names = list(vocabulary)
    return {names[i]: (rows[bounds[i]:bounds[i + 1]], weights[bounds[i]:bounds[i + 1]])
            for i in sorted(range(len(names)), key=names.__getitem__)}


_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE rows (row INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, source_id TEXT,
                   terms TEXT NOT NULL, record TEXT NOT NULL);
CREATE INDEX rows_kind ON rows (kind);
CREATE INDEX rows_source ON rows (source_id);
CREATE TABLE postings (term TEXT PRIMARY KEY, rows BLOB NOT NULL, weights BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE ties (concept INTEGER NOT NULL, row INTEGER NOT NULL, PRIMARY KEY (concept, row)) WITHOUT ROWID;
CREATE TABLE neighbours (node INTEGER NOT NULL, row INTEGER NOT NULL, PRIMARY KEY (node, row)) WITHOUT ROWID;
CREATE TABLE contains (passage INTEGER NOT NULL, row INTEGER NOT NULL, PRIMARY KEY (passage, row)) WITHOUT ROWID;
CREATE TABLE synonyms (phrase TEXT PRIMARY KEY, terms TEXT NOT NULL) WITHOUT ROWID;
"""


class HybridIndex:
    """Dense and lexical indexes over the same list of rows, searched separately or fused.

    The dense side is an exact scan: on normalized vectors inner product is cosine, and one matrix-vector
    product over 100k x 384 float32 (150 MB) takes about 10 ms on two cores, inside the query budget, with no
    training step, no recall loss and bytes that depend only on the input. numpy does it as fast as faiss's
    flat index, and leaving faiss out saves its import on every cold query. An approximate index (HNSW, IVF)
    only pays off well beyond that size. Saved vectors are memory-mapped, so opening an index reads nothing
    until the first query.

    Built in memory by `build` (the SQLite database then lives in memory) and opened from disk by `load`.
    """

    def __init__(self, vectors: np.ndarray, db: sqlite3.Connection):
        self.vectors = vectors
        self.db = db
        self._ids: list[str] | None = None
        self._kinds: np.ndarray | None = None
        self._kind_names: list[str] | None = None
        self._concepts: np.ndarray | None = None
        self._non_statements: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.vectors)

    @property
    def ids(self) -> list[str]:
        """Node id of every row, in row order."""
        if self._ids is None:
            self._ids = [r[0] for r in self.db.execute("SELECT id FROM rows ORDER BY row")]
        return self._ids

    # --- build and files ---

    @classmethod
    def build(cls, ids: list[str], texts: list[str], vectors: np.ndarray, *, kinds: list[str] | None = None,
              records: list[dict] | None = None, source_ids: list[str | None] | None = None,
              ties: Iterable[tuple[str, str]] = (), neighbours: dict[str, Iterable[str]] | None = None,
              contains: Iterable[tuple[str, str]] = (), synonyms: Iterable[Iterable[str]] = ()) -> HybridIndex:
        """Index `texts` (lexical) and `vectors` (dense, L2-normalized rows), row i belonging to `ids[i]`.

        `kinds`, `source_ids` and `records` (what a hit shows) default to "node", None and {"id", "text"};
        `ties` are (concept id, statement id) pairs for concept expansion; `neighbours` maps a failure-mode
        id to the ids one edge away from it, for the failure-mode filter; `contains` are (passage id,
        statement id) pairs, a statement found inside a passage; `synonyms` are glossary groups of phrases.
        """
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n = len(ids)
        if not (n == len(texts) == len(vectors)):
            raise ValueError(f"ids, texts and vectors differ in length: {n}, {len(texts)}, {len(vectors)}")
        if vectors.ndim != 2 or vectors.shape[1] != EMBEDDING_DIM:
            raise ValueError(f"vectors must have shape (n, {EMBEDDING_DIM}), got {vectors.shape}")
        if len(set(ids)) != n:
            raise ValueError("ids must be unique")
        kinds = kinds or ["node"] * n
        source_ids = source_ids or [None] * n
        records = records or [{"id": i, "text": t} for i, t in zip(ids, texts)]
        if not (n == len(kinds) == len(source_ids) == len(records)):
            raise ValueError("kinds, source_ids and records must have one entry per id")
        tokens = [tokenize(t) for t in texts]
        db = sqlite3.connect(":memory:")
        db.executescript(_SCHEMA)
        db.executemany("INSERT INTO meta VALUES (?, ?)", [("format", INDEX_FORMAT), ("rows", str(n))])
        db.executemany("INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?)", [
            (row, ids[row], kinds[row], source_ids[row], " ".join(sorted(set(tokens[row]))),
             json.dumps(records[row], sort_keys=True, ensure_ascii=False)) for row in range(n)])
        db.executemany("INSERT INTO postings VALUES (?, ?, ?)", [
            (term, rows.tobytes(), weights.tobytes()) for term, (rows, weights) in bm25_postings(tokens).items()])
        row_of = {node_id: row for row, node_id in enumerate(ids)}
        db.executemany("INSERT OR IGNORE INTO ties VALUES (?, ?)", sorted(
            (row_of[c], row_of[s]) for c, s in ties if c in row_of and s in row_of))
        db.executemany("INSERT OR IGNORE INTO neighbours VALUES (?, ?)", sorted(
            (row_of[node], row_of[other]) for node, others in (neighbours or {}).items() if node in row_of
            for other in others if other in row_of))
        db.executemany("INSERT OR IGNORE INTO contains VALUES (?, ?)", sorted(
            (row_of[p], row_of[s]) for p, s in contains if p in row_of and s in row_of))
        db.executemany("INSERT INTO synonyms VALUES (?, ?)", sorted(synonym_expansions(synonyms).items()))
        db.commit()
        return cls(vectors, db)

    def save(self, directory: Path) -> None:
        """Write the index as two files into `directory` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / DENSE_FILE, np.ascontiguousarray(self.vectors, dtype=np.float32))
        target = directory / SQLITE_FILE
        target.unlink(missing_ok=True)
        out = sqlite3.connect(target)
        try:
            # A page copy of the database `build` filled in key order: the bytes depend only on the content.
            self.db.backup(out)
        finally:
            out.close()

    @classmethod
    def load(cls, directory: Path) -> HybridIndex:
        """Open an index written by `save`; raises BuildMissingError when it is missing, incomplete or of an
        older format."""
        directory = Path(directory)
        if not (directory / DENSE_FILE).is_file() or not (directory / SQLITE_FILE).is_file():
            raise BuildMissingError(f"no search index in {directory}: run `kb build`")
        db = sqlite3.connect(f"file:{directory / SQLITE_FILE}?mode=ro", uri=True, check_same_thread=False)
        try:
            fmt = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        except sqlite3.DatabaseError:
            fmt = None
        if not fmt or fmt[0] != INDEX_FORMAT:
            db.close()
            raise BuildMissingError(f"the search index in {directory} is from another kb version: run `kb build --force`")
        return cls(np.load(directory / DENSE_FILE, mmap_mode="r"), db)

    # --- lookups ---

    def records(self, rows: list[int]) -> list[dict]:
        """The stored hit record of each row, in the order given."""
        if not rows:
            return []
        found = dict(self.db.execute(
            f"SELECT row, record FROM rows WHERE row IN ({', '.join('?' * len(rows))})", rows))
        return [json.loads(found[r]) for r in rows]

    def row_of(self, node_id: str) -> int | None:
        """The row of a node id, or None."""
        found = self.db.execute("SELECT row FROM rows WHERE id = ?", (node_id,)).fetchone()
        return found[0] if found else None

    def kind_of(self, node_id: str) -> str | None:
        """The kind of an indexed id, or None when it is not indexed."""
        found = self.db.execute("SELECT kind FROM rows WHERE id = ?", (node_id,)).fetchone()
        return found[0] if found else None

    def kind_mask(self, kinds: Iterable[str]) -> np.ndarray:
        """Boolean mask of the rows whose kind is one of `kinds`."""
        if self._kinds is None:
            names = [r[0] for r in self.db.execute("SELECT DISTINCT kind FROM rows ORDER BY kind")]
            code = {name: i for i, name in enumerate(names)}
            self._kind_names = names
            self._kinds = np.array([code[r[0]] for r in self.db.execute("SELECT kind FROM rows ORDER BY row")],
                                   dtype=np.int16)
        wanted = [i for i, name in enumerate(self._kind_names or []) if name in set(kinds)]
        return np.isin(self._kinds, wanted)

    def rows_mask(self, sql: str, params: tuple) -> np.ndarray:
        """Boolean mask of the rows a `SELECT row ...` statement returns."""
        mask = np.zeros(len(self), dtype=bool)
        rows = [r[0] for r in self.db.execute(sql, params)]
        mask[rows] = True
        return mask

    def neighbour_mask(self, node_id: str) -> np.ndarray:
        """Rows of the node and of every node one edge away from it (stored at build time)."""
        row = self.row_of(node_id)
        mask = self.rows_mask("SELECT row FROM neighbours WHERE node = ?", (row,))
        if row is not None:
            mask[row] = True
        return mask

    def source_mask(self, source_node: str, doc_id: str) -> np.ndarray:
        """Rows of a source document's node and of everything found in that document."""
        return self.rows_mask("SELECT row FROM rows WHERE source_id = ? OR id = ?", (doc_id, source_node))

    # --- search ---

    def search(self, query: str, query_vector: np.ndarray | None, *, k: int, mode: SearchMode = "hybrid",
               allowed: np.ndarray | None = None, fusion: Fusion = DEFAULT_FUSION) -> list[ScoredId]:
        """Best `k` ids for `query` (lexical side) and `query_vector` (dense side).

        `allowed` is a boolean mask over the rows; rows outside it are dropped before each side is cut to
        its candidate depth, so a filtered query still returns `k` hits when `k` allowed rows match. A query
        with no lexical token known to the index is answered by the dense side alone, and one with no
        vector by the lexical side alone.
        """
        return [ScoredId(self.ids[r], s, d, lx) for r, s, d, lx in
                self.search_rows(query, query_vector, k=k, mode=mode, allowed=allowed, fusion=fusion)]

    def search_rows(self, query: str, query_vector: np.ndarray | None, *, k: int, mode: SearchMode = "hybrid",
                    allowed: np.ndarray | None = None, fusion: Fusion = DEFAULT_FUSION):
        """Like `search`, as (row, score, dense rank, lexical rank) tuples."""
        if mode not in SEARCH_MODES:
            raise QueryError(f"unknown search mode {mode!r}: use one of {', '.join(SEARCH_MODES)}")
        if k < 1:
            raise QueryError(f"k must be at least 1, got {k}")
        allowed = self._check_allowed(allowed)
        tokens = tokenize(query)
        terms = dict(Counter(tokens))
        if fusion.synonym_weight > 0 and mode != "dense":
            terms = self._with_synonyms(terms, tokens, fusion.synonym_weight)
        postings = self._postings(terms)
        mode = _effective_mode(mode, has_lexical=bool(postings), has_dense=query_vector is not None)
        if mode is None or len(self) == 0:
            return []
        depth = max(k, fusion.depth)
        spread_depth = max(k, SPREAD_DEPTH) if fusion.per_source else k   # one ranking alone: room to spread
        dense_allowed = allowed if fusion.dense_statements else self._without_statements(allowed)
        if dense_allowed is not None and not dense_allowed.any():
            dense_allowed = allowed  # a filter to statements alone: rank them by their own vectors
        if mode == "dense":
            rows, scores = self._dense_ranked(query_vector, spread_depth, dense_allowed)
            found = [(int(r), float(s), i, None) for i, (r, s) in enumerate(zip(rows, scores), 1)]
            return self._diversified(found, fusion.per_source)[:k]
        if mode == "lexical":
            rows, scores = self._lexical_ranked(terms, postings, spread_depth, allowed)
            found = [(int(r), float(s), None, i) for i, (r, s) in enumerate(zip(rows, scores), 1)]
            return self._diversified(found, fusion.per_source)[:k]
        pool = max(depth, fusion.agreement_depth) if fusion.agreement > 0 else depth
        dense_pool = self._dense_ranked(query_vector, pool, dense_allowed)
        dense_rows, dense_scores = dense_pool[0][:depth], dense_pool[1][:depth]
        if fusion.concept_terms > 0:
            terms = self._with_concept_terms(terms, dense_rows, dense_scores, fusion)
            postings = {**postings, **self._postings({t: w for t, w in terms.items() if t not in postings})}
        dense_list = dense_rows.tolist()
        lexical_pool = self._lexical_ranked(terms, postings, pool, allowed)
        lexical_rows, lexical_scores = lexical_pool[0][:depth], lexical_pool[1][:depth]
        lexical_list = lexical_rows.tolist()
        dense_rank = {r: i for i, r in enumerate(dense_list, 1)}
        if not fusion.dense_statements:
            dense_rank = {**self._inherited(dense_rank, allowed), **dense_rank}
        lexical_rank = {r: i for i, r in enumerate(lexical_list, 1)}
        if fusion.method == "score":
            dense_score = dict(zip(dense_list, dense_scores.tolist()))
            if not fusion.dense_statements:
                dense_score = {**self._inherited(dense_score, allowed), **dense_score}
            fused = score_fuse(dense_score, dict(zip(lexical_list, lexical_scores.tolist())), fusion.dense_share,
                               dense_list)
        else:
            fused = rrf_fuse_ranks(dense_rank, lexical_rank, rrf_k=fusion.rrf_k,
                                   dense_weight=fusion.dense_weight, lexical_weight=fusion.lexical_weight)
        if fusion.concept_expansion > 0:
            fused = self._expand_concepts(fused, k, fusion.concept_expansion, dense_list)
        if fusion.agreement > 0:
            fused = self._with_agreement(fused, (dense_pool, lexical_pool), fusion.agreement, dense_list)
        # room to spread here too: the statements of a passage the dense side likes share its score, so one
        # document can fill the first `depth` fused rows
        found = [(r, s, dense_rank.get(r), lexical_rank.get(r)) for r, s in fused[:max(depth, spread_depth)]]
        return self._diversified(found, fusion.per_source)[:k]

    def _document_keys(self, rows: list[int]) -> dict[int, str]:
        """The document each row belongs to: its source for statements, passages and source nodes, else itself."""
        if not rows:
            return {}
        keys = dict(self.db.execute(
            "SELECT row, CASE WHEN kind IN ('claim', 'evidence', 'passage') THEN source_id "
            f"WHEN kind = 'source' THEN substr(id, 5) ELSE id END FROM rows WHERE row IN ({', '.join('?' * len(rows))})",
            rows))
        return {r: keys.get(r) or f"row:{r}" for r in rows}

    def _with_agreement(self, fused: list[tuple[int, float]], pools: tuple[tuple[np.ndarray, np.ndarray], ...],
                        weight: float, dense_order: list[int]) -> list[tuple[int, float]]:
        """`fused` with each row raised by `weight` x its document's support from both sides (see `Fusion`):
        `pools` are each side's (rows, scores), best first."""
        rows = {r for r, _ in fused} | {int(r) for side_rows, _ in pools for r in side_rows}
        keys = self._document_keys(sorted(rows))
        support = []
        for side_rows, side_scores in pools:
            best: dict[str, float] = {}
            for r, v in zip(side_rows.tolist(), _spread(np.asarray(side_scores, dtype=np.float64)).tolist()):
                best[keys[r]] = max(best.get(keys[r], 0.0), v)
            support.append(best)
        dense, lexical = support
        scores = {r: s + weight * min(dense.get(keys[r], 0.0), lexical.get(keys[r], 0.0)) for r, s in fused}
        return _ordered(scores, dense_order)

    def _diversified(self, found: list[tuple], per_source: int) -> list[tuple]:
        """`found` with every hit beyond the first `per_source` of its document moved after the others
        (order kept within each part); unchanged when `per_source` is 0."""
        if not per_source or len(found) < 2:
            return found
        keys = self._document_keys([f[0] for f in found])
        seen: Counter = Counter()
        kept, deferred = [], []
        for item in found:
            key = keys[item[0]]
            seen[key] += 1
            (kept if seen[key] <= per_source else deferred).append(item)
        return kept + deferred

    def _check_allowed(self, allowed: np.ndarray | None) -> np.ndarray | None:
        if allowed is None:
            return None
        allowed = np.asarray(allowed)
        if allowed.dtype != bool or allowed.shape != (len(self),):
            raise QueryError(f"allowed must be a boolean mask of length {len(self)}")
        return allowed

    def _inherited(self, ranks: dict[int, _V], allowed: np.ndarray | None) -> dict[int, _V]:
        """The rank (or score) of each ranked passage, given to the statements inside it."""
        passages = list(ranks)
        if not passages:
            return {}
        found = self.db.execute(
            f"SELECT passage, row FROM contains WHERE passage IN ({', '.join('?' * len(passages))})", passages)
        return {row: ranks[p] for p, row in found if allowed is None or allowed[row]}

    def _without_statements(self, allowed: np.ndarray | None) -> np.ndarray:
        if self._non_statements is None:
            self._non_statements = ~self.kind_mask(("claim", "evidence"))
        return self._non_statements if allowed is None else allowed & self._non_statements

    def _concept_rows(self) -> np.ndarray:
        if self._concepts is None:
            self._concepts = self.rows_mask(
                f"SELECT row FROM rows WHERE kind IN ({', '.join('?' * len(CONCEPT_KINDS))})", CONCEPT_KINDS)
        return self._concepts

    def _with_synonyms(self, terms: dict[str, float], tokens: list[str], weight: float) -> dict[str, float]:
        """`terms` plus, at `weight`, the glossary expansions of every phrase the query's words contain."""
        grams = {" ".join(tokens[i:i + n]) for n in range(1, MAX_SYNONYM_WORDS + 1) for i in range(len(tokens) - n + 1)}
        if not grams:
            return terms
        found = self.db.execute(f"SELECT terms FROM synonyms WHERE phrase IN ({', '.join('?' * len(grams))})",
                                sorted(grams))
        merged = dict(terms)
        for (words,) in found:
            for word in words.split():
                merged.setdefault(word, weight)
        return merged

    def _with_concept_terms(self, terms: dict[str, float], rows: np.ndarray, scores: np.ndarray,
                            fusion: Fusion) -> dict[str, float]:
        """`terms` plus the terms of the best dense concept when it is close enough to the query."""
        concepts = self._concept_rows()
        best = next((int(r) for r, s in zip(rows, scores) if concepts[r] and s >= fusion.concept_min_cos), None)
        if best is None:
            return terms
        found = self.db.execute("SELECT terms FROM rows WHERE row = ?", (best,)).fetchone()
        merged = dict(terms)
        for term in found[0].split():
            merged[term] = merged.get(term, 0.0) + fusion.concept_terms
        return merged

    def _expand_concepts(self, fused: list[tuple[int, float]], k: int, weight: float,
                         dense: list[int]) -> list[tuple[int, float]]:
        """Each concept in the top `k` lends `weight` times its score to the ranked statements tied to it."""
        concepts = self._concept_rows()
        scores = dict(fused)
        top = [(r, s) for r, s in fused[:k] if concepts[r]]
        for concept, s in top:
            for (row,) in self.db.execute("SELECT row FROM ties WHERE concept = ?", (concept,)):
                if row in scores:
                    scores[row] += weight * s
        return _ordered(scores, dense)

    def _dense_ranked(self, query_vector: np.ndarray, depth: int, allowed: np.ndarray | None):
        """Rows by cosine with the query vector, best first (ties: lower row first), allowed rows only."""
        q = np.asarray(query_vector, dtype=np.float32).reshape(-1)
        if q.shape[0] != EMBEDDING_DIM:
            raise QueryError(f"query vector must have {EMBEDDING_DIM} dimensions, got {q.shape[0]}")
        scores = self.vectors @ q
        if allowed is not None:
            scores = np.where(allowed, scores, -np.inf)
        depth = min(depth, len(scores))
        candidates = np.argpartition(-scores, depth - 1)[:depth] if depth < len(scores) else np.arange(len(scores))
        candidates = candidates[np.isfinite(scores[candidates])]
        rows = candidates[np.lexsort((candidates, -scores[candidates]))]
        return rows, scores[rows]

    def _postings(self, terms: Iterable[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The stored (rows, BM25 weights) of each of `terms` that occurs in the index."""
        terms = list(terms)
        if not terms:
            return {}
        found = self.db.execute(
            f"SELECT term, rows, weights FROM postings WHERE term IN ({', '.join('?' * len(terms))})", terms)
        return {t: (np.frombuffer(r, dtype=np.int32), np.frombuffer(w, dtype=np.float32)) for t, r, w in found}

    def _lexical_ranked(self, terms: dict[str, float], postings: dict[str, tuple[np.ndarray, np.ndarray]],
                        depth: int, allowed: np.ndarray | None):
        """Rows by BM25 score (sum over query terms of term weight x stored weight), best first."""
        if not postings:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = np.zeros(len(self), dtype=np.float32)
        for term, (rows, weights) in postings.items():
            scores[rows] += np.float32(terms[term]) * weights
        if allowed is not None:
            scores = np.where(allowed, scores, 0)
        rows = _top_rows(scores, depth)
        return rows, scores[rows]


def _effective_mode(mode: str, *, has_lexical: bool, has_dense: bool) -> str | None:
    """The mode that can actually answer: a side with no input hands the query to the other side."""
    if mode == "hybrid" and has_lexical and has_dense:
        return "hybrid"
    preferred = ("dense", "lexical") if mode in ("hybrid", "dense") else ("lexical", "dense")
    available = {"dense": has_dense, "lexical": has_lexical}
    return next((m for m in preferred if available[m]), None)
