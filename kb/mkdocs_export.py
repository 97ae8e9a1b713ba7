"""MkDocs export: Markdown pages under `docs/` and an `mkdocs.yml` that `mkdocs build --strict` accepts.

    from kb.mkdocs_export import export_mkdocs
    export_mkdocs(kb, Path("kb-docs"))      # then: cd kb-docs && mkdocs build --strict

Corpus text is escaped for both HTML (`<` -> `&lt;`) and Markdown (link and emphasis syntax is
backslash-escaped), external links are kept only for http(s) URLs, and every internal link is a relative
`.md` link that MkDocs validates. Statements appear inline on the failure-mode, mitigation, paper and source
pages rather than as a page each, so the docs stay a size a docs team can publish.
"""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from .site import node_slug, provenance_class, safe_url, staged_output, write_file

KIND_FOLDERS = {"failure_mode": "failure-modes", "mitigation": "mitigations", "paper": "papers", "source": "sources"}
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")
_LINE_START = re.compile(r"^(\s*)([-+>=]|\d+[.)])")
CSS = """.prov { font-size: .75em; padding: 0 .4em; border-radius: 9px; white-space: nowrap; }
.prov-curated { border: 2px solid #1f7a3d; color: #1f7a3d; font-weight: 700; }
.prov-inferred { border: 2px dashed #b35c00; color: #b35c00; font-style: italic; }
.prov-measured { border: 2px solid #1f5fa8; color: #1f5fa8; }
"""


def md_text(value: Any) -> str:
    """Corpus text as inert Markdown on one line: HTML-escaped, Markdown syntax backslash-escaped."""
    text = " ".join(html.escape("" if value is None else str(value), quote=True).split())
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def md_url(url: Any) -> str | None:
    """An http(s) URL percent-encoded so it cannot break out of `(...)` in a Markdown link."""
    url = safe_url(url)
    return quote(url, safe=":/?&=#%@,;~.-_+!*$") if url else None


def nav_title(label: Any) -> str:
    """A nav entry title: MkDocs themes insert it without escaping, so it is HTML-escaped here."""
    return html.escape(" ".join(str(label).split()), quote=True) or "untitled"


