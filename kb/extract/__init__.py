"""Extraction: parsed documents + taxonomy + curation -> typed nodes and edges, each with its provenance.

`extract_graph` runs the steps top to bottom; each lives in its own module:

- clean: which sentences are claims (no reference entries, bylines, captions, table rows, code);
- relevance: which documents are about RL training of language models at all (others give claims only);
- mentions: phrases where writers name things (headings, lead terms, emphasis, definitions, head-word
  noun phrases); reading: a document's claim sentences and mentions together, which do not depend on the
  taxonomy and so can be kept across taxonomy edits;
- classify + names + resolve: a phrase shaped like the name of a failure mode or fix (names) becomes an
  alias of the concept it means, or a new concept when nothing covers it;
- concepts: what each concept is called (the phrases documents use for it, its surface forms) and the alias
  indexes (aliases) claims are matched against;
- edges: each document's source and claim nodes; a claim naming a concept (a strong alias, or a weak alias
  supported elsewhere in the document) is `about` it, so is the source of a heading, table row or short item
  naming one; a claim that names a fix and a failure with a remedy cue gives `mitigates`;
- papers: citations; debates: stance edges; curation: a person's edits, applied last.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..models import Document
from ..taxonomy import Concept, Curation, Taxonomy
from .accumulate import Extraction, GraphBuilder
from .aliases import AliasHit, HitMemo, merge_hits
from .classify import ConceptClassifier
from .clean import ClaimSentence
from .concepts import (
    DocumentAliases,
    NameWords,
    alias_index,
    curated_concepts,
    first_mentions,
    found_index,
    found_names,
    names_its_concept,
    not_modifying,
    not_set_aside,
    phrase_documents,
    surface_forms,
    with_found_aliases,
    with_section_descriptions,
    with_surface_forms,
)
from .cues import Cues
from .curation import apply_curation
from .debates import add_debates
from .edges import add_concept, add_document, related_concepts, unclaimed_blocks
from .names import concept_vocabulary, defined_acronyms
from .papers import PaperMatcher, paper_nodes
from .reading import DocumentReading, read_document
from .relevance import Relevance, judge_relevance, needs_second_look, topic_centroids, with_topic_similarity
from .resolve import Resolution, resolve_mentions, told_in_text

__all__ = ["DocumentReading", "Extraction", "HitMemo", "extract_graph", "read_document"]

Embed = Callable[[Sequence[str]], np.ndarray]


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
    name_words = NameWords(concepts)
    curated_hits = {doc.id: [readable_hits(c.sentence.text, curated_index.find(c.sentence.text, t), name_words, cues)
                             for c, t in zip(claims[doc.id], words[doc.id])] for doc in documents}
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
    name_words = NameWords([*curated, *new_concepts])
    hits = {doc.id: [merge_hits(known, readable_hits(c.sentence.text,
                                                     DocumentAliases(found, used_in, doc.id).find(c.sentence.text, t),
                                                     name_words, cues, found=True))
                     for c, t, known in zip(claims[doc.id], words[doc.id], curated_hits[doc.id])] for doc in topical}
    blocks = {doc.id: unclaimed_blocks(doc, claims[doc.id], DocumentAliases(index, used_in, doc.id), cues)
              for doc in topical}
    surfaces = surface_forms(topical, claims, hits, blocks, cues, concept_vocabulary(concepts, cues))
    concepts = with_surface_forms(concepts, surfaces)

    g = GraphBuilder()
    papers = paper_nodes(documents)
    for node in papers.values():
        g.add_node(node)
    first_mention = first_mentions(resolutions)
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


def readable_hits(text: str, hits: list[AliasHit], name_words: NameWords, cues: Cues, *,
                  found: bool = False) -> list[AliasHit]:
    """The alias hits in a claim that say what it is about: not set aside as the road not taken, and no one-word
    weak alias (or, among names documents gave, `found`, any one-word name) that only modifies another of the field's
    words."""
    return not_modifying(text, not_set_aside(text, hits, cues), name_words, cues, found=found)


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
