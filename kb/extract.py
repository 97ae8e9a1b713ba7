"""Extraction: documents + taxonomy + curation -> typed nodes and edges, each with its provenance.

Rules, in the order `extract_graph` applies them:

- every source document becomes a `source` node; every bibliography entry and episode a `paper` node;
- every sentence of five words or more becomes a `claim` (or `evidence` when it reports a measurement),
  linked from its source by `states`;
- a sentence that names a taxonomy alias is `about` that failure mode or mitigation (`rule:alias`), and a
  sentence in a section whose heading names one is `about` it too (`rule:section`);
- episode ids (E026), arXiv ids and paper aliases become `cites` edges (`rule:episode-id`, ...);
- a sentence that names a mitigation and a failure mode with a remedy cue gives `mitigates`;
- section headings and recurring "X collapse/hacking/drift" terms that the taxonomy does not know become new
  failure modes (`rule:section-heading`, `rule:recurring-term`), and remedy sentences in their sections new
  mitigations (`rule:remedy`);
- sentences taking opposite stances in a known debate give `contradicts`/`qualifies` edges carrying both quotes;
- the curation file adds, corrects and retracts last (`curated`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .models import Document, Edge, Node, Provenance
from .taxonomy import Concept, Curation, QuoteRef, Taxonomy
from .text import (
    ARXIV_ID,
    EPISODE_ID,
    Sentence,
    normalize,
    phrase_pattern,
    short_hash,
    slugify,
    split_sentences,
    word_count,
)

TAXONOMY_SOURCE = "taxonomy"
CURATION_SOURCE = "curation"
MIN_CLAIM_WORDS = 5
MAX_DEBATE_EDGES_PER_PAIR = 2

_MEASUREMENT = re.compile(
    r"\d+(?:\.\d+)?\s*(?:%|pp\b|pts?\b|points\b|x\b|×|-fold)|\$\s?\d|pass@\d+\s*(?:of|from|=|:)?\s*\d|"
    r"\d+(?:\.\d+)?\s*(?:->|→)\s*\d|\bfrom\s+\d+(?:\.\d+)?%?\s+to\s+\d",
    re.IGNORECASE,
)
_REMEDY_CUE = re.compile(
    r"\b(fix(?:es|ed)?|cure[sd]?|mitigat\w*|remed\w*|avoid\w*|prevent\w*|counter\w*|restor\w*|helps?|"
    r"solution|should|we need|need to|instead|recommend\w*|keep(?:s|ing)?|defeat|design\w*|improv\w*)\b",
    re.IGNORECASE,
)
_STRONG_REMEDY = re.compile(
    r"^(?:the (?:fix|cure|remedy|solution|mitigation)(?: for this)? is (?:to )?|to (?:fix|avoid|prevent|mitigate|counter)"
    r" (?:this|it|that)[^,]*,\s*|(?:a|one) (?:cheap |simple )?(?:fix|remedy) is (?:to )?|we recommend (?:that )?|"
    r"(?:so )?we need (?:to )?|(?:you|one) (?:should|must) |the answer is (?:to )?|it helps to )",
    re.IGNORECASE,
)
_HEDGE = re.compile(
    r"\b(but|however|task-dependent|depends|too rigid|only if|doesn't mean|don't mean|not always|narrow contexts?)\b",
    re.IGNORECASE,
)
_FAILURE_CUE = re.compile(
    r"\b(fail\w*|hack\w*|exploit\w*|collaps\w*|bias\w*|degrad\w*|gremlin|problem\w*|wrong|break\w*|pad\w*|drift\w*|"
    r"overfit\w*|cheat\w*|gam(?:e|es|ed|ing)|flatter\w*|sycophan\w*|worse|hurt\w*|mislead\w*|inflat\w*|spurious|bug\w*)\b",
    re.IGNORECASE,
)
_FAILURE_HEAD = r"(collapse|hacking|drift|exploitation|gaming|sycophancy|collusion|forgetting|degeneration|overthinking|overoptimization)"
_RECURRING_TERM = re.compile(r"\b((?:[a-z][a-z-]+\s){1,2})" + _FAILURE_HEAD + r"\b")
_STOPWORDS = {
    "the", "a", "an", "this", "that", "of", "and", "to", "its", "on", "into", "with", "from", "for", "by", "is", "as",
    "in", "or", "more", "less", "than", "what", "their", "our", "your", "no", "not", "any", "such", "call", "called",
}
_GENERIC_HEADINGS = {
    "introduction", "conclusion", "summary", "about", "takeaways", "chapters", "background", "references",
    "what it means for rl training", "notes", "overview", "key numbers", "discussion", "transcript",
}
_MAX_NEW_HEADING_WORDS = 4


@dataclass(frozen=True)
class Extraction:
    """The typed nodes and edges extracted from a corpus, plus one-line warnings."""

    nodes: dict[str, Node]
    edges: list[Edge]
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Graph:
    """Accumulator used inside `extract_graph` only; the stage returns an immutable Extraction."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: dict[tuple, Edge] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def add_node(self, node: Node) -> None:
        self.nodes.setdefault(node.id, node)

    def add_edge(self, u: str, v: str, kind: str, prov: Provenance, **attrs: Any) -> None:
        if u == v:
            return
        key = (u, v, kind, prov.asserted_by.split(":")[0])
        if key not in self.edges:
            self.edges[key] = Edge(u=u, v=v, kind=kind, provenance=prov, attrs=attrs)


