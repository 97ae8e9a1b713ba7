"""Static-site export: one self-contained folder of HTML pages that works from file:// and any static host.

    from kb.export import export_site
    export_site(kb, Path("site"))     # -> {"pages": 612, "seconds": 0.9, ...}

Pages are rendered from the API's typed views through the Jinja2 templates in `templates/site`, with
autoescaping on, so corpus text cannot become markup. External links are kept only for http(s) URLs; page
files are named from `node_slug`, never from the id itself; a Content-Security-Policy allows only the
site's own scripts; and the output is staged beside OUT and swapped in (see `common.staged_output`).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BuildMissingError
from ..models import NodeRef, ProgressCallback, ReproductionView, Scorecard
from .common import Progress, environment, jsonable, node_slug, segments, staged_output, write_file

ASSETS_DIR = Path(__file__).with_name("assets")
KIND_DIRS = {"failure_mode": "fm", "mitigation": "mit", "source": "src", "paper": "paper", "claim": "claim",
             "evidence": "ev", "reproduction": "repro"}
RELATED_K = 5
RELATED_CANDIDATES = 48
GRAPH_KINDS = ("failure_mode", "mitigation", "paper", "source", "reproduction")
SEARCH_TEXT_CHARS = 600
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'self'; object-src 'none'")
NAV = [("index.html", "Failure modes"), ("mitigations.html", "Mitigations"), ("papers.html", "Papers"),
       ("sources.html", "Sources"), ("disagreements.html", "Disagreements"),
       ("reproductions.html", "Reproductions"), ("graph.html", "Graph"), ("search.html", "Search")]
LISTS = (("mitigation", "mitigations.html", "Mitigations"), ("paper", "papers.html", "Papers"),
         ("source", "sources.html", "Sources"))


def page_path(node_id: str, kind: str) -> str:
    """The page of a node relative to the site root, e.g. `fm/no-foothold-1a2b3c4d.html`."""
    return f"{KIND_DIRS[kind]}/{node_slug(node_id)}.html"


def node_path(G, node_id: str) -> str:
    """The page of a graph node relative to the site root."""
    return page_path(node_id, G.nodes[node_id]["kind"])


# --- related nodes from the embeddings ---------------------------------------------------------------------


def related_lists(kb, k: int = RELATED_K) -> dict[str, list[tuple[str, float]]]:
    """For every embedded node, its `k` nearest nodes (cosine) that come from a different source."""
    try:
        index = kb.index
    except BuildMissingError:
        return {}
    ids = index.ids
    vectors = np.asarray(index.vectors, dtype=np.float32)
    if len(vectors) != len(ids) or not ids:
        return {}
    groups = np.array([_source_key(kb.G, i) for i in ids], dtype=object)
    depth = min(RELATED_CANDIDATES, len(ids))
    related: dict[str, list[tuple[str, float]]] = {}
    for lo in range(0, len(ids), 2048):
        sims = vectors[lo:lo + 2048] @ vectors.T
        top = np.argpartition(-sims, depth - 1, axis=1)[:, :depth]
        for r, row in enumerate(top):
            i = lo + r
            if ids[i] not in kb.G:  # index rows that are not graph nodes (passages) get no page
                continue
            order = row[np.argsort(-sims[r, row], kind="stable")]
            picks = [(ids[j], float(sims[r, j])) for j in order if groups[j] != groups[i] and ids[j] in kb.G]
            related[ids[i]] = picks[:k]
    return related


def _source_key(G, node_id: str) -> str:
    d = G.nodes[node_id] if node_id in G else {}
    return str(d.get("source_id") or node_id)


# --- data files for the search and graph pages ---------------------------------------------------------------


def search_index_js(kb) -> str:
    """`search-index.js`: every node as [id, kind, label, page, text], assigned to window.KB_INDEX."""
    docs = []
    for node_id, d in sorted(kb.G.nodes(data=True)):
        if d["kind"] not in KIND_DIRS:
            continue
        text = d.get("text") or d.get("description") or ""
        docs.append([node_id, d["kind"], d.get("label") or node_id, page_path(node_id, d["kind"]), text[:SEARCH_TEXT_CHARS]])
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


# --- pages ---------------------------------------------------------------------------------------------------


class SiteWriter:
    """Renders every page of the site for one knowledge base into `root` from the API's views."""

    def __init__(self, kb, root: Path, related: dict[str, list[tuple[str, float]]], progress: Progress):
        self.kb = kb
        self.root = root
        self.related = related
        self.progress = progress
        self.pages = 0
        self.plots: dict[str, str] = {}
        self.env = environment("html")
        self.env.globals.update(page_of=lambda n: page_path(n.id, n.kind),
                                source_page=lambda sid: page_path(f"src:{sid}", "source"),
                                csp=CSP, nav=NAV, score_names=[n.replace("_", " ") for n in Scorecard.model_fields])

    def render(self, rel: str, template: str, title: str, *, scripts: tuple[str, ...] = (), **context: Any) -> None:
        """Render `template` into the site layout at `rel`."""
        up = "../" * rel.count("/")
        html = self.env.get_template(template).render(title=title, up=up, scripts=scripts, **context)
        write_file(self.root, rel, html)
        self.pages += 1
        self.progress.step(rel)

    def related_to(self, node_id: str) -> list[tuple[NodeRef, float]]:
        """The nearest nodes from other sources, as (ref, score)."""
        return [(self.kb.ref(r), score) for r, score in self.related.get(node_id) or []]

    def concept_page(self, card) -> None:
        """A failure mode or mitigation: scorecard, mitigations, reproductions, statements, papers, disagreements."""
        self.render(page_path(card.node.id, card.node.kind), "concept.html", card.node.label, card=card,
                    related=self.related_to(card.node.id))

    def statement_page(self, node_id: str) -> None:
        """A claim or evidence with every edge."""
        detail = self.kb.node_detail(node_id)
        self.render(page_path(node_id, detail.node.kind), "statement.html", detail.node.label or node_id,
                    detail=detail, related=self.related_to(node_id))

    def source_page(self, node_id: str) -> None:
        """A source's facts and its text with every extracted statement's span linked to its page."""
        view = self.kb.source_view(node_id)
        d = view.node
        facts = [(k.replace("_", " "), getattr(d, k)) for k in ("doc_kind", "episode", "paper", "date", "reliability",
                                                                "path", "authors") if getattr(d, k)]
        self.render(page_path(node_id, "source"), "source.html", d.label, view=view, facts=facts,
                    pieces=segments(view.text, view.claims), related=self.related_to(node_id))

    def paper_page(self, node_id: str) -> None:
        """A paper: facts, failure modes, citing sources and statements, BibTeX."""
        card = self.kb.paper_card(node_id)
        d = card.node
        facts = [(k, getattr(d, k)) for k in ("authors", "year", "venue", "episode", "arxiv") if getattr(d, k)]
        self.render(page_path(node_id, "paper"), "paper.html", d.label, card=card, facts=facts,
                    related=self.related_to(node_id))

    def reproduction_page(self, node_id: str) -> None:
        """A reproduction: last result, plot, full result JSON and edges."""
        repro = self.kb.reproduction(node_id)
        result_json = json.dumps(jsonable(repro.result), indent=1, sort_keys=True) if repro.result is not None else ""
        self.render(page_path(node_id, "reproduction"), "reproduction.html", repro.label, repro=repro,
                    plot=self.copy_plot(repro), result_json=result_json, detail=self.kb.node_detail(node_id),
                    related=self.related_to(node_id))

    def copy_plot(self, r: ReproductionView) -> str | None:
        """Copy a reproduction's plot into the site once; its path relative to the root, or None."""
        if r.id in self.plots:
            return self.plots[r.id]
        path = Path(r.plot_path) if r.plot_path else None
        if path is None or not path.is_file():
            return None
        rel = f"repro/{node_slug(r.id)}.png"
        write_file(self.root, rel, path.read_bytes())
        self.plots[r.id] = rel
        return rel

    def index_pages(self, cards: list) -> None:
        """Home (failure modes with scorecards, heaviest evidence first) and the list pages."""
        self.render("index.html", "index.html", "Failure modes", cards=cards, counts=self.kb.stats()["nodes"])
        for kind, rel, title in LISTS:
            self.render(rel, "list.html", title, nodes=self.kb.node_views(kind))
        self.render("disagreements.html", "disagreements.html", "Disagreements", items=self.kb.disagreements())
        repros = [(r, self.copy_plot(r)) for r in (self.kb.reproduction(n["id"]) for n in self.kb.nodes("reproduction"))]
        self.render("reproductions.html", "reproductions.html", "Reproductions", repros=repros)
        self.render("search.html", "search.html", "Search", scripts=("search-index.js", "assets/search.js"))
        self.render("graph.html", "graph.html", "Graph",
                    scripts=("assets/vendor/vis-network.min.js", "graph-data.js", "assets/graph.js"))

    def bibtex_files(self, cards: list) -> None:
        """One .bib file per failure mode with the papers behind it."""
        for card in cards:
            head = f"% Papers behind the failure mode: {card.node.label} ({card.node.id})\n"
            write_file(self.root, f"bib/{node_slug(card.node.id)}.bib", head + self.kb.bibtex(p.id for p in card.papers))


