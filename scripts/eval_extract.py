"""Score extraction on real documents: build a scratch knowledge base of the shipped corpus plus the realdev
set (../shared/realdev, read at run time, never copied into the repo) and compare it with GOLD.json.

Prints, per document and in total: failure-mode recall, mitigation recall, every new (non-taxonomy) concept
with the source that introduced it, the concepts and `about` edges tied to distractor documents, and the
seed checks. Matching rule (realdev/README.md): a gold concept is found when a node of the same kind tied to
that document by provenance has a label, description or alias containing every stem of one keyword group.

    .venv/bin/python scripts/eval_extract.py [--realdev ../shared/realdev ...] [--json out.json] [--quiet]

Several `--realdev` folders are scored one after another (each in its own scratch folder) and summed up in a
table, with the totals over every set but realdev.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

from kb.config import copy_inputs
from kb.kinds import CONCEPT_KINDS

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REALDEV = REPO.parent / "shared" / "realdev"
SCRATCH = REPO / "data" / ".cache" / "eval-extract"
GOLD_KIND = {"failure_mode": "failure_modes", "mitigation": "mitigations"}


def prepare_scratch(realdev: Path, scratch: Path) -> Path:
    """A data dir holding the shipped corpus, taxonomy and curation plus the realdev documents (its cache kept)."""
    data = scratch / "data"
    for name in ("corpus", "build"):
        shutil.rmtree(data / name, ignore_errors=True)
    shutil.copytree(REPO / "data" / "corpus", data / "corpus")
    shutil.copytree(realdev / "docs", data / "corpus" / "realdev")
    copy_inputs(REPO / "data", data)
    return data


def build_scratch(data: Path) -> float:
    """Build the scratch knowledge base; return wall seconds."""
    from kb.build import build
    from kb.config import load_settings

    started = time.perf_counter()
    build(load_settings(data), force=True, log=lambda msg: print(f"  build: {msg}", file=sys.stderr))
    return time.perf_counter() - started


def extract_scratch(data: Path) -> tuple[dict, float]:
    """Parse and extract only (no node embedding, index or publish): the graph as node-link data, and seconds.
    For iterating on extraction; the reported numbers come from a full build."""
    from kb.build import extract_documents, read_documents
    from kb.config import load_settings
    from kb.graph import build_graph, graph_to_json

    started = time.perf_counter()
    settings = load_settings(data)
    extraction = extract_documents(settings, read_documents(settings).documents)
    return json.loads(graph_to_json(build_graph(extraction))), time.perf_counter() - started


def load_graph(data: Path) -> dict:
    return json.loads((data / "build" / "graph.json").read_text(encoding="utf-8"))


def concept_texts(node: dict) -> str:
    """Label, description and aliases of a concept node, lowercased (what the matching rule reads)."""
    aliases = " | ".join(node.get("aliases") or [])
    return f"{node.get('label', '')} | {node.get('description', '')} | {aliases}".lower()


def ties(graph: dict) -> dict[str, dict[str, set[str]]]:
    """source id -> concept kind -> concept node ids tied to that source by provenance."""
    nodes = {n["id"]: n for n in graph["nodes"]}
    tied: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for node in nodes.values():
        if node["kind"] in CONCEPT_KINDS and node.get("source_id"):
            tied[node["source_id"]][node["kind"]].add(node["id"])
    for edge in graph["edges"]:
        for end in (edge["source"], edge["target"]):
            node = nodes.get(end)
            if node and node["kind"] in CONCEPT_KINDS and edge.get("source_id"):
                tied[edge["source_id"]][node["kind"]].add(end)
    return tied


def doc_ids_by_file(graph: dict) -> dict[str, str]:
    """realdev file name -> source id."""
    out = {}
    for node in graph["nodes"]:
        if node["kind"] == "source" and "realdev/" in (node.get("path") or ""):
            out[node["path"].split("realdev/", 1)[1]] = node["id"].removeprefix("src:")
    return out


def gold_found(concept: dict, candidates: list[str]) -> bool:
    return any(all(stem.lower() in text for stem in group) for group in concept["keywords"] for text in candidates)


def score(graph: dict, gold: list[dict]) -> dict:
    """Per-document and total recall, distractor ties, new concepts."""
    nodes = {n["id"]: n for n in graph["nodes"]}
    tied = ties(graph)
    ids = doc_ids_by_file(graph)
    per_doc, totals = [], {k: [0, 0] for k in CONCEPT_KINDS}
    distractor = {"concepts": [], "about_edges": 0}
    for entry in gold:
        name = entry["file"].removeprefix("docs/")
        source = ids.get(name)
        row = {"file": name, "kind": entry["kind"], "source": source, "missing": {}}
        for kind in CONCEPT_KINDS:
            texts = [concept_texts(nodes[c]) for c in tied.get(source, {}).get(kind, ())]
            wanted = entry[GOLD_KIND[kind]]
            found = [g for g in wanted if gold_found(g, texts)]
            row[kind] = (len(found), len(wanted))
            row["missing"][kind] = [g["name"] for g in wanted if g not in found]
            totals[kind][0] += len(found)
            totals[kind][1] += len(wanted)
        if entry["kind"] == "distractor" and source:
            concepts = sorted(set().union(*tied.get(source, {}).values()) if tied.get(source) else set())
            distractor["concepts"] += [(name, c) for c in concepts]
            distractor["about_edges"] += sum(1 for e in graph["edges"] if e["kind"] == "about" and e.get("source_id") == source)
        per_doc.append(row)
    new = [(n["id"], n["label"], n.get("source_id"), n.get("asserted_by")) for n in graph["nodes"]
           if n["kind"] in CONCEPT_KINDS and n.get("source_id") not in ("taxonomy", "curation")]
    return {"per_doc": per_doc, "totals": totals, "distractor": distractor, "new_concepts": sorted(new)}


def seed_checks(graph: dict) -> dict[str, bool]:
    """The seed expectations: failure modes and mitigations of the three seeds, 15 episodes to arXiv, the debate."""
    edges = graph["edges"]
    nodes = {n["id"]: n for n in graph["nodes"]}

    def quoted(fm: str) -> set[str]:
        return {e.get("source_id") for e in edges if e["kind"] == "about" and e["target"] == fm}

    checks = {}
    for fm in ("fm:no-foothold", "fm:reward-hacking", "fm:overfitting"):
        checks[f"obvious-ways-rl-can-fail about {fm}"] = "obvious-ways-rl-can-fail" in quoted(fm)
    checks["the-real-issue-isnt-rl about fm:evaluation-blind-spots"] = "the-real-issue-isnt-rl" in quoted("fm:evaluation-blind-spots")
    for fm in ("fm:reasoning-collapse", "fm:exploration-collapse", "fm:premature-confidence", "fm:exploration-hacking",
               "fm:silent-library-bugs", "fm:capability-narrowing"):
        checks[f"rl-and-reasoning about {fm}"] = "rl-and-reasoning" in quoted(fm)
    mitigates = {(e["source"], e["target"]) for e in edges if e["kind"] == "mitigates"}
    for pair in [("mit:partial-credit", "fm:no-foothold"), ("mit:hard-to-hack-environments", "fm:reward-hacking"),
                 ("mit:objective-specification", "fm:reward-hacking"), ("mit:task-distribution", "fm:overfitting"),
                 ("mit:curriculum", "fm:overfitting"), ("mit:reward-variance-filter", "fm:reasoning-collapse"),
                 ("mit:exploration-interleaving", "fm:exploration-collapse")]:
        checks[f"{pair[0]} mitigates {pair[1]}"] = pair in mitigates
    episodes = [n for n in nodes.values() if n["kind"] == "paper" and n.get("episode")
                and any(e["source"] == "src:rl-and-reasoning" and e["target"] == n["id"] and e["kind"] == "cites" for e in edges)]
    with_arxiv = [n for n in episodes if re.fullmatch(r"\d{4}\.\d{4,5}", n.get("arxiv") or "")]
    checks[f"episodes cited by the topic review resolve to arXiv ({len(with_arxiv)}/15)"] = len(with_arxiv) >= 15
    checks["quoted disagreement rl-and-reasoning vs the-real-issue-isnt-rl"] = any(
        e["kind"] in ("contradicts", "qualifies") and e.get("source_id") == "rl-and-reasoning"
        and e.get("target_source_id") == "the-real-issue-isnt-rl" and e.get("quote") and e.get("target_quote")
        for e in edges)
    return checks


def report(result: dict, checks: dict[str, bool], seconds: float, quiet: bool) -> None:
    if not quiet:
        print(f"{'document':72} {'FM':>7} {'MIT':>7}")
        for row in result["per_doc"]:
            fm, mit = row["failure_mode"], row["mitigation"]
            print(f"{row['file'][:72]:72} {fm[0]:>3}/{fm[1]:<3} {mit[0]:>3}/{mit[1]:<3}")
            for kind in CONCEPT_KINDS:
                if row["missing"][kind]:
                    print(f"    missing {kind}: {'; '.join(row['missing'][kind])}")
        print("\nnew concepts (not in the taxonomy), with the source that introduced them:")
        for node_id, label, source, rule in result["new_concepts"]:
            print(f"  {node_id:50} {label[:50]:50} {source} [{rule}]")
    t = result["totals"]
    print("\nseed checks:")
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    print(f"\nfailure-mode recall: {t['failure_mode'][0]}/{t['failure_mode'][1]} = {t['failure_mode'][0] / max(1, t['failure_mode'][1]):.3f}")
    print(f"mitigation recall:   {t['mitigation'][0]}/{t['mitigation'][1]} = {t['mitigation'][0] / max(1, t['mitigation'][1]):.3f}")
    print(f"new concepts: {len(result['new_concepts'])}")
    d = result["distractor"]
    print(f"distractors: {len(d['concepts'])} concepts tied, {d['about_edges']} about edges")
    for name, c in d["concepts"]:
        print(f"  {name}: {c}")
    print(f"seed checks: {sum(checks.values())}/{len(checks)}; build {seconds:.1f} s")


def evaluate_set(realdev: Path, scratch: Path, *, extract_only: bool, quiet: bool) -> dict:
    """Build (or only extract) one set's scratch knowledge base, score it against its GOLD.json, print the
    report and return the result with its seed checks and build seconds."""
    gold = json.loads((realdev / "GOLD.json").read_text(encoding="utf-8"))
    data = prepare_scratch(realdev, scratch)
    if extract_only:
        graph, seconds = extract_scratch(data)
    else:
        seconds = build_scratch(data)
        graph = load_graph(data)
    result = score(graph, gold)
    checks = seed_checks(graph)
    report(result, checks, seconds, quiet)
    return {**result, "seed_checks": checks, "build_seconds": seconds}


def summary(results: dict[str, dict]) -> None:
    """One line per set, and the totals over every set but realdev (the sets nobody tuned for)."""
    print(f"\n{'set':24} {'failure modes':>16} {'fixes':>16} {'new':>4} {'unrelated ties':>15} {'seeds':>6}")
    outside = {kind: [0, 0] for kind in CONCEPT_KINDS}
    for name, r in results.items():
        t = r["totals"]
        cells = [f"{t[k][0]}/{t[k][1]} ({t[k][0] / max(1, t[k][1]):.2f})" for k in CONCEPT_KINDS]
        seeds = f"{sum(r['seed_checks'].values())}/{len(r['seed_checks'])}"
        print(f"{name[:24]:24} {cells[0]:>16} {cells[1]:>16} {len(r['new_concepts']):>4} "
              f"{len(r['distractor']['concepts']):>15} {seeds:>6}")
        if name != DEFAULT_REALDEV.name:
            for k in CONCEPT_KINDS:
                outside[k] = [outside[k][0] + t[k][0], outside[k][1] + t[k][1]]
    if any(n for _, n in outside.values()):
        cells = [f"{outside[k][0]}/{outside[k][1]} ({outside[k][0] / max(1, outside[k][1]):.2f})" for k in CONCEPT_KINDS]
        print(f"{'outside sets together':24} {cells[0]:>16} {cells[1]:>16}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--realdev", type=Path, action="append",
                        help="a folder with GOLD.json and docs/ (repeatable; default ../shared/realdev)")
    parser.add_argument("--scratch", type=Path, default=SCRATCH,
                        help="where the scratch knowledge base is built (one subfolder per set when several)")
    parser.add_argument("--json", type=Path, help="also write the full result as JSON here (by set when several)")
    parser.add_argument("--quiet", action="store_true", help="totals only")
    parser.add_argument("--extract-only", action="store_true",
                        help="skip embedding, index and publish (fast iteration; report numbers from a full build)")
    args = parser.parse_args(argv)
    sets = args.realdev or [DEFAULT_REALDEV]
    missing = [str(folder) for folder in sets if not (folder / "GOLD.json").is_file()]
    if missing:
        print(f"error: no GOLD.json in {', '.join(missing)}", file=sys.stderr)
        return 1
    names = [folder.resolve().name for folder in sets]
    if len(set(names)) != len(names):
        print("error: two sets share a folder name; each set's scratch build is named after it", file=sys.stderr)
        return 1
    results = {}
    for name, folder in zip(names, sets):
        if len(sets) > 1:
            print(f"\n=== {name} ===")
        scratch = args.scratch / name if len(sets) > 1 else args.scratch
        results[name] = evaluate_set(folder, scratch, extract_only=args.extract_only, quiet=args.quiet)
    if len(sets) > 1:
        summary(results)
    if args.json:
        payload = results if len(sets) > 1 else results[names[0]]
        args.json.write_text(json.dumps(payload, indent=1, default=list))
    return 0


if __name__ == "__main__":
    sys.exit(main())