class MkDocsWriter:
    """Writes the Markdown pages for one knowledge base and remembers the nav."""

    def __init__(self, kb, root: Path):
        self.kb = kb
        self.G = kb.G
        self.root = root
        self.pages = 0

    def path(self, node_id: str) -> str | None:
        """Path of a node's page under docs/, or None for kinds without a page (claims, evidence, ...)."""
        folder = KIND_FOLDERS.get(self.G.nodes[node_id]["kind"])
        return f"{folder}/{node_slug(node_id)}.md" if folder else None

    def link(self, node_id: str, here: str) -> str:
        """A relative Markdown link from page `here` to a node's page (plain text when it has none)."""
        label = md_text(self.G.nodes[node_id].get("label") or node_id)
        target = self.path(node_id)
        if target is None:
            return label
        up = "../" * here.count("/")
        return f"[{label}]({up}{target})"

    def source_link(self, source_id: str | None, here: str) -> str:
        if not source_id:
            return ""
        node = f"src:{source_id}"
        return self.link(node, here) if node in self.G else md_text(self.kb.source_title(source_id))

    @staticmethod
    def badge(asserted_by: str | None) -> str:
        cls = provenance_class(asserted_by)
        return f'<span class="prov prov-{cls}">{md_text(asserted_by or "unknown")}</span>'

    def statement(self, s: dict, here: str, edge: dict | None = None) -> str:
        meta = [s["kind"], self.source_link(s.get("source_id"), here)]
        meta += [md_text(s[k]) for k in ("section", "reliability", "date") if s.get(k)]
        if edge is not None:
            meta.append(f"linked by {self.badge(edge.get('asserted_by'))}")
        return f"> {md_text(s.get('quote') or s.get('text'))}\n>\n> — {' · '.join(m for m in meta if m)}\n"

    def write(self, rel: str, text: str) -> None:
        write_file(self.root, f"docs/{rel}", text)
        self.pages += 1

    # pages

    def concept_page(self, card: dict, *, is_fm: bool) -> str:
        d = card["node"]
        here = self.path(d["id"])
        out = [f"# {md_text(d['label'])}\n", f"{md_text(d.get('description'))}\n",
               f"`{md_text(d['id'])}` · asserted by {self.badge(d.get('asserted_by'))}\n"]
        sc = card["scorecard"]
        out.append("| " + " | ".join(k.replace("_", " ") for k in sc) + " |\n|" + "---|" * len(sc) + "\n| "
                   + " | ".join(md_text(v if v is not None else "—") for v in sc.values()) + " |\n")
        if is_fm:
            out.append(f"[BibTeX for this failure mode]({node_slug(d['id'])}.bib)\n")
        out.append("## Mitigations\n" if is_fm else "## Mitigates\n")
        items = [f"- {self.link(m['node']['id'], here)} "
                 + " ".join(self.badge(e.get("asserted_by")) for e in m["edges"]) for m in card["mitigations"]]
        out.append("\n".join(items) + "\n" if items else "None recorded.\n")
        if card["reproductions"]:
            out.append("## Reproductions\n")
            out.append("\n".join(f"- [{md_text(r['label'])}](../reproductions.md)" for r in card["reproductions"]) + "\n")
        out.append(f"## What the sources say ({len(card['statements'])})\n")
        out.append("\n".join(self.statement(s, here, s.get("link")) for s in card["statements"]) or "No statements yet.\n")
        out.append("## Papers\n")
        out.append("\n".join(f"- {self.link(p['id'], here)}" for p in card["papers"]) + "\n" if card["papers"] else "None linked.\n")
        if card["disagreements"]:
            out.append("## Disagreements\n")
            out.append(self.disagreements(card["disagreements"], here))
        self.write(here, "\n".join(out))
        return here

    def disagreements(self, items: list[dict], here: str) -> str:
        out = []
        for x in items:
            e = x["edge"]
            note = f"{md_text(e['note'])}\n\n" if e.get("note") else ""
            sides = "\n".join(self.statement(s, here) for s in (x["u"], x["v"]))
            out.append(f"**{md_text(x['kind'])}** · asserted by {self.badge(e.get('asserted_by'))}\n\n{note}{sides}\n---\n")
        return "\n".join(out)

    def source_page(self, node_id: str) -> str:
        view = self.kb.source_view(node_id)
        d = view["node"]
        here = self.path(node_id)
        out = [f"# {md_text(d['label'])}\n"]
        for key in ("doc_kind", "episode", "paper", "date", "reliability"):
            if d.get(key):
                out.append(f"- **{key.replace('_', ' ')}**: {md_text(d[key])}")
        url = md_url(d.get("url"))
        if url:
            out.append(f"- **url**: [{md_text(d['url'])}]({url})")
        out.append("")
        cites = list(dict.fromkeys(e["v"] for e in self.kb.edges(node_id, kind="cites", direction="out")))
        if cites:
            out.append("## Cites\n\n" + "\n".join(f"- {self.link(p, here)}" for p in cites) + "\n")
        out.append(f"## Extracted statements ({len(view['claims'])})\n")
        for c in view["claims"]:
            targets = [self.link(t, here) for t in (*c["links"]["failure_modes"], *c["links"]["mitigations"])]
            about = f" — about {', '.join(targets)}" if targets else ""
            out.append(f"1. {c['kind']}: {md_text(c.get('quote') or c.get('text'))}{about} "
                       f"{self.badge(c.get('asserted_by'))}")
        self.write(here, "\n".join(out) + "\n")
        return here

    def paper_page(self, node_id: str) -> str:
        from .api import bibtex_entry

        card = self.kb.paper_card(node_id)
        d = card["node"]
        here = self.path(node_id)
        out = [f"# {md_text(d['label'])}\n", md_text(d.get("description")) + "\n"]
        out += [f"- **{k}**: {md_text(d[k])}" for k in ("authors", "year", "venue", "episode", "arxiv") if d.get(k)]
        url = md_url(d.get("url"))
        if url:
            out.append(f"- **url**: [{md_text(d['url'])}]({url})")
        out.append("\n## Failure modes\n")
        out.append("\n".join(f"- {self.link(f, here)}" for f in card["failure_modes"]) + "\n" if card["failure_modes"] else "None.\n")
        out.append("## Statements citing it\n")
        out.append("\n".join(self.statement(s, here) for s in card["citing"]) or "None.\n")
        bib = html.escape(bibtex_entry(d), quote=False)
        out.append(f"## BibTeX\n\n<pre>{bib}</pre>\n")
        self.write(here, "\n".join(out))
        return here

    def reproductions_page(self) -> str:
        out = ["# Reproductions\n"]
        for n in self.kb.nodes("reproduction"):
            r = self.kb.reproduction(n["id"])
            out.append(f"## {md_text(r['label'])}\n\n{md_text(r.get('description'))}\n")
            result = r.get("result")
            if isinstance(result, dict):
                out += [f"- **{md_text(k)}**: {md_text(v)}" for k, v in sorted(result.items())
                        if isinstance(v, (str, int, float, bool)) and len(str(v)) < 80][:8]
                out.append("")
            if r.get("plot_path") and Path(r["plot_path"]).is_file():
                rel = f"repro/{node_slug(r['id'])}.png"
                write_file(self.root, f"docs/{rel}", Path(r["plot_path"]).read_bytes())
                out.append(f"![plot of {md_text(r['label'])}]({rel})\n")
        if len(out) == 1:
            out.append("None registered yet.\n")
        self.write("reproductions.md", "\n".join(out))
        return "reproductions.md"

    def home(self, cards: dict[str, dict]) -> str:
        keys = ("sources", "papers", "evidence", "claims", "mitigations", "reproductions", "disagreements", "newest_evidence")
        rows = ["| failure mode | " + " | ".join(k.replace("_", " ") for k in keys) + " |", "|---" * (len(keys) + 1) + "|"]
        for fm_id, card in cards.items():
            sc = card["scorecard"]
            rows.append(f"| {self.link(fm_id, 'index.md')} | "
                        + " | ".join(md_text(sc[k] if sc[k] is not None else "—") for k in keys) + " |")
        text = ("# How RL on language models fails\n\nFailure modes with their scorecards. Provenance badges: "
                f"{self.badge('curated')} {self.badge('rule:example')} (inferred).\n\n" + "\n".join(rows) + "\n")
        self.write("index.md", text)
        return "index.md"


