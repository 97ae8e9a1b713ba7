"""The graph of each document: its source and claim nodes, the concept nodes, and the `about` and `mitigates`
edges that tie claims, headings, table rows and lead terms to the concepts they name, each with its quote."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence

from ..models import Document, Node, Provenance
from ..taxonomy import Concept, Taxonomy
from ..text import Sentence, short_hash, word_count
from .accumulate import TAXONOMY_SOURCE, GraphBuilder
from .aliases import AliasHit, AliasIndex, BlockHits, Token
from .clean import ClaimSentence, is_boilerplate
from .concepts import DocumentAliases, concept_kind, instructs
from .cues import Cues
from .mentions import Mention, clean_phrase, is_table_row, split_label
from .papers import PaperMatcher, citation_rule, heading_provenance
from .relevance import Relevance
from .resolve import Resolution

MIN_WEAK_SENTENCES = 2
ONE_WORD_WEIGHT = 1.0   # how much of a sentence a one-word weak alias counts for
MEASUREMENT = re.compile(
    r"\d+(?:\.\d+)?\s*(?:%|pp\b|pts?\b|points\b|x\b|×|-fold)|\$\s?\d|pass@\d+\s*(?:of|from|=|:)?\s*\d|"
    r"\d+(?:\.\d+)?\s*(?:->|→)\s*\d|\bfrom\s+\d+(?:\.\d+)?%?\s+to\s+\d",
    re.IGNORECASE,
)


def add_concept(g: GraphBuilder, concept: Concept, first: Resolution | None, resolutions: list[Resolution],
                surfaces: list[tuple[str, str]] = ()) -> None:
    """A failure-mode or mitigation node; a new concept's provenance quotes where it was first named."""
    if first is None:
        prov = Provenance(source_id=TAXONOMY_SOURCE, quote=concept.description, asserted_by="curated")
    else:
        m = first.mention
        quote_span = (m.sentence.text, m.sentence.start, m.sentence.end) if m.sentence else (None, m.start, m.end)
        prov = Provenance(source_id=m.doc_id, quote=quote_span[0] or "", start=quote_span[1], end=quote_span[2],
                          asserted_by=f"rule:new-concept:{m.origin}")
    found_as = sorted({(r.mention.phrase, r.mention.doc_id) for r in resolutions if r.concept_id == concept.id}
                      | set(surfaces))
    g.add_node(Node(
        id=concept.id, kind=concept_kind(concept.id), label=concept.label,
        text=f"{concept.label}: {concept.description}", description=concept.description, provenance=prov,
        # Every name the concept goes by; the ambiguous ones, which link only with support, are also listed apart.
        attrs={"aliases": [a.rstrip("*") for a in [*concept.aliases, *concept.weak_aliases]],
               "weak_aliases": [a.rstrip("*") for a in concept.weak_aliases], "asserted_by": prov.asserted_by,
               "found_as": [{"phrase": p, "source_id": s} for p, s in found_as]},
    ))
    for target in concept.mitigates:
        g.add_edge(concept.id, target, "mitigates", prov)


def source_node(doc: Document, relevance: Relevance) -> Node:
    """The `source` node of a document."""
    first_para = next((b.text for b in doc.blocks if b.kind == "paragraph"), "")
    meta = doc.meta
    return Node(
        id=f"src:{doc.id}", kind="source", label=meta.title, text=f"{meta.title}. {first_para}".strip(),
        description=first_para[:400], provenance=heading_provenance(doc, meta.title, "rule:document"),
        attrs={"doc_kind": doc.kind, "path": doc.path, "format": doc.format, "authors": list(meta.authors),
               "date": meta.date, "url": meta.url, "episode": meta.episode, "paper": meta.paper,
               "reliability": meta.reliability, "on_topic": relevance.on_topic,
               "domain_per_100_words": relevance.domain_per_100_words,
               "topic_similarity": relevance.topic_similarity},
    )


def _prov(doc: Document, sentence: Sentence, asserted_by: str) -> Provenance:
    return Provenance(source_id=doc.id, quote=sentence.text, start=sentence.start, end=sentence.end, asserted_by=asserted_by)


