"""A content-addressed vector cache for short texts (phrases, concept names) that extraction embeds.

Texts are keyed by a hash of their content, so a rebuild only encodes texts it has not seen; the encoder is
created on first need, so a build whose phrases are all cached never loads the model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .config import EMBEDDING_DIM


def text_key(text: str) -> str:
    """The cache key of a text."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class VectorCache:
    """Vectors by text, backed by one .npz file; `embed` encodes only the texts it lacks."""

    def __init__(self, path: Path | None, make_encoder: Callable[[], object]):
        self.path = path
        self._make_encoder = make_encoder
        self._encoder = None
        self._vectors: dict[str, np.ndarray] = self._load() if path else {}
        self._used: set[str] = set()
        self.encoded = 0

    def _load(self) -> dict[str, np.ndarray]:
        try:
            with np.load(self.path) as data:
                return dict(zip(data["keys"].tolist(), data["vectors"]))
        except (OSError, ValueError, KeyError):
            return {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalized vectors for `texts`, one row each."""
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        keys = [text_key(t) for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts) if k not in self._vectors}.items())
        if missing:
            if self._encoder is None:
                self._encoder = self._make_encoder()
            encoded = self._encoder.encode([t for _, t in missing])
            for (key, _), vector in zip(missing, encoded):
                self._vectors[key] = np.asarray(vector, dtype=np.float32)
            self.encoded += len(missing)
        self._used.update(keys)
        return np.stack([self._vectors[k] for k in keys])

    def save(self) -> None:
        """Write the vectors used since loading (older, unused ones are dropped) atomically."""
        if self.path is None or not self._used:
            return
        keys = sorted(self._used)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.stem}.tmp.npz")
        np.savez(tmp, keys=np.array(keys), vectors=np.stack([self._vectors[k] for k in keys]).astype(np.float32))
        tmp.replace(self.path)


def _onnx_encoder_factory(settings):
    def make_encoder():
        from .embed import OnnxEncoder, ensure_onnx_model

        return OnnxEncoder.load(ensure_onnx_model(settings.cache_dir))

    return make_encoder


def phrase_vectors(settings) -> VectorCache:
    """The phrase vector cache of a knowledge base (extraction's phrases and concept names)."""
    return VectorCache(settings.cache_dir / "phrase-vectors.npz", _onnx_encoder_factory(settings))


def text_vectors(settings) -> VectorCache:
    """The vector cache of the texts the search index embeds (nodes and passages)."""
    return VectorCache(settings.cache_dir / "embeddings.npz", _onnx_encoder_factory(settings))
