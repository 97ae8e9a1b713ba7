"""The mutable accumulator used while extracting; the package returns an immutable `Extraction`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..models import Edge, Node, Provenance

TAXONOMY_SOURCE = "taxonomy"
CURATION_SOURCE = "curation"


@dataclass(frozen=True)
class Extraction:
    """The typed nodes and edges extracted from a corpus, plus one-line warnings."""

    nodes: dict[str, Node]
    edges: list[Edge]
    warnings: list[str] = field(default_factory=list)


@dataclass
class GraphBuilder:
    """Nodes by id and edges by (u, v, kind, rule family); the first edge asserted for a key wins."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: dict[tuple, Edge] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def add_node(self, node: Node) -> None:
        self.nodes.setdefault(node.id, node)

    def add_edge(self, u: str, v: str, kind: str, prov: Provenance, **attrs: Any) -> None:
        if u == v:
            return
        key = (u, v, kind, prov.asserted_by.split(":")[0])
        if key not in self.edges:
            self.edges[key] = Edge(u=u, v=v, kind=kind, provenance=prov, attrs=attrs)

    def freeze(self) -> Extraction:
        edges = sorted(self.edges.values(), key=lambda e: (e.u, e.v, e.kind, e.provenance.asserted_by, e.provenance.start or 0))
        return Extraction(nodes=dict(sorted(self.nodes.items())), edges=edges, warnings=list(self.warnings))
