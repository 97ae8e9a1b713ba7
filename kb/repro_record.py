"""Reproductions in the graph: a node per registered reproduction and its last recorded run as evidence."""

from __future__ import annotations

from .models import Edge, Node, Provenance
from .text import slugify

REGISTRY_SOURCE = "reproductions"


def reproduction_nodes(results: list[dict], known: set[str]) -> tuple[list[Node], list[Edge]]:
    """Nodes and edges for every registered reproduction and every recorded result.

    Registry edges (`reproduces`, `demonstrates`) are curated; a run's outcome is an `evidence` node stated by
    the reproduction and asserted `reproduction:RUN_ID`, `about` the failure modes and mitigations it tests.
    """
    from .repro import list_reproductions

    nodes: list[Node] = []
    edges: list[Edge] = []
    by_name = {r["name"]: r for r in results}
    for repro in list_reproductions():
        repro_id = f"repro:{repro.name}"
        prov = Provenance(source_id=REGISTRY_SOURCE, quote=repro.signature, asserted_by="curated")
        anchor = repro.anchor if isinstance(repro.anchor, dict) else dict(repro.anchor)
        nodes.append(Node(id=repro_id, kind="reproduction", label=repro.title, text=f"{repro.title}: {repro.signature}",
                          description=repro.signature, provenance=prov,
                          attrs={"name": repro.name, "script": repro.script, "rule": repro.rule, "anchor": anchor}))
        edges += [Edge(u=repro_id, v=fm, kind="reproduces", provenance=prov) for fm in repro.reproduces if fm in known]
        edges += [Edge(u=repro_id, v=m, kind="demonstrates", provenance=prov) for m in repro.mitigations if m in known]
        anchor_paper = f"paper:{slugify(str(anchor.get('paper') or ''), max_words=12)}"
        if anchor_paper in known:
            edges.append(Edge(u=repro_id, v=anchor_paper, kind="cites", provenance=prov))
        result = by_name.get(repro.name)
        if result is not None:
            node, run_edges = _run_evidence(repro_id, result, known)
            nodes.append(node)
            edges += run_edges
    return nodes, edges


def _run_evidence(repro_id: str, result: dict, known: set[str]) -> tuple[Node, list[Edge]]:
    run_id = str(result.get("run_id") or result["name"])
    met = bool(result.get("signature_met"))
    verdict = "showed" if met else "did NOT show"
    mode = "quick" if result.get("quick") else "full"
    quote = (f"Run {run_id} ({mode}, seed {result.get('seed')}, {result.get('device')}, "
             f"{result.get('seconds', 0):.1f} s) {verdict} the signature: {result.get('signature', '')}")
    prov = Provenance(source_id=repro_id, quote=quote, asserted_by=f"reproduction:{run_id}")
    node = Node(id=f"ev:run:{result['name']}", kind="evidence", label=quote[:140], text=quote, provenance=prov,
                attrs={"run_id": run_id, "signature_met": met, "metrics": result.get("metrics", {}),
                       "reproduction": repro_id, "source_id": repro_id, "date": result.get("started_at"),
                       "plot": result.get("plot"), "reliability": "primary"})
    targets = [t for t in [*result.get("reproduces", []), *result.get("mitigations", [])] if t in known]
    edges = [Edge(u=repro_id, v=node.id, kind="states", provenance=prov)]
    edges += [Edge(u=node.id, v=t, kind="about", provenance=prov) for t in targets]
    return node, edges


def record_run(settings) -> str:
    """Rebuild the graph so the latest recorded runs appear in it as evidence; returns a one-line summary."""
    from .build import build
    from .store import GRAPH_FILE

    if not (settings.build_dir / GRAPH_FILE).is_file():
        return "not recorded in the graph yet: run `kb build` to include it"
    report = build(settings)
    return f"recorded in the graph ({report.nodes.get('reproduction', 0)} reproductions, {report.nodes.get('evidence', 0)} evidence nodes)"