def claim_node(doc: Document, claim: ClaimSentence) -> Node:
    """A `claim` node, or `evidence` when the sentence reports a measurement."""
    s = claim.sentence
    is_evidence = bool(MEASUREMENT.search(s.text))
    prefix = "ev" if is_evidence else "claim"
    label = s.text if len(s.text) <= 140 else s.text[:137].rstrip() + "..."
    return Node(
        id=f"{prefix}:{doc.id}:{short_hash(doc.id, str(s.start), s.text, length=8)}",
        kind="evidence" if is_evidence else "claim", label=label, text=s.text,
        provenance=_prov(doc, s, "rule:sentence"),
        attrs={"section": claim.block.section, "source_id": doc.id, "doc_kind": doc.kind,
               "reliability": doc.meta.reliability, "date": doc.meta.date},
    )


def add_document(g: GraphBuilder, doc: Document, claims: list[ClaimSentence], hits: list[list[AliasHit]],
                 blocks: list[BlockHits], relevance: Relevance, index: DocumentAliases, resolutions: list[Resolution],
                 matcher: PaperMatcher, cues: Cues, related: Mapping[str, frozenset[str]] | None = None,
                 words: Sequence[tuple[Token, ...]] | None = None) -> None:
    """Source, claims, citations and, for on-topic documents, `about` and `mitigates` edges. `words` are the
    claims' tokens when already known."""
    src = f"src:{doc.id}"
    g.add_node(source_node(doc, relevance))
    if doc.kind == "episode" and doc.meta.episode:
        paper = next((p for p in matcher.papers.values() if p.attrs.get("episode") == doc.meta.episode), None)
        if paper is not None:
            g.add_edge(src, paper.id, "cites", heading_provenance(doc, doc.meta.title, "rule:front-matter"))
    nodes = []
    for claim, toks in zip(claims, words or [None] * len(claims)):
        node = claim_node(doc, claim)
        g.add_node(node)
        g.add_edge(src, node.id, "states", _prov(doc, claim.sentence, "rule:sentence"))
        for pid, name in matcher.cited(claim.sentence.text, g, toks).items():
            g.add_edge(node.id, pid, "cites", _prov(doc, claim.sentence, citation_rule(name)), matched=name)
            g.add_edge(src, pid, "cites", _prov(doc, claim.sentence, citation_rule(name)), matched=name)
        nodes.append(node)
    tagged = [fm for fm in doc.meta.failure_modes if fm in g.nodes]
    if nodes and tagged:
        for fm in tagged:
            g.add_edge(nodes[0].id, fm, "about", _prov(doc, claims[0].sentence, "rule:front-matter"))
    if relevance.on_topic and doc.kind != "bibliography":
        _link_concepts(g, doc, claims, nodes, hits, blocks, index, resolutions, cues, related or {})


def _link_concepts(g: GraphBuilder, doc: Document, claims: list[ClaimSentence], nodes: list[Node],
                   hits: list[list[AliasHit]], blocks: list[BlockHits], index: DocumentAliases,
                   resolutions: list[Resolution], cues: Cues, related: Mapping[str, frozenset[str]]) -> None:
    every_hit = [*hits, *(found for _, _, found in blocks)]
    supported = supported_concepts(every_hit, resolutions, related)
    outright = named_outright(every_hit, resolutions)
    by_sentence: dict[int, list[Resolution]] = defaultdict(list)
    for r in resolutions:
        if r.mention.sentence is not None:
            by_sentence[r.mention.sentence.start].append(r)
    sections = section_concepts(doc, index, resolutions)
    weakly_tied: set[str] = set()
    for claim, node, claim_hits in zip(claims, nodes, hits):
        s = claim.sentence
        named: dict[str, str] = {}
        for h in claim_hits:
            if h.weak and h.concept_id in outright:
                continue   # the document names it outright elsewhere; a weak word or phrase here is mostly in passing
            if h.weak and h.concept_id in weakly_tied:
                continue   # its first weak sentence ties it; the later ones were about it one time in six or seven
            if not h.weak or h.concept_id in supported:
                if h.weak:
                    weakly_tied.add(h.concept_id)
                rule = "rule:alias" if not h.weak else "rule:alias-supported"
                g.add_edge(node.id, h.concept_id, "about", _prov(doc, s, rule), matched=h.alias)
                named[h.concept_id] = h.alias
        for r in by_sentence.get(s.start, []):
            # a phrase only near a concept in meaning ("Alignment type", "Highest reward") is no sign the
            # sentence is about it (read samples: about one in six right), unless the writer named it there
            if r.concept_id not in named and (r.how == "new" or instructs(r, cues)):
                rule = "rule:new-concept" if r.how == "new" else "rule:mention"
                g.add_edge(node.id, r.concept_id, "about", _prov(doc, s, rule), matched=r.mention.phrase,
                           similarity=round(r.similarity, 3))
                named[r.concept_id] = r.mention.phrase
        # The heading ties its concept to the document; its sentences are about it only where they name it
        # (read samples: one in six sentences a heading's concept was given by place alone was about it).
        _add_mitigates(g, doc, s, named, sections.get(claim.block.section), cues)
    _tie_blocks(g, doc, blocks, resolutions, supported)


