"""MkDocs export: Markdown pages under `docs/` and an `mkdocs.yml` that `mkdocs build --strict` accepts.

    from kb.export import export_mkdocs
    export_mkdocs(kb, Path("kb-docs"))      # then: cd kb-docs && mkdocs build --strict

Pages are rendered from the API's typed views through `templates/mkdocs`; the environment escapes every
printed value for both HTML (`<` -> `&lt;`) and Markdown (link and emphasis syntax backslash-escaped), so
only the templates' own links and badges are markup. External links are kept only for http(s) URLs and
every internal link is a relative `.md` link that MkDocs validates. Statements appear inline on the
failure-mode, mitigation, paper and source pages rather than as a page each.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

import yaml
from markupsafe import Markup

from ..models import NodeRef, ProgressCallback, Scorecard, attribution
from .common import Progress, environment, md_url, node_slug, staged_output, write_file

KIND_FOLDERS = {"failure_mode": "failure-modes", "mitigation": "mitigations", "paper": "papers", "source": "sources"}
CSS = """.prov { font-size: .75em; padding: 0 .4em; border-radius: 9px; white-space: nowrap; }
.prov-curated { border: 2px solid #1f7a3d; color: #1f7a3d; font-weight: 700; }
.prov-inferred { border: 2px dashed #b35c00; color: #b35c00; font-style: italic; }
.prov-measured { border: 2px solid #1f5fa8; color: #1f5fa8; }
"""


def md_page(node_id: str, kind: str) -> str | None:
    """Path of a node's page under docs/, or None for kinds without a page (claims, evidence, ...)."""
    folder = KIND_FOLDERS.get(kind)
    return f"{folder}/{node_slug(node_id)}.md" if folder else None


def nav_title(label: Any) -> str:
    """A nav entry title: MkDocs themes insert it without escaping, so it is HTML-escaped here."""
    return html.escape(" ".join(str(label).split()), quote=True) or "untitled"


class MkDocsWriter:
    """Renders the Markdown pages for one knowledge base from the API's views."""

    def __init__(self, kb, root: Path, progress: Progress):
        self.kb = kb
        self.root = root
        self.progress = progress
        self.pages = 0
        self.env = environment("md")
        self.env.globals.update(
            page_of=lambda n: md_page(n.id, n.kind), up=lambda here: "../" * here.count("/"),
            source_ref=lambda s: NodeRef(id=f"src:{s.source_id}", kind="source", label=s.source_title or s.source_id),
            score_names=[n.replace("_", " ") for n in Scorecard.model_fields],
            curated=attribution("curated"), inferred=attribution("rule:example"))

    def render(self, rel: str, template: str, **context: Any) -> str:
        """Render `template` to docs/`rel` and return `rel` for the nav."""
        write_file(self.root, f"docs/{rel}", self.env.get_template(template).render(here=rel, **context))
        self.pages += 1
        self.progress.step(rel)
        return rel

    def concept_page(self, card) -> str:
        """A failure mode or mitigation page (plus the failure mode's BibTeX beside it)."""
        rel = md_page(card.node.id, card.node.kind)
        if card.is_failure_mode:
            write_file(self.root, f"docs/failure-modes/{node_slug(card.node.id)}.bib",
                       self.kb.bibtex(p.id for p in card.papers) or "% no papers linked yet\n")
        return self.render(rel, "concept.md", card=card)

    def source_page(self, node_id: str) -> str:
        """A source: facts, what it cites, and its extracted statements."""
        view = self.kb.source_view(node_id)
        d = view.node
        facts = [(k.replace("_", " "), getattr(d, k)) for k in ("doc_kind", "episode", "paper", "date", "reliability")
                 if getattr(d, k)]
        return self.render(md_page(node_id, "source"), "source.md", view=view, facts=facts, url=md_url(d.url))

    def paper_page(self, node_id: str) -> str:
        """A paper: facts, failure modes, citing statements, BibTeX."""
        card = self.kb.paper_card(node_id)
        d = card.node
        facts = [(k, getattr(d, k)) for k in ("authors", "year", "venue", "episode", "arxiv") if getattr(d, k)]
        # <pre> content is HTML, not Markdown: escaped for HTML only and passed through as is.
        return self.render(md_page(node_id, "paper"), "paper.md", card=card, facts=facts, url=md_url(d.url),
                           bibtex=Markup(html.escape(card.bibtex, quote=False)))

    def reproductions_page(self) -> str:
        """Every reproduction with its last result and plot."""
        repros = []
        for n in self.kb.nodes("reproduction"):
            r = self.kb.reproduction(n["id"])
            plot = None
            if r.plot_path and Path(r.plot_path).is_file():
                plot = f"repro/{node_slug(r.id)}.png"
                write_file(self.root, f"docs/{plot}", Path(r.plot_path).read_bytes())
            repros.append((r, plot))
        return self.render("reproductions.md", "reproductions.md", repros=repros)


def count_pages(kb) -> int:
    """How many Markdown pages `export_mkdocs` writes for `kb` (for progress bars)."""
    return 3 + sum(1 for _, d in kb.G.nodes(data=True) if d["kind"] in KIND_FOLDERS)


def export_mkdocs(kb, out: Path, *, progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Write `docs/` and `mkdocs.yml` for `kb` into `out` (replacing a previous export there).

    `progress(done, total, page)` is called after each page. Returns {"pages", "seconds", "out"};
    `mkdocs build --strict` inside `out` builds the site.
    """
    started = time.perf_counter()
    with staged_output(Path(out), "mkdocs") as root:
        w = MkDocsWriter(kb, root, Progress(count_pages(kb), progress))
        cards = kb.concept_cards("failure_mode")
        nav: list[Any] = [{"Home": w.render("index.md", "index.md", cards=cards)}]
        nav.append({"Failure modes": [{nav_title(c.node.label): w.concept_page(c)} for c in cards]})
        nav.append({"Mitigations": [{nav_title(m["label"]): w.concept_page(kb.mitigation_card(m["id"]))}
                                    for m in kb.nodes("mitigation")]})
        nav.append({"Papers": [{nav_title(p["label"]): w.paper_page(p["id"])} for p in kb.nodes("paper")]})
        nav.append({"Sources": [{nav_title(s["label"]): w.source_page(s["id"])} for s in kb.nodes("source")]})
        nav.append({"Disagreements": w.render("disagreements.md", "disagreements.md", items=kb.disagreements())})
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
