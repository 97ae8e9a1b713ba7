"""Build-time embedding throughput: the encoder the build uses (OnnxEncoder) against raw
`SentenceTransformer.encode` on the same texts.

    python scripts/bench_embed.py [--n 2000] [--batch-size 64] [--rounds 2] [--device cpu|cuda] [--json]

Rounds alternate between the two encoders and each keeps its best round, so a busy machine does not
favour whichever ran in a quiet moment. Target: slowdown (raw texts/s / encoder texts/s) <= 1.3.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from kb.embed import OnnxEncoder, SentenceTransformerEncoder, ensure_onnx_model

ROOT = Path(__file__).resolve().parents[1]
TEXT_DIRS = [ROOT / "data" / "corpus", Path("/work/shared/seeds")]


def corpus_sentences(n: int) -> list[str]:
    """`n` sentences cut from the corpus and seed files (cycled, each copy numbered so none repeat)."""
    sentences = []
    for directory in TEXT_DIRS:
        for path in sorted(directory.rglob("*")) if directory.is_dir() else []:
            if path.suffix in (".md", ".txt", ".html"):
                text = path.read_text(encoding="utf-8", errors="replace")
                sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n", text) if 20 < len(s.strip()) <= 600]
    if not sentences:
        raise SystemExit("no corpus text found to embed")
    return [f"{sentences[i % len(sentences)]} ({i // len(sentences)})" for i in range(n)]


def throughput(encode, texts: list[str], batch_size: int) -> tuple[float, np.ndarray]:
    """Texts per second of one full pass, after a short warm-up."""
    encode(texts[:batch_size], batch_size=batch_size)
    start = time.perf_counter()
    vectors = encode(texts, batch_size=batch_size)
    return len(texts) / (time.perf_counter() - start), vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="number of texts")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2, help="alternating timed passes per encoder")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="device of the sentence-transformers runs")
    parser.add_argument("--cache-dir", type=Path, default=None, help="where the ONNX export lives (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()

    texts = corpus_sentences(args.n)
    cache = args.cache_dir or Path(tempfile.mkdtemp(prefix="kb-bench-"))
    onnx = OnnxEncoder.load(ensure_onnx_model(cache))
    st = SentenceTransformerEncoder(args.device)

    def raw(batch, batch_size):
        return st.model.encode(batch, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)

    raw_tps = onnx_tps = 0.0
    for _ in range(args.rounds):
        tps, raw_vectors = throughput(raw, texts, args.batch_size)
        raw_tps = max(raw_tps, tps)
        tps, onnx_vectors = throughput(onnx.encode, texts, args.batch_size)
        onnx_tps = max(onnx_tps, tps)
    tokens = [sum(e.attention_mask) for e in onnx.tokenizer.encode_batch(texts)]
    result = {
        "texts": len(texts),
        "mean_tokens": round(float(np.mean(tokens)), 1),
        "rounds": args.rounds,
        "batch_size": args.batch_size,
        "device": args.device,
        "raw_sentence_transformers_texts_per_s": round(raw_tps, 1),
        "onnx_encoder_texts_per_s": round(onnx_tps, 1),
        "onnx_slowdown_vs_raw": round(raw_tps / onnx_tps, 2),
        "min_cosine_onnx_vs_raw": round(float((onnx_vectors * raw_vectors).sum(axis=1).min()), 6),
    }
    if not args.json:
        print(f"{'encoder':<34} {'texts/s':>10} {'slowdown':>9}")
        print(f"{'raw SentenceTransformer.encode':<34} {raw_tps:>10.1f} {1.0:>8.2f}x")
        print(f"{'OnnxEncoder (build)':<34} {onnx_tps:>10.1f} {raw_tps / onnx_tps:>8.2f}x")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