def count_pages(kb) -> int:
    """How many HTML pages `export_site` writes for `kb` (for progress bars)."""
    per_node = sum(1 for _, d in kb.G.nodes(data=True) if d["kind"] in KIND_DIRS)
    return per_node + 1 + len(LISTS) + 4


def export_site(kb, out: Path, *, progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Write the static site for `kb` into `out` (replacing a previous export there) and report what was written.

    `progress(done, total, page)` is called after each page. Returns {"pages", "seconds", "out", "bytes"};
    raises KBError when `out` holds something that is not a previous export.
    """
    started = time.perf_counter()
    related = related_lists(kb)
    with staged_output(Path(out), "site") as root:
        w = SiteWriter(kb, root, related, Progress(count_pages(kb), progress))
        _copy_assets(root)
        cards = kb.concept_cards("failure_mode")
        for card in cards:
            w.concept_page(card)
        for m in kb.nodes("mitigation"):
            w.concept_page(kb.mitigation_card(m["id"]))
        for n in kb.nodes("source"):
            w.source_page(n["id"])
        for n in kb.nodes("paper"):
            w.paper_page(n["id"])
        for n in kb.nodes("reproduction"):
            w.reproduction_page(n["id"])
        for node_id, d in sorted(kb.G.nodes(data=True)):
            if d["kind"] in ("claim", "evidence"):
                w.statement_page(node_id)
        w.index_pages(cards)
        w.bibtex_files(cards)
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

