"""Search latency: warm in-process on a synthetic 100k index and on the shipped build, and the cold
`kb query --json` process against the import floor and a naive sentence-transformers process.

    python scripts/bench_search.py [--synthetic DIR] [--data-dir data] [--queries 60] [--cold-runs 7] [--json]

Cold runs go pair by pair in one loop (floor, kb query, naive, then again), so machine load hits all three
alike: the floor is a process that only imports what a query needs (onnxruntime, tokenizers, faiss, numpy);
the naive process loads sentence-transformers and searches the same index. Reported: medians, and the
median over runs of kb/floor and naive/kb.

Targets (2 CPU cores): warm total <= 50 ms on 100k nodes, <= 20 ms on the shipped corpus; cold `kb query`
<= 1.5x the import floor.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from kb.config import load_settings
from kb.embed import OnnxEncoder, ensure_onnx_model
from kb.errors import BuildMissingError
from kb.search import SQLITE_FILE, HybridIndex

ROOT = Path(__file__).resolve().parents[1]
DEV_QUERIES = Path("/work/shared/dev_queries.json")
TOPICS = """reward hacking|entropy collapse|KL penalty|zero advantage|pass@k at large k|length bias|verifier
false positives|memorization of answers|format reward|clipping ratio|sparse reward|curriculum of
difficulty|evaluation contamination|sycophancy|exploration|seed variance|library bugs|overoptimization""".replace(
    "\n", " ").split("|")
FRAMES = ["why does {} happen", "{} in GRPO training", "how to fix {}", "{}", "signs of {} during RL"]

NAIVE_QUERY = """
import os, sys, time
os.environ["HF_HUB_OFFLINE"] = "1"
from sentence_transformers import SentenceTransformer
from kb.embed import sentence_model_dir
from kb.search import SQLITE_FILE, HybridIndex
model = SentenceTransformer(str(sentence_model_dir()), device="cpu")
vector = model.encode([sys.argv[2]], normalize_embeddings=True)[0]
print(HybridIndex.load(sys.argv[1]).search(sys.argv[2], vector, k=5)[0])
"""


def bench_queries(n: int) -> list[str]:
    """`n` query strings: the dev queries, then topic phrases in a few phrasings."""
    queries = [q["q"] for q in json.loads(DEV_QUERIES.read_text())["queries"]] if DEV_QUERIES.exists() else []
    queries += [frame.format(topic.strip()) for frame in FRAMES for topic in TOPICS]
    return queries[:n]


def summarize(ms: list[float]) -> dict:
    """Median and 95th percentile of a list of milliseconds."""
    return {"median_ms": round(statistics.median(ms), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2), "n": len(ms)}


def ensure_synthetic(directory: Path) -> None:
    """Generate the synthetic index when it is missing or was saved by another index format."""
    try:
        HybridIndex.load(directory)
    except BuildMissingError:
        subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_synthetic.py"), "100000", str(directory)], check=True)


def warm_synthetic(directory: Path, encoder: OnnxEncoder, queries: list[str]) -> dict:
    """Encode + hybrid search per query on a saved synthetic index, timed separately."""
    index = HybridIndex.load(directory)
    for q in queries[:3]:
        index.search(q, encoder.encode([q])[0], k=5)
    encode_ms, search_ms, total_ms = [], [], []
    for q in queries:
        t0 = time.perf_counter()
        vector = encoder.encode([q])[0]
        t1 = time.perf_counter()
        index.search(q, vector, k=5)
        t2 = time.perf_counter()
        encode_ms.append((t1 - t0) * 1e3)
        search_ms.append((t2 - t1) * 1e3)
        total_ms.append((t2 - t0) * 1e3)
    return {"nodes": len(index), "encode": summarize(encode_ms), "search": summarize(search_ms),
            "total": summarize(total_ms)}


def warm_shipped(data_dir: Path, queries: list[str]) -> dict | str:
    """`KnowledgeBase.search(text, k=5)` per query on the shipped build."""
    try:
        from kb.api import KnowledgeBase

        kb = KnowledgeBase.load(data_dir)
    except Exception as exc:  # the benchmark reports what is missing instead of stopping
        return f"skipped: {type(exc).__name__}: {exc}"
    for q in queries[:3]:
        kb.search(q, k=5)
    total_ms = []
    for q in queries:
        t0 = time.perf_counter()
        kb.search(q, k=5)
        total_ms.append((time.perf_counter() - t0) * 1e3)
    return {"total": summarize(total_ms)}


def find_index_dir(build_dir: Path) -> Path | None:
    """The first directory under the build that holds a saved HybridIndex."""
    hits = sorted(p.parent for p in build_dir.rglob(SQLITE_FILE) if (p.parent / "dense.npy").exists())
    return hits[0] if hits else None


FLOOR = "import numpy, onnxruntime, tokenizers, faiss"


def time_once(argv: list[str], env: dict) -> float:
    """Wall seconds of one process run to completion."""
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env, cwd=ROOT)
    return time.perf_counter() - t0


def cold(data_dir: Path, query: str, runs: int) -> dict | str:
    """Fresh-process wall times, pair by pair: the import floor, `kb query --json`, and a naive
    sentence-transformers process on the same index."""
    kb_bin = Path(sys.executable).with_name("kb")
    kb_cmd = [str(kb_bin)] if kb_bin.exists() else shutil.which("kb")
    index_dir = find_index_dir(data_dir / "build")
    if not kb_cmd or index_dir is None:
        return "skipped: needs the `kb` console script and a build with a saved index"
    env = {**os.environ, "KB_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    argv = {"floor": [sys.executable, "-c", FLOOR], "kb": [*kb_cmd, "query", query, "--json"],
            "naive": [sys.executable, "-c", NAIVE_QUERY, str(index_dir), query]}
    for name in ("floor", "kb"):  # page the files in once so the first timed run is not a disk-cache outlier
        time_once(argv[name], env)
    times: dict[str, list[float]] = {name: [] for name in argv}
    for _ in range(runs):
        for name, command in argv.items():
            times[name].append(time_once(command, env))
    med = {name: statistics.median(t) for name, t in times.items()}
    kb_over_floor = statistics.median(k / f for k, f in zip(times["kb"], times["floor"]))
    naive_over_kb = statistics.median(n / k for n, k in zip(times["naive"], times["kb"]))
    return {"runs": runs, "floor_median_s": round(med["floor"], 3), "kb_query_median_s": round(med["kb"], 3),
            "naive_median_s": round(med["naive"], 3), "kb_over_floor": round(kb_over_floor, 2),
            "naive_over_kb": round(naive_over_kb, 1), "index_dir": str(index_dir)}


def print_table(result: dict) -> None:
    print(f"{'benchmark':<34} {'median':>10} {'p95':>10}")
    syn = result["synthetic_warm"]
    for part in ("encode", "search", "total"):
        print(f"{'warm synthetic ' + str(syn['nodes']) + ' ' + part:<34} "
              f"{syn[part]['median_ms']:>8.2f}ms {syn[part]['p95_ms']:>8.2f}ms")
    shipped = result["shipped_warm"]
    if isinstance(shipped, dict):
        print(f"{'warm shipped KnowledgeBase.search':<34} {shipped['total']['median_ms']:>8.2f}ms "
              f"{shipped['total']['p95_ms']:>8.2f}ms")
    else:
        print(f"warm shipped: {shipped}")
    c = result["cold"]
    if isinstance(c, dict):
        print(f"{'cold import floor':<34} {c['floor_median_s']:>9.3f}s")
        print(f"{'cold kb query --json':<34} {c['kb_query_median_s']:>9.3f}s")
        print(f"{'cold naive sentence-transformers':<34} {c['naive_median_s']:>9.3f}s")
        print(f"{'cold kb / floor (median of pairs)':<34} {c['kb_over_floor']:>9.2f}x")
        print(f"{'cold naive / kb (median of pairs)':<34} {c['naive_over_kb']:>9.1f}x")
    else:
        print(f"cold: {c}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=Path, default=None, help="synthetic index dir (made if missing)")
    parser.add_argument("--data-dir", type=Path, default=None, help="data dir of the shipped build")
    parser.add_argument("--queries", type=int, default=60, help="number of timed queries (>= 50)")
    parser.add_argument("--cold-runs", type=int, default=7)
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()

    settings = load_settings(args.data_dir)
    synthetic = args.synthetic or settings.cache_dir / "synthetic-100000"
    ensure_synthetic(synthetic)
    encoder = OnnxEncoder.load(ensure_onnx_model(settings.cache_dir))
    queries = bench_queries(args.queries)
    result = {
        "synthetic_warm": warm_synthetic(synthetic, encoder, queries),
        "shipped_warm": warm_shipped(settings.data_dir, queries),
        "cold": "skipped" if args.skip_cold else cold(settings.data_dir, queries[0], args.cold_runs),
    }
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print_table(result)
        print(json.dumps(result))


if __name__ == "__main__":
    main()
