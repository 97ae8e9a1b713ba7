"""The Python API: resolving ids, search filters, typed cards whose counts match their lists, one provenance
classification, readable aliases, disagreements, BibTeX."""

from __future__ import annotations

import re

import pytest

from kb import KnowledgeBase as LazyKnowledgeBase
from kb.api import KnowledgeBase, bibtex_entry
from kb.errors import NotFoundError, QueryError
from kb.kinds import NODE_KINDS
from kb.models import KIND_LABELS, ConceptCard, NodeView, attribution


def test_lazy_package_import_is_the_class():
    assert LazyKnowledgeBase is KnowledgeBase


@pytest.mark.parametrize(
    "ref, expected",
    [("no-foothold", "fm:no-foothold"), ("fm:no-foothold", "fm:no-foothold"), ("E026", "paper:e026"),
     ("2605.06241", "paper:e026"), ("dynamic-sampling", "mit:dynamic-sampling"), ("rl-and-reasoning", "src:rl-and-reasoning")],
)
def test_resolve(kb, ref, expected):
    assert kb.resolve(ref) == expected


def test_resolve_unknown_and_wrong_kind(kb):
    with pytest.raises(NotFoundError, match="no failure mode 'dynamic-sampling'"):
        kb.resolve("dynamic-sampling", kinds=("failure_mode",))
    with pytest.raises(NotFoundError):
        kb.resolve("nothing-like-this")


def test_failure_mode_card(kb):
    card = kb.failure_mode_card("no-foothold")
    assert isinstance(card, ConceptCard) and card.is_failure_mode
    assert card.node.label == "No foothold (reward is always zero)"
    assert "There is nothing to reinforce and the reinforcement signal is always zero." in {s.quote for s in card.statements}
    for s in card.statements:
        assert kb.documents[s.source_id]["text"][s.start:s.end] == s.quote
        assert s.link is not None and s.link.v == "fm:no-foothold"
    assert {"mit:partial-credit", "mit:curriculum", "mit:foothold-tasks"} <= {m.node.id for m in card.mitigations}
    assert [r.id for r in card.reproductions] == ["repro:no-foothold"]
    sc = card.scorecard
    assert sc.newest_evidence == max(s.date for s in card.statements if s.date)


@pytest.mark.parametrize("kind", ["failure_mode", "mitigation"])
def test_every_scorecard_counts_exactly_the_lists_it_sums_up(kb, kind):
    cards = kb.concept_cards(kind)
    assert len(cards) == len(kb.nodes(kind)) > 0
    several_edges = 0
    for card in cards:
        sc = card.scorecard
        assert sc.mitigations == len(card.mitigations) == len({m.node.id for m in card.mitigations})
        assert (sc.sources, sc.papers, sc.reproductions, sc.disagreements) == (
            len(card.sources), len(card.papers), len(card.reproductions), len(card.disagreements))
        assert sc.evidence + sc.claims == len(card.statements)
        assert sc.weight == sc.sources + sc.papers + sc.reproductions
        several_edges += sum(len(m.edges) > 1 for m in card.mitigations)
    if kind == "failure_mode":
        # The case that used to disagree: a mitigation linked by two edges is listed and counted once.
        assert several_edges > 0
        weights = [c.scorecard.weight for c in cards]
        assert weights == sorted(weights, reverse=True)


def test_mitigation_and_paper_cards(kb):
    card = kb.mitigation_card("mit:hard-to-hack-environments")
    edges = [e for m in card.mitigations for e in m.edges]
    assert any(e.asserted_by == "curated" for e in edges)
    assert any(e.attribution.category == "rule" and "difficult to hack" in e.quote for e in edges)
    paper = kb.paper_card("E010")
    assert paper.node.arxiv == "2604.06268"
    assert "fm:reasoning-collapse" in {f.id for f in paper.failure_modes}
    assert any(s.source_id == "rl-and-reasoning" for s in paper.citing)
    assert paper.bibtex.startswith("@misc{") and "2604.06268" in paper.bibtex


