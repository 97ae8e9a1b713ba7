"""Search quality on the development queries: hit@5 for dense-only, lexical-only and hybrid search.

A query counts when one of its top 5 hits cites one of the query's `episodes`, or the hit's text contains
every word of one of its `words` entries (case-insensitive), as `_about` in the queries file says.

    python scripts/eval_search.py [--data-dir data] [--queries FILE] [--k 5] [--verbose] [--sweep] [--json]

`--sweep` prints hybrid hit@k over a small grid of the fusion constants in kb.search (for tuning; the
chosen values live in kb/search.py).
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from kb import search
from kb.api import KnowledgeBase

DEFAULT_QUERIES = Path("/work/shared/dev_queries.json")
MODES = ("dense", "lexical", "hybrid")


def answered(hit, query: dict) -> bool:
    """True when `hit` cites one of the query's episodes or contains all words of one `words` entry."""
    if set(hit.episodes) & set(query.get("episodes", [])):
        return True
    text = hit.text.lower()
    return any(all(w.lower() in text for w in entry) for entry in query.get("words", []))


def hit_at_k(kb: KnowledgeBase, queries: list[dict], mode: str, k: int) -> tuple[float, list[bool]]:
    """Fraction of queries answered in the top `k` hits of `mode`, and the per-query outcome."""
    outcomes = [any(answered(h, q) for h in kb.search(q["q"], k=k, mode=mode)) for q in queries]
    return sum(outcomes) / len(outcomes), outcomes


def sweep(kb: KnowledgeBase, queries: list[dict], k: int) -> list[dict]:
    """Hybrid hit@k over a grid of RRF constant, lexical weight and candidate depth."""
    saved = (search.RRF_K, search.LEXICAL_WEIGHT, search.CANDIDATE_DEPTH)
    rows = []
    try:
        for rrf_k, lexical_weight, depth in itertools.product((10, 30, 60, 100), (0.5, 0.75, 1.0, 1.5), (20, 50, 100)):
            search.RRF_K, search.LEXICAL_WEIGHT, search.CANDIDATE_DEPTH = rrf_k, lexical_weight, depth
            score, _ = hit_at_k(kb, queries, "hybrid", k)
            rows.append({"rrf_k": rrf_k, "lexical_weight": lexical_weight, "depth": depth, "hit": round(score, 3)})
    finally:
        search.RRF_K, search.LEXICAL_WEIGHT, search.CANDIDATE_DEPTH = saved
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--verbose", action="store_true", help="show each query's outcome per mode")
    parser.add_argument("--sweep", action="store_true", help="grid over the fusion constants")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()

    queries = json.loads(args.queries.read_text(encoding="utf-8"))["queries"]
    kb = KnowledgeBase.load(args.data_dir)
    results = {mode: hit_at_k(kb, queries, mode, args.k) for mode in MODES}
    summary = {f"{mode}_hit@{args.k}": round(results[mode][0], 3) for mode in MODES}
    if args.sweep:
        summary["sweep"] = sweep(kb, queries, args.k)
    if args.json:
        print(json.dumps(summary, indent=1))
        return
    if args.verbose:
        for i, q in enumerate(queries):
            marks = " ".join(f"{mode[0]}{'+' if results[mode][1][i] else '-'}" for mode in MODES)
            print(f"{marks}  {q['q']}")
    for row in summary.get("sweep", []):
        print(row)
    print(" ".join(f"{mode}={results[mode][0]:.3f}" for mode in MODES), f"(hit@{args.k}, {len(queries)} queries)")


if __name__ == "__main__":
    main()
