"""Static-site export: one self-contained folder of HTML pages that works from file:// and any static host.

    from kb.site import export_site
    export_site(kb, Path("site"))     # -> {"pages": 612, "seconds": 0.9, ...}

Every piece of corpus text goes through `esc` (html.escape); external links are kept only for http(s) URLs;
page files are named from a `[a-z0-9-]` slug of the node id plus a hash, never from the id itself; and a
Content-Security-Policy allows only the site's own scripts. The output is written beside OUT and swapped in,
and an existing OUT is only replaced when it carries the marker file of a previous export.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from .errors import KBError

MARKER_FILE = ".kb-export"
ASSETS_DIR = Path(__file__).with_name("site_assets")
KIND_DIRS = {"failure_mode": "fm", "mitigation": "mit", "source": "src", "paper": "paper", "claim": "claim",
             "evidence": "ev", "reproduction": "repro"}
KIND_NAMES = {"failure_mode": "failure mode", "mitigation": "mitigation", "source": "source", "paper": "paper",
              "claim": "claim", "evidence": "evidence", "reproduction": "reproduction"}
RELATED_K = 5
RELATED_CANDIDATES = 48
GRAPH_KINDS = ("failure_mode", "mitigation", "paper", "source", "reproduction")
SEARCH_TEXT_CHARS = 600
_SAFE_REL = re.compile(r"^[a-z0-9][a-z0-9.-]*(/[a-z0-9][a-z0-9.-]*)*$")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'self'; object-src 'none'")


def esc(value: Any) -> str:
    """HTML-escaped text (quotes included, so it is safe inside attributes too); None becomes ''."""
    return html.escape("" if value is None else str(value), quote=True)


def node_slug(node_id: str) -> str:
    """A file-name-safe slug for a node id: `[a-z0-9-]` from the id plus 8 hex digits of its hash."""
    name = node_id.split(":", 1)[-1]
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:48].strip("-") or "node"
    return f"{slug}-{hashlib.sha256(node_id.encode('utf-8')).hexdigest()[:8]}"


def node_path(G, node_id: str, ext: str = "html") -> str:
    """The page of a node relative to the site root, e.g. `fm/no-foothold-1a2b3c4d.html`."""
    return f"{KIND_DIRS[G.nodes[node_id]['kind']]}/{node_slug(node_id)}.{ext}"


def safe_url(url: Any) -> str | None:
    """`url` if it is an absolute http(s) URL without whitespace or control characters, else None."""
    if not isinstance(url, str) or re.search(r"[\s\x00-\x1f\x7f<>\"'`]", url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def provenance_class(asserted_by: str | None) -> str:
    """`curated`, `measured` (a reproduction run) or `inferred` (a rule or a similarity score)."""
    a = asserted_by or ""
    if a == "curated":
        return "curated"
    return "measured" if a.startswith("reproduction:") else "inferred"


# --- output folder -----------------------------------------------------------------------------------------


@contextmanager
def staged_output(out: Path, kind: str) -> Iterator[Path]:
    """Yield a fresh folder beside `out`; on success it replaces `out` (which must be new, empty, or a
    previous kb export) in two renames; on failure it is removed and `out` is left as it was."""
    out = Path(out).absolute()
    if out.exists():
        if not out.is_dir():
            raise KBError(f"{out} is a file; give a folder path for the export")
        if any(out.iterdir()) and not (out / MARKER_FILE).is_file():
            raise KBError(f"{out} is not empty and holds no previous kb export ({MARKER_FILE} is missing); "
                          "choose a new or empty folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.parent / f".{out.name}.staging-{os.getpid()}"
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir()
    try:
        yield staged
        (staged / MARKER_FILE).write_text(json.dumps({"kind": kind}) + "\n", encoding="utf-8")
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    retired = out.parent / f".{out.name}.retired-{os.getpid()}"
    if out.exists():
        os.replace(out, retired)
    os.replace(staged, out)
    shutil.rmtree(retired, ignore_errors=True)


def write_file(root: Path, rel: str, content: str | bytes) -> None:
    """Write `content` at `root/rel`; `rel` must be one of our own slugged paths (never outside root)."""
    if not _SAFE_REL.match(rel) or ".." in rel:
        raise KBError(f"refusing to write unsafe export path {rel!r}")
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


# --- related nodes from the embeddings ---------------------------------------------------------------------


def related_lists(kb, k: int = RELATED_K) -> dict[str, list[tuple[str, float]]]:
    """For every embedded node, its `k` nearest nodes (cosine) that come from a different source."""
    from .search import DENSE_FILE, IDS_FILE
    from .store import INDEX_DIR

    index_dir = kb.settings.build_dir / INDEX_DIR
    if not (index_dir / DENSE_FILE).is_file() or not (index_dir / IDS_FILE).is_file():
        return {}
    import faiss

    ids = json.loads((index_dir / IDS_FILE).read_text(encoding="utf-8"))
    index = faiss.read_index(str(index_dir / DENSE_FILE))
    if index.ntotal != len(ids) or not ids:
        return {}
    vectors = index.reconstruct_n(0, index.ntotal).astype(np.float32)
    groups = np.array([_source_key(kb.G, i) for i in ids], dtype=object)
    depth = min(RELATED_CANDIDATES, len(ids))
    related: dict[str, list[tuple[str, float]]] = {}
    for lo in range(0, len(ids), 2048):
        sims = vectors[lo:lo + 2048] @ vectors.T
        top = np.argpartition(-sims, depth - 1, axis=1)[:, :depth]
        for r, row in enumerate(top):
            i = lo + r
            order = row[np.argsort(-sims[r, row], kind="stable")]
            picks = [(ids[j], float(sims[r, j])) for j in order if groups[j] != groups[i] and ids[j] in kb.G]
            related[ids[i]] = picks[:k]
    return related


def _source_key(G, node_id: str) -> str:
    d = G.nodes[node_id] if node_id in G else {}
    return str(d.get("source_id") or node_id)


# --- page rendering ----------------------------------------------------------------------------------------

NAV = [("index.html", "Failure modes"), ("mitigations.html", "Mitigations"), ("papers.html", "Papers"),
       ("sources.html", "Sources"), ("disagreements.html", "Disagreements"),
       ("reproductions.html", "Reproductions"), ("graph.html", "Graph"), ("search.html", "Search")]


class SiteWriter:
    """Renders and writes every page of the site for one knowledge base into `root`."""

    def __init__(self, kb, root: Path, related: dict[str, list[tuple[str, float]]]):
        self.kb = kb
        self.G = kb.G
        self.root = root
        self.related = related
        self.pages = 0
        self.disagreements = kb.disagreements()
        self.plots: dict[str, str] = {}

    # helpers

    def write_page(self, rel: str, title: str, body: str, *, scripts: tuple[str, ...] = ()) -> None:
        """Wrap `body` in the site layout and write it at `rel`."""
        depth = rel.count("/")
        up = "../" * depth
        nav = "".join(f'<a href="{up}{href}">{esc(name)}</a>' for href, name in NAV)
        tags = "".join(f'<script src="{up}{s}"></script>' for s in scripts)
        page = (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{esc(title)} · kb</title><link rel="stylesheet" href="{up}assets/site.css"></head>'
            f'<body><header><a class="brand" href="{up}index.html">kb</a><nav>{nav}</nav>'
            f'<form class="search" action="{up}search.html" method="get"><input name="q" type="search" '
            'placeholder="Search every node" aria-label="Search"></form></header>'
            f'<main>{body}</main><footer>Static export of the kb knowledge base: how RL on language models '
            f'fails. Provenance: <span class="prov prov-curated">curated</span> '
            f'<span class="prov prov-inferred">inferred</span> <span class="prov prov-measured">measured</span>'
            f'</footer>{tags}</body></html>\n'
        )
        write_file(self.root, rel, page)
        self.pages += 1

    def link(self, node_id: str, depth: int, text: str | None = None) -> str:
        """An <a> to a node's page with its label (or `text`)."""
        label = text if text is not None else self.G.nodes[node_id].get("label", node_id)
        return f'<a href="{"../" * depth}{node_path(self.G, node_id)}">{esc(label)}</a>'

    def source_link(self, source_id: str | None, depth: int) -> str:
        """A link to a source document's page, or its plain title for pseudo-sources (taxonomy, curation)."""
        if not source_id:
            return ""
        node = f"src:{source_id}"
        if node in self.G:
            return self.link(node, depth)
        return esc(self.kb.source_title(source_id))

    def badge(self, asserted_by: str | None) -> str:
        """A provenance badge: solid green for curated, dashed orange for inferred, blue for measured."""
        cls = provenance_class(asserted_by)
        return (f'<span class="prov prov-{cls}" title="{esc(cls)}: asserted by {esc(asserted_by or "unknown")}">'
                f'{esc(asserted_by or "unknown")}</span>')

    def kind_tag(self, kind: str) -> str:
        return f'<span class="kind kind-{esc(kind)}">{esc(KIND_NAMES.get(kind, kind))}</span>'

    def statement(self, s: dict, depth: int, link_edge: dict | None = None) -> str:
        """A quoted statement: its quote, kind, source, section and the provenance of the edge that led here."""
        meta = [self.kind_tag(s["kind"]), self.source_link(s.get("source_id"), depth)]
        if s.get("section"):
            meta.append(f'§ {esc(s["section"])}')
        for key in ("reliability", "date"):
            if s.get(key):
                meta.append(esc(s[key]))
        if link_edge is not None:
            matched = f' via “{esc(link_edge["matched"])}”' if link_edge.get("matched") else ""
            meta.append(f'linked by {self.badge(link_edge.get("asserted_by"))}{matched}')
        quote = s.get("quote") or s.get("text") or ""
        return (f'<li class="statement"><blockquote>{esc(quote)}</blockquote><div class="meta">'
                f'{" · ".join(m for m in meta if m)} · {self.link(s["id"], depth, "details")}</div></li>')

    def related_block(self, node_id: str, depth: int) -> str:
        picks = self.related.get(node_id) or []
        if not picks:
            return ""
        items = "".join(f'<li>{self.kind_tag(self.G.nodes[r]["kind"])} {self.link(r, depth)} '
                        f'<span class="score">{score:.2f}</span></li>' for r, score in picks)
        return f'<section><h2>Related (nearest by embedding, other sources)</h2><ul class="related">{items}</ul></section>'

    def edges_table(self, node_id: str, depth: int) -> str:
        """Every edge touching a node with its quote and provenance."""
        rows = []
        for e in self.kb.edges(node_id):
            outgoing = e["u"] == node_id
            other = e["v"] if outgoing else e["u"]
            rel = f'{esc(e["kind"])} →' if outgoing else f'← {esc(e["kind"])}'
            quote = e.get("quote") or ""
            if e.get("target_quote") and outgoing:
                quote = e["target_quote"]
            note = f'<div class="note">{esc(e["note"])}</div>' if e.get("note") else ""
            rows.append(f'<tr class="edge edge-{provenance_class(e.get("asserted_by"))}"><td>{rel}</td>'
                        f'<td>{self.kind_tag(self.G.nodes[other]["kind"])} {self.link(other, depth)}</td>'
                        f'<td><q>{esc(quote)}</q>{note}</td><td>{self.badge(e.get("asserted_by"))}</td></tr>')
        if not rows:
            return ""
        return ('<section><h2>Links</h2><table class="edges"><thead><tr><th>relation</th><th>node</th>'
                f'<th>quote</th><th>asserted by</th></tr></thead><tbody>{"".join(rows)}</tbody></table></section>')

    def node_header(self, d: dict, depth: int) -> str:
        """Title, kind, definition and where the node itself came from."""
        desc = f'<p class="definition">{esc(d["description"])}</p>' if d.get("description") else ""
        aliases = ""
        if d.get("aliases"):
            aliases = '<p class="aliases">Also called: ' + ", ".join(f"<code>{esc(a)}</code>" for a in d["aliases"]) + "</p>"
        origin = f'From {self.source_link(d.get("source_id"), depth)} · asserted by {self.badge(d.get("asserted_by"))}'
        return (f'<h1>{esc(d["label"])}</h1><p class="meta">{self.kind_tag(d["kind"])} · <code>{esc(d["id"])}</code>'
                f' · {origin}</p>{desc}{aliases}')

    # pages

    def scorecard_table(self, rows: list[tuple[str, dict]], depth: int) -> str:
        head = "".join(f"<th>{esc(h)}</th>" for h in ("failure mode", "sources", "papers", "evidence", "claims",
                                                      "mitigations", "reproductions", "disagreements", "newest"))
        body = []
        for fm_id, sc in rows:
            cells = "".join(f"<td>{esc(sc[k] if sc[k] is not None else '—')}</td>" for k in (
                "sources", "papers", "evidence", "claims", "mitigations", "reproductions", "disagreements",
                "newest_evidence"))
            body.append(f"<tr><td>{self.link(fm_id, depth)}</td>{cells}</tr>")
        return f'<table class="scorecard"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'

    def concept_page(self, card: dict, *, is_fm: bool) -> None:
        """A failure mode or mitigation: scorecard, mitigations, reproductions, statements, papers, disagreements."""
        d = card["node"]
        rel = node_path(self.G, d["id"])
        parts = [self.node_header(d, 1)]
        sc = card["scorecard"]
        parts.append('<dl class="scorecard-card">' + "".join(
            f"<dt>{esc(k.replace('_', ' '))}</dt><dd>{esc(v if v is not None else '—')}</dd>" for k, v in sc.items()) + "</dl>")
        if is_fm:
            parts.append(f'<p><a class="button" href="../bib/{node_slug(d["id"])}.bib">BibTeX for this failure mode</a></p>')
        title = "Mitigations" if is_fm else "Mitigates"
        items = []
        for m in card["mitigations"]:
            edges = "".join(f'<div class="meta">{self.badge(e.get("asserted_by"))} <q>{esc(e.get("quote") or "")}</q></div>'
                            for e in m["edges"])
            items.append(f'<li>{self.link(m["node"]["id"], 1)}{edges}</li>')
        parts.append(f'<section><h2>{title}</h2><ul>{"".join(items) or "<li>none recorded</li>"}</ul></section>')
        if card["reproductions"]:
            items = "".join(f'<li>{self.link(r["id"], 1)} {self.result_summary(r)}</li>' for r in card["reproductions"])
            parts.append(f"<section><h2>Reproductions</h2><ul>{items}</ul></section>")
        statements = "".join(self.statement(s, 1, s.get("link")) for s in card["statements"])
        parts.append(f'<section><h2>What the sources say ({len(card["statements"])})</h2>'
                     f'<ul class="statements">{statements or "<li>no statements yet</li>"}</ul></section>')
        papers = "".join(f'<li>{self.link(p["id"], 1)}</li>' for p in card["papers"])
        parts.append(f'<section><h2>Papers</h2><ul>{papers or "<li>none linked</li>"}</ul></section>')
        if card["disagreements"]:
            parts.append(f'<section><h2>Disagreements</h2>{self.disagreement_list(card["disagreements"], 1)}</section>')
        parts.append(self.related_block(d["id"], 1))
        self.write_page(rel, d["label"], "".join(parts))

    def result_summary(self, r: dict) -> str:
        result = r.get("result")
        if not isinstance(result, dict):
            return '<span class="meta">not run yet</span>'
        flat = [(k, v) for k, v in sorted(result.items()) if isinstance(v, (str, int, float, bool)) and len(str(v)) < 80]
        return '<span class="meta">' + " · ".join(f"{esc(k)}: {esc(v)}" for k, v in flat[:8]) + "</span>"

    def statement_page(self, node_id: str) -> None:
        d = {"id": node_id, **self.G.nodes[node_id]}
        meta = [self.kind_tag(d["kind"]), f"<code>{esc(node_id)}</code>", self.source_link(d.get("source_id"), 1)]
        meta += [esc(d[k]) for k in ("section", "reliability", "date") if d.get(k)]
        meta.append(f'extracted by {self.badge(d.get("asserted_by"))}')
        span = f'characters {esc(d["start"])}–{esc(d["end"])}' if d.get("start") is not None else ""
        body = (f'<h1>{esc(KIND_NAMES[d["kind"]].capitalize())}</h1><blockquote class="big">{esc(d.get("quote") or d.get("text"))}'
                f'</blockquote><p class="meta">{" · ".join(m for m in meta if m)} {span}</p>'
                f'{self.edges_table(node_id, 1)}{self.related_block(node_id, 1)}')
        self.write_page(node_path(self.G, node_id), d.get("label") or node_id, body)

    def source_page(self, node_id: str) -> None:
        view = self.kb.source_view(node_id)
        d = view["node"]
        facts = []
        for key in ("doc_kind", "episode", "paper", "date", "reliability", "path"):
            if d.get(key):
                facts.append(f"<dt>{esc(key.replace('_', ' '))}</dt><dd>{esc(d[key])}</dd>")
        if d.get("authors"):
            authors = d["authors"] if isinstance(d["authors"], list) else [d["authors"]]
            facts.append(f"<dt>authors</dt><dd>{esc(', '.join(map(str, authors)))}</dd>")
        url = safe_url(d.get("url"))
        if url:
            facts.append(f'<dt>url</dt><dd><a href="{esc(url)}" rel="noopener noreferrer">{esc(url)}</a></dd>')
        cites = [e["v"] for e in self.kb.edges(node_id, kind="cites", direction="out")]
        cited = "".join(f'<li>{self.link(p, 1)}</li>' for p in dict.fromkeys(cites))
        body = (f'<h1>{esc(d["label"])}</h1><p class="meta">{self.kind_tag("source")} · <code>{esc(node_id)}</code>'
                f' · {self.badge(d.get("asserted_by"))}</p><dl class="facts">{"".join(facts)}</dl>'
                f'<section><h2>Cites</h2><ul>{cited or "<li>none</li>"}</ul></section>'
                f'<section><h2>Text, with the {len(view["claims"])} extracted statements marked</h2>'
                f'<div class="doc">{self.marked_text(view["text"], view["claims"])}</div></section>'
                f'{self.related_block(node_id, 1)}')
        self.write_page(node_path(self.G, node_id), d["label"], body)

    def marked_text(self, text: str, claims: list[dict]) -> str:
        """The document text, escaped, with each extracted statement's span as a link to its page."""
        out, pos = [], 0
        for c in claims:
            start, end = c.get("start"), c.get("end")
            if start is None or end is None or start < pos or end > len(text) or start >= end:
                continue
            out.append(esc(text[pos:start]))
            out.append(f'<a class="span span-{esc(c["kind"])}" href="../{node_path(self.G, c["id"])}">{esc(text[start:end])}</a>')
            pos = end
        out.append(esc(text[pos:]))
        return "".join(out)

    def paper_page(self, node_id: str) -> None:
        card = self.kb.paper_card(node_id)
        d = card["node"]
        facts = [f"<dt>{esc(k)}</dt><dd>{esc(d[k])}</dd>" for k in ("authors", "year", "venue", "episode", "arxiv") if d.get(k)]
        url = safe_url(d.get("url"))
        if url:
            facts.append(f'<dt>url</dt><dd><a href="{esc(url)}" rel="noopener noreferrer">{esc(url)}</a></dd>')
        citing = "".join(self.statement(s, 1) for s in card["citing"])
        sources = "".join(f'<li>{self.link(s["id"], 1)}</li>' for s in card["sources"])
        fms = "".join(f'<li>{self.link(f, 1)}</li>' for f in card["failure_modes"])
        from .api import bibtex_entry

        body = (f'{self.node_header(d, 1)}<dl class="facts">{"".join(facts)}</dl>'
                f'<section><h2>Failure modes</h2><ul>{fms or "<li>none</li>"}</ul></section>'
                f'<section><h2>Cited by sources</h2><ul>{sources or "<li>none</li>"}</ul></section>'
                f'<section><h2>Statements citing it</h2><ul class="statements">{citing or "<li>none</li>"}</ul></section>'
                f'<section><h2>BibTeX</h2><pre>{esc(bibtex_entry(d))}</pre></section>{self.related_block(node_id, 1)}')
        self.write_page(node_path(self.G, node_id), d["label"], body)

    def reproduction_page(self, node_id: str) -> None:
        r = self.kb.reproduction(node_id)
        plot = self.copy_plot(r)
        img = f'<figure><img src="../{plot}" alt="plot of {esc(r["label"])}"></figure>' if plot else ""
        raw = ""
        if isinstance(r.get("result"), dict):
            raw = f'<details><summary>Full result</summary><pre>{esc(json.dumps(r["result"], indent=1, sort_keys=True))}</pre></details>'
        body = (f'{self.node_header(r, 1)}<p>{self.result_summary(r)}</p>{img}{raw}'
                f'{self.edges_table(node_id, 1)}{self.related_block(node_id, 1)}')
        self.write_page(node_path(self.G, node_id), r["label"], body)

    def copy_plot(self, r: dict) -> str | None:
        if r["id"] in self.plots:
            return self.plots[r["id"]]
        path = Path(r["plot_path"]) if r.get("plot_path") else None
        if path is None or not path.is_file():
            return None
        rel = f"repro/{node_slug(r['id'])}.png"
        write_file(self.root, rel, path.read_bytes())
        self.plots[r["id"]] = rel
        return rel

    def disagreement_list(self, items: list[dict], depth: int) -> str:
        out = []
        for x in items:
            e = x["edge"]
            note = f'<p class="note">{esc(e["note"])}</p>' if e.get("note") else ""
            sides = "".join(
                f'<div class="side"><blockquote>{esc(s.get("quote") or s.get("text"))}</blockquote><div class="meta">'
                f'{self.kind_tag(s["kind"])} · {self.source_link(s.get("source_id"), depth)} · '
                f'{self.link(s["id"], depth, "details")}</div></div>' for s in (x["u"], x["v"]))
            out.append(f'<div class="disagreement prov-box-{provenance_class(e.get("asserted_by"))}"><p class="meta">'
                       f'<b>{esc(x["kind"])}</b> · asserted by {self.badge(e.get("asserted_by"))}</p>{note}'
                       f'<div class="pair">{sides}</div></div>')
        return "".join(out)

    def index_pages(self, cards: dict[str, dict]) -> None:
        """Home (failure modes with scorecards) and the list pages."""
        fms = self.kb.nodes("failure_mode")
        rows = [(fm["id"], cards[fm["id"]]["scorecard"]) for fm in fms]
        defs = "".join(f'<li>{self.link(fm["id"], 0)} {self.badge(fm.get("asserted_by"))}<div>{esc(fm.get("description"))}</div></li>'
                       for fm in fms)
        stats = self.kb.stats()
        counts = ", ".join(f"{v} {esc(k.replace('_', ' '))}" for k, v in stats["nodes"].items())
        self.write_page("index.html", "Failure modes",
                        f'<h1>How RL on language models fails</h1><p class="meta">{counts}</p>'
                        f'<section><h2>Scorecards</h2>{self.scorecard_table(rows, 0)}</section>'
                        f'<section><h2>Definitions</h2><ul class="defs">{defs}</ul></section>')
        for kind, rel, title in (("mitigation", "mitigations.html", "Mitigations"), ("paper", "papers.html", "Papers"),
                                 ("source", "sources.html", "Sources")):
            items = "".join(f'<li>{self.link(n["id"], 0)} {self.badge(n.get("asserted_by"))}</li>' for n in self.kb.nodes(kind))
            self.write_page(rel, title, f'<h1>{esc(title)}</h1><ul class="list">{items or "<li>none</li>"}</ul>')
        self.write_page("disagreements.html", "Disagreements",
                        f'<h1>Where sources disagree ({len(self.disagreements)})</h1>'
                        f'{self.disagreement_list(self.disagreements, 0) or "<p>none recorded</p>"}')
        repros = []
        for n in self.kb.nodes("reproduction"):
            r = self.kb.reproduction(n["id"])
            plot = self.copy_plot(r)
            img = f'<img class="thumb" src="{plot}" alt="plot of {esc(r["label"])}">' if plot else ""
            repros.append(f'<li>{self.link(n["id"], 0)} {self.result_summary(r)}{img}</li>')
        self.write_page("reproductions.html", "Reproductions",
                        f'<h1>Reproductions</h1><ul class="list">{"".join(repros) or "<li>none registered</li>"}</ul>')
        self.write_page("search.html", "Search",
                        '<h1>Search</h1><p><input id="q" type="search" placeholder="e.g. all rollouts get zero reward" '
                        'aria-label="query"> <select id="kind" aria-label="kind"><option value="">all kinds</option>'
                        + "".join(f'<option value="{esc(k)}">{esc(v)}</option>' for k, v in KIND_NAMES.items())
                        + '</select></p><p id="count" class="meta"></p><ol id="results"></ol>',
                        scripts=("search-index.js", "assets/search.js"))
        self.write_page("graph.html", "Graph",
                        '<h1>Graph</h1><p class="meta">Failure modes, mitigations, papers, sources and reproductions. '
                        'Solid edges are curated, dashed ones inferred; a source links to a failure mode when one of its '
                        'statements is about it. Click a node to open its page. Colours: red boxes failure modes, green mitigations, '
                        'purple papers, grey sources, blue reproductions.</p><div id="graph"></div>',
                        scripts=("assets/vendor/vis-network.min.js", "graph-data.js", "assets/graph.js"))

    def bibtex_files(self) -> None:
        for fm in self.kb.nodes("failure_mode"):
            card = self.kb.failure_mode_card(fm["id"])
            head = f"% Papers behind the failure mode: {fm['label']} ({fm['id']})\n"
            write_file(self.root, f"bib/{node_slug(fm['id'])}.bib", head + self.kb.bibtex(p["id"] for p in card["papers"]))


