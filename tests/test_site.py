"""Static-site and MkDocs exports: every page exists, links resolve, BibTeX parses, hostile text stays inert,
nothing is written outside OUT, re-exports replace cleanly, and `mkdocs build --strict` passes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from conftest import copy_data_dir

from kb.api import KnowledgeBase
from kb.build import build
from kb.config import load_settings
from kb.errors import KBError
from kb.export import export_mkdocs, export_site
from kb.export.common import MARKER_FILE, environment, md_text, node_slug
from kb.export.site import count_pages, node_path, related_lists

REPO = Path(__file__).resolve().parents[1]
HOSTILE_ID = "../../evil"
HOSTILE = f"""---
id: "{HOSTILE_ID}"
kind: post
title: "Evil <script>alert(1)</script> title"
url: "javascript:alert(1)"
reliability: opinion
---
# Evil <script>alert(1)</script> title

Reward hacking is everywhere <script>alert(1)</script> and nobody notices the reward hack.

A shortcut in the grader <img src=x onerror=alert(1)> lets the policy hack the reward.

Click [x](javascript:alert(1)) to see how the policy exploits the reward loophole.

<a href="javascript:alert(1)" onclick="alert(1)">loophole</a> is a reward hacking trick too.
"""


def build_kb(root: Path, built_data_dir: Path, *, hostile: bool) -> KnowledgeBase:
    """A KB built from a copy of the shipped corpus (plus the hostile post when asked), reusing the session
    build's model and embedding cache so only the new post is embedded."""
    data = copy_data_dir(root / "data", with_build=built_data_dir, cache_only=True)
    if hostile:
        (data / "corpus" / "posts" / "hostile.md").write_text(HOSTILE, encoding="utf-8")
    settings = load_settings(data)
    build(settings)
    return KnowledgeBase.load(settings=settings)


@pytest.fixture(scope="session")
def kb(tmp_path_factory, built_data_dir) -> KnowledgeBase:
    return build_kb(tmp_path_factory.mktemp("site-kb"), built_data_dir, hostile=True)


@pytest.fixture(scope="module")
def site(kb, tmp_path_factory) -> Path:
    box = tmp_path_factory.mktemp("site-out")
    before = sorted(p.relative_to(box.parent) for p in box.parent.rglob("*"))
    calls = []
    report = export_site(kb, box / "site", progress=lambda done, total, what: calls.append((done, total)))
    assert calls and calls[-1] == (report["pages"], report["pages"]) == (len(calls), count_pages(kb))
    after = sorted(p.relative_to(box.parent) for p in box.parent.rglob("*"))
    outside = [p for p in after if p not in before and p.parts[:2] != (box.name, "site")]
    assert outside == []
    assert report["pages"] == len(list((box / "site").rglob("*.html")))
    return box / "site"


