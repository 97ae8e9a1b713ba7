"""Write N synthetic corpus documents (episode and post Markdown files) for the export scale benchmark.

Each document has front matter, an About paragraph, takeaways with numbers, and chapters, built from the
failure-mode and mitigation vocabulary of data/taxonomy.yaml so extraction finds claims, evidence and links.
The shipped taxonomy and curation files are copied beside the corpus, and so is the shipped corpus (the
curation file points at its sentences), so `kb --data-dir DIR build` works as is.

    python scripts/gen_synthetic_corpus.py 1000 /tmp/kb-synth
"""

from __future__ import annotations

import argparse
import random
import shutil
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"

OPENINGS = ["This run", "The authors", "Our ablation", "A follow-up study", "The reported experiment", "This paper"]
VERBS = ["shows", "finds", "reports", "argues", "measures", "observes"]
MODELS = ["Qwen2.5-7B", "Llama-3.1-8B", "a 1.5B base model", "a 32B MoE", "DeepSeek-R1-Distill-7B"]
BENCHES = ["AIME 2024", "MATH-500", "GSM8K", "LiveCodeBench", "a held-out puzzle set"]


def vocabulary() -> tuple[list[tuple[str, list[str]]], list[tuple[str, list[str]]]]:
    """(label, aliases) of every failure mode and mitigation in the taxonomy, with `*` wildcards resolved."""
    data = yaml.safe_load((DATA / "taxonomy.yaml").read_text(encoding="utf-8"))

    def entries(key: str) -> list[tuple[str, list[str]]]:
        return [(e["label"], [a.replace("*", "ing") for a in e.get("aliases", [])] or [e["label"]]) for e in data.get(key, [])]

    return entries("failure_modes"), entries("mitigations")


def sentence(rng: random.Random, fms, mits, episodes: list[str]) -> str:
    """One sentence with a failure-mode alias, usually a number, sometimes a mitigation and an episode id."""
    _, aliases = rng.choice(fms)
    parts = [(f"{rng.choice(OPENINGS)} {rng.choice(VERBS)} that {rng.choice(aliases)} appears when training "
              f"{rng.choice(MODELS)} on {rng.choice(BENCHES)}")]
    if rng.random() < 0.7:
        parts.append(f"with accuracy moving from {rng.randint(5, 60)}% to {rng.randint(10, 90)}% over "
                     f"{rng.choice([50, 100, 200, 400, 800])} steps")
    if rng.random() < 0.5:
        _, m_aliases = rng.choice(mits)
        parts.append(f"and {rng.choice(m_aliases)} reduces it")
    if rng.random() < 0.3:
        parts.append(f"(see {rng.choice(episodes)})")
    return " ".join(parts) + "."


def document(i: int, rng: random.Random, fms, mits) -> tuple[str, str]:
    """(relative path, text) of synthetic document number `i`."""
    ep = f"E{1000 + i}"
    episodes = [f"E{1000 + rng.randrange(max(i, 1))}" for _ in range(3)]
    kind = "episode" if i % 5 else "post"
    title = f"Synthetic study {i}: {rng.choice(fms)[0]}"
    front = {"id": f"syn-{i:05d}", "kind": kind, "title": title, "date": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}",
             "reliability": "secondary" if kind == "episode" else "opinion"}
    if kind == "episode":
        front.update({"episode": ep, "url": f"https://example.org/synthetic/{i}"})
    lines = ["---", yaml.safe_dump(front, sort_keys=False).strip(), "---", f"# {title}", "", "## About",
             " ".join(sentence(rng, fms, mits, episodes) for _ in range(3)), "", "## Takeaways"]
    lines += [f"- {sentence(rng, fms, mits, episodes)}" for _ in range(rng.randint(4, 7))]
    if kind == "episode":
        lines += ["", "## Chapters"]
        lines += [f"- {m:02d}:{s:02d} {rng.choice(fms)[0]}" for m, s in sorted((rng.randint(0, 40), rng.randint(0, 59)) for _ in range(3))]
    folder = "episodes" if kind == "episode" else "posts"
    return f"{folder}/{front['id']}.md", "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, help="number of synthetic documents")
    parser.add_argument("dir", type=Path, help="data directory to create (corpus/ goes inside)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    fms, mits = vocabulary()
    corpus = args.dir / "corpus"
    shutil.rmtree(corpus / "synthetic", ignore_errors=True)
    shutil.copytree(DATA / "corpus", corpus, dirs_exist_ok=True)
    for i in range(args.n):
        rel, text = document(i, rng, fms, mits)
        path = corpus / "synthetic" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for name in ("taxonomy.yaml", "curation.yaml"):
        shutil.copyfile(DATA / name, args.dir / name)
    print(f"wrote {args.n} synthetic documents (+ the shipped corpus) to {corpus}")


if __name__ == "__main__":
    main()