@dataclass(frozen=True)
class _Matcher:
    """Finds taxonomy concepts, papers and debate stances named in a piece of text."""

    concepts: dict[str, re.Pattern[str]]
    papers: dict[str, re.Pattern[str]]
    stances: dict[tuple[str, str], re.Pattern[str]]

    def concepts_in(self, text: str) -> dict[str, str]:
        norm = normalize(text)
        found = {}
        for cid, pattern in self.concepts.items():
            m = pattern.search(norm)
            if m:
                found[cid] = m.group(0)
        return found

    def papers_in(self, text: str) -> dict[str, str]:
        norm = normalize(text)
        return {pid: m.group(0) for pid, p in self.papers.items() if (m := p.search(norm))}

    def stances_in(self, text: str) -> list[tuple[str, str]]:
        norm = normalize(text)
        return [key for key, p in self.stances.items() if p.search(norm)]


def extract_graph(documents: list[Document], taxonomy: Taxonomy, curation: Curation) -> Extraction:
    """Extract the typed claim graph from parsed documents, starting from the taxonomy and ending with curation."""
    g = _Graph()
    concepts = _curated_concepts(taxonomy, curation)
    papers = _paper_nodes(documents)
    for node in papers.values():
        g.add_node(node)
    for concept in concepts:
        _add_concept(g, concept)
    for concept, prov in _discover_concepts(documents, concepts):
        _add_concept(g, concept, prov)
        concepts.append(concept)
    matcher = _build_matcher(concepts, papers, taxonomy)
    section_concepts = _section_concepts(documents, concepts, matcher)
    for doc in documents:
        _extract_document(g, doc, matcher, papers, section_concepts.get(doc.id, {}))
    _add_debates(g, taxonomy, matcher)
    _apply_curation(g, curation)
    return Extraction(nodes=dict(sorted(g.nodes.items())), edges=sorted(g.edges.values(), key=_edge_sort_key), warnings=g.warnings)


def _edge_sort_key(edge: Edge) -> tuple:
    return (edge.u, edge.v, edge.kind, edge.provenance.asserted_by, edge.provenance.start or 0)


# --- taxonomy and curated concepts -------------------------------------------------------------


def _curated_concepts(taxonomy: Taxonomy, curation: Curation) -> list[Concept]:
    by_id = {c.id: c for c in taxonomy.concepts()}
    for node in curation.nodes:
        by_id[node.id] = Concept(
            id=node.id, label=node.label, description=node.description, aliases=node.aliases, mitigates=node.mitigates
        )
    return list(by_id.values())