class Page(HTMLParser):
    """Collects links, scripts, attributes and the text of one page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.refs: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.inline_scripts: list[str] = []
        self._in_script = False
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        for key in ("href", "src", "action"):
            if a.get(key):
                self.refs.append(a[key])
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts.append(data)
        self.text.append(data)


def parse(path: Path) -> Page:
    p = Page()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def test_every_node_with_a_page_has_one_and_failure_modes_carry_their_quotes(kb, site):
    expected = {node_path(kb.G, n) for n, d in kb.G.nodes(data=True)}
    written = {str(p.relative_to(site)) for p in site.glob("*/*.html")}
    assert written == expected
    for card in kb.concept_cards("failure_mode"):
        text = (site / node_path(kb.G, card.node.id)).read_text(encoding="utf-8")
        words = "".join(parse(site / node_path(kb.G, card.node.id)).text)
        assert card.node.label in words
        for s in card.statements:
            assert s.shown in words, (card.node.id, s.id)
        for m in card.mitigations:
            assert node_path(kb.G, m.node.id) in text
        # the scorecard and the list it sums up agree on the page itself
        listed = text.split("<h2>Mitigations", 1)[1].split("</section>", 1)[0].count("<li><a ")
        assert f"<dt>mitigations</dt><dd>{listed}</dd>" in text and listed == len(card.mitigations)
        assert "*" not in text.split('class="aliases"', 1)[-1].split("</p>", 1)[0]
    index = (site / "index.html").read_text(encoding="utf-8")
    assert all(node_path(kb.G, fm["id"]) in index for fm in kb.nodes("failure_mode"))


def test_every_relative_link_resolves_inside_the_site(site):
    checked = 0
    for page in site.rglob("*.html"):
        for ref in parse(page).refs:
            parts = urlsplit(ref)
            if parts.scheme in ("http", "https"):
                continue
            assert not parts.scheme and not parts.netloc, f"{page}: {ref}"
            target = (page.parent / unquote(parts.path)).resolve()
            assert target.is_file(), f"{page.relative_to(site)} -> {ref}"
            assert site.resolve() in target.parents
            checked += 1
    assert checked > 1000


def test_provenance_is_shown_and_curated_looks_different_from_inferred(kb, site):
    text = (site / "disagreements.html").read_text(encoding="utf-8")
    words = "".join(parse(site / "disagreements.html").text)
    assert text.count('class="disagreement') == len(kb.disagreements())
    for x in kb.disagreements():
        assert x.u.quote in words and x.v.quote in words
    assert 'prov prov-curated' in text
    css = (site / "assets" / "site.css").read_text(encoding="utf-8")
    curated = re.search(r"\.prov-curated \{([^}]*)\}", css).group(1)
    inferred = re.search(r"\.prov-inferred \{([^}]*)\}", css).group(1)
    assert "dashed" in inferred and "dashed" not in curated


def test_bibtex_per_failure_mode_has_one_entry_per_paper(kb, site):
    cards = kb.concept_cards("failure_mode")
    for card in cards:
        bib = (site / "bib" / f"{node_slug(card.node.id)}.bib").read_text(encoding="utf-8")
        entries = re.findall(r"@misc\{([^,\n]+),\n(.*?)\n\}\n", bib, flags=re.DOTALL)
        assert len(entries) == len(card.papers) == bib.count("@misc{")
        for (_key, body), paper in zip(entries, sorted(card.papers, key=lambda p: p.id)):
            assert re.search(r"^\s*title = \{.+\},?$", body, flags=re.MULTILINE)
            assert body.count("{") == body.count("}")
            assert paper.label.replace("{", "").replace("}", "") in body
    assert any(card.papers for card in cards)


def test_search_index_and_related_lists(kb, site):
    index = (site / "search-index.js").read_text(encoding="utf-8")
    assert index.startswith("window.KB_INDEX = ") and index.endswith(";\n")
    docs = json.loads(index[len("window.KB_INDEX = "):-2])["docs"]
    assert sorted(d[0] for d in docs) == sorted(kb.G.nodes)
    assert all(d[3] == node_path(kb.G, d[0]) for d in docs)
    related = related_lists(kb)
    assert len(related) == kb.G.number_of_nodes()
    for node_id, picks in related.items():
        assert 1 <= len(picks) <= 5
        scores = [s for _, s in picks]
        assert scores == sorted(scores, reverse=True)
        own = kb.G.nodes[node_id].get("source_id")
        assert all(kb.G.nodes[r].get("source_id") != own for r, _ in picks)
    fm = kb.nodes("failure_mode")[0]["id"]
    page = (site / node_path(kb.G, fm)).read_text(encoding="utf-8")
    assert all(node_path(kb.G, r) in page for r, _ in related[fm])


def test_hostile_document_is_inert_and_cannot_escape_out(kb, site):
    src = next(n for n, d in kb.G.nodes(data=True) if d["kind"] == "source" and "Evil" in d["label"])
    page_path = site / node_path(kb.G, src)
    assert page_path.parent == site / "src" and re.fullmatch(r"[a-z0-9-]+-[0-9a-f]{8}\.html", page_path.name)
    raw = page_path.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert "&lt;img src=x onerror=alert(1)&gt;" in raw
    for page in site.rglob("*.html"):
        p = parse(page)
        assert not p.inline_scripts, page
        for tag, attrs in p.tags:
            assert not any(k.startswith("on") for k in attrs), (page, tag, attrs)
            assert tag not in ("img", "iframe", "object", "embed") or (attrs.get("src") or "").startswith(("../repro/", "repro/"))
            if tag == "script":
                assert attrs["src"].lstrip("./") in ("search-index.js", "graph-data.js", "assets/search.js",
                                                     "assets/graph.js", "assets/vendor/vis-network.min.js")
            for key in ("href", "src", "action"):
                assert not (attrs.get(key) or "").strip().lower().startswith(("javascript:", "data:")), (page, attrs)
    assert any(d.get("source_id") == HOSTILE_ID for _, d in kb.G.nodes(data=True))
    escaped = [p for p in site.parent.parent.rglob("evil*") if site not in p.parents]
    assert escaped == []


def test_reexport_replaces_old_output_and_refuses_foreign_folders(kb, tmp_path):
    out = tmp_path / "site"
    export_site(kb, out)
    (out / "stale.html").write_text("old", encoding="utf-8")
    export_site(kb, out)
    assert not (out / "stale.html").exists() and (out / MARKER_FILE).is_file() and (out / "index.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]
    foreign = tmp_path / "precious"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("keep me", encoding="utf-8")
    with pytest.raises(KBError, match="not a kb export|no previous kb export"):
        export_site(kb, foreign)
    assert (foreign / "thesis.tex").read_text(encoding="utf-8") == "keep me"
    assert sorted(p.name for p in foreign.iterdir()) == ["thesis.tex"]


def test_templates_escape_by_construction():
    hostile = "<script>alert(1)</script> [x](javascript:alert(1))"
    page = environment("html").from_string("<p>{{ v }}</p>").render(v=hostile)
    assert page == "<p>&lt;script&gt;alert(1)&lt;/script&gt; [x](javascript:alert(1))</p>"
    md = environment("md").from_string("> {{ v }}").render(v=hostile)
    assert md == "> " + md_text(hostile) and "](" not in md and "<script" not in md


def test_markdown_escaping_neutralises_markup():
    assert md_text("<script>alert(1)</script>") == "&lt;script&gt;alert\\(1\\)&lt;/script&gt;"
    assert md_text("[x](javascript:alert(1))") == "\\[x\\]\\(javascript:alert\\(1\\)\\)"
    assert md_text("- item") == "\\- item"


def test_mkdocs_export_builds_strict_and_stays_inert(kb, tmp_path):
    out = tmp_path / "docs-export"
    report = export_mkdocs(kb, out)
    md_pages = list((out / "docs").rglob("*.md"))
    assert report["pages"] == len(md_pages)
    assert len(md_pages) == 1 + 1 + 1 + sum(len(kb.nodes(k)) for k in ("failure_mode", "mitigation", "paper", "source"))
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q"], cwd=out,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    built = list((out / "site").rglob("*.html"))
    assert len(built) >= len(md_pages)
    hostile_seen = False
    for page in built:
        text = page.read_text(encoding="utf-8")
        hostile_seen |= "&lt;script&gt;alert" in text
        p = parse(page)
        assert not any("alert(" in s for s in p.inline_scripts), page
        for tag, attrs in p.tags:
            assert not any(k.startswith("on") and "alert" in (v or "") for k, v in attrs.items()), (page, attrs)
            assert not (attrs.get("href") or "").lower().startswith("javascript:"), (page, attrs)
            assert not (tag == "img" and attrs.get("src") == "x"), page
    assert hostile_seen
    for fm in kb.nodes("failure_mode"):
        bib = out / "docs" / "failure-modes" / f"{node_slug(fm['id'])}.bib"
        assert bib.is_file() and (out / "site" / "failure-modes" / bib.name).is_file()
