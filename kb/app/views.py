"""Presentation helpers for the Streamlit explorer: badges, scorecard lines, the highlighted source text
and the nodes and edges of the graph view. They draw nothing themselves, so they test fast."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

from ..export.common import safe_url, segments
from ..models import KIND_LABELS, NodeView, Scorecard, Statement, attribution

NODE_COLOURS = {
    "failure_mode": "#d62728", "mitigation": "#2ca02c", "paper": "#1f77b4", "reproduction": "#9467bd",
    "source": "#8c564b", "claim": "#7f7f7f", "evidence": "#ff7f0e",
}
ATTRIBUTION_COLOURS = {"curated": "green", "rule": "orange", "similarity": "violet", "reproduction": "blue", "other": "gray"}
KIND_COLOURS = {"failure_mode": "red", "mitigation": "green", "paper": "blue", "reproduction": "violet",
                "source": "orange", "claim": "gray", "evidence": "orange"}
EDGE_COLOURS = {"curated": "#2e7d32", "rule": "#ef6c00", "similarity": "#8e24aa", "reproduction": "#1565c0"}
DEFAULT_GRAPH_KINDS = ("failure_mode", "mitigation", "paper", "reproduction")
DERIVED_EDGE = "cited about"
_BADGE_UNSAFE = re.compile(r"[^A-Za-z0-9 _.:@/+-]")


def badge(text: str, colour: str) -> str:
    """A Streamlit markdown badge with text stripped to characters that cannot break out of it."""
    return f":{colour}-badge[{_BADGE_UNSAFE.sub('', text)}]"


def provenance_badge(asserted_by: str | None) -> str:
    """The markdown badge that shows who asserted something (the label every front end shows)."""
    a = attribution(asserted_by)
    return badge(a.label, ATTRIBUTION_COLOURS[a.category])


def kind_badge(kind: str) -> str:
    """The markdown badge for a node kind."""
    return badge(KIND_LABELS.get(kind, kind), KIND_COLOURS.get(kind, "gray"))


def arxiv_url(paper: NodeView) -> str | None:
    """The arXiv abstract page of a paper node, else its own URL (http(s) only)."""
    if paper.arxiv:
        return f"https://arxiv.org/abs/{paper.arxiv}"
    return safe_url(paper.url)


def scorecard_line(scorecard: Scorecard) -> str:
    """One line summing up a scorecard (sources, papers, evidence, ...)."""
    parts = [f"{scorecard.sources} sources", f"{scorecard.papers} papers", f"{scorecard.evidence} evidence",
             f"{scorecard.claims} claims", f"{scorecard.mitigations} mitigations",
             f"{scorecard.reproductions} reproductions", f"{scorecard.disagreements} open disagreements"]
    parts.append(f"newest evidence {scorecard.newest_evidence}" if scorecard.newest_evidence else "no dated evidence")
    return " · ".join(parts)


def highlighted_source_html(text: str, claims: list[Statement], selected: str | None = None) -> str:
    """The document text, HTML-escaped, with each claim span wrapped in <mark>; `selected` gets its own style
    and the id `kb-selected` so the page can scroll to it. Overlapping spans keep the earlier one."""
    out = []
    for piece, claim in segments(text, claims):
        if claim is None:
            out.append(html.escape(piece))
            continue
        chosen = claim.id == selected
        style = ("background:#ffd54f;outline:2px solid #e65100;" if chosen
                 else "background:#e3f2fd;" if claim.kind == "claim" else "background:#fff3e0;")
        anchor = ' id="kb-selected"' if chosen else ""
        out.append(f'<mark{anchor} title="{html.escape(claim.kind + " " + claim.id, quote=True)}" '
                   f'style="{style}padding:0 2px;border-radius:3px">{html.escape(piece)}</mark>')
    body = "".join(out)
    return f'<div class="kb-source" style="white-space:pre-wrap;line-height:1.6;font-size:0.95rem">{body}</div>'


def graph_elements(G, node_kinds: Iterable[str], edge_kinds: Iterable[str], *, focus: str | None = None,
                   collapse_claims: bool = True, max_nodes: int = 600) -> tuple[list[dict], list[dict]]:
    """Nodes and edges (plain dicts in vis.js terms) of the subgraph with the chosen node and edge kinds.

    `focus` keeps only that node and its neighbours. With `collapse_claims` and claims hidden, a paper is
    joined to the failure modes/mitigations that the claims citing it are about, as a dashed derived edge.
    """
    node_kinds, edge_kinds = set(node_kinds), set(edge_kinds)
    keep = {n for n, d in G.nodes(data=True) if d["kind"] in node_kinds}
    if focus is not None and focus in G:
        keep = ({focus} | set(G.predecessors(focus)) | set(G.successors(focus))) & (keep | {focus})
    keep = set(sorted(keep)[:max_nodes])
    nodes = [_vis_node(n, G.nodes[n]) for n in sorted(keep)]
    edges, seen = [], set()
    for u, v, d in sorted(G.edges(data=True), key=lambda e: (e[0], e[1], e[2]["kind"], e[2].get("asserted_by", ""))):
        if u in keep and v in keep and d["kind"] in edge_kinds and (u, v, d["kind"]) not in seen:
            seen.add((u, v, d["kind"]))
            edges.append(_vis_edge(u, v, d["kind"], d.get("asserted_by"), d.get("quote")))
    if collapse_claims and not node_kinds & {"claim", "evidence"}:
        edges += _derived_paper_edges(G, keep)
    return nodes, edges


def _derived_paper_edges(G, keep: set[str]) -> list[dict]:
    pairs = set()
    for u, paper, d in G.edges(data=True):
        if d["kind"] != "cites" or paper not in keep or G.nodes[u]["kind"] not in ("claim", "evidence"):
            continue
        for _, target, e in G.out_edges(u, data=True):
            if e["kind"] == "about" and target in keep:
                pairs.add((paper, target))
    return [{"source": p, "target": t, "label": DERIVED_EDGE, "color": "#bbbbbb", "dashes": True,
             "title": "derived: claims citing this paper are about this node"} for p, t in sorted(pairs)]


def _vis_node(node_id: str, d: dict[str, Any]) -> dict:
    label = d["label"] if len(d["label"]) <= 40 else d["label"][:38] + "…"
    size = {"failure_mode": 28, "mitigation": 20, "reproduction": 20, "paper": 14}.get(d["kind"], 10)
    return {"id": node_id, "label": label, "title": f"{KIND_LABELS.get(d['kind'], d['kind'])}: {d['label']}",
            "color": NODE_COLOURS.get(d["kind"], "#cccccc"), "size": size, "kind": d["kind"]}


def _vis_edge(u: str, v: str, kind: str, asserted_by: str | None, quote: str | None) -> dict:
    a = attribution(asserted_by)
    title = f"{kind} — {a.label}" + (f"\n“{quote[:200]}”" if quote else "")
    return {"source": u, "target": v, "label": kind, "color": EDGE_COLOURS.get(a.category, "#999999"),
            "dashes": a.category != "curated", "title": title}