def _concept_kind(concept_id: str) -> str:
    return "mitigation" if concept_id.startswith("mit:") else "failure_mode"


def _add_concept(g: _Graph, concept: Concept, prov: Provenance | None = None) -> None:
    if concept.id in g.nodes:
        return
    prov = prov or Provenance(source_id=TAXONOMY_SOURCE, quote=concept.description, asserted_by="curated")
    g.add_node(
        Node(
            id=concept.id,
            kind=_concept_kind(concept.id),
            label=concept.label,
            text=f"{concept.label}: {concept.description}",
            description=concept.description,
            provenance=prov,
            attrs={"aliases": [a.rstrip("*") for a in concept.aliases], "asserted_by": prov.asserted_by},
        )
    )
    for target in concept.mitigates:
        g.add_edge(concept.id, target, "mitigates", prov)


# --- papers ---------------------------------------------------------------------------------------


def _paper_id(key: str) -> str:
    return "paper:" + slugify(key, max_words=12)


def _heading_provenance(doc: Document, title: str, asserted_by: str) -> Provenance:
    for block in doc.blocks:
        if block.kind == "heading" and normalize(block.text) == normalize(title):
            return Provenance(source_id=doc.id, quote=block.text, start=block.start, end=block.end, asserted_by=asserted_by)
    first = doc.blocks[0] if doc.blocks else None
    if first is None:
        return Provenance(source_id=doc.id, quote=title, asserted_by=asserted_by)
    return Provenance(source_id=doc.id, quote=first.text, start=first.start, end=first.end, asserted_by=asserted_by)


def _paper_nodes(documents: list[Document]) -> dict[str, Node]:
    papers: dict[str, Node] = {}
    for doc in documents:
        if doc.kind != "bibliography":
            continue
        for entry in doc.meta.extra.get("papers", []):
            if not isinstance(entry, dict) or not entry.get("key") or not entry.get("title"):
                continue
            node_id = _paper_id(str(entry["key"]))
            papers.setdefault(node_id, _paper_node(node_id, entry, _heading_provenance(doc, str(entry["title"]), "rule:bibliography")))
    for doc in documents:
        if doc.kind != "episode" or not doc.meta.episode:
            continue
        if any(p.attrs.get("episode") == doc.meta.episode for p in papers.values()):
            continue
        entry = {
            "key": doc.meta.episode, "title": doc.meta.title, "episode": doc.meta.episode, "arxiv": doc.meta.paper,
            "url": doc.meta.url, "authors": ", ".join(doc.meta.authors), "year": (doc.meta.date or "")[:4] or None,
        }
        node_id = _paper_id(doc.meta.episode)
        papers[node_id] = _paper_node(node_id, entry, _heading_provenance(doc, doc.meta.title, "rule:front-matter"))
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


# --- matching --------------------------------------------------------------------------------------


def _build_matcher(concepts: list[Concept], papers: dict[str, Node], taxonomy: Taxonomy) -> _Matcher:
    concept_patterns = {}
    for c in concepts:
        pattern = phrase_pattern([*c.aliases, c.label.split(" (")[0]])
        if pattern is not None:
            concept_patterns[c.id] = pattern
    paper_patterns = {}
    for pid, node in papers.items():
        names = list(node.attrs.get("aliases", []))
        if node.attrs.get("arxiv"):
            names.append(node.attrs["arxiv"])
        if node.attrs.get("episode"):
            names.append(node.attrs["episode"])
        pattern = phrase_pattern(names)
        if pattern is not None:
            paper_patterns[pid] = pattern
    stances = {}
    for debate in taxonomy.debates:
        for stance, phrases in debate.stances.items():
            pattern = phrase_pattern(phrases)
            if pattern is not None:
                stances[(debate.id, stance)] = pattern
    return _Matcher(concept_patterns, paper_patterns, stances)


