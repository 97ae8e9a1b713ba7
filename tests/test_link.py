"""Similarity links: one `supports` edge per claim to its nearest claim in another source, above a threshold,
directed from the more reliable side, asserted `similarity:SCORE`, never duplicating an existing edge."""

from __future__ import annotations

import numpy as np
import pytest

from kb.extract import Extraction
from kb.link import SIMILARITY_THRESHOLD, link_similar
from kb.models import Edge, Node, Provenance, attribution


def claim(node_id: str, source: str, *, kind: str = "claim", reliability: str = "secondary") -> Node:
    quote = f"quote of {node_id}"
    return Node(id=node_id, kind=kind, label=node_id, text=quote, attrs={"source_id": source, "reliability": reliability},
                provenance=Provenance(source_id=source, quote=quote, start=0, end=len(quote), asserted_by="rule:sentence"))


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def supports(extraction: Extraction) -> list[Edge]:
    return [e for e in extraction.edges if e.kind == "supports"]


def test_near_duplicates_across_sources_support_each_other_once():
    nodes = {n.id: n for n in (claim("a", "s1", reliability="opinion"), claim("b", "s2", reliability="primary"),
                               claim("c", "s3"))}
    vectors = {"a": unit(1, 0.05, 0), "b": unit(1, 0, 0), "c": unit(0, 0, 1)}
    out = link_similar(Extraction(nodes=nodes, edges=[]), vectors)
    edges = supports(out)
    assert [(e.u, e.v) for e in edges] == [("b", "a")]  # the primary source backs the opinion, once
    e = edges[0]
    a = attribution(e.provenance.asserted_by)
    assert a.category == "similarity" and a.family == "inferred" and a.score == pytest.approx(e.attrs["score"], abs=0.005)
    assert e.attrs["target_quote"] == nodes["a"].provenance.quote and e.provenance.quote == nodes["b"].provenance.quote


def test_same_source_and_dissimilar_claims_are_not_linked():
    nodes = {n.id: n for n in (claim("a", "s1"), claim("b", "s1"), claim("c", "s2"))}
    vectors = {"a": unit(1, 0), "b": unit(1, 0.01), "c": unit(0, 1)}
    assert supports(link_similar(Extraction(nodes=nodes, edges=[]), vectors)) == []
    cos = float(unit(1, 0) @ unit(1, 1.2))
    assert cos < SIMILARITY_THRESHOLD  # the pair below is just under the threshold
    far = {"a": unit(1, 0), "c": unit(1, 1.2)}
    pair = {k: nodes[k] for k in ("a", "c")}
    assert supports(link_similar(Extraction(nodes=pair, edges=[]), far)) == []
    assert supports(link_similar(Extraction(nodes=pair, edges=[]), far, threshold=cos - 0.01))


def test_evidence_is_the_supporting_side_and_existing_edges_are_not_repeated():
    nodes = {n.id: n for n in (claim("a", "s1", reliability="primary"), claim("ev", "s2", kind="evidence"))}
    vectors = {"a": unit(1, 0), "ev": unit(1, 0.02)}
    edges = supports(link_similar(Extraction(nodes=nodes, edges=[]), vectors))
    assert [(e.u, e.v) for e in edges] == [("ev", "a")]
    existing = Edge(u="a", v="ev", kind="contradicts",
                    provenance=Provenance(source_id="s1", quote="x", asserted_by="curated"))
    again = link_similar(Extraction(nodes=nodes, edges=[existing]), vectors)
    assert supports(again) == [] and again.edges == [existing]


def test_nodes_without_vectors_or_of_other_kinds_are_ignored():
    fm = Node(id="fm:x", kind="failure_mode", label="x")
    nodes = {"a": claim("a", "s1"), "fm:x": fm}
    extraction = Extraction(nodes=nodes, edges=[])
    assert link_similar(extraction, {"a": unit(1, 0), "fm:x": unit(1, 0)}) is extraction


def test_the_nearest_claim_elsewhere_is_kept_by_its_input_and_recomputed_when_the_file_is_damaged(tmp_path, monkeypatch):
    import kb.build
    from kb.build import cached_nearest
    from kb.link import nearest_in_other_source

    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(40, 8)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    codes = np.repeat(np.arange(8), 5)
    expected = nearest_in_other_source(matrix.copy(), codes)
    assert all(codes[j] != codes[i] for i, j in enumerate(expected[0]))
    nearest = cached_nearest(tmp_path / "nearest")
    first = nearest(matrix, codes)
    [kept] = list((tmp_path / "nearest").glob("*.npz"))
    with monkeypatch.context() as patched:
        patched.setattr(kb.build, "nearest_in_other_source", lambda *_: pytest.fail("computed, not read back"))
        second = nearest(matrix, codes)
    kept.write_bytes(b"not an archive")
    third = nearest(matrix, codes)    # damaged: computed again
    for got in (first, second, third):
        assert np.array_equal(got[0], expected[0]) and np.allclose(got[1], expected[1])
    other = matrix[::-1].copy()
    nearest(other, codes)
    assert len(list((tmp_path / "nearest").glob("*.npz"))) == 1   # only the latest answer is kept
