"""Extraction: parsed documents + taxonomy + curation -> typed nodes and edges, each with its provenance.

`extract_graph` runs the steps top to bottom; each lives in its own module:

- clean: which sentences are claims (no reference entries, bylines, captions, table rows, code);
- relevance: which documents are about RL training of language models at all (others give claims only);
- mentions: phrases where writers name things (headings, lead terms, emphasis, definitions, head-word
  noun phrases); reading: a document's claim sentences and mentions together, which do not depend on the
  taxonomy and so can be kept across taxonomy edits;
- classify + resolve: a phrase that names a failure mode or fix becomes an alias of the concept it means, or
  a new concept when nothing covers it;
- aliases: every claim naming a concept (strong alias, or weak alias supported elsewhere in the document) is
  `about` it; a claim in a section headed by a concept is `about` it too; a claim that names a fix and a
  failure with a remedy cue gives `mitigates`;
- papers: citations; debates: stance edges; curation: a person's edits, applied last.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..models import Block, Document, Node, Provenance
from ..taxonomy import Concept, Curation, Taxonomy
from ..text import Sentence, normalize, short_hash, word_count
from .accumulate import TAXONOMY_SOURCE, Extraction, GraphBuilder
from .aliases import MAX_OWN_WORDS, AliasHit, AliasIndex, HitMemo, Token, build_alias_index, merge_hits
from .classify import ConceptClassifier
from .clean import ClaimSentence, is_boilerplate
from .cues import Cues
from .curation import apply_curation
from .debates import add_debates
from .mentions import Mention, clean_phrase, is_table_row, setting_names, split_label
from .papers import PaperMatcher, citation_rule, heading_provenance, paper_nodes
from .relevance import Relevance, judge_relevance, needs_second_look, topic_centroids, with_topic_similarity
from .reading import DocumentReading, read_document
from .resolve import (Resolution, alias_shaped, concept_vocabulary, content_stems, defined_acronyms, resolve_mentions,
                      told_in_text)

__all__ = ["DocumentReading", "Extraction", "HitMemo", "extract_graph", "read_document"]

Embed = Callable[[Sequence[str]], np.ndarray]
BlockHits = tuple[str, Block, list[AliasHit]]   # (rule, heading / table row / short item, alias hits in it)
MIN_WEAK_SENTENCES = 2
ONE_WORD_WEIGHT = 1.0   # how much of a sentence a one-word weak alias counts for
DESCRIPTION_SENTENCES = 5   # a heading's new concept is described by one of its section's first sentences ...
DESCRIPTION_MIN_WORDS = 8   # ... preferably one that reads as prose
MEASUREMENT = re.compile(
    r"\d+(?:\.\d+)?\s*(?:%|pp\b|pts?\b|points\b|x\b|×|-fold)|\$\s?\d|pass@\d+\s*(?:of|from|=|:)?\s*\d|"
    r"\d+(?:\.\d+)?\s*(?:->|→)\s*\d|\bfrom\s+\d+(?:\.\d+)?%?\s+to\s+\d",
    re.IGNORECASE,
)


def extract_graph(documents: list[Document], taxonomy: Taxonomy, curation: Curation, *, cues: Cues,
                  classifier: ConceptClassifier, embed: Embed,
                  readings: Mapping[str, DocumentReading] | None = None, memo: HitMemo | None = None) -> Extraction:
    """Extract the typed claim graph from parsed documents, starting from the taxonomy and ending with curation.
    `readings` (by document id) are the documents' taxonomy-independent readings when a caller kept them;
    `memo` holds alias hits an earlier build found with the same index entries."""
    concepts = curated = curated_concepts(taxonomy, curation)
    readings = {doc.id: (readings or {}).get(doc.id) or read_document(doc, cues) for doc in documents}
    claims = {doc.id: readings[doc.id].claims for doc in documents}
    curated_index = alias_index(concepts, cues, memo)
    words = {doc.id: readings[doc.id].claim_tokens for doc in documents}
    curated_hits = {doc.id: [curated_index.find(c.sentence.text, t) for c, t in zip(claims[doc.id], words[doc.id])]
                    for doc in documents}
    general = frozenset(c.id for c in curated if c.general)
    related = related_concepts(taxonomy)
    relevance = {doc.id: judge_relevance(doc, curated_hits[doc.id], claims[doc.id], cues, curated_index, general,
                                         related) for doc in documents}
    relevance = second_look(documents, claims, relevance, curated, embed)
    topical = [d for d in documents if relevance[d.id].on_topic and d.kind != "bibliography"]
    mentions = [m for doc in topical for m in readings[doc.id].mentions]
    acronyms = {**cues.field_acronyms, **defined_acronyms(doc.text for doc in documents)}   # the documents' own first
    resolutions, new_concepts = resolve_mentions(mentions, concepts, classifier, embed, cues, acronyms)
    new_concepts, resolutions = told_in_text(new_concepts, resolutions,
                                             {d.id: [c.sentence.text for c in claims[d.id]] for d in topical}, cues)
    new_concepts = with_section_descriptions(new_concepts, resolutions, claims, cues)
    naming = [r for r in resolutions if names_its_concept(r, cues)]
    concepts = with_found_aliases([*concepts, *new_concepts], naming)
    confident = [r for r in resolutions if r.confident]
    index = curated_index.extended(found_names(curated, with_found_aliases(new_concepts, confident), confident))
    found = found_index(curated, new_concepts, confident, cues, memo)
    used_in = phrase_documents(curated, confident)
    hits = {doc.id: [merge_hits(known, DocumentAliases(found, used_in, doc.id).find(c.sentence.text, t))
                     for c, t, known in zip(claims[doc.id], words[doc.id], curated_hits[doc.id])] for doc in topical}
    blocks = {doc.id: unclaimed_blocks(doc, claims[doc.id], DocumentAliases(index, used_in, doc.id), cues)
              for doc in topical}
    surfaces = surface_forms(topical, claims, hits, blocks, cues, concept_vocabulary(concepts, cues))
    concepts = with_surface_forms(concepts, surfaces)

    g = GraphBuilder()
    papers = paper_nodes(documents)
    for node in papers.values():
        g.add_node(node)
    first_mention = _first_mentions(resolutions)
    for concept in concepts:
        add_concept(g, concept, first_mention.get(concept.id), naming, surfaces.get(concept.id, []))
    by_doc: dict[str, list[Resolution]] = defaultdict(list)
    for r in resolutions:
        by_doc[r.mention.doc_id].append(r)
    matcher = PaperMatcher(papers, memo)
    for doc in documents:
        add_document(g, doc, claims[doc.id], hits.get(doc.id, []), blocks.get(doc.id, []), relevance[doc.id],
                     DocumentAliases(index, used_in, doc.id), by_doc.get(doc.id, []), matcher, cues, related,
                     words[doc.id])
    add_debates(g, taxonomy)
    apply_curation(g, curation)
    return g.freeze()


def second_look(documents: list[Document], claims: dict[str, list[ClaimSentence]], relevance: dict[str, Relevance],
                concepts: list[Concept], embed: Embed) -> dict[str, Relevance]:
    """Relevance after documents the vocabulary test turned away are judged again by meaning (the taxonomy's
    definitions are embedded only when some document needs it)."""
    doubtful = [d for d in documents if needs_second_look(relevance[d.id])]
    if not doubtful:
        return relevance
    centroids = topic_centroids([f"{c.label}: {c.description}" for c in concepts if not c.general],
                                [f"{c.label}: {c.description}" for c in concepts if c.general], embed)
    return {**relevance, **{d.id: with_topic_similarity(relevance[d.id], claims[d.id], centroids, embed)
                            for d in doubtful}}


# --- concepts --------------------------------------------------------------------------------------


def curated_concepts(taxonomy: Taxonomy, curation: Curation) -> list[Concept]:
    """Taxonomy concepts, with curated nodes added or replacing them."""
    by_id = {c.id: c for c in taxonomy.concepts()}
    for node in curation.nodes:
        by_id[node.id] = Concept(id=node.id, label=node.label, description=node.description, aliases=node.aliases,
                                 mitigates=node.mitigates)
    return list(by_id.values())


def with_section_descriptions(concepts: list[Concept], resolutions: list[Resolution],
                              claims: dict[str, list[ClaimSentence]], cues: Cues) -> list[Concept]:
    """New concepts first named by a heading, described by a claim of that heading's section (the writer's own
    account of the failure or fix) instead of by the heading again (`section_description`)."""
    first = _first_mentions(resolutions)
    out = []
    for c in concepts:
        m = first[c.id].mention if c.id in first else None
        if m is not None and m.sentence is None and m.origin == "heading":
            heading = normalize(m.phrase)
            below = [cl.sentence.text for cl in claims.get(m.doc_id, [])
                     if cl.block.start > m.start and heading in normalize(cl.block.section)]
            description = section_description(c.label, below, cues)
            if description:
                c = c.model_copy(update={"description": description})
        out.append(c)
    return out


def section_description(label: str, sentences: list[str], cues: Cues) -> str | None:
    """Among the first DESCRIPTION_SENTENCES sentences of a section, the first that shares a word with the
    concept's name, else the first that reads as prose (DESCRIPTION_MIN_WORDS words, mostly not numbers: a
    measurement such as "Loss was 0.12" says nothing of what the concept is), else the first sentence."""
    candidates = sentences[:DESCRIPTION_SENTENCES]
    named = content_stems(label, cues)
    prose = [s for s in candidates if len(s.split()) >= DESCRIPTION_MIN_WORDS
             and sum(any(ch.isdigit() for ch in w) for w in s.split()) <= len(s.split()) // 6]
    sharing = [s for s in prose if named & content_stems(s, cues)]
    return next(iter(sharing or prose or candidates), None)


def concept_kind(concept_id: str) -> str:
    """`mitigation` for mit: ids, else `failure_mode`."""
    return "mitigation" if concept_id.startswith("mit:") else "failure_mode"


def alias_index(concepts: list[Concept], cues: Cues, memo: HitMemo | None = None) -> AliasIndex:
    """The alias index over concept labels (before any parenthesis), strong and weak aliases."""
    return build_alias_index(((c.id, [c.label.split(" (")[0], *c.aliases], c.weak_aliases) for c in concepts),
                             **_matching_words(cues), memo=memo)


def _matching_words(cues: Cues) -> dict:
    """The cue words alias matching reads (what may stand inside a name, what joins, negates or moves a
    setting), for every index extraction builds."""
    return dict(inserted_words=cues.inserted_words, joining_words=cues.connecting_words,
                predicate_words=cues.predicate_adjectives, direction_words=cues.up_words | cues.down_words,
                negation_words=cues.negation_words, own_words=MAX_OWN_WORDS, neutral_terms=cues.neutral_terms)


def found_aliases(concepts: list[Concept], resolutions: list[Resolution]) -> dict[str, list[str]]:
    """Concept id -> the phrases documents use for it that are not yet among its names, sorted."""
    found: dict[str, list[str]] = defaultdict(list)
    for r in resolutions:
        found[r.concept_id].append(r.mention.phrase)
    out = {}
    for c in concepts:
        known = {normalize(a.rstrip("*")) for a in [c.label, *c.aliases]}
        extra = []
        for phrase in found.get(c.id, []):
            if normalize(phrase) not in known:
                known.add(normalize(phrase))
                extra.append(phrase)
        if extra:
            out[c.id] = sorted(extra)
    return out


def with_found_aliases(concepts: list[Concept], resolutions: list[Resolution]) -> list[Concept]:
    """Concepts with the phrases documents use for them added as aliases (one phenomenon, one node)."""
    extra = found_aliases(concepts, resolutions)
    return [c.model_copy(update={"aliases": [*c.aliases, *extra[c.id]]}) if c.id in extra else c for c in concepts]


def found_names(curated: list[Concept], new_concepts: list[Concept],
                resolutions: list[Resolution]) -> list[tuple[str, list[str], list[str]]]:
    """(concept id, strong aliases, weak aliases) for what extraction added to the taxonomy: the phrases
    documents use for curated concepts, and the new concepts' names."""
    extra = found_aliases(curated, resolutions)
    named = [(c.id, extra[c.id], []) for c in curated if c.id in extra]
    return named + [(c.id, [c.label.split(" (")[0], *c.aliases], c.weak_aliases) for c in new_concepts]