def _section_concepts(documents: list[Document], concepts: list[Concept], matcher: _Matcher) -> dict[str, dict[str, str]]:
    """For each document, which failure mode (or mitigation) each section heading names."""
    by_doc: dict[str, dict[str, str]] = {}
    discovered = {c.label: c.id for c in concepts}
    for doc in documents:
        sections: dict[str, str] = {}
        for block in doc.blocks:
            if block.kind != "heading" or block.level == 1:
                continue
            if block.text in discovered:
                sections[block.text] = discovered[block.text]
                continue
            named = [cid for cid in matcher.concepts_in(block.text) if cid.startswith("fm:")]
            if len(named) == 1:
                sections[block.text] = named[0]
        by_doc[doc.id] = sections
    return by_doc


# --- discovery of concepts the taxonomy does not list -------------------------------------------


def _discover_concepts(documents: list[Document], known: list[Concept]) -> list[tuple[Concept, Provenance]]:
    known_pattern = phrase_pattern([a for c in known for a in [*c.aliases, c.label]])
    known_labels = {normalize(c.label) for c in known}
    found: dict[str, tuple[Concept, Provenance]] = {}
    for concept, prov in [*_heading_concepts(documents), *_recurring_term_concepts(documents)]:
        norm = normalize(concept.label)
        if norm in known_labels or (known_pattern and known_pattern.fullmatch(norm)):
            continue
        if known_pattern and known_pattern.search(norm) and not concept.aliases:
            continue
        found.setdefault(concept.id, (concept, prov))
    return list(found.values())


def _heading_concepts(documents: list[Document]) -> list[tuple[Concept, Provenance]]:
    """A short section heading whose section describes a failure is a failure mode in its own right."""
    out = []
    for doc in documents:
        if doc.kind in ("bibliography", "episode"):
            continue
        for heading, body in _sections(doc):
            words = word_count(heading.text)
            if heading.level == 1 or words > _MAX_NEW_HEADING_WORDS or normalize(heading.text) in _GENERIC_HEADINGS:
                continue
            if heading.text.rstrip().endswith(("?", ":")) or ":" in heading.text:
                continue
            body_text = " ".join(b.text for b in body)
            if not (re.search(_FAILURE_HEAD, heading.text.lower()) or len(_FAILURE_CUE.findall(body_text)) >= 2):
                continue
            first = split_sentences(body[0].text, body[0].start)[0] if body else None
            description = first.text if first else heading.text
            prov = Provenance(source_id=doc.id, quote=heading.text, start=heading.start, end=heading.end,
                              asserted_by="rule:section-heading")
            out.append((_new_concept("fm", heading.text, description), prov))
    return out


def _recurring_term_concepts(documents: list[Document]) -> list[tuple[Concept, Provenance]]:
    """A term like "reward model drift" used in two or more sentences names a failure mode."""
    hits: dict[str, list[tuple[Document, Sentence, str]]] = defaultdict(list)
    for doc in documents:
        if doc.kind == "bibliography":
            continue
        for block in doc.blocks:
            for sentence in split_sentences(block.text, block.start):
                for m in _RECURRING_TERM.finditer(normalize(sentence.text)):
                    words = [w for w in m.group(1).split() if w not in _STOPWORDS]
                    if not words:
                        continue
                    term = " ".join([*words, m.group(2)])
                    hits[term].append((doc, sentence, term))
    out = []
    for term, uses in sorted(hits.items()):
        if len({(d.id, s.start) for d, s, _ in uses}) < 2:
            continue
        doc, sentence, _ = uses[0]
        prov = Provenance(source_id=doc.id, quote=sentence.text, start=sentence.start, end=sentence.end,
                          asserted_by="rule:recurring-term")
        out.append((_new_concept("fm", term.capitalize(), sentence.text, aliases=[term]), prov))
    return out


def _new_concept(prefix: str, label: str, description: str, aliases: list[str] | None = None) -> Concept:
    return Concept(id=f"{prefix}:{slugify(label, max_words=6)}", label=label.strip(), description=description,
                   aliases=aliases or [])


def _sections(doc: Document) -> Iterable[tuple[Any, list[Any]]]:
    current, body = None, []
    for block in doc.blocks:
        if block.kind == "heading":
            if current is not None:
                yield current, body
            current, body = block, []
        elif current is not None:
            body.append(block)
    if current is not None:
        yield current, body


