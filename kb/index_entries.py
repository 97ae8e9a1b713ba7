"""The entries of the search index, computed at build time from the graph: one per node and one per
passage, each with the text it is found by and the record a hit shows (so a query never loads the graph),
plus the concept ties and failure-mode neighbourhoods that search follows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .passages import Passage

if TYPE_CHECKING:
    import numpy as np

    from .models import Node
    from .search import HybridIndex

SOURCE_TITLES = {"taxonomy": "Curated taxonomy", "curation": "Curation file", "reproductions": "Reproduction registry"}
PASSAGE_ASSERTED_BY = "rule:passage"


@dataclass
class IndexEntries:
    """Parallel lists (one item per index row) plus the links between rows, ready for HybridIndex.build."""

    ids: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    source_ids: list[str | None] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    ties: list[tuple[str, str]] = field(default_factory=list)
    neighbours: dict[str, set[str]] = field(default_factory=dict)
    contains: list[tuple[str, str]] = field(default_factory=list)


def source_title(G, source_id: str | None) -> str | None:
    """Title of a source document (or of a pseudo-source such as the taxonomy)."""
    if not source_id:
        return None
    for node_id in (f"src:{source_id}", source_id):
        if node_id in G:
            return G.nodes[node_id]["label"]
    return SOURCE_TITLES.get(source_id, source_id)


def paper_ref(G, node_id: str) -> dict:
    """A paper as the `papers` entry of a hit."""
    d = G.nodes[node_id]
    return {"id": node_id, "key": d.get("key") or node_id, "arxiv": d.get("arxiv"), "episode": d.get("episode"),
            "title": d["label"]}


def node_links(G, node_id: str) -> dict:
    """Papers (as dicts), failure modes and mitigations a node links to (directly, or through its source)."""
    d = G.nodes[node_id]
    kind = d["kind"]
    out = [(v, e["kind"]) for _, v, e in G.out_edges(node_id, data=True)]
    inc = [(u, e["kind"]) for u, _, e in G.in_edges(node_id, data=True)]
    fms = {v for v, k in out if k in ("about", "mitigates", "reproduces") and G.nodes[v]["kind"] == "failure_mode"}
    mits = {v for v, k in out if k in ("about", "demonstrates") and G.nodes[v]["kind"] == "mitigation"}
    papers = {v for v, k in out if k == "cites"}
    if kind == "failure_mode":
        mits |= {u for u, k in inc if k == "mitigates"}
    if kind == "paper":
        papers.add(node_id)
    if kind in ("claim", "evidence") and d.get("source_id"):
        src = f"src:{d['source_id']}"
        if src in G and G.nodes[src].get("doc_kind") == "episode":
            papers |= {v for _, v, e in G.out_edges(src, data=True)
                       if e["kind"] == "cites" and e.get("asserted_by") == "rule:front-matter"}
    return {"papers": [paper_ref(G, p) for p in sorted(papers)], "failure_modes": sorted(fms),
            "mitigations": sorted(mits)}


def node_record(G, node_id: str, links: dict | None = None) -> dict:
    """What a search hit on a node shows (every field of a hit but its score); `links` are its `node_links`
    when already known."""
    d = G.nodes[node_id]
    links = node_links(G, node_id) if links is None else links
    return {"id": node_id, "kind": d["kind"], "label": d["label"], "text": d.get("text") or d["label"],
            "source_id": d.get("source_id"), "source_title": source_title(G, d.get("source_id")),
            "quote": d.get("quote"), "asserted_by": d.get("asserted_by"),
            "episodes": sorted({p["episode"] for p in links["papers"] if p["episode"]}), **links}


def passage_record(G, passage: Passage, inside: list[str], links_of: dict[str, dict]) -> dict:
    """What a search hit on a passage shows; its links are those of the statements found inside it
    (`links_of`: node id -> its `node_links`)."""
    papers: dict[str, dict] = {}
    fms: set[str] = set()
    mits: set[str] = set()
    for node_id in inside:
        links = links_of[node_id] if node_id in links_of else node_links(G, node_id)
        papers.update({p["id"]: p for p in links["papers"]})
        fms.update(links["failure_modes"])
        mits.update(links["mitigations"])
    label = passage.section or passage.title
    return {"id": passage.id, "kind": "passage", "label": label, "text": passage.text,
            "source_id": passage.source_id, "source_title": source_title(G, passage.source_id),
            "quote": passage.text, "asserted_by": PASSAGE_ASSERTED_BY,
            "episodes": sorted({p["episode"] for p in papers.values() if p["episode"]}),
            "papers": [papers[p] for p in sorted(papers)], "failure_modes": sorted(fms), "mitigations": sorted(mits)}


def statements_by_source(G) -> dict[str, list[tuple[int, str]]]:
    """(start, node id) of every claim and evidence node with a span, grouped by source document."""
    out: dict[str, list[tuple[int, str]]] = {}
    for node_id, d in G.nodes(data=True):
        if d["kind"] in ("claim", "evidence") and d.get("source_id") and d.get("start") is not None:
            out.setdefault(d["source_id"], []).append((d["start"], node_id))
    for spans in out.values():
        spans.sort()
    return out


def index_entries(G, node_texts: dict[str, str], passages: list[tuple[Passage, str]]) -> IndexEntries:
    """Entries for every node (found by `node_texts[id]`) and every passage (found by its given text), with
    concept ties (concept -> the statements and passages about it), failure-mode neighbourhoods and which
    statements each passage contains."""
    entries = IndexEntries()
    links_of = {node_id: node_links(G, node_id) for node_id in node_texts}
    for node_id in sorted(node_texts):
        d = G.nodes[node_id]
        entries.ids.append(node_id)
        entries.kinds.append(d["kind"])
        entries.source_ids.append(d.get("source_id"))
        entries.texts.append(node_texts[node_id])
        entries.records.append(node_record(G, node_id, links_of[node_id]))
    spans = statements_by_source(G)
    containing: dict[str, str] = {}
    for passage, text in passages:
        inside = [n for start, n in spans.get(passage.source_id, []) if passage.start <= start < passage.end]
        containing.update({n: passage.id for n in inside})
        entries.contains += [(passage.id, n) for n in inside]
        entries.ids.append(passage.id)
        entries.kinds.append("passage")
        entries.source_ids.append(passage.source_id)
        entries.texts.append(text)
        entries.records.append(passage_record(G, passage, inside, links_of))
    for node_id, d in G.nodes(data=True):
        if d["kind"] not in ("failure_mode", "mitigation"):
            continue
        about = {u for u, _, e in G.in_edges(node_id, data=True)
                 if e["kind"] == "about" and G.nodes[u]["kind"] in ("claim", "evidence")}
        entries.ties += [(node_id, s) for s in sorted(about)]
        entries.ties += sorted({(node_id, containing[s]) for s in about if s in containing})
        if d["kind"] == "failure_mode":
            near = {*G.predecessors(node_id), *G.successors(node_id)}
            entries.neighbours[node_id] = near | {containing[n] for n in near if n in containing}
    return entries


def embedding_text(node: Node) -> str:
    """The text a node is embedded by: a claim or evidence sentence with its section heading in front (the bare
    sentence often lacks its subject), a concept by its text. Search ranks claims densely through the passage
    they stand in, which also carries the document title (kb/passages.py)."""
    if node.kind in ("claim", "evidence"):
        section = node.attrs.get("section") or ""
        return f"{section}: {node.text}" if section else node.text
    return node.text or node.label


def lexical_text(node: Node) -> str:
    """The text a node is lexically indexed by: its embedding text plus, for concepts, their aliases."""
    text = embedding_text(node)
    if node.kind in ("failure_mode", "mitigation") and node.attrs.get("aliases"):
        text += " Also called: " + ", ".join(a.rstrip("*") for a in node.attrs["aliases"]) + "."
    return text


def index_texts(nodes: dict[str, Node], passages: list[Passage]) -> dict[str, str]:
    """Row id -> the text embedded for it: every node, then every passage with its title and heading."""
    return {**{i: embedding_text(n) for i, n in nodes.items()}, **{p.id: p.context_text for p in passages}}


def build_index(G, nodes: dict[str, Node], passages: list[Passage], vectors: dict[str, np.ndarray],
                synonyms: list[list[str]] = ()) -> HybridIndex:
    """The search index over every node and passage, from their vectors (`index_texts`, embedded), with the
    glossary's `synonyms` groups for lexical query expansion."""
    import numpy as np

    from .config import EMBEDDING_DIM
    from .search import HybridIndex

    entries = index_entries(G, {i: lexical_text(n) for i, n in nodes.items()}, [(p, p.context_text) for p in passages])
    matrix = np.stack([vectors[i] for i in entries.ids]) if entries.ids else np.zeros((0, EMBEDDING_DIM), np.float32)
    return HybridIndex.build(entries.ids, entries.texts, matrix, kinds=entries.kinds, records=entries.records,
                             source_ids=entries.source_ids, ties=entries.ties, neighbours=entries.neighbours,
                             contains=entries.contains, synonyms=synonyms)
