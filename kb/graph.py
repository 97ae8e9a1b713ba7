"""The claim graph as a networkx MultiDiGraph, and its deterministic node-link JSON form."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import networkx as nx

from .models import Edge, Node

if TYPE_CHECKING:  # only a type here; importing extraction would slow every graph reader (the API, the app)
    from .extract import Extraction

PROVENANCE_FIELDS = ("source_id", "quote", "start", "end", "asserted_by")


def node_attrs(node: Node) -> dict[str, Any]:
    """Flat attribute dict stored on a graph node: id, kind, label, text, description, provenance, extras."""
    attrs: dict[str, Any] = {**node.attrs, "kind": node.kind, "label": node.label, "text": node.text,
                             "description": node.description}
    if node.provenance is not None:
        attrs.update({f: getattr(node.provenance, f) for f in PROVENANCE_FIELDS})
    return attrs


def edge_attrs(edge: Edge) -> dict[str, Any]:
    """Flat attribute dict stored on a graph edge: kind, provenance fields, extras."""
    return {**edge.attrs, "kind": edge.kind, **{f: getattr(edge.provenance, f) for f in PROVENANCE_FIELDS}}


def build_graph(extraction: Extraction) -> nx.MultiDiGraph:
    """A MultiDiGraph with one node per extracted node and one keyed edge per extracted edge."""
    G = nx.MultiDiGraph()
    for node_id in sorted(extraction.nodes):
        G.add_node(node_id, **node_attrs(extraction.nodes[node_id]))
    for edge in extraction.edges:
        G.add_edge(edge.u, edge.v, key=edge.key, **edge_attrs(edge))
    return G


def graph_to_json(G: nx.MultiDiGraph) -> str:
    """Node-link JSON (`nodes`, `edges`) with every node carrying `id`; sorted so equal graphs give equal bytes."""
    data = nx.node_link_data(G, edges="edges")
    data["nodes"] = sorted(data["nodes"], key=lambda n: n["id"])
    data["edges"] = sorted(data["edges"], key=lambda e: (e["source"], e["target"], str(e.get("key"))))
    # One node or edge per line: diffs stay readable, and each line goes through json's C encoder (an indented
    # dump runs the pure-Python one, a seventh of a taxonomy-only rebuild).
    fields = []
    for key in sorted(data):
        value = data[key]
        if isinstance(value, list):
            body = ",\n".join(_compact(item) for item in value)
            fields.append(f"{_compact(key)}: [\n{body}\n]" if value else f"{_compact(key)}: []")
        else:
            fields.append(f"{_compact(key)}: {_compact(value)}")
    return "{\n" + ",\n".join(fields) + "\n}\n"


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def graph_from_json(text: str) -> nx.MultiDiGraph:
    """Inverse of `graph_to_json`."""
    return nx.node_link_graph(json.loads(text), directed=True, multigraph=True, edges="edges")


def edges_of(G: nx.MultiDiGraph, node_id: str, *, kind: str | None = None, direction: str = "both") -> list[dict[str, Any]]:
    """Edges touching `node_id` as dicts with `u`, `v` and attributes, optionally of one kind; sorted."""
    out = []
    if direction in ("out", "both"):
        out += [{"u": u, "v": v, **d} for u, v, d in G.out_edges(node_id, data=True)]
    if direction in ("in", "both"):
        out += [{"u": u, "v": v, **d} for u, v, d in G.in_edges(node_id, data=True)]
    if kind is not None:
        out = [e for e in out if e["kind"] == kind]
    return sorted(out, key=lambda e: (e["kind"], e["u"], e["v"], e.get("asserted_by", "")))