def found_index(curated: list[Concept], new_concepts: list[Concept], resolutions: list[Resolution],
                cues: Cues, memo: HitMemo | None = None) -> AliasIndex:
    """An alias index over what extraction added to the taxonomy (`found_names`). Claims are matched against
    it and the curated index separately, so a build matches every claim against the (large) curated index
    once."""
    return build_alias_index(found_names(curated, new_concepts, resolutions), **_matching_words(cues), memo=memo)


def phrase_documents(curated: list[Concept], resolutions: list[Resolution]) -> dict[tuple[str, str], frozenset[str]]:
    """(curated concept id, normalized one-word phrase) -> the documents that used the word for that concept."""
    curated_ids = {c.id for c in curated}
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in resolutions:
        if r.concept_id in curated_ids and len(r.mention.phrase.split()) == 1:
            out[(r.concept_id, normalize(r.mention.phrase))].add(r.mention.doc_id)
    return {key: frozenset(docs) for key, docs in out.items()}


@dataclass(frozen=True)
class DocumentAliases:
    """An alias index as one document reads it. A single word some document used for a curated concept names
    that concept only in the documents that used it: one word carries too little context to be trusted
    elsewhere, and a resolution that went wrong in one document ("collapses", "Adaptive", "Precision") does
    not spread to every other. Longer phrases and new concepts' names count everywhere."""

    index: AliasIndex
    used_in: dict[tuple[str, str], frozenset[str]]
    doc_id: str

    def find(self, text: str, toks: tuple[Token, ...] | None = None) -> list[AliasHit]:
        """The index's hits in `text` (its `tokens`, when already known) that hold in this document."""
        return [h for h in self.index.find(text, toks)
                if self.doc_id in self.used_in.get((h.concept_id, normalize(h.alias)), (self.doc_id,))]


