"""`KnowledgeBase`: the Python API over a built knowledge base (search, nodes, cards, disagreements).

    from kb import KnowledgeBase
    kb = KnowledgeBase.load()            # ./data, or KB_DATA_DIR, or KnowledgeBase.load("path/to/data")
    kb.search("all rollouts get zero reward", k=5)
    kb.failure_mode_card("fm:no-foothold")
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from .config import Settings, load_settings
from .errors import NotFoundError, QueryError
from .graph import edges_of, graph_from_json
from .models import NODE_KINDS
from .store import DOCUMENTS_FILE, GRAPH_FILE, INDEX_DIR, read_manifest, require_build

MAX_QUERY_CHARS = 2000
MAX_K = 1000
SOURCE_TITLES = {"taxonomy": "Curated taxonomy", "curation": "Curation file", "reproductions": "Reproduction registry"}


class PaperRef(BaseModel):
    """A paper a hit links to."""

    id: str
    key: str
    arxiv: str | None = None
    episode: str | None = None
    title: str


class Hit(BaseModel):
    """One search result with what it links to; `kb query --json` prints a list of these."""

    id: str
    kind: str
    label: str
    text: str
    score: float
    source_id: str | None
    source_title: str | None
    quote: str | None
    asserted_by: str | None
    episodes: list[str]
    papers: list[PaperRef]
    failure_modes: list[str]
    mitigations: list[str]


class KnowledgeBase:
    """A loaded build: the graph, the documents, and (lazily) the search index and query encoder."""

    def __init__(self, settings: Settings, G, documents: dict[str, dict], manifest: dict):
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
    def index(self):
        """The hybrid dense + lexical index of this build."""
        from .search import HybridIndex

        return HybridIndex.load(self.settings.build_dir / INDEX_DIR)

    @cached_property
    def encoder(self):
        """The ONNX query encoder (no torch import on the query path)."""
        from .embed import ONNX_SUBDIR, OnnxEncoder

        return OnnxEncoder.load(self.settings.cache_dir / ONNX_SUBDIR)

    def search(self, text: str, k: int = 10, *, kinds: Iterable[str] | None = None, failure_mode: str | None = None,
               source: str | None = None, mode: str = "hybrid") -> list[Hit]:
        """Hybrid search over every node; filters by node kind, failure mode and source."""
        text = validate_query(text, k)
        kinds = list(kinds or [])
        bad = [kd for kd in kinds if kd not in NODE_KINDS]
        if bad:
            raise QueryError(f"unknown kind {bad[0]!r}; choose from {', '.join(NODE_KINDS)}")
        allowed = self._allowed(kinds, failure_mode, source)
        vector = None if mode == "lexical" else self.encoder.encode([text])[0]
        scored = self.index.search(text, vector, k=k, mode=mode, allowed=allowed)
        return [self.hit(s.id, s.score) for s in scored]

    def _allowed(self, kinds: list[str], failure_mode: str | None, source: str | None) -> np.ndarray | None:
        if not kinds and not failure_mode and not source:
            return None
        keep = set(self.G.nodes)
        if kinds:
            keep &= {n for n in keep if self.G.nodes[n]["kind"] in kinds}
        if failure_mode:
            keep &= self.neighbourhood(self.resolve(failure_mode, kinds=("failure_mode",)))
        if source:
            src = self.resolve(source, kinds=("source",))
            doc_id = src.removeprefix("src:")
            keep &= {n for n in keep if n == src or self.G.nodes[n].get("source_id") == doc_id}
        return np.array([i in keep for i in self.index.ids], dtype=bool)

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
        if not source_id:
            return None
        if f"src:{source_id}" in self.G:
            return self.G.nodes[f"src:{source_id}"]["label"]
        if source_id in self.G:
            return self.G.nodes[source_id]["label"]
        return SOURCE_TITLES.get(source_id, source_id)

    def hit(self, node_id: str, score: float = 0.0) -> Hit:
        """A node as a search hit: its quote and source, and the papers, failure modes and mitigations it links to."""
        d = self.G.nodes[node_id]
        links = self.links(node_id)
        return Hit(
            id=node_id, kind=d["kind"], label=d["label"], text=d.get("text") or d["label"], score=round(float(score), 6),
            source_id=d.get("source_id"), source_title=self.source_title(d.get("source_id")), quote=d.get("quote"),
            asserted_by=d.get("asserted_by"), episodes=sorted({p.episode for p in links["papers"] if p.episode}),
            papers=links["papers"], failure_modes=links["failure_modes"], mitigations=links["mitigations"],
        )

    def links(self, node_id: str) -> dict[str, Any]:
        """Papers, failure modes and mitigations a node links to (directly, or through its source)."""
        d = self.G.nodes[node_id]
        kind = d["kind"]
        out = [(v, e["kind"]) for _, v, e in self.G.out_edges(node_id, data=True)]
        inc = [(u, e["kind"]) for u, _, e in self.G.in_edges(node_id, data=True)]
        fms = {v for v, k in out if k in ("about", "mitigates", "reproduces") and self._kind(v) == "failure_mode"}
        mits = {v for v, k in out if k in ("about", "demonstrates") and self._kind(v) == "mitigation"}
        papers = {v for v, k in out if k == "cites"}
        if kind == "failure_mode":
            mits |= {u for u, k in inc if k == "mitigates"}
        if kind == "paper":
            papers.add(node_id)
        if kind in ("claim", "evidence") and d.get("source_id"):
            src = f"src:{d['source_id']}"
            if src in self.G and self.G.nodes[src].get("doc_kind") == "episode":
                papers |= {v for _, v, e in self.G.out_edges(src, data=True) if e["kind"] == "cites" and e.get("asserted_by") == "rule:front-matter"}
        return {"papers": [self._paper_ref(p) for p in sorted(papers)], "failure_modes": sorted(fms), "mitigations": sorted(mits)}

    def _kind(self, node_id: str) -> str:
        return self.G.nodes[node_id]["kind"]

    def _paper_ref(self, node_id: str) -> PaperRef:
        d = self.G.nodes[node_id]
        return PaperRef(id=node_id, key=d.get("key") or node_id, arxiv=d.get("arxiv"), episode=d.get("episode"), title=d["label"])

    # --- cards -------------------------------------------------------------------------------------

    def stats(self) -> dict[str, dict[str, int]]:
        """Counts of nodes and edges by kind."""
        nodes: dict[str, int] = {}
        edges: dict[str, int] = {}
        for _, d in self.G.nodes(data=True):
            nodes[d["kind"]] = nodes.get(d["kind"], 0) + 1
        for _, _, d in self.G.edges(data=True):
            edges[d["kind"]] = edges.get(d["kind"], 0) + 1
        return {"nodes": dict(sorted(nodes.items())), "edges": dict(sorted(edges.items()))}

    def failure_mode_card(self, ref: str) -> dict[str, Any]:
        """Everything known about a failure mode: definition, quotes, papers, mitigations, reproductions,
        disagreements and a scorecard."""
        fm = self.resolve(ref, kinds=("failure_mode",))
        return self._concept_card(fm)

    def mitigation_card(self, ref: str) -> dict[str, Any]:
        """Everything known about a mitigation: what it mitigates, quotes, papers, reproductions."""
        mit = self.resolve(ref, kinds=("mitigation",))
        return self._concept_card(mit)

    def _concept_card(self, node_id: str) -> dict[str, Any]:
        node = self.node(node_id)
        statements = []
        for e in self.edges(node_id, kind="about", direction="in"):
            statements.append({**self._statement(e["u"]), "link": _edge_view(e)})
        statements.sort(key=lambda s: (s["kind"] != "evidence", s["source_id"] or "", s["start"] or 0))
        mitigations = [{"node": self.node(e["u"] if e["v"] == node_id else e["v"]), "edge": _edge_view(e)}
                       for e in self.edges(node_id, kind="mitigates")]
        reproductions = [self.reproduction(e["u"]) for e in self.edges(node_id, direction="in")
                         if e["kind"] in ("reproduces", "demonstrates")]
        paper_ids = sorted({p.id for s in statements for p in self.links(s["id"])["papers"]})
        papers = [self.node(p) for p in paper_ids]
        claim_ids = {s["id"] for s in statements}
        disagreements = [x for x in self.disagreements() if x["u"]["id"] in claim_ids or x["v"]["id"] in claim_ids]
        dates = [s["date"] for s in statements if s.get("date")]
        sources = sorted({s["source_id"] for s in statements if s["source_id"]})
        scorecard = {
            "sources": len(sources), "papers": len(papers),
            "evidence": sum(1 for s in statements if s["kind"] == "evidence"),
            "claims": sum(1 for s in statements if s["kind"] == "claim"),
            "mitigations": len(mitigations), "reproductions": len(reproductions),
            "disagreements": len(disagreements), "newest_evidence": max(dates) if dates else None,
        }
        return {"node": node, "scorecard": scorecard, "statements": statements, "papers": papers,
                "mitigations": _dedupe_by_node(mitigations), "reproductions": _dedupe(reproductions, "id"),
                "disagreements": disagreements, "sources": sources}

    def _statement(self, node_id: str) -> dict[str, Any]:
        d = self.G.nodes[node_id]
        return {"id": node_id, "kind": d["kind"], "text": d.get("text", ""), "quote": d.get("quote"),
                "source_id": d.get("source_id"), "source_title": self.source_title(d.get("source_id")),
                "start": d.get("start"), "end": d.get("end"), "section": d.get("section"),
                "reliability": d.get("reliability"), "date": d.get("date"), "asserted_by": d.get("asserted_by")}

    def reproduction(self, ref: str) -> dict[str, Any]:
        """A reproduction node with its last recorded result (or None)."""
        node = self.node(self.resolve(ref, kinds=("reproduction",)))
        result_path = self.settings.repro_dir / f"{node['name']}.json"
        result = None
        if result_path.is_file():
            try:
                result = json.loads(result_path.read_text(encoding="utf-8"))
            except ValueError:
                result = None
        plot = self.settings.repro_dir / f"{node['name']}.png"
        return {**node, "result": result, "plot_path": str(plot) if plot.is_file() else None}

    def paper_card(self, ref: str) -> dict[str, Any]:
        """A paper with the statements that cite it and the failure modes they are about."""
        pid = self.resolve(ref, kinds=("paper",))
        citing = [self._statement(e["u"]) for e in self.edges(pid, kind="cites", direction="in")
                  if self._kind(e["u"]) in ("claim", "evidence")]
        sources = sorted({e["u"] for e in self.edges(pid, kind="cites", direction="in") if self._kind(e["u"]) == "source"})
        fms = sorted({f for s in citing for f in self.links(s["id"])["failure_modes"]})
        return {"node": self.node(pid), "citing": citing, "sources": [self.node(s) for s in sources], "failure_modes": fms}

    def source_view(self, ref: str) -> dict[str, Any]:
        """A source document's text with the spans of the claims extracted from it."""
        sid = self.resolve(ref, kinds=("source",))
        doc = self.documents.get(sid.removeprefix("src:"), {})
        spans = []
        for e in self.edges(sid, kind="states", direction="out"):
            s = self._statement(e["v"])
            if s["start"] is not None:
                spans.append({**s, "links": self.links(e["v"])})
        spans.sort(key=lambda s: s["start"])
        return {"node": self.node(sid), "text": doc.get("text", ""), "meta": doc.get("meta", {}), "claims": spans}

    def disagreements(self) -> list[dict[str, Any]]:
        """Every contradicts/qualifies edge as the two statements side by side."""
        out = []
        for u, v, d in self.G.edges(data=True):
            if d["kind"] not in ("contradicts", "qualifies"):
                continue
            out.append({"kind": d["kind"], "u": self._statement(u), "v": self._statement(v), "edge": _edge_view({"u": u, "v": v, **d})})
        return sorted(out, key=lambda x: (x["edge"]["asserted_by"] != "curated", x["kind"], x["u"]["id"], x["v"]["id"]))

    def bibtex(self, paper_ids: Iterable[str]) -> str:
        """BibTeX entries for the given papers."""
        return "\n".join(bibtex_entry(self.node(p)) for p in sorted(set(paper_ids)))


