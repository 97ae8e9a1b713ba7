"""`KnowledgeBase`: the Python API over a built knowledge base (search, nodes, cards, disagreements).

    from kb import KnowledgeBase
    kb = KnowledgeBase.load()            # ./data, or KB_DATA_DIR, or KnowledgeBase.load("path/to/data")
    kb.search("all rollouts get zero reward", k=5)
    kb.failure_mode_card("fm:no-foothold")
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

from .config import Settings, load_settings
from .errors import KBError, NotFoundError
from .graph import edges_of, graph_from_json
from .index_entries import node_links, node_record, source_title
from .kinds import NODE_KINDS, STATEMENT_KINDS
from .models import (
    ConceptCard,
    Disagreement,
    EdgeView,
    Hit,
    MitigationLink,
    Neighbour,
    NodeDetail,
    NodeRef,
    NodeView,
    PaperCard,
    PaperRef,
    ReproductionView,
    SourceView,
    Statement,
)
from .store import DOCUMENTS_FILE, GRAPH_FILE, read_manifest, require_build


class KnowledgeBase:
    """A loaded build: the graph, the documents, and (lazily) the search index and query encoder."""

    def __init__(self, settings: Settings, G, documents: dict[str, dict], manifest: dict):
        self._disagreements: list[Disagreement] | None = None
        self._aliases: dict[str, list[str]] = {}
        self._reproductions: dict[str, ReproductionView] = {}
        self.settings = settings
        self.G = G
        self.documents = documents
        self.manifest = manifest

    @classmethod
    def load(cls, data_dir: str | Path | None = None, *, settings: Settings | None = None) -> KnowledgeBase:
        """Open the build under `data_dir` (default ./data or KB_DATA_DIR); BuildMissingError if there is none."""
        settings = settings or load_settings(data_dir)
        build = require_build(settings)
        G = graph_from_json((build / GRAPH_FILE).read_text(encoding="utf-8"))
        documents = json.loads((build / DOCUMENTS_FILE).read_text(encoding="utf-8"))
        return cls(settings, G, documents, read_manifest(build) or {})

    # --- search ------------------------------------------------------------------------------------

    @cached_property
    def searcher(self):
        """The lean query path over this build's index (shared with `kb query`)."""
        from .query import Searcher

        return Searcher(self.settings)

    @property
    def index(self):
        """The hybrid dense + lexical index of this build."""
        return self.searcher.index

    @property
    def encoder(self):
        """The ONNX query encoder (no torch import on the query path)."""
        return self.searcher.encoder

    def search(self, text: str, k: int = 10, *, kinds: Iterable[str] | None = None, failure_mode: str | None = None,
               source: str | None = None, mode: str = "hybrid") -> list[Hit]:
        """Hybrid search over every node and passage; filters by kind, failure mode and source."""
        return [Hit(**r) for r in self.search_records(text, k, kinds=kinds, failure_mode=failure_mode, source=source,
                                                      mode=mode)]

    def search_records(self, text: str, k: int = 10, **options) -> list[dict[str, Any]]:
        """Like `search`, as plain dicts (the `kb query --json` schema); options as `Searcher.search_records`."""
        return self.searcher.search_records(text, k, **options)

    def neighbourhood(self, node_id: str) -> set[str]:
        """The node and every node one typed edge away from it."""
        return {node_id, *self.G.predecessors(node_id), *self.G.successors(node_id)}

    # --- nodes -------------------------------------------------------------------------------------

    def resolve(self, ref: str, kinds: Iterable[str] | None = None) -> str:
        """A node id from an id, a bare slug (`no-foothold`), an episode id (`E026`) or an arXiv id."""
        kinds = tuple(kinds or NODE_KINDS)
        ref = (ref or "").strip()
        candidates = [ref, *(f"{p}:{ref}" for p in ("fm", "mit", "src", "paper", "repro"))]
        for c in candidates:
            if c in self.G and self.G.nodes[c]["kind"] in kinds:
                return c
        for node_id, data in self.G.nodes(data=True):
            if data["kind"] == "paper" and "paper" in kinds and ref and ref.upper() in (data.get("episode"), (data.get("arxiv") or "").upper()):
                return node_id
        what = " or ".join(k.replace("_", " ") for k in kinds) if len(kinds) < len(NODE_KINDS) else "node"
        raise NotFoundError(f"no {what} {ref!r}; `kb stats` lists what exists and `kb query` finds ids")

    def node(self, node_id: str) -> dict[str, Any]:
        """The attributes of a node, with its id."""
        node_id = self.resolve(node_id)
        return {"id": node_id, **self.G.nodes[node_id]}

    def nodes(self, kind: str) -> list[dict[str, Any]]:
        """All nodes of one kind, sorted by label."""
        found = [{"id": n, **d} for n, d in self.G.nodes(data=True) if d["kind"] == kind]
        return sorted(found, key=lambda d: d["label"].lower())

    def edges(self, node_id: str, *, kind: str | None = None, direction: str = "both") -> list[dict[str, Any]]:
        """Edges touching a node, with provenance."""
        return edges_of(self.G, node_id, kind=kind, direction=direction)

    def source_title(self, source_id: str | None) -> str | None:
        """Title of a source document (or of a pseudo-source such as the taxonomy)."""
        return source_title(self.G, source_id)

    def hit(self, node_id: str, score: float = 0.0) -> Hit:
        """A node as a search hit: its quote and source, and the papers, failure modes and mitigations it links to."""
        return Hit(**node_record(self.G, node_id), score=round(float(score), 6))

    def links(self, node_id: str) -> dict[str, Any]:
        """Papers, failure modes and mitigations a node links to (directly, or through its source)."""
        links = node_links(self.G, node_id)
        return {**links, "papers": [PaperRef(**p) for p in links["papers"]]}

    def _kind(self, node_id: str) -> str:
        return self.G.nodes[node_id]["kind"]

    # --- cards: typed views for every front end --------------------------------------------------

    def stats(self) -> dict[str, dict[str, int]]:
        """Counts of nodes and edges by kind."""
        nodes: dict[str, int] = {}
        edges: dict[str, int] = {}
        for _, d in self.G.nodes(data=True):
            nodes[d["kind"]] = nodes.get(d["kind"], 0) + 1
        for _, _, d in self.G.edges(data=True):
            edges[d["kind"]] = edges.get(d["kind"], 0) + 1
        return {"nodes": dict(sorted(nodes.items())), "edges": dict(sorted(edges.items()))}

    def ref(self, node_id: str) -> NodeRef:
        """A node's id, kind and label."""
        d = self.G.nodes[node_id]
        return NodeRef(id=node_id, kind=d["kind"], label=d.get("label") or node_id)

    def node_view(self, ref: str, *, aliases: bool = True) -> NodeView:
        """A node's own facts as a typed view; aliases are shown as whole words, never as match patterns
        (`aliases=False` leaves them out, for nodes listed inside another node's card)."""
        node_id = self.resolve(ref)
        d = self.G.nodes[node_id]
        sid = d.get("source_id")
        view = NodeView.model_validate({**d, "id": node_id, "source_title": self.source_title(sid),
                                        "source_page": bool(sid) and f"src:{sid}" in self.G})
        if d.get("aliases") and not aliases:
            view = view.model_copy(update={"aliases": []})
        elif d.get("aliases"):
            if node_id not in self._aliases:
                self._aliases[node_id] = self._display_aliases(node_id, d["aliases"])
            view = view.model_copy(update={"aliases": self._aliases[node_id]})
        return view

    def edge_view(self, edge: dict[str, Any]) -> EdgeView:
        """An edge dict (as `edges` returns them) as a typed view with its source's title."""
        return EdgeView.model_validate({**edge, "source_title": self.source_title(edge.get("source_id"))})

    def node_views(self, kind: str) -> list[NodeView]:
        """Every node of one kind as a view, sorted by label."""
        return [self.node_view(n["id"]) for n in self.nodes(kind)]

    def node_detail(self, ref: str) -> NodeDetail:
        """A node with every edge that touches it."""
        node = self.node_view(ref)
        neighbours = [Neighbour(edge=self.edge_view(e), other=self.ref(e["v"] if e["u"] == node.id else e["u"]),
                                outgoing=e["u"] == node.id) for e in self.edges(node.id)]
        return NodeDetail(node=node, neighbours=neighbours)

    def failure_mode_card(self, ref: str) -> ConceptCard:
        """Everything known about a failure mode: definition, quotes, papers, mitigations, reproductions,
        disagreements and a scorecard computed from those lists."""
        return self._concept_card(self.resolve(ref, kinds=("failure_mode",)))

    def mitigation_card(self, ref: str) -> ConceptCard:
        """Everything known about a mitigation: what it mitigates, quotes, papers, reproductions."""
        return self._concept_card(self.resolve(ref, kinds=("mitigation",)))

    def concept_cards(self, kind: str = "failure_mode", *, summary: bool = False) -> list[ConceptCard]:
        """The cards of every failure mode (or mitigation), heaviest evidence first, then by label.

        `summary=True` skips what a list of cards does not show (aliases, reproduction results), for pages
        such as the explorer's home that must draw fast; the lists, and so the scorecards, are the same."""
        cards = [self._concept_card(n["id"], summary=summary) for n in self.nodes(kind)]
        return sorted(cards, key=lambda c: (-c.scorecard.weight, c.node.label.lower()))

    def _concept_card(self, node_id: str, *, summary: bool = False) -> ConceptCard:
        statements = [self.statement(e["u"], link=e) for e in self.edges(node_id, kind="about", direction="in")
                      if self._kind(e["u"]) in STATEMENT_KINDS]
        statements.sort(key=lambda s: (s.kind != "evidence", s.source_id or "", s.start or 0))
        by_node: dict[str, list[EdgeView]] = {}
        for e in self.edges(node_id, kind="mitigates"):
            by_node.setdefault(e["u"] if e["v"] == node_id else e["v"], []).append(self.edge_view(e))
        mitigations = sorted((MitigationLink(node=self.node_view(n, aliases=False), edges=edges) for n, edges in by_node.items()),
                             key=lambda m: m.node.label.lower())
        repro_ids = dict.fromkeys(e["u"] for e in self.edges(node_id, direction="in")
                                  if e["kind"] in ("reproduces", "demonstrates"))
        paper_ids = sorted({p.id for s in statements for p in self.links(s.id)["papers"]})
        claim_ids = {s.id for s in statements}
        return ConceptCard(
            node=self.node_view(node_id, aliases=not summary), statements=statements,
            papers=[self.node_view(p) for p in paper_ids], mitigations=mitigations,
            reproductions=[ReproductionView.model_validate(self.node_view(r).model_dump(exclude={"attribution"}))
                           if summary else self.reproduction(r) for r in repro_ids],
            disagreements=[x for x in self.disagreements() if x.u.id in claim_ids or x.v.id in claim_ids],
            sources=sorted({s.source_id for s in statements if s.source_id}),
        )

    def statement(self, node_id: str, *, link: dict[str, Any] | None = None) -> Statement:
        """A claim or evidence node as a Statement; `link` is the edge that led to it, if any."""
        d = self.G.nodes[node_id]
        sid = d.get("source_id")
        links = self.links(node_id)
        return Statement.model_validate({
            **d, "id": node_id, "source_title": self.source_title(sid), "source_page": bool(sid) and f"src:{sid}" in self.G,
            "link": self.edge_view(link) if link else None,
            "about": [self.ref(x) for x in (*links["failure_modes"], *links["mitigations"])],
        })

    def reproduction(self, ref: str) -> ReproductionView:
        """A reproduction node with its last recorded result (or None); read once per loaded build."""
        node_id = self.resolve(ref, kinds=("reproduction",))
        if node_id not in self._reproductions:
            self._reproductions[node_id] = self._reproduction(node_id)
        return self._reproductions[node_id]

    def _reproduction(self, node_id: str) -> ReproductionView:
        node = self.node_view(node_id)
        name = node.name or node.id.removeprefix("repro:")
        from .repro.runner import load_result

        try:  # load_result sets `stale` when the script changed after the run
            result = load_result(name, self.settings.repro_dir)
        except KBError:
            result = None
        plot = self.settings.repro_dir / f"{name}.png"
        return ReproductionView.model_validate({**node.model_dump(exclude={"attribution"}), "name": name,
                                                "result": result if isinstance(result, dict) else None,
                                                "plot_path": str(plot) if plot.is_file() else None})

    def paper_card(self, ref: str) -> PaperCard:
        """A paper with the statements that cite it and the failure modes they are about."""
        pid = self.resolve(ref, kinds=("paper",))
        cites_in = self.edges(pid, kind="cites", direction="in")
        citing = [self.statement(e["u"]) for e in cites_in if self._kind(e["u"]) in ("claim", "evidence")]
        sources = sorted({e["u"] for e in cites_in if self._kind(e["u"]) == "source"})
        fms = sorted({r.id for s in citing for r in s.about if r.kind == "failure_mode"})
        node = self.node_view(pid)
        return PaperCard(node=node, citing=citing, sources=[self.node_view(s) for s in sources],
                         failure_modes=[self.ref(f) for f in fms], bibtex=bibtex_entry(node))

    def source_view(self, ref: str) -> SourceView:
        """A source document's text with the spans of the claims extracted from it, in text order."""
        sid = self.resolve(ref, kinds=("source",))
        doc = self.documents.get(sid.removeprefix("src:"), {})
        spans = [self.statement(e["v"]) for e in self.edges(sid, kind="states", direction="out")]
        spans = sorted((s for s in spans if s.start is not None), key=lambda s: (s.start, s.end))
        cites = dict.fromkeys(e["v"] for e in self.edges(sid, kind="cites", direction="out"))
        return SourceView(node=self.node_view(sid), text=doc.get("text", ""), meta=doc.get("meta", {}), claims=spans,
                          cites=[self.ref(c) for c in cites])

    def disagreements(self) -> list[Disagreement]:
        """Every contradicts/qualifies edge as the two statements side by side, curated first."""
        if self._disagreements is None:
            out = [Disagreement(kind=d["kind"], u=self.statement(u), v=self.statement(v),
                                edge=self.edge_view({"u": u, "v": v, **d}))
                   for u, v, d in self.G.edges(data=True) if d["kind"] in ("contradicts", "qualifies")]
            self._disagreements = sorted(out, key=lambda x: (x.edge.asserted_by != "curated", x.kind, x.u.id, x.v.id))
        return self._disagreements

    def bibtex(self, paper_ids: Iterable[str]) -> str:
        """BibTeX entries for the given papers."""
        return "\n".join(bibtex_entry(self.node_view(p)) for p in sorted(set(paper_ids)))

    def _display_aliases(self, node_id: str, aliases: list[str]) -> list[str]:
        """Aliases as words a reader recognises. An alias is a match pattern (`sabotag*`, `exploit* the
        reward`), so each is shown as the first whole phrase it matches in the concept's own statements or,
        failing that, anywhere in the corpus (as written when it matches itself). A pattern that matches
        nothing is shown without its wildcards when it has none to expand, and left out when it has."""
        texts = [self.G.nodes[e["u"]].get("quote") or "" for e in self.edges(node_id, kind="about", direction="in")]
        texts.append(self.G.nodes[node_id].get("description") or "")
        shown: dict[str, str] = {}
        for alias in aliases:
            words = [re.escape(w.rstrip("*")) + r"\w*" for w in alias.split()]
            pattern = re.compile(r"(?<!\w)" + r"\s+".join(words), re.IGNORECASE)
            found = next((m.group(0) for t in texts if (m := pattern.search(t))), None)
            if found is None:
                found = self._in_corpus(alias, pattern)
            if found is None and "*" in alias:
                continue
            found = " ".join((found or alias).split())
            if found.lower() == alias.lower():
                found = alias
            elif alias == alias.lower():
                found = found.lower()
            shown.setdefault(found.lower(), found)
        return list(shown.values())

    @cached_property
    def _corpus_words(self) -> list[str]:
        """Every distinct lowercase word of the corpus, sorted (for prefix lookups)."""
        return sorted({w for d in self.documents.values() for w in re.findall(r"\w+", d.get("text", "").lower())})

    def _in_corpus(self, alias: str, pattern: re.Pattern[str]) -> str | None:
        """The first phrase of the corpus that `pattern` matches; a one-word alias is looked up as a prefix
        in the sorted word list (its shortest completion) instead of scanning every document."""
        if len(alias.split()) == 1:
            stem = alias.rstrip("*").lower()
            words = self._corpus_words
            i = bisect.bisect_left(words, stem)
            return words[i] if i < len(words) and words[i].startswith(stem) else None
        return next((m.group(0) for d in self.documents.values() if (m := pattern.search(d.get("text", "")))), None)


def bibtex_entry(paper: NodeView) -> str:
    """A @misc BibTeX entry for a paper node."""
    key = re.sub(r"[^A-Za-z0-9_-]", "", str(paper.key or paper.id))
    fields = {"title": paper.label, "author": (paper.authors or "").replace(", ", " and "), "year": paper.year,
              "url": paper.url}
    if paper.arxiv:
        fields.update({"eprint": paper.arxiv, "archivePrefix": "arXiv"})
    if paper.venue:
        fields["note"] = paper.venue
    body = ",\n".join(f"  {k} = {{{_bib_escape(str(v))}}}" for k, v in fields.items() if v)
    return f"@misc{{{key},\n{body}\n}}\n"


def _bib_escape(value: str) -> str:
    return value.replace("\\", "").replace("{", "").replace("}", "")
