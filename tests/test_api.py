"""The Python API: resolving ids, search filters, failure-mode cards, disagreements, BibTeX."""

from __future__ import annotations

import pytest

from kb import KnowledgeBase as LazyKnowledgeBase
from kb.api import KnowledgeBase, bibtex_entry
from kb.errors import NotFoundError, QueryError


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
    assert card["node"]["label"] == "No foothold (reward is always zero)"
    quotes = {s["quote"] for s in card["statements"]}
    assert "There is nothing to reinforce and the reinforcement signal is always zero." in quotes
    for s in card["statements"]:
        text = kb.documents[s["source_id"]]["text"]
        assert text[s["start"]:s["end"]] == s["quote"]
    mitigations = {m["node"]["id"] for m in card["mitigations"]}
    assert {"mit:partial-credit", "mit:curriculum", "mit:foothold-tasks"} <= mitigations
    assert [r["id"] for r in card["reproductions"]] == ["repro:no-foothold"]
    sc = card["scorecard"]
    assert sc["sources"] == len(card["sources"]) and sc["papers"] == len(card["papers"])
    assert sc["evidence"] + sc["claims"] == len(card["statements"])
    assert sc["newest_evidence"] == max(s["date"] for s in card["statements"] if s["date"])


def test_mitigation_and_paper_cards(kb):
    card = kb.mitigation_card("mit:hard-to-hack-environments")
    edges = [e for m in card["mitigations"] for e in m["edges"]]
    assert any(e["asserted_by"] == "curated" for e in edges)
    assert any(e["asserted_by"].startswith("rule:") and "difficult to hack" in e["quote"] for e in edges)
    paper = kb.paper_card("E010")
    assert paper["node"]["arxiv"] == "2604.06268"
    assert "fm:reasoning-collapse" in paper["failure_modes"]
    assert any(s["source_id"] == "rl-and-reasoning" for s in paper["citing"])


def test_disagreements_carry_both_quotes(kb):
    rows = kb.disagreements()
    assert rows[0]["edge"]["asserted_by"] == "curated"
    pair = next(r for r in rows if r["u"]["source_id"] == "rl-and-reasoning" and r["v"]["source_id"] == "the-real-issue-isnt-rl")
    assert pair["kind"] == "contradicts"
    assert pair["u"]["quote"] == "RL appears to reweight existing strategies rather than teach new ones."
    assert pair["v"]["quote"] == "These results don’t mean RL is fundamentally limited."
    assert pair["edge"]["target_quote"] == pair["v"]["quote"]


def test_source_view_spans(kb):
    view = kb.source_view("obvious-ways-rl-can-fail")
    assert view["claims"] and all(view["text"][c["start"]:c["end"]] == c["quote"] for c in view["claims"])
    assert [c["start"] for c in view["claims"]] == sorted(c["start"] for c in view["claims"])


def test_search_kinds_and_validation(kb):
    hits = kb.search("reward hacking", k=3, kinds=["mitigation"])
    assert len(hits) == 3 and {h.kind for h in hits} == {"mitigation"}
    assert hits[0].id == "mit:hard-to-hack-environments" or "fm:reward-hacking" in hits[0].failure_modes
    with pytest.raises(QueryError):
        kb.search("   ", k=3)
    with pytest.raises(QueryError):
        kb.search("reward", k=0)


def test_bibtex():
    entry = bibtex_entry({"id": "paper:x", "key": "gao-{2022}", "label": "Scaling {Laws}", "authors": "A, B",
                          "year": "2022", "arxiv": "2210.10760", "url": "https://arxiv.org/abs/2210.10760"})
    assert entry == ("@misc{gao-2022,\n  title = {Scaling Laws},\n  author = {A and B},\n  year = {2022},\n"
                     "  url = {https://arxiv.org/abs/2210.10760},\n  eprint = {2210.10760},\n  archivePrefix = {arXiv}\n}\n")