def _edge_view(e: dict[str, Any]) -> dict[str, Any]:
    keep = ("u", "v", "kind", "source_id", "quote", "start", "end", "asserted_by", "target_quote", "target_source_id",
            "note", "matched", "score", "debate")
    return {k: e.get(k) for k in keep}


def _dedupe(items: list[dict], key: str) -> list[dict]:
    seen, out = set(), []
    for item in items:
        if item[key] not in seen:
            seen.add(item[key])
            out.append(item)
    return out


def _dedupe_by_node(items: list[dict]) -> list[dict]:
    by_node: dict[str, dict] = {}
    for item in items:
        entry = by_node.setdefault(item["node"]["id"], {"node": item["node"], "edges": []})
        entry["edges"].append(item["edge"])
    return sorted(by_node.values(), key=lambda x: x["node"]["label"].lower())


def validate_query(text: str, k: int) -> str:
    """The stripped query, or QueryError for an empty/oversized query or a k outside 1..MAX_K."""
    if not isinstance(k, int) or k < 1 or k > MAX_K:
        raise QueryError(f"--k must be between 1 and {MAX_K}, got {k}")
    text = (text or "").strip()
    if not text:
        raise QueryError("empty query: type a symptom or question, e.g. kb query \"all rollouts get zero reward\"")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"query is {len(text):,} characters; keep it under {MAX_QUERY_CHARS:,}")
    return text


def bibtex_entry(paper: dict[str, Any]) -> str:
    """A @misc/@article BibTeX entry for a paper node."""
    key = re.sub(r"[^A-Za-z0-9_-]", "", str(paper.get("key") or paper["id"]))
    fields = {"title": paper["label"], "author": (paper.get("authors") or "").replace(", ", " and "),
              "year": paper.get("year"), "url": paper.get("url")}
    if paper.get("arxiv"):
        fields.update({"eprint": paper["arxiv"], "archivePrefix": "arXiv"})
    if paper.get("venue"):
        fields["note"] = paper["venue"]
    body = ",\n".join(f"  {k} = {{{_bib_escape(str(v))}}}" for k, v in fields.items() if v)
    return f"@misc{{{key},\n{body}\n}}\n"


def _bib_escape(value: str) -> str:
    return value.replace("\\", "").replace("{", "").replace("}", "")
