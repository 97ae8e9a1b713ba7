"""Similarity links: claims from different sources that say nearly the same thing `support` each other."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from .extract import Extraction
from .kinds import CONCEPT_KINDS, STATEMENT_KINDS
from .models import Edge, Provenance

SIMILARITY_THRESHOLD = 0.72
_RELIABILITY_RANK = {"primary": 0, "secondary": 1, "opinion": 2}


Nearest = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def nearest_in_other_source(matrix: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row of `matrix` (unit vectors), the row most similar to it among rows of another source
    (`codes`: one integer per row), and that cosine (-1 where every row shares its source)."""
    sims = matrix @ matrix.T
    sims[codes[:, None] == codes[None, :]] = -1.0
    best = sims.argmax(axis=1)
    return best, sims[np.arange(len(matrix)), best]


def link_similar(extraction: Extraction, vectors: dict[str, np.ndarray], threshold: float = SIMILARITY_THRESHOLD,
                 nearest: Nearest = nearest_in_other_source) -> Extraction:
    """Add one `supports` edge per claim to its most similar claim in another source, when cosine >= threshold.

    The edge runs from the more reliable (or evidence) side to the other and is asserted `similarity:SCORE`,
    so it never looks curated. `nearest` finds each claim's closest claim elsewhere (a caller may cache it).
    """
    nodes = [n for n in extraction.nodes.values() if n.kind in STATEMENT_KINDS and n.id in vectors]
    if len(nodes) < 2:
        return extraction
    matrix = np.stack([vectors[n.id] for n in nodes])
    # integer source codes: comparing thousands of id strings pairwise costs more than the product itself
    codes = np.unique([str(n.attrs.get("source_id")) for n in nodes], return_inverse=True)[1]
    best, best_score = nearest(matrix, codes)
    existing = {(e.u, e.v) for e in extraction.edges} | {(e.v, e.u) for e in extraction.edges}
    added: dict[tuple[str, str], Edge] = {}
    for i in np.flatnonzero(best_score >= threshold):
        node, j, score = nodes[i], int(best[i]), float(best_score[i])
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


# --- claims to concepts by meaning -------------------------------------------------------------------

TARGET_PRECISION = 0.85   # of a similarity link, estimated on claims whose concept an alias names
MIN_CONCEPT_THRESHOLD = 0.45
MAX_CONCEPT_THRESHOLD = 0.80
MIN_CALIBRATION_CLAIMS = 30


def calibrate_concept_threshold(pairs: list[tuple[float, bool]], target: float = TARGET_PRECISION) -> float:
    """The lowest cosine at which a claim's most similar concept is, among claims at or above it, the concept
    its alias names at least `target` of the time. `pairs` are (top-1 cosine, whether top-1 is right)."""
    if len(pairs) < MIN_CALIBRATION_CLAIMS:
        return MAX_CONCEPT_THRESHOLD
    ranked = sorted(pairs, reverse=True)
    correct, best = 0, MAX_CONCEPT_THRESHOLD
    for n, (score, right) in enumerate(ranked, 1):
        correct += right
        if n >= MIN_CALIBRATION_CLAIMS and correct / n >= target:
            best = score
    return float(min(MAX_CONCEPT_THRESHOLD, max(MIN_CONCEPT_THRESHOLD, best)))


def link_concepts(extraction: Extraction, vectors: dict[str, np.ndarray]) -> tuple[Extraction, float]:
    """Tie claims of on-topic sources that no rule tied to any concept to their most similar failure mode or
    mitigation, when the cosine clears a threshold calibrated on the claims that aliases did tie. Edges are
    asserted `similarity:SCORE`, so they never look curated. Returns the new extraction and the threshold."""
    nodes = extraction.nodes
    concepts = [n for n in nodes.values() if n.kind in CONCEPT_KINDS and n.id in vectors]
    on_topic = {n.id.removeprefix("src:") for n in nodes.values() if n.kind == "source" and n.attrs.get("on_topic")}
    claims = [n for n in nodes.values() if n.kind in STATEMENT_KINDS and n.id in vectors and n.attrs.get("source_id") in on_topic]
    if not concepts or not claims:
        return extraction, MAX_CONCEPT_THRESHOLD
    named: dict[str, set[str]] = {}
    for e in extraction.edges:
        if e.kind == "about" and e.provenance.asserted_by in ("rule:alias", "rule:mention"):
            named.setdefault(e.u, set()).add(e.v)
    tied = {e.u for e in extraction.edges if e.kind == "about"}
    sims = np.stack([vectors[c.id] for c in claims]) @ np.stack([vectors[k.id] for k in concepts]).T
    top = sims.argmax(axis=1)
    pairs = [(float(sims[i, top[i]]), concepts[top[i]].id in named[c.id]) for i, c in enumerate(claims) if c.id in named]
    threshold = calibrate_concept_threshold(pairs)
    added = []
    for i, claim in enumerate(claims):
        score = float(sims[i, top[i]])
        if claim.id in tied or score < threshold:
            continue
        p = claim.provenance
        prov = Provenance(source_id=p.source_id, quote=p.quote, start=p.start, end=p.end, asserted_by=f"similarity:{score:.2f}")
        added.append(Edge(u=claim.id, v=concepts[top[i]].id, kind="about", provenance=prov, attrs={"score": round(score, 4)}))
    edges = sorted([*extraction.edges, *added], key=lambda e: (e.u, e.v, e.kind, e.provenance.asserted_by))
    return replace(extraction, edges=edges), threshold
