"""Papers and citations: bibliography entries and episodes become `paper` nodes; episode ids (E026), arXiv
ids and paper aliases in a sentence become `cites` edges."""

from __future__ import annotations

from typing import Any

from ..models import Document, Node, Provenance
from ..text import ARXIV_ID, EPISODE_ID, normalize, slugify
from .accumulate import GraphBuilder
from .aliases import HitMemo, Token, build_alias_index


def paper_id(key: str) -> str:
    """The node id of a paper key."""
    return "paper:" + slugify(key, max_words=12)


def heading_provenance(doc: Document, title: str, asserted_by: str) -> Provenance:
    """Provenance quoting the heading equal to `title`, else the document's first block."""
    for block in doc.blocks:
        if block.kind == "heading" and normalize(block.text) == normalize(title):
            return Provenance(source_id=doc.id, quote=block.text, start=block.start, end=block.end, asserted_by=asserted_by)
    first = doc.blocks[0] if doc.blocks else None
    if first is None:
        return Provenance(source_id=doc.id, quote=title, asserted_by=asserted_by)
    return Provenance(source_id=doc.id, quote=first.text, start=first.start, end=first.end, asserted_by=asserted_by)


def paper_nodes(documents: list[Document]) -> dict[str, Node]:
    """Paper nodes from bibliography front matter and from episodes not already listed there."""
    papers: dict[str, Node] = {}
    for doc in documents:
        if doc.kind != "bibliography":
            continue
        for entry in doc.meta.extra.get("papers", []):
            if not isinstance(entry, dict) or not entry.get("key") or not entry.get("title"):
                continue
            node_id = paper_id(str(entry["key"]))
            papers.setdefault(node_id, _paper_node(node_id, entry, heading_provenance(doc, str(entry["title"]), "rule:bibliography")))
    for doc in documents:
        if doc.kind != "episode" or not doc.meta.episode:
            continue
        if any(p.attrs.get("episode") == doc.meta.episode for p in papers.values()):
            continue
        entry = {
            "key": doc.meta.episode, "title": doc.meta.title, "episode": doc.meta.episode, "arxiv": doc.meta.paper,
            "url": doc.meta.url, "authors": ", ".join(doc.meta.authors), "year": (doc.meta.date or "")[:4] or None,
        }
        node_id = paper_id(doc.meta.episode)
        papers[node_id] = _paper_node(node_id, entry, heading_provenance(doc, doc.meta.title, "rule:front-matter"))
    return papers


def _paper_node(node_id: str, entry: dict[str, Any], prov: Provenance) -> Node:
    arxiv = str(entry["arxiv"]) if entry.get("arxiv") else None
    attrs = {
        "key": str(entry["key"]),
        "arxiv": arxiv,
        "episode": entry.get("episode") or None,
        "authors": entry.get("authors") or "",
        "year": str(entry["year"]) if entry.get("year") else None,
        "url": entry.get("url") or (f"https://arxiv.org/abs/{arxiv}" if arxiv else None),
        "venue": entry.get("venue") or None,
        "aliases": [str(a) for a in entry.get("aliases") or []],
    }
    summary = str(entry.get("summary") or "")
    return Node(id=node_id, kind="paper", label=str(entry["title"]), text=f"{entry['title']}. {summary}".strip(),
                description=summary, provenance=prov, attrs=attrs)



class PaperMatcher:
    """Finds the known papers a sentence names (aliases, arXiv ids, episode ids) and adds unknown ones."""

    def __init__(self, papers: dict[str, Node], memo: HitMemo | None = None):
        self.papers = papers
        names = [(pid, [*node.attrs.get("aliases", []),
                        *(node.attrs[k] for k in ("arxiv", "episode") if node.attrs.get(k))], [])
                 for pid, node in papers.items()]
        self.index = build_alias_index(names, memo=memo)
        self.known_arxiv = {p.attrs["arxiv"]: pid for pid, p in papers.items() if p.attrs.get("arxiv")}
        self.known_episodes = {p.attrs.get("episode") for p in papers.values()}

    def cited(self, text: str, g: GraphBuilder, toks: tuple[Token, ...] | None = None) -> dict[str, str]:
        """paper id -> the name that matched, adding a stub paper node for an unknown arXiv or episode id
        (`toks`: the text's tokens, when already known)."""
        cited = {h.concept_id: text[h.start:h.end] for h in self.index.find(text, toks)}
        for arxiv in ARXIV_ID.findall(text):
            if arxiv in self.known_arxiv:   # also inside a link, which alias matching does not read
                cited.setdefault(self.known_arxiv[arxiv], arxiv)
            else:
                pid = paper_id(f"arxiv-{arxiv}")
                g.add_node(Node(id=pid, kind="paper", label=f"arXiv:{arxiv}", text=f"arXiv:{arxiv}",
                                attrs={"key": f"arxiv-{arxiv}", "arxiv": arxiv, "episode": None,
                                       "url": f"https://arxiv.org/abs/{arxiv}", "aliases": []}))
                cited[pid] = arxiv
        for episode in EPISODE_ID.findall(text):
            if episode not in self.known_episodes:
                pid = paper_id(episode)
                g.add_node(Node(id=pid, kind="paper", label=f"Episode {episode}", text=f"Episode {episode}",
                                attrs={"key": episode, "arxiv": None, "episode": episode, "url": None, "aliases": []}))
                cited[pid] = episode
        return cited


def citation_rule(name: str) -> str:
    """The rule name a citation edge is asserted by, from the kind of name that matched."""
    if EPISODE_ID.fullmatch(name.upper()):
        return "rule:episode-id"
    if ARXIV_ID.fullmatch(name):
        return "rule:arxiv-id"
    return "rule:paper-alias"