def surface_forms(documents: list[Document], claims: dict[str, list[ClaimSentence]],
                  hits: dict[str, list[list[AliasHit]]], blocks: Mapping[str, list[BlockHits]],
                  cues: Cues, vocabulary: Mapping[str, set[str]]) -> dict[str, list[tuple[str, str]]]:
    """Concept id -> (phrase, source) for each way a document wrote a strong alias differently from the alias
    itself ("KL penalties" for "KL penalty", "implementation details" for "implementation detail*"), in its
    claims and in its headings, table rows and short items (`blocks`), and a short heading that ends in one
    concept's alias, whole (`heading_name`: "Gradient underflow" for "underflow*")."""
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    generic = setting_stems(" ".join(cues.setting_words), cues)   # "max", "coef": said by any setting's name
    for doc in documents:
        written = [(claim.sentence.text, claim_hits) for claim, claim_hits in zip(claims[doc.id], hits[doc.id])]
        written += [(doc.text[block.start:block.end], block_hits) for _, block, block_hits in blocks.get(doc.id, [])]
        for text, text_hits in written:
            for h in text_hits:
                surface = text[h.start:h.end]
                if not h.weak and normalize(surface) != normalize(h.alias):
                    found[h.concept_id].add((surface, doc.id))
            named = {h.concept_id for h in text_hits if not h.weak}
            if len(named) == 1:   # a setting written beside the one concept the text names, in that concept's words
                concept_id = next(iter(named))
                found[concept_id].update((setting, doc.id) for setting in setting_names(text)
                                         if setting_stems(setting, cues) - generic & vocabulary.get(concept_id, set()))
        for rule, block, block_hits in blocks.get(doc.id, []):
            named = heading_name(doc.text[block.start:block.end], block_hits, cues) if rule == "rule:heading" else None
            if named is not None:
                found[named[0]].add((named[1], doc.id))
    return {c: sorted(v) for c, v in found.items()}