def test_attribution_is_one_classification_with_the_score_shown():
    seen = {attribution(w).category: attribution(w) for w in ("curated", "rule:alias", "similarity:0.8123",
                                                             "reproduction:run1", "someone")}
    assert set(seen) == {"curated", "rule", "similarity", "reproduction", "other"}
    assert seen["similarity"].label == "inferred: similarity 0.81" and seen["similarity"].score == pytest.approx(0.8123)
    assert seen["rule"].label == "inferred: rule alias"
    assert [seen[c].family for c in ("curated", "rule", "similarity", "reproduction")] == [
        "curated", "inferred", "inferred", "measured"]
    assert set(KIND_LABELS) == set(NODE_KINDS)


def test_aliases_read_as_words_not_match_patterns(kb):
    concepts = [v for kind in ("failure_mode", "mitigation") for v in kb.node_views(kind)]
    raw = [a for v in concepts for a in kb.G.nodes[v.id].get("aliases", [])]
    assert any("*" in a for a in raw) or "sabotag" in raw  # the patterns this test is about are in the data
    for view in concepts:
        for alias in view.aliases:
            assert "*" not in alias, (view.id, alias)
    hacking = kb.node_view("fm:exploration-hacking").aliases
    assert "sabotag" not in hacking and any(re.fullmatch(r"sabotag\w+", a) for a in hacking)


def test_disagreements_carry_both_quotes(kb):
    rows = kb.disagreements()
    assert rows[0].edge.asserted_by == "curated"
    pair = next(r for r in rows if r.u.source_id == "rl-and-reasoning" and r.v.source_id == "the-real-issue-isnt-rl")
    assert pair.kind == "contradicts"
    assert pair.u.quote == "RL appears to reweight existing strategies rather than teach new ones."
    assert pair.v.quote == "These results don’t mean RL is fundamentally limited."
    assert pair.edge.target_quote == pair.v.quote


def test_source_view_spans(kb):
    view = kb.source_view("obvious-ways-rl-can-fail")
    assert view.claims and all(view.text[c.start:c.end] == c.quote for c in view.claims)
    assert [c.start for c in view.claims] == sorted(c.start for c in view.claims)
    assert any(r.kind == "failure_mode" for c in view.claims for r in c.about)


def test_node_detail_lists_every_edge_from_the_node_side(kb):
    detail = kb.node_detail("no-foothold")
    edges = kb.edges("fm:no-foothold")
    assert len(detail.neighbours) == len(edges) > 0
    for n in detail.neighbours:
        assert (n.edge.u if n.outgoing else n.edge.v) == "fm:no-foothold"
        assert n.other.id == (n.edge.v if n.outgoing else n.edge.u)


def test_search_kinds_and_validation(kb):
    hits = kb.search("reward hacking", k=3, kinds=["mitigation"])
    assert len(hits) == 3 and {h.kind for h in hits} == {"mitigation"}
    assert hits[0].id == "mit:hard-to-hack-environments" or "fm:reward-hacking" in hits[0].failure_modes
    with pytest.raises(QueryError):
        kb.search("   ", k=3)
    with pytest.raises(QueryError):
        kb.search("reward", k=0)


def test_bibtex():
    paper = NodeView(id="paper:x", kind="paper", key="gao-{2022}", label="Scaling {Laws}", authors=["A", "B"],
                     year=2022, arxiv="2210.10760", url="https://arxiv.org/abs/2210.10760")
    assert bibtex_entry(paper) == (
        "@misc{gao-2022,\n  title = {Scaling Laws},\n  author = {A and B},\n  year = {2022},\n"
        "  url = {https://arxiv.org/abs/2210.10760},\n  eprint = {2210.10760},\n  archivePrefix = {arXiv}\n}\n")
