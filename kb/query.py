"""The query path: open a build's search index and the ONNX query encoder, and answer a query with hit
records (plain dicts, the `kb query --json` schema) without loading the graph.

`kb query` and `KnowledgeBase.search` both go through `Searcher`. This module and what it imports (config,
errors, store, search, embed) stay free of torch, sentence-transformers, networkx, scipy and pydantic, so a
cold `kb query` costs little more than importing onnxruntime, tokenizers, faiss and numpy.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property

import numpy as np

from .config import Settings
from .errors import NotFoundError, QueryError
from .kinds import SEARCH_KINDS
from .search import DEFAULT_FUSION, Fusion, HybridIndex
from .store import INDEX_DIR, require_build

MAX_QUERY_CHARS = 2000
MAX_K = 1000


def validate_query(text: str, k: int) -> str:
    """The stripped query, or QueryError for an empty/oversized query or a k outside 1..MAX_K."""
    if not isinstance(k, int) or k < 1 or k > MAX_K:
        raise QueryError(f"--k must be between 1 and {MAX_K}, got {k}")
    text = (text or "").strip()
    if not text:
        raise QueryError("empty query: type a symptom or question, e.g. kb query \"all rollouts get zero reward\"")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"query is {len(text):,} characters; keep it under {MAX_QUERY_CHARS:,}")
    return text


class Searcher:
    """Search over one build: the index and the encoder open on first use. A `one_shot` searcher (the CLI's:
    one query, then exit) opens the encoder for a fast start rather than fast repeated encoding."""

    def __init__(self, settings: Settings, *, one_shot: bool = False):
        self.settings = settings
        self.one_shot = one_shot

    @classmethod
    def load(cls, settings: Settings, *, one_shot: bool = False) -> Searcher:
        """A searcher for the build of `settings`; BuildMissingError when there is no build."""
        require_build(settings)
        return cls(settings, one_shot=one_shot)

    @cached_property
    def index(self) -> HybridIndex:
        """The hybrid dense + lexical index of this build."""
        return HybridIndex.load(self.settings.build_dir / INDEX_DIR)

    @cached_property
    def encoder(self):
        """The ONNX query encoder (no torch import on the query path)."""
        from .embed import OnnxEncoder, onnx_model_dir

        return OnnxEncoder.load(onnx_model_dir(self.settings.cache_dir), one_shot=self.one_shot)

    def search_records(self, text: str, k: int = 10, *, kinds: Iterable[str] | None = None,
                       failure_mode: str | None = None, source: str | None = None, mode: str = "hybrid",
                       fusion: Fusion = DEFAULT_FUSION, vector: np.ndarray | None = None) -> list[dict]:
        """The best `k` hits for `text` as records (id, kind, label, text, score, source, quote, links),
        filtered by node kind, failure mode (the node and its neighbours) and source document.

        `vector` is the query's embedding when the caller has it already (evaluation loops)."""
        text = validate_query(text, k)
        kinds = list(kinds or [])
        bad = [kd for kd in kinds if kd not in SEARCH_KINDS]
        if bad:
            raise QueryError(f"unknown kind {bad[0]!r}; choose from {', '.join(SEARCH_KINDS)}")
        allowed = self._allowed(kinds, failure_mode, source)
        if vector is None and mode != "lexical":
            vector = self.encoder.encode([text])[0]
        found = self.index.search_rows(text, vector, k=k, mode=mode, allowed=allowed, fusion=fusion)
        records = self.index.records([row for row, *_ in found])
        return [{**rec, "score": round(float(score), 6)} for rec, (_, score, *_) in zip(records, found)]

    def resolve(self, ref: str, kind: str) -> str:
        """The indexed id of a failure mode or source given as an id or a bare slug (`no-foothold`)."""
        ref = (ref or "").strip()
        prefix = {"failure_mode": "fm", "source": "src"}[kind]
        for candidate in (ref, f"{prefix}:{ref}"):
            if self.index.kind_of(candidate) == kind:
                return candidate
        raise NotFoundError(f"no {kind.replace('_', ' ')} {ref!r}; `kb stats` lists what exists and `kb query` finds ids")

    def _allowed(self, kinds: list[str], failure_mode: str | None, source: str | None) -> np.ndarray | None:
        if not kinds and not failure_mode and not source:
            return None
        keep = np.ones(len(self.index), dtype=bool)
        if kinds:
            keep &= self.index.kind_mask(kinds)
        if failure_mode:
            keep &= self.index.neighbour_mask(self.resolve(failure_mode, "failure_mode"))
        if source:
            src = self.resolve(source, "source")
            keep &= self.index.source_mask(src, src.removeprefix("src:"))
        return keep