def setting_stems(setting: str, cues: Cues) -> frozenset[str]:
    """The content stems of a setting's name, its parts split at "." and "_" (`actor.entropy_coeff`)."""
    return content_stems(re.sub(r"[._]", " ", setting), cues)


def heading_name(text: str, hits: list[AliasHit], cues: Cues) -> tuple[str, str] | None:
    """(concept id, name) when a heading is the name of one concept in the writer's words: two to five words,
    shaped like an alias, ending in a strong alias of that concept and naming no other ("Gradient underflow"
    ends in "underflow*", "Overlong reward shaping" in "reward shaping")."""
    strong = {h.concept_id for h in hits if not h.weak}
    name = clean_phrase(split_label(text, cues)[1])
    words = normalize(name).split()
    if len(strong) != 1 or not 2 <= len(words) <= 5 or any(c.isdigit() for c in name) \
            or not alias_shaped(name, cues) or any(w in cues.connecting_words or w in cues.clause_words
                                                   or w in cues.negation_words for w in words):
        return None   # "Examples of reward hacking", "Missing gradient clipping": about the concept, not its name
    last = max((h for h in hits if not h.weak), key=lambda h: h.end)
    ending = normalize(text[last.start:last.end])
    return (strong.pop(), name) if normalize(name).endswith(ending) else None


