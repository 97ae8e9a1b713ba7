"""The reproductions stage of the build: a node per registered reproduction, and its recorded run as evidence.

A recorded run counts as evidence only while it is current (its `script_sha256` matches the script today). A
stale run still appears, labelled STALE and linked to nothing but its reproduction, so it is never silently
taken for a result of the code in the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..extract import Extraction
from ..models import Edge, Node, Provenance
from ..text import slugify
from .registry import Reproduction, list_reproductions

REGISTRY_SOURCE = "reproductions"


def load_repro_results(repro_dir: Path) -> list[dict]:
    """Recorded results (`data/runs/*.json`) of registered reproductions, each with `stale` set; unreadable
    files and results of unregistered names are skipped."""
    from .registry import registry

    known = registry()
    results = []
    for path in sorted(repro_dir.glob("*.json")) if repro_dir.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("name") in known:
            stale = data.get("script_sha256") != known[data["name"]].script_hash()
            results.append({**data, "stale": stale})
    return results


def add_reproductions(extraction: Extraction, results: list[dict]) -> Extraction:
    """Add a node per registered reproduction (`reproduces`/`demonstrates` edges) and its last run as evidence."""
    nodes, edges = reproduction_nodes(results, known=set(extraction.nodes))
    merged = dict(extraction.nodes)
    for node in nodes:
        merged.setdefault(node.id, node)
    return Extraction(nodes=dict(sorted(merged.items())), edges=[*extraction.edges, *edges],
                      warnings=extraction.warnings)


def reproduction_nodes(results: list[dict], known: set[str]) -> tuple[list[Node], list[Edge]]:
    """Nodes and edges for every registered reproduction and every recorded result.

    Registry edges (`reproduces`, `demonstrates`) are curated; a run's outcome is an `evidence` node stated by
    the reproduction and asserted `reproduction:RUN_ID`, `about` the failure modes and mitigations it tests.
    """
    nodes: list[Node] = []
    edges: list[Edge] = []
    by_name = {r["name"]: r for r in results}
    for repro in list_reproductions():
        node, registry_edges = _registry_node(repro, known)
        nodes.append(node)
        edges += registry_edges
        result = by_name.get(repro.name)
        if result is not None:
            run_node, run_edges = _run_evidence(node.id, result, known)
            nodes.append(run_node)
            edges += run_edges
    return nodes, edges


def _registry_node(repro: Reproduction, known: set[str]) -> tuple[Node, list[Edge]]:
    repro_id = f"repro:{repro.name}"
    prov = Provenance(source_id=REGISTRY_SOURCE, quote=repro.signature, asserted_by="curated")
    anchor = repro.anchor.model_dump()
    node = Node(id=repro_id, kind="reproduction", label=repro.title, text=f"{repro.title}: {repro.signature}",
                description=repro.signature, provenance=prov,
                attrs={"name": repro.name, "script": repro.script, "rule": repro.rule, "anchor": anchor})
    edges = [Edge(u=repro_id, v=fm, kind="reproduces", provenance=prov) for fm in repro.reproduces if fm in known]
    edges += [Edge(u=repro_id, v=m, kind="demonstrates", provenance=prov) for m in repro.mitigations if m in known]
    anchor_paper = f"paper:{slugify(repro.anchor.paper, max_words=12)}"
    if anchor_paper in known:
        edges.append(Edge(u=repro_id, v=anchor_paper, kind="cites", provenance=prov))
    return node, edges


def _run_evidence(repro_id: str, result: dict, known: set[str]) -> tuple[Node, list[Edge]]:
    run_id = str(result.get("run_id") or result["name"])
    met = bool(result.get("signature_met"))
    stale = bool(result.get("stale", True))
    verdict = "showed" if met else "did NOT show"
    mode = "quick" if result.get("quick") else "full"
    prefix = "STALE (the script changed since this run; rerun it): " if stale else ""
    quote = (f"{prefix}Run {run_id} ({mode}, seed {result.get('seed')}, {result.get('device')}, "
             f"{result.get('seconds', 0):.1f} s) {verdict} the signature: {result.get('signature', '')}")
    prov = Provenance(source_id=repro_id, quote=quote, asserted_by=f"reproduction:{run_id}")
    node = Node(id=f"ev:run:{result['name']}", kind="evidence", label=quote[:140], text=quote, provenance=prov,
                attrs={"run_id": run_id, "signature_met": met, "stale": stale, "metrics": result.get("metrics", {}),
                       "reproduction": repro_id, "source_id": repro_id, "date": result.get("started_at"),
                       "plot": result.get("plot"), "script_sha256": result.get("script_sha256"),
                       "reliability": "primary"})
    edges = [Edge(u=repro_id, v=node.id, kind="states", provenance=prov)]
    if not stale:  # a stale run is shown beside its reproduction but is evidence for nothing
        targets = [t for t in [*result.get("reproduces", []), *result.get("mitigations", [])] if t in known]
        edges += [Edge(u=node.id, v=t, kind="about", provenance=prov) for t in targets]
    return node, edges