# --- per-document extraction -------------------------------------------------------------------


def _source_node(doc: Document) -> Node:
    first_para = next((b.text for b in doc.blocks if b.kind == "paragraph"), "")
    meta = doc.meta
    return Node(
        id=f"src:{doc.id}", kind="source", label=meta.title, text=f"{meta.title}. {first_para}".strip(),
        description=first_para[:400],
        provenance=_heading_provenance(doc, meta.title, "rule:document"),
        attrs={"doc_kind": doc.kind, "path": doc.path, "format": doc.format, "authors": list(meta.authors),
               "date": meta.date, "url": meta.url, "episode": meta.episode, "paper": meta.paper,
               "reliability": meta.reliability},
    )


def _extract_document(g: _Graph, doc: Document, m: _Matcher, papers: dict[str, Node], sections: dict[str, str]) -> None:
    src = f"src:{doc.id}"
    g.add_node(_source_node(doc))
    if doc.kind == "episode" and doc.meta.episode:
        paper = next((p for p in papers.values() if p.attrs.get("episode") == doc.meta.episode), None)
        if paper is not None:
            g.add_edge(src, paper.id, "cites", _heading_provenance(doc, doc.meta.title, "rule:front-matter"))
    tagged = [fm for fm in doc.meta.failure_modes if fm in g.nodes]
    first_claim = True
    for block in doc.blocks:
        if block.kind == "heading":
            continue
        if _is_reference_block(doc, block.text):
            continue
        for sentence in split_sentences(block.text, block.start):
            if word_count(sentence.text) < MIN_CLAIM_WORDS or _is_reference_line(sentence.text):
                continue
            node_id = _add_sentence(g, doc, block.section, sentence, m, papers, sections.get(block.section))
            if first_claim and tagged:
                prov = _prov(doc, sentence, "rule:front-matter")
                for fm in tagged:
                    g.add_edge(node_id, fm, "about", prov)
                first_claim = False


_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_AUTHOR_YEAR = re.compile(r"\(\d{4}\)\.?\s*$")


def _is_reference_block(doc: Document, text: str) -> bool:
    """A bibliography byline (authors, venue, link) is metadata, not a claim."""
    return doc.kind == "bibliography" and ("](http" in text or bool(_AUTHOR_YEAR.search(text.split(". ")[0] + ".")))


_TIMESTAMP = re.compile(r"^\d{1,2}:\d{2}(?::\d{2})?\s")


def _is_reference_line(text: str) -> bool:
    """Not a claim: a bare citation (author list with a year, or a link), a chapter timestamp, or a lead-in
    that ends with a colon."""
    plain = _MD_LINK.sub(r"\1", text).strip()
    if _TIMESTAMP.match(plain) or plain.endswith(":"):
        return True
    return bool(_AUTHOR_YEAR.search(plain)) and word_count(plain) < 14 or word_count(plain) < MIN_CLAIM_WORDS


def _prov(doc: Document, sentence: Sentence, asserted_by: str) -> Provenance:
    return Provenance(source_id=doc.id, quote=sentence.text, start=sentence.start, end=sentence.end, asserted_by=asserted_by)


