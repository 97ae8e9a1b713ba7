"""Curation last: a person's edges are added as `curated`, and retractions remove nodes and edges."""

from __future__ import annotations

from ..models import Edge, Provenance
from ..taxonomy import Curation, QuoteRef
from ..text import normalize
from .accumulate import CURATION_SOURCE, GraphBuilder
from .debates import target_attrs


def apply_curation(g: GraphBuilder, curation: Curation) -> None:
    """Add curated edges (replacing rule edges of the same key) and apply retractions."""
    for edge in curation.edges:
        u, v = _resolve(g, edge.u), _resolve(g, edge.v)
        if u is None or v is None:
            missing = edge.u if u is None else edge.v
            g.warnings.append(f"{CURATION_SOURCE}: cannot find {_describe(missing)}; edge skipped")
            continue
        un, vn = g.nodes[u], g.nodes[v]
        prov = (un.provenance or Provenance(source_id=CURATION_SOURCE, quote=un.label, asserted_by="curated"))
        prov = prov.model_copy(update={"asserted_by": "curated"})
        key = (u, v, edge.kind, "curated")
        attrs = {"note": edge.note, **(target_attrs(vn) if vn.provenance else {})}
        g.edges[key] = Edge(u=u, v=v, kind=edge.kind, provenance=prov, attrs=attrs)
    for r in curation.retract:
        if r.node:
            g.nodes.pop(r.node, None)
            g.edges = {k: e for k, e in g.edges.items() if r.node not in (e.u, e.v)}
        elif r.kind and r.u and r.v:
            g.edges = {k: e for k, e in g.edges.items() if not (e.kind == r.kind and e.u == r.u and e.v == r.v)}
    g.edges = {k: e for k, e in g.edges.items() if e.u in g.nodes and e.v in g.nodes}


def _resolve(g: GraphBuilder, ref: str | QuoteRef) -> str | None:
    if isinstance(ref, str):
        return ref if ref in g.nodes else None
    wanted = normalize(ref.quote)
    for node in g.nodes.values():
        if node.kind in ("claim", "evidence") and node.attrs.get("source_id") == ref.source and wanted in normalize(node.text):
            return node.id
    return None


def _describe(ref: str | QuoteRef) -> str:
    return ref if isinstance(ref, str) else f"a sentence in {ref.source!r} containing {ref.quote!r}"
