"""Benchmark `kb build` on the shipped corpus: cold (no caches: ONNX export + every embedding), warm cache
(forced rebuild, embeddings reused), and an unchanged rebuild (skipped). Prints a table; --json for JSON.

With --realdev DIR, instead measure in one run on the shipped corpus plus DIR/docs (../shared/realdev): a cold
build (every cache emptied except the ONNX export of the model, a one-time conversion that does not depend
on the corpus), the time the same ONNX encoder takes to embed every text that build embeds (node texts,
passages, extraction's phrases), their ratio, and a rebuild after editing only the taxonomy (median of three edits).

    .venv/bin/python scripts/bench_build.py [--runs 3] [--json]
    .venv/bin/python scripts/bench_build.py --realdev ../shared/realdev
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


# A taxonomy-only rebuild is timed after each of these edits (an alias added to a concept, as a curator does);
# the median is reported. Their first words are common ones, so many sentences must be matched again.
TAXONOMY_EDITS = (("fm:reward-hacking", "gaming the grader"), ("fm:entropy-collapse", "policy entropy drop"),
                  ("mit:reward-clipping", "reward value capping"))


def timed_build(data_dir: Path, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kb", "--data-dir", str(data_dir), "build", *extra], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def fresh_data_dir(root: Path, extra_corpus: Path | None = None) -> Path:
    from kb.config import copy_inputs

    data = root / "data"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(REPO / "data" / "corpus", data / "corpus")
    if extra_corpus is not None:
        shutil.copytree(extra_corpus, data / "corpus" / extra_corpus.parent.name)
    copy_inputs(REPO / "data", data)
    return data


def texts_a_build_embeds(data: Path) -> list[str]:
    """Every distinct text a build of `data` embeds: extraction's phrases and concept names, node embedding
    texts and passages."""
    from kb.build import extract_documents, read_documents
    from kb.config import load_settings
    from kb.extract import extract_graph
    from kb.extract.classify import load_classifier
    from kb.extract.cues import load_cues
    from kb.index_entries import index_texts
    from kb.passages import document_passages
    from kb.taxonomy import load_curation, load_taxonomy

    settings = load_settings(data)
    documents = read_documents(settings).documents
    phrases: list[str] = []

    def record(texts):
        import numpy as np

        phrases.extend(texts)
        return np.zeros((len(texts), 384), dtype=np.float32)

    extract_graph(documents, load_taxonomy(settings.taxonomy_path), load_curation(settings.curation_path),
                  cues=load_cues(settings.cues_path), classifier=load_classifier(settings.classifier_path), embed=record)
    nodes = extract_documents(settings, documents).nodes
    passages = [p for doc in documents for p in document_passages(doc)]
    texts = {*phrases, *index_texts(nodes, passages).values()}
    return sorted(texts)


def with_alias(taxonomy: str, concept_id: str, alias: str) -> str:
    """The taxonomy's text with `alias` first in the alias list of `concept_id`."""
    entry = taxonomy.index(f"- id: {concept_id}\n")
    at = taxonomy.index("aliases: [", entry) + len("aliases: [")
    return f"{taxonomy[:at]}{alias}, {taxonomy[at:]}"


def realdev_benchmark(realdev: Path) -> dict:
    """Cold build vs. embedding the same texts, and a taxonomy-only rebuild, on shipped corpus + realdev."""
    from kb.config import load_settings
    from kb.embed import OnnxEncoder, ensure_onnx_model

    with tempfile.TemporaryDirectory() as tmp:
        data = fresh_data_dir(Path(tmp), realdev / "docs")
        settings = load_settings(data)
        ensure_onnx_model(settings.cache_dir)   # the one-time model conversion, outside both timings
        cold = timed_build(data)
        texts = texts_a_build_embeds(data)
        encoder = OnnxEncoder.load(ensure_onnx_model(settings.cache_dir))
        start = time.perf_counter()
        encoder.encode(texts)
        embed_s = time.perf_counter() - start
        taxonomy = settings.taxonomy_path
        rebuilds = []
        for concept_id, alias in TAXONOMY_EDITS:
            taxonomy.write_text(with_alias(taxonomy.read_text(encoding="utf-8"), concept_id, alias), encoding="utf-8")
            rebuilds.append(round(timed_build(data), 2))
    return {"cold_build_s": round(cold, 2), "embed_same_texts_s": round(embed_s, 2), "texts": len(texts),
            "ratio": round(cold / embed_s, 2), "taxonomy_edit_rebuild_s": statistics.median(rebuilds),
            "taxonomy_edit_rebuilds_s": rebuilds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--realdev", type=Path, help="measure cold build vs. embedding on shipped corpus + this set")
    args = parser.parse_args()
    if args.realdev:
        result = realdev_benchmark(args.realdev)
        print(json.dumps(result, indent=1) if args.json else "\n".join(f"{k:28}{v!s:>10}" for k, v in result.items()))
        return
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
