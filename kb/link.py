"""Similarity links: claims from different sources that say nearly the same thing `support` each other."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .extract import Extraction
from .models import Edge, Provenance

SIMILARITY_THRESHOLD = 0.72
LINKABLE = ("claim", "evidence")
_RELIABILITY_RANK = {"primary": 0, "secondary": 1, "opinion": 2}


def link_similar(extraction: Extraction, vectors: dict[str, np.ndarray], threshold: float = SIMILARITY_THRESHOLD) -> Extraction:
    """Add one `supports` edge per claim to its most similar claim in another source, when cosine >= threshold.

    The edge runs from the more reliable (or evidence) side to the other and is asserted `similarity:SCORE`,
    so it never looks curated.
    """
    nodes = [n for n in extraction.nodes.values() if n.kind in LINKABLE and n.id in vectors]
    if len(nodes) < 2:
        return extraction
    matrix = np.stack([vectors[n.id] for n in nodes])
    sims = matrix @ matrix.T
    sources = np.array([n.attrs.get("source_id") for n in nodes])
    sims[sources[:, None] == sources[None, :]] = -1.0
    existing = {(e.u, e.v) for e in extraction.edges} | {(e.v, e.u) for e in extraction.edges}
    added: dict[tuple[str, str], Edge] = {}
    for i, node in enumerate(nodes):
        j = int(np.argmax(sims[i]))
        score = float(sims[i, j])
        if score < threshold:
            continue
        u, v = _direction(node, nodes[j])
        if (u.id, v.id) in existing or (u.id, v.id) in added or (v.id, u.id) in added:
            continue
        p = u.provenance
        prov = Provenance(source_id=p.source_id, quote=p.quote, start=p.start, end=p.end,
                          asserted_by=f"similarity:{score:.2f}")
        t = v.provenance
        added[(u.id, v.id)] = Edge(u=u.id, v=v.id, kind="supports", provenance=prov,
                                   attrs={"target_quote": t.quote, "target_source_id": t.source_id,
                                          "target_start": t.start, "target_end": t.end, "score": round(score, 4)})
    edges = sorted([*extraction.edges, *added.values()], key=lambda e: (e.u, e.v, e.kind, e.provenance.asserted_by))
    return replace(extraction, edges=edges)


def _direction(a, b):
    def rank(n):
        return (0 if n.kind == "evidence" else 1, _RELIABILITY_RANK.get(n.attrs.get("reliability"), 3), n.id)
    return (a, b) if rank(a) <= rank(b) else (b, a)