def search_index_js(kb) -> str:
    """`search-index.js`: every node as [id, kind, label, page, text], assigned to window.KB_INDEX."""
    docs = []
    for node_id, d in sorted(kb.G.nodes(data=True)):
        if d["kind"] not in KIND_DIRS:
            continue
        text = d.get("text") or d.get("description") or ""
        docs.append([node_id, d["kind"], d.get("label") or node_id, node_path(kb.G, node_id), text[:SEARCH_TEXT_CHARS]])
    payload = json.dumps({"fields": ["id", "kind", "label", "url", "text"], "docs": docs}, ensure_ascii=True,
                         separators=(",", ":"))
    return f"window.KB_INDEX = {payload};\n"


def graph_data_js(kb) -> str:
    """`graph-data.js`: the concept-level graph for vis-network, assigned to window.KB_GRAPH."""
    G = kb.G
    keep = sorted(n for n, d in G.nodes(data=True) if d["kind"] in GRAPH_KINDS)
    number = {n: i for i, n in enumerate(keep)}
    nodes = [{"id": number[n], "label": _short(G.nodes[n].get("label") or n), "group": G.nodes[n]["kind"],
              "url": node_path(G, n)} for n in keep]
    edges: dict[tuple[int, int, str], bool] = {}
    for u, v, e in G.edges(data=True):
        curated = e.get("asserted_by") == "curated"
        if u in number and v in number:
            key = (number[u], number[v], e["kind"])
        elif e["kind"] == "about" and G.nodes[v]["kind"] in ("failure_mode", "mitigation") and G.nodes[u].get("source_id"):
            src = f"src:{G.nodes[u]['source_id']}"
            if src not in number:
                continue
            key = (number[src], number[v], "about")
        else:
            continue
        edges[key] = edges.get(key, False) or curated
    edge_list = [{"from": a, "to": b, "kind": k, "curated": c} for (a, b, k), c in sorted(edges.items())]
    payload = json.dumps({"nodes": nodes, "edges": edge_list}, ensure_ascii=True, separators=(",", ":"))
    return f"window.KB_GRAPH = {payload};\n"