def export_mkdocs(kb, out: Path) -> dict[str, Any]:
    """Write `docs/` and `mkdocs.yml` for `kb` into `out` (replacing a previous export there).

    Returns {"pages", "seconds", "out"}; `mkdocs build --strict` inside `out` builds the site.
    """
    started = time.perf_counter()
    with staged_output(Path(out), "mkdocs") as root:
        w = MkDocsWriter(kb, root)
        cards = {fm["id"]: kb.failure_mode_card(fm["id"]) for fm in kb.nodes("failure_mode")}
        nav: list[Any] = [{"Home": w.home(cards)}]
        fm_pages = []
        for fm_id, card in cards.items():
            fm_pages.append({nav_title(card["node"]["label"]): w.concept_page(card, is_fm=True)})
            write_file(root, f"docs/failure-modes/{node_slug(fm_id)}.bib",
                       kb.bibtex(p["id"] for p in card["papers"]) or "% no papers linked yet\n")
        nav.append({"Failure modes": fm_pages})
        nav.append({"Mitigations": [{nav_title(m["label"]): w.concept_page(kb.mitigation_card(m["id"]), is_fm=False)}
                                    for m in kb.nodes("mitigation")]})
        nav.append({"Papers": [{nav_title(p["label"]): w.paper_page(p["id"])} for p in kb.nodes("paper")]})
        nav.append({"Sources": [{nav_title(s["label"]): w.source_page(s["id"])} for s in kb.nodes("source")]})
        w.write("disagreements.md", "# Where sources disagree\n\n"
                + (w.disagreements(kb.disagreements(), "disagreements.md") or "None recorded.\n"))
        nav.append({"Disagreements": "disagreements.md"})
        nav.append({"Reproductions": w.reproductions_page()})
        write_file(root, "docs/css/kb.css", CSS)
        config = {
            "site_name": "kb: how RL on language models fails", "theme": {"name": "mkdocs"}, "docs_dir": "docs",
            "extra_css": ["css/kb.css"], "markdown_extensions": ["tables"], "nav": nav,
            "validation": {"omitted_files": "warn", "absolute_links": "warn", "unrecognized_links": "warn",
                           "anchors": "warn"},
        }
        write_file(root, "mkdocs.yml", yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
        pages = w.pages
    return {"pages": pages, "seconds": round(time.perf_counter() - started, 3), "out": str(out)}