def _add_sentence(g: _Graph, doc: Document, section: str, sentence: Sentence, m: _Matcher, papers: dict[str, Node],
                  section_fm: str | None) -> str:
    is_evidence = bool(_MEASUREMENT.search(sentence.text))
    kind = "evidence" if is_evidence else "claim"
    node_id = f"{'ev' if is_evidence else 'claim'}:{doc.id}:{short_hash(doc.id, str(sentence.start), sentence.text, length=8)}"
    label = sentence.text if len(sentence.text) <= 140 else sentence.text[:137].rstrip() + "..."
    g.add_node(Node(
        id=node_id, kind=kind, label=label, text=sentence.text, provenance=_prov(doc, sentence, "rule:sentence"),
        attrs={"section": section, "source_id": doc.id, "doc_kind": doc.kind, "reliability": doc.meta.reliability,
               "date": doc.meta.date},
    ))
    g.add_edge(f"src:{doc.id}", node_id, "states", _prov(doc, sentence, "rule:sentence"))

    named = m.concepts_in(sentence.text)
    for cid, alias in named.items():
        g.add_edge(node_id, cid, "about", _prov(doc, sentence, "rule:alias"), matched=alias)
    if section_fm and section_fm not in named:
        g.add_edge(node_id, section_fm, "about", _prov(doc, sentence, "rule:section"), section=section)

    for pid, name in _cited_papers(sentence.text, m, papers, g).items():
        g.add_edge(node_id, pid, "cites", _prov(doc, sentence, _citation_rule(name)), matched=name)
        g.add_edge(f"src:{doc.id}", pid, "cites", _prov(doc, sentence, _citation_rule(name)), matched=name)

    _add_mitigation_links(g, doc, sentence, named, section_fm, node_id)
    return node_id


def _citation_rule(name: str) -> str:
    if EPISODE_ID.fullmatch(name.upper()):
        return "rule:episode-id"
    if ARXIV_ID.fullmatch(name):
        return "rule:arxiv-id"
    return "rule:paper-alias"


def _cited_papers(text: str, m: _Matcher, papers: dict[str, Node], g: _Graph) -> dict[str, str]:
    cited = m.papers_in(text)
    known_arxiv = {p.attrs.get("arxiv") for p in papers.values()}
    known_episodes = {p.attrs.get("episode") for p in papers.values()}
    for arxiv in ARXIV_ID.findall(text):
        if arxiv not in known_arxiv:
            pid = _paper_id(f"arxiv-{arxiv}")
            g.add_node(Node(id=pid, kind="paper", label=f"arXiv:{arxiv}", text=f"arXiv:{arxiv}",
                            attrs={"key": f"arxiv-{arxiv}", "arxiv": arxiv, "episode": None,
                                   "url": f"https://arxiv.org/abs/{arxiv}", "aliases": []}))
            cited[pid] = arxiv
    for episode in EPISODE_ID.findall(text):
        if episode not in known_episodes:
            pid = _paper_id(episode)
            g.add_node(Node(id=pid, kind="paper", label=f"Episode {episode}", text=f"Episode {episode}",
                            attrs={"key": episode, "arxiv": None, "episode": episode, "url": None, "aliases": []}))
            cited[pid] = episode
    return cited


def _add_mitigation_links(g: _Graph, doc: Document, sentence: Sentence, named: dict[str, str], section_fm: str | None,
                          node_id: str) -> None:
    failure_modes = [c for c in named if c.startswith("fm:")] or ([section_fm] if section_fm else [])
    mitigations = [c for c in named if c.startswith("mit:")]
    if not failure_modes:
        return
    if not _REMEDY_CUE.search(sentence.text):
        # Naming a fix inside a section about a failure still links them, under a weaker rule name.
        if section_fm and mitigations and not any(c.startswith("fm:") for c in named):
            for mit in mitigations:
                g.add_edge(mit, section_fm, "mitigates", _prov(doc, sentence, "rule:section-mention"))
        return
    if not mitigations and section_fm and _STRONG_REMEDY.search(sentence.text.strip()):
        mitigations = [_discovered_mitigation(g, doc, sentence)]
        g.add_edge(node_id, mitigations[0], "about", _prov(doc, sentence, "rule:remedy"))
    for mit in mitigations:
        for fm in failure_modes:
            g.add_edge(mit, fm, "mitigates", _prov(doc, sentence, "rule:remedy" if mit not in named else "rule:cooccurrence"))


def _discovered_mitigation(g: _Graph, doc: Document, sentence: Sentence) -> str:
    clause = _STRONG_REMEDY.sub("", sentence.text.strip(), count=1)
    clause = re.sub(r"\s*\([^)]*\)", "", clause)
    clause = re.split(r"[,;:]|\s+(?:so that|because|rather than|not by|which)\s+", clause)[0].strip().rstrip(".")
    words = clause.split()
    label = " ".join(words[:9]) + ("..." if len(words) > 9 else "")
    label = label[:1].upper() + label[1:]
    prov = _prov(doc, sentence, "rule:remedy")
    concept = _new_concept("mit", label, sentence.text)
    _add_concept(g, concept, prov)
    return concept.id