def _short(label: str, n: int = 40) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def export_site(kb, out: Path) -> dict[str, Any]:
    """Write the static site for `kb` into `out` (replacing a previous export there) and report what was written.

    Returns {"pages", "seconds", "out", "bytes"}; raises KBError when `out` holds something that is not a
    previous export.
    """
    started = time.perf_counter()
    related = related_lists(kb)
    with staged_output(Path(out), "site") as root:
        w = SiteWriter(kb, root, related)
        _copy_assets(root)
        cards = {fm["id"]: kb.failure_mode_card(fm["id"]) for fm in kb.nodes("failure_mode")}
        for card in cards.values():
            w.concept_page(card, is_fm=True)
        for m in kb.nodes("mitigation"):
            w.concept_page(kb.mitigation_card(m["id"]), is_fm=False)
        for n in kb.nodes("source"):
            w.source_page(n["id"])
        for n in kb.nodes("paper"):
            w.paper_page(n["id"])
        for n in kb.nodes("reproduction"):
            w.reproduction_page(n["id"])
        for kind in ("claim", "evidence"):
            for node_id, d in kb.G.nodes(data=True):
                if d["kind"] == kind:
                    w.statement_page(node_id)
        w.index_pages(cards)
        w.bibtex_files()
        write_file(root, "search-index.js", search_index_js(kb))
        write_file(root, "graph-data.js", graph_data_js(kb))
        pages = w.pages
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return {"pages": pages, "seconds": round(time.perf_counter() - started, 3), "out": str(out), "bytes": size}


def _copy_assets(root: Path) -> None:
    for path in sorted(ASSETS_DIR.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            target = root / "assets" / path.relative_to(ASSETS_DIR)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
