"""The Streamlit explorer through streamlit.testing.v1.AppTest, against a knowledge base built from data/."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from conftest import copy_data_dir
from streamlit.testing.v1 import AppTest

from kb.api import KnowledgeBase
from kb.app.startup import HOME_FIRST, HOME_ORDERS, key_for, md_escape, order_rows
from kb.app.views import graph_elements, highlighted_source_html, scorecard_line
from kb.models import Statement, attribution

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
PAGES = "kb/app/pages"
SEED_QUOTE_A = "I believe there is no real way around this problem, except to design environments that are more difficult to hack."
SEED_QUOTE_B = "So no, RL isn’t broken, but our ability to evaluate it has a long way to go."


def plain(value: str) -> str:
    """Markdown as a person reads it: backslash escapes removed."""
    return re.sub(r"\\(.)", r"\1", value)


def shown(at: AppTest) -> str:
    """All markdown, captions, titles and alerts of a run, unescaped, in one string."""
    parts = [*at.markdown, *at.caption, *at.title, *at.header, *at.subheader, *at.info, *at.error]
    return "\n".join(plain(str(p.value)) for p in parts)


@pytest.fixture(scope="module")
def data_dir(built_data_dir, tmp_path_factory) -> Path:
    """A private copy of the session build: the Run button test records a run into it."""
    return copy_data_dir(tmp_path_factory.mktemp("kb") / "data", with_build=built_data_dir)


@pytest.fixture(scope="module")
def kb(data_dir) -> KnowledgeBase:
    return KnowledgeBase.load(data_dir)


@pytest.fixture
def app(data_dir, monkeypatch):
    monkeypatch.setenv("KB_DATA_DIR", str(data_dir))
    return AppTest.from_file(APP, default_timeout=120)


def hit_lines(at: AppTest) -> list[str]:
    """The head line of each search hit (kind badge ... score 0.123)."""
    return [plain(m.value) for m in at.markdown if re.search(r" score \d+\.\d{3}$", m.value)]


def headings(at: AppTest) -> list[str]:
    return [plain(m.value)[4:].split("\n", 1)[0] for m in at.markdown if m.value.startswith("### ")]


def test_home_orders_failure_modes_by_weight_of_evidence_and_can_sort_by_name(app, kb):
    app.run()
    assert not app.exception
    cards = kb.concept_cards("failure_mode")
    assert headings(app) == [c.node.label for c in cards][:HOME_FIRST]
    if len(cards) > HOME_FIRST:
        app.toggle(key="home-all").set_value(True).run()
    assert headings(app) == [c.node.label for c in cards]
    weights = [c.scorecard.weight for c in cards]
    assert weights == sorted(weights, reverse=True) and len(set(weights)) > 1
    text = shown(app)
    for card in cards:
        assert scorecard_line(card.scorecard) in text
        assert app.button(key=key_for("home", card.node.id)).label == "Open"
    app.selectbox(key="home-sort").set_value("name").run()
    assert headings(app) == sorted((c.node.label for c in cards), key=str.lower) != headings(app)[::-1]


def test_every_home_order_is_a_permutation_of_the_rows():
    rows = [{"id": i, "label": label, "weight": w, "newest": newest, "disagreements": d, "reproductions": r}
            for i, (label, w, newest, d, r) in enumerate([("b", 3, "2025-01-02", 0, 1), ("A", 3, None, 2, 0),
                                                          ("c", 9, "2026-05", 1, 1)])]
    for order in HOME_ORDERS:
        assert sorted(r["id"] for r in order_rows(rows, order)) == [0, 1, 2]
    assert [r["label"] for r in order_rows(rows, "weight of evidence")] == ["c", "A", "b"]
    assert [r["label"] for r in order_rows(rows, "name")] == ["A", "b", "c"]
    assert [r["label"] for r in order_rows(rows, "newest evidence")] == ["c", "b", "A"]
    assert [r["label"] for r in order_rows(rows, "open disagreements")] == ["A", "c", "b"]


def test_home_search_box_shows_hits_inline_that_open_their_node(app, kb):
    app.run()
    app.text_input(key="home-q").input("all rollouts get zero reward").run()
    assert not app.exception
    expected = kb.search("all rollouts get zero reward", k=10)
    lines = hit_lines(app)
    assert len(lines) == len(expected) == 10
    assert kb.node(expected[0].id)["label"] in lines[0]   # the box shows search's own order
    assert any("No foothold (reward is always zero)" in line for line in lines[:2])
    assert headings(app)  # the failure modes are still listed below the results
    app.button(key=key_for("hit", expected[0].id)).click().run()
    assert app.query_params["node"] == expected[0].id
    assert app.title[0].value == kb.node(expected[0].id)["label"]


def test_search_page_kind_filter_keeps_only_that_kind(app):
    app.switch_page(f"{PAGES}/search.py").run()
    assert not app.exception and app.title[0].value == "Search"
    app.multiselect(key="search-kinds").set_value(["paper"]).run()
    app.text_input(key="search-q").input("pass@k at large sampling budgets").run()
    lines = hit_lines(app)
    assert lines and all(line.startswith(":blue-badge[paper]") for line in lines)


def test_failure_mode_page_shows_definition_quotes_papers_and_bibtex(app, kb):
    fm = "fm:capability-narrowing"
    card = kb.failure_mode_card(fm)
    app.query_params["node"] = fm
    app.run()
    assert not app.exception
    text = shown(app)
    assert app.title[0].value == card.node.label
    assert card.node.description in text
    quotes = [line[2:] for line in text.splitlines() if line.startswith("> ")]
    assert quotes[: len(card.statements)] == [s.quote for s in card.statements]
    assert card.papers
    for p in card.papers:
        assert f"[{p.label}](https://arxiv.org/abs/{p.arxiv})" in text
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Papers"] == str(len(card.papers))
    assert metrics["Mitigations"] == str(len(card.mitigations))
    assert metrics["Evidence"] == str(sum(s.kind == "evidence" for s in card.statements))
    assert "Download BibTeX" in str(app.get("download_button")[0].proto)
    for m in card.mitigations:
        assert f"**{m.node.label}**" in text
        assert app.button(key=key_for("card", "mit", m.node.id)).label == "Open"


def test_inferred_links_never_look_curated(app, kb):
    app.query_params["node"] = "fm:no-foothold"
    app.run()
    badges = [m.value for m in app.markdown if "link :" in m.value]
    card = kb.failure_mode_card("fm:no-foothold")
    assert len(badges) == len(card.statements)
    kinds = set()
    for line, s in zip(badges, card.statements):
        a = attribution(s.link.asserted_by)
        kinds.add(a.category)
        if a.category == "curated":
            assert line.endswith("link :green-badge[curated]")
        else:
            assert "link :green-badge" not in line and f"[{a.label}]" in line
    assert "rule" in kinds


def test_claim_opens_its_source_with_the_passage_highlighted(app, kb):
    fm = "fm:no-foothold"
    first = kb.failure_mode_card(fm).statements[0]
    app.query_params["node"] = fm
    app.run()
    app.button(key=key_for("st", first.id, "passage")).click().run()
    assert app.query_params["node"] == f"src:{first.source_id}"
    assert app.query_params["claim"] == first.id
    assert not app.exception
    page = "\n".join(h.proto.body for h in app.get("html"))
    assert '<mark id="kb-selected"' in page
    selected = page.split('<mark id="kb-selected"', 1)[1].split(">", 1)[1].split("</mark>", 1)[0]
    assert selected == html.escape(first.quote)
    assert f"“{first.quote}”" in shown(app)


def test_disagreements_show_both_quotes_side_by_side(app, kb):
    app.switch_page(f"{PAGES}/disagreements.py").run()
    assert not app.exception
    text = shown(app)
    assert f"> {SEED_QUOTE_A}" in text and f"> {SEED_QUOTE_B}" in text
    items = kb.disagreements()
    assert f"{len(items)} disagreements" in text
    noted = [d for d in items if d.edge.note]
    assert noted, "the shipped curation has notes on some disagreements"
    for d in items:
        assert f"> {d.u.quote}" in text and f"> {d.v.quote}" in text
    for d in noted:
        assert f"**Note:** {d.edge.note}" in text


def test_graph_page_renders_the_default_subgraph(app, kb):
    app.switch_page(f"{PAGES}/graph.py").run()
    assert not app.exception
    nodes, _ = graph_elements(kb.G, ("failure_mode", "mitigation", "paper", "reproduction"), app.multiselect(key="graph-edges").value)
    assert {n["kind"] for n in nodes} == {"failure_mode", "mitigation", "paper", "reproduction"}
    assert f"{len(nodes)} nodes" in shown(app)


def test_graph_elements_mark_inferred_edges_and_derive_paper_links(kb):
    nodes, edges = graph_elements(kb.G, ("failure_mode", "mitigation", "paper"), ("mitigates",))
    ids = {n["id"] for n in nodes}
    assert all(e["source"] in ids and e["target"] in ids for e in edges)
    mitigates = [e for e in edges if e["label"] == "mitigates"]
    assert mitigates and all(e["dashes"] == (not e["title"].startswith("mitigates — curated")) for e in mitigates)
    derived = {p for p, t in ((e["source"], e["target"]) for e in edges if e["label"] == "cited about")
               if t == "fm:capability-narrowing"}
    assert derived and derived <= {p.id for p in kb.failure_mode_card("fm:capability-narrowing").papers}


def test_every_page_renders_without_error(app, kb):
    for page in ("sources", "papers", "reproductions"):
        app.switch_page(f"{PAGES}/{page}.py").run()
        assert not app.exception, page
    assert app.title[0].value == "Reproductions"
    for kind in ("paper", "source", "claim", "reproduction", "mitigation"):
        node = kb.nodes(kind)[0]["id"]
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["node"] = node
        at.run()
        assert not at.exception, node
        assert at.title[0].value in (kb.node(node)["label"], "Claim")


def test_source_text_is_escaped_not_rendered_as_html():
    text = "intro <script>alert(1)</script> claim & more"
    claim = Statement(id="c1", kind="claim", start=6, end=31)
    out = highlighted_source_html(text, [claim], selected="c1")
    assert "<script>" not in out
    assert '<mark id="kb-selected"' in out and "&lt;script&gt;alert(1)&lt;/script&gt;</mark>" in out
    assert md_escape("$25 *bold* :red[x]") == r"\$25 \*bold\* \:red\[x\]"


def test_widget_keys_come_from_node_ids():
    assert key_for("home", "fm:no-foothold") == "home-fm_3a_no-foothold"
    assert key_for("x", "src:../../evil") != key_for("x", "src:-..-evil")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", key_for("x", "src:../../évil <b>"))


def test_missing_build_says_which_command_to_run(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert len(at.error) == 1 and "run `kb build --data-dir" in at.error[0].value


def test_broken_build_says_to_rebuild(tmp_path, monkeypatch):
    build_dir = tmp_path / "build"
    build_dir.mkdir()
    (build_dir / "graph.json").write_text("{not json")
    (build_dir / "manifest.json").write_text("{}")
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert len(at.error) == 1 and "is unreadable" in at.error[0].value and "kb build --data-dir" in at.error[0].value


def test_run_button_runs_a_quick_reproduction_and_records_it(app, data_dir):
    app.query_params["node"] = "fm:no-foothold"
    app.run()
    assert "No recorded run yet." in shown(app)
    app.button(key="run-no-foothold").click().run()
    assert not app.exception
    result = app.session_state["run-result-no-foothold"]
    assert result["quick"] is True and result["device"] == "cpu"
    text = shown(app)
    verdict = "signature shown" if result["signature_met"] else "signature not shown"
    assert f"-badge[{verdict}] quick · seed 0 · cpu" in "\n".join(m.value for m in app.markdown)
    assert len(app.get("image")) == 1
    metrics = app.dataframe[0].value
    assert list(metrics["metric"]) == list(result["metrics"])
    after = KnowledgeBase.load(data_dir)
    assert after.reproduction("repro:no-foothold").result["run_id"] == result["run_id"]
    run_node = after.node("ev:run:no-foothold")
    assert run_node["asserted_by"] == f"reproduction:{result['run_id']}"
    app.run()
    assert "This session's run" in shown(app) and text