def with_surface_forms(concepts: list[Concept], surfaces: dict[str, list[tuple[str, str]]]) -> list[Concept]:
    """Concepts with the surface forms documents wrote added as aliases."""
    out = []
    for c in concepts:
        known = {normalize(a.rstrip("*")) for a in [c.label, *c.aliases]}
        extra = sorted({p for p, _ in surfaces.get(c.id, []) if normalize(p) not in known},
                       key=lambda p: (normalize(p), p))   # ties by spelling, so every process keeps the same one
        unique = list({normalize(p): p for p in extra}.values())
        out.append(c.model_copy(update={"aliases": [*c.aliases, *unique]}) if unique else c)
    return out


def _first_mentions(resolutions: list[Resolution]) -> dict[str, Resolution]:
    first: dict[str, Resolution] = {}
    for r in sorted(resolutions, key=lambda r: (r.mention.doc_id, r.mention.start)):
        if r.how == "new":
            first.setdefault(r.concept_id, r)
    return first


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


# --- per document ----------------------------------------------------------------------------------


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


def instructs(resolution: Resolution, cues: Cues) -> bool:
    """Whether a lead term tells the reader to apply the fix it was resolved to ("**Inspect the generations**:
    ..." for monitoring): an instruction names its fix even when only its meaning is close. Other phrases
    only near a concept in meaning ("**Mean reward**", "**Alignment type**") were right in one read sample
    of four, so they tie nothing."""
    words = resolution.mention.phrase.split()
    return (resolution.mention.origin == "lead" and resolution.kind == "mitigation" and len(words) >= 2
            and normalize(words[0]) in cues.fix_verbs)


def names_its_concept(resolution: Resolution, cues: Cues) -> bool:
    """Whether a resolved mention is a name of its concept, to be listed among its aliases: a new concept's own
    name, a confident match or an instruction to apply the fix. A phrase only near a concept in meaning ties
    nothing and is no alias either: of forty such phrases read from four sets about six named their concept
    ("Base model" is no stronger base model, a table's "Loss Behavior" no training plateau), and even where the
    document names the concept outright elsewhere, most did not ("either reward" for partial credit)."""
    return resolution.how == "new" or resolution.confident or instructs(resolution, cues)


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

