"""Write a synthetic corpus of N nodes as a HybridIndex directory, for search benchmarks.

Texts are random sentences over a Zipf-weighted vocabulary of domain and filler words; vectors are random
unit vectors (generated, not encoded, so 100k nodes take seconds). The output holds the index files plus
`nodes.jsonl` ({"id", "text"} per line).

    python scripts/gen_synthetic.py [N] [OUT_DIR]        # defaults: 100000 data/.cache/synthetic-100000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from kb.config import EMBEDDING_DIM
from kb.search import HybridIndex

DOMAIN = """reward hacking model policy gradient rollout advantage entropy collapse exploration kl penalty
reference verifier overoptimization proxy gold pass@k reasoning chain thought grpo ppo dapo clipping
length bias sycophancy memorization forecasting benchmark contamination evaluation reweighting base
compositional sabotage library bug seed variance curriculum difficulty zero signal sparse dense
critic value baseline normalization temperature sampling tokens sequence format answer""".split()
FILLER = """the a of and to in is that for on with as by this it from at be are was we an or which not
training results shows paper method approach experiments model models data task tasks performance
during after when while each some more most other only also than then into over under between""".split()


def synthetic_texts(n: int, rng: np.random.Generator) -> list[str]:
    """`n` sentences of 12-40 words drawn Zipf-like from domain and filler words."""
    vocab = np.array(DOMAIN + FILLER + [f"term{i}" for i in range(5000)])
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 0.9
    weights /= weights.sum()
    lengths = rng.integers(12, 41, size=n)
    words = rng.choice(vocab, size=int(lengths.sum()), p=weights)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [" ".join(words[bounds[i]:bounds[i + 1]]) for i in range(n)]


def synthetic_vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` random L2-normalized float32 vectors."""
    vectors = rng.standard_normal((n, EMBEDDING_DIM), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=100_000, help="number of nodes")
    parser.add_argument("out_dir", nargs="?", type=Path, default=None, help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = args.out_dir or Path("data/.cache") / f"synthetic-{args.n}"

    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    ids = [f"syn{i:07d}" for i in range(args.n)]
    texts = synthetic_texts(args.n, rng)
    vectors = synthetic_vectors(args.n, rng)
    index = HybridIndex.build(ids, texts, vectors)
    index.save(out)
    with open(out / "nodes.jsonl", "w", encoding="utf-8") as f:
        for node_id, text in zip(ids, texts):
            f.write(json.dumps({"id": node_id, "text": text}) + "\n")
    print(f"wrote {args.n} nodes to {out} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