# --- disagreements ---------------------------------------------------------------------------------


def _add_debates(g: _Graph, taxonomy: Taxonomy, m: _Matcher) -> None:
    claims = [n for n in g.nodes.values() if n.kind in ("claim", "evidence")]
    for debate in taxonomy.debates:
        by_stance: dict[str, list[Node]] = defaultdict(list)
        for node in claims:
            stances = {s for d, s in m.stances_in(node.text) if d == debate.id}
            if len(stances) == 1:
                by_stance[stances.pop()].append(node)
        names = sorted(by_stance)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                _link_stances(g, debate.id, debate.question, by_stance[a], by_stance[b])


def _link_stances(g: _Graph, debate_id: str, question: str, left: list[Node], right: list[Node]) -> None:
    per_pair: dict[tuple[str, str], int] = defaultdict(int)
    for u in left:
        for v in right:
            su, sv = u.attrs["source_id"], v.attrs["source_id"]
            if su == sv or per_pair[(su, sv)] >= MAX_DEBATE_EDGES_PER_PAIR:
                continue
            per_pair[(su, sv)] += 1
            hedged = _HEDGE.search(u.text) or _HEDGE.search(v.text)
            kind = "qualifies" if hedged else "contradicts"
            source, target = (u, v) if (not hedged or _HEDGE.search(u.text)) else (v, u)
            g.add_edge(source.id, target.id, kind, source.provenance.model_copy(update={"asserted_by": f"rule:debate:{debate_id}"}),
                       **_target_attrs(target), debate=question)


def _target_attrs(target: Node) -> dict[str, Any]:
    p = target.provenance
    return {"target_quote": p.quote, "target_source_id": p.source_id, "target_start": p.start, "target_end": p.end}


# --- curation ----------------------------------------------------------------------------------------


def _apply_curation(g: _Graph, curation: Curation) -> None:
    for edge in curation.edges:
        u, v = _resolve(g, edge.u), _resolve(g, edge.v)
        if u is None or v is None:
            missing = edge.u if u is None else edge.v
            g.warnings.append(f"{CURATION_SOURCE}: cannot find {_describe(missing)}; edge skipped")
            continue
        un, vn = g.nodes[u], g.nodes[v]
        prov = (un.provenance or Provenance(source_id=CURATION_SOURCE, quote=un.label, asserted_by="curated"))
        prov = prov.model_copy(update={"asserted_by": "curated"})
        key = (u, v, edge.kind, "curated")
        attrs = {"note": edge.note, **(_target_attrs(vn) if vn.provenance else {})}
        g.edges[key] = Edge(u=u, v=v, kind=edge.kind, provenance=prov, attrs=attrs)
    for r in curation.retract:
        if r.node:
            g.nodes.pop(r.node, None)
            g.edges = {k: e for k, e in g.edges.items() if r.node not in (e.u, e.v)}
        elif r.kind and r.u and r.v:
            g.edges = {k: e for k, e in g.edges.items() if not (e.kind == r.kind and e.u == r.u and e.v == r.v)}
    g.edges = {k: e for k, e in g.edges.items() if e.u in g.nodes and e.v in g.nodes}


def _resolve(g: _Graph, ref: str | QuoteRef) -> str | None:
    if isinstance(ref, str):
        return ref if ref in g.nodes else None
    wanted = normalize(ref.quote)
    for node in g.nodes.values():
        if node.kind in ("claim", "evidence") and node.attrs.get("source_id") == ref.source and wanted in normalize(node.text):
            return node.id
    return None


def _describe(ref: str | QuoteRef) -> str:
    return ref if isinstance(ref, str) else f"a sentence in {ref.source!r} containing {ref.quote!r}"
