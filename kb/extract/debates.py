"""Disagreements: sentences from different sources taking opposite stances in a known debate become
`contradicts` (or, when hedged, `qualifies`) edges carrying both quotes."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from ..models import Node
from ..taxonomy import Taxonomy
from ..text import normalize, phrase_pattern
from .accumulate import GraphBuilder

MAX_DEBATE_EDGES_PER_PAIR = 2
_HEDGE = re.compile(
    r"\b(but|however|task-dependent|depends|too rigid|only if|doesn't mean|don't mean|not always|narrow contexts?)\b",
    re.IGNORECASE,
)


def add_debates(g: GraphBuilder, taxonomy: Taxonomy) -> None:
    """Link claims that take opposite stances of each taxonomy debate."""
    stances = {(d.id, s): p for d in taxonomy.debates for s, phrases in d.stances.items()
               if (p := phrase_pattern(phrases)) is not None}
    # a claim without the longest word of any stance phrase takes no stance: substring tests are far cheaper
    # than the stance patterns, and pick the few claims worth testing
    keys = {max(normalize(p).rstrip("*").split(), key=len) for d in taxonomy.debates
            for phrases in d.stances.values() for p in phrases if p.strip()}
    claims = [(n, norm) for n in g.nodes.values() if n.kind in ("claim", "evidence")
              and any(k in (norm := normalize(n.text)) for k in keys)]
    for debate in taxonomy.debates:
        by_stance: dict[str, list[Node]] = defaultdict(list)
        for node, norm in claims:
            found = {s for (d, s), p in stances.items() if d == debate.id and p.search(norm)}
            if len(found) == 1:
                by_stance[found.pop()].append(node)
        names = sorted(by_stance)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                _link_stances(g, debate.id, debate.question, by_stance[a], by_stance[b])


def _link_stances(g: GraphBuilder, debate_id: str, question: str, left: list[Node], right: list[Node]) -> None:
    per_pair: dict[tuple[str, str], int] = defaultdict(int)
    for u in left:
        for v in right:
            su, sv = u.attrs["source_id"], v.attrs["source_id"]
            if su == sv or per_pair[(su, sv)] >= MAX_DEBATE_EDGES_PER_PAIR:
                continue
            per_pair[(su, sv)] += 1
            hedged = _HEDGE.search(u.text) or _HEDGE.search(v.text)
            kind = "qualifies" if hedged else "contradicts"
            source, target = (u, v) if (not hedged or _HEDGE.search(u.text)) else (v, u)
            g.add_edge(source.id, target.id, kind, source.provenance.model_copy(update={"asserted_by": f"rule:debate:{debate_id}"}),
                       **target_attrs(target), debate=question)


def target_attrs(target: Node) -> dict[str, Any]:
    """Edge attributes quoting the target node: quote, source and span."""
    p = target.provenance
    return {"target_quote": p.quote, "target_source_id": p.source_id, "target_start": p.start, "target_end": p.end}