def related_concepts(taxonomy: Taxonomy) -> dict[str, frozenset[str]]:
    """Each curated concept -> the concepts the taxonomy's `mitigates` lists tie it to (general ones left out:
    they are too broad to vouch for anything)."""
    general = {c.id for c in [*taxonomy.failure_modes, *taxonomy.mitigations] if c.general}
    related: dict[str, set[str]] = defaultdict(set)
    for m in taxonomy.mitigations:
        for fm in m.mitigates:
            if m.id not in general and fm not in general:
                related[m.id].add(fm)
                related[fm].add(m.id)
    return {c: frozenset(r) for c, r in related.items()}


def supported_concepts(hits: list[list[AliasHit]], resolutions: list[Resolution],
                       related: Mapping[str, frozenset[str]] | None = None) -> set[str]:
    """Concepts a document names unambiguously: by a strong alias or a confidently resolved mention, by weak aliases
    recurring in MIN_WEAK_SENTENCES sentences (a one-word weak alias counts ONE_WORD_WEIGHT of a sentence), or
    by a weak alias vouched for by a concept the taxonomy relates to it (a fix of that failure, a failure that
    fix addresses) named outright: anywhere in the document for a weak phrase, in the same sentence for a
    weak word."""
    related = related or {}
    weak: dict[str, float] = defaultdict(float)
    phrased: set[str] = set()
    beside: set[str] = set()
    for sentence_hits in hits:
        named_here = {h.concept_id for h in sentence_hits if not h.weak}
        for h in sentence_hits:
            if h.weak:
                several = len(h.alias.split()) > 1
                weak[h.concept_id] += 1.0 if several else ONE_WORD_WEIGHT
                if several:
                    phrased.add(h.concept_id)
                elif related.get(h.concept_id, frozenset()) & named_here:
                    beside.add(h.concept_id)
    # a mention only near a concept in meaning (not confident) vouches for nothing
    strong = named_outright(hits, resolutions)
    vouched = {c for c in phrased if related.get(c, frozenset()) & strong} | beside
    return strong | vouched | {c for c, n in weak.items() if n >= MIN_WEAK_SENTENCES}


def named_outright(hits: list[list[AliasHit]], resolutions: list[Resolution]) -> set[str]:
    """Concepts a document names by a strong alias or a confidently resolved mention."""
    return {h.concept_id for hs in hits for h in hs if not h.weak} | {r.concept_id for r in resolutions if r.confident}


