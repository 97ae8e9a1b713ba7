"""Benchmark `kb build` on the shipped corpus: cold (no caches: ONNX export + every embedding), warm cache
(forced rebuild, embeddings reused), and an unchanged rebuild (skipped). Prints a table; --json for JSON.

    .venv/bin/python scripts/bench_build.py [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed_build(data_dir: Path, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kb", "--data-dir", str(data_dir), "build", *extra], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def fresh_data_dir(root: Path) -> Path:
    data = root / "data"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(REPO / "data" / "corpus", data / "corpus")
    for name in ("taxonomy.yaml", "curation.yaml"):
        shutil.copy(REPO / "data" / name, data / name)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cold, warm, unchanged = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            data = fresh_data_dir(Path(tmp))
            cold.append(timed_build(data))
            warm.append(timed_build(data, "--force"))
            unchanged.append(timed_build(data))
    result = {name: round(statistics.median(values), 2) for name, values in
              (("cold_build_s", cold), ("warm_cache_rebuild_s", warm), ("unchanged_rebuild_s", unchanged))}
    result["runs"] = args.runs
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"{'build (median of ' + str(args.runs) + ', wall, new process)':<48}seconds")
    print(f"{'cold: ONNX export + embed every node':<48}{result['cold_build_s']:>7.2f}")
    print(f"{'forced rebuild, embeddings cached':<48}{result['warm_cache_rebuild_s']:>7.2f}")
    print(f"{'unchanged corpus (skipped)':<48}{result['unchanged_rebuild_s']:>7.2f}")


if __name__ == "__main__":
    main()
