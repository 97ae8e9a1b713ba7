"""The claim graph: typed nodes and edges become flat networkx attributes, parallel edges stay apart, the JSON
form is deterministic and round-trips, and `edges_of` filters by kind and direction."""

from __future__ import annotations

import json

import pytest

from kb.extract import Extraction
from kb.graph import build_graph, edge_attrs, edges_of, graph_from_json, graph_to_json, node_attrs
from kb.models import Edge, Node, Provenance


def prov(asserted_by: str, quote: str = "q", start: int | None = 0) -> Provenance:
    return Provenance(source_id="doc", quote=quote, start=start, end=None if start is None else start + len(quote),
                      asserted_by=asserted_by)


@pytest.fixture
def extraction() -> Extraction:
    nodes = {
        "fm:a": Node(id="fm:a", kind="failure_mode", label="A", description="def A", provenance=prov("curated", "A"),
                     attrs={"aliases": ["a-ish"]}),
        "mit:b": Node(id="mit:b", kind="mitigation", label="B", provenance=prov("curated", "B")),
        "claim:1": Node(id="claim:1", kind="claim", label="c1", text="one", provenance=prov("rule:sentence", "one", 5),
                        attrs={"source_id": "doc"}),
    }
    edges = [
        Edge(u="mit:b", v="fm:a", kind="mitigates", provenance=prov("curated", "B fixes A")),
        Edge(u="mit:b", v="fm:a", kind="mitigates", provenance=prov("rule:section", "B fixes A", 40)),
        Edge(u="claim:1", v="fm:a", kind="about", provenance=prov("rule:alias", "one", 5), attrs={"matched": "a-ish"}),
    ]
    return Extraction(nodes=nodes, edges=edges)


def test_attributes_are_flat_with_provenance(extraction):
    attrs = node_attrs(extraction.nodes["claim:1"])
    assert attrs["kind"] == "claim" and attrs["text"] == "one" and attrs["asserted_by"] == "rule:sentence"
    assert (attrs["start"], attrs["end"], attrs["source_id"]) == (5, 8, "doc")
    edge = edge_attrs(extraction.edges[2])
    assert edge == {"matched": "a-ish", "kind": "about", "source_id": "doc", "quote": "one", "start": 5, "end": 8,
                    "asserted_by": "rule:alias"}


def test_parallel_edges_with_different_provenance_are_kept(extraction):
    G = build_graph(extraction)
    assert sorted(G.nodes) == sorted(extraction.nodes)
    assert G.number_of_edges("mit:b", "fm:a") == 2
    assert {d["asserted_by"] for d in G.get_edge_data("mit:b", "fm:a").values()} == {"curated", "rule:section"}
    duplicate = Extraction(nodes=extraction.nodes, edges=[*extraction.edges, extraction.edges[0]])
    assert build_graph(duplicate).number_of_edges("mit:b", "fm:a") == 2  # same key: one edge


def test_json_is_deterministic_and_round_trips(extraction):
    G = build_graph(extraction)
    text = graph_to_json(G)
    reversed_input = Extraction(nodes=dict(reversed(list(extraction.nodes.items()))), edges=extraction.edges[::-1])
    assert graph_to_json(build_graph(reversed_input)) == text
    data = json.loads(text)
    assert [n["id"] for n in data["nodes"]] == sorted(extraction.nodes)
    back = graph_from_json(text)
    assert graph_to_json(back) == text
    assert dict(back.nodes["fm:a"]) == dict(G.nodes["fm:a"])


def test_edges_of_filters_by_kind_and_direction(extraction):
    G = build_graph(extraction)
    into = edges_of(G, "fm:a", direction="in")
    assert len(into) == 3 and all(e["v"] == "fm:a" for e in into)
    assert edges_of(G, "fm:a", direction="out") == []
    about = edges_of(G, "fm:a", kind="about")
    assert [(e["u"], e["matched"]) for e in about] == [("claim:1", "a-ish")]
    both = edges_of(G, "mit:b")
    assert [e["asserted_by"] for e in both] == ["curated", "rule:section"]
    assert both == sorted(both, key=lambda e: (e["kind"], e["u"], e["v"], e["asserted_by"]))