def unclaimed_blocks(doc: Document, claims: list[ClaimSentence], index: AliasIndex | DocumentAliases,
                     cues: Cues) -> list[BlockHits]:
    """Headings, table rows and short list items (not claims), each with the rule that ties through it and the
    index's hits in it: a weak alias recurring there counts as support like one in a sentence. A structural
    heading ("Implementation details", "Appendix A: Hyperparameters") organises the document and names nothing,
    whatever alias its words hold; nor does an item that only gives a setting its value."""
    with_claims = {c.block.start for c in claims}
    out = []
    for block in doc.blocks:
        table = is_table_row(block)
        if block.start in with_claims or (block.kind != "heading" and not table and word_count(block.text) > 12):
            continue
        if block.kind == "heading" and cues.is_structural(clean_phrase(split_label(block.text, cues)[1])):
            continue
        if block.kind != "heading" and not table and cues.is_setting_entry(block.text):
            continue   # "temperature: `1.0`" reports a configuration, whatever fix shares the knob's name
        if block.kind != "heading" and not table and is_boilerplate(block.text, cues):
            continue   # a reading-list entry or a contents line points to a text; it says nothing itself
        rule = "rule:table" if table else ("rule:heading" if block.kind == "heading" else "rule:short-block")
        out.append((rule, block, index.find(doc.text[block.start:block.end])))
    return out


def _tie_blocks(g: GraphBuilder, doc: Document, blocks: list[BlockHits],
                resolutions: list[Resolution], supported: set[str]) -> None:
    """Headings, table rows and short list items are not claims, but a concept they name is still what the
    source is about: an `about` edge from the source quotes the heading, row or item. A heading or cell only
    near a concept in meaning (an unconfident resolution: "Base model", "Training progression") names none
    (judged blind: 0 of 5 such heading edges right)."""
    src = f"src:{doc.id}"
    for rule, block, found in blocks:
        quote = doc.text[block.start:block.end]
        for h in found:
            if not h.weak or h.concept_id in supported:
                g.add_edge(src, h.concept_id, "about", Provenance(source_id=doc.id, quote=quote, start=block.start,
                                                                   end=block.end, asserted_by=rule), matched=h.alias)
    for r in resolutions:
        m = r.mention
        if (m.sentence is None and (r.confident or r.how == "new")) or (r.confident and _stands_apart(m)):
            rule = "rule:table" if m.block_kind == "table" else ("rule:heading" if m.sentence is None else "rule:lead")
            g.add_edge(src, r.concept_id, "about", Provenance(source_id=doc.id, quote=doc.text[m.start:m.end],
                                                              start=m.start, end=m.end, asserted_by=rule),
                       matched=m.phrase)


def _stands_apart(mention: Mention) -> bool:
    """Whether a lead term stands outside the sentence it heads ("**Entropy collapse**. The authors observe ..."):
    no claim holds its words, so only the resolution itself can tie what it names."""
    s = mention.sentence
    return mention.origin == "lead" and s is not None and not (s.start <= mention.start and mention.end <= s.end)


def section_concepts(doc: Document, index: AliasIndex | DocumentAliases,
                     resolutions: list[Resolution]) -> dict[str, str]:
    """Section heading -> the one concept it names (resolved heading mention first, else a single alias hit)."""
    out: dict[str, str] = {}
    from_mentions = {r.mention.start: r.concept_id for r in resolutions if r.mention.origin == "heading" and r.confident}
    for block in doc.blocks:
        if block.kind != "heading" or block.level == 1:
            continue
        if block.start in from_mentions:
            out[block.text] = from_mentions[block.start]
            continue
        named = {h.concept_id for h in index.find(block.text) if not h.weak}
        if len(named) == 1:
            out[block.text] = named.pop()
    return out


def _add_mitigates(g: GraphBuilder, doc: Document, s: Sentence, named: dict[str, str], section_concept: str | None,
                   cues: Cues) -> None:
    failures = [c for c in named if concept_kind(c) == "failure_mode"]
    fixes = [c for c in named if concept_kind(c) == "mitigation"]
    if not fixes:
        return
    if failures and cues.patterns.remedy.search(s.text):
        for fix in fixes:
            for failure in failures:
                g.add_edge(fix, failure, "mitigates", _prov(doc, s, "rule:remedy"))
    elif not failures and section_concept and concept_kind(section_concept) == "failure_mode":
        for fix in fixes:
            g.add_edge(fix, section_concept, "mitigates", _prov(doc, s, "rule:section-mention"))
