"""The relevance gate: only documents about RL training of language models get concepts and `about` edges.

A document passes when it names several of the taxonomy's failure modes or fixes, or speaks the field's
vocabulary (data/cues.yaml `domain_terms`, per 100 words, or a title with one of its `title_terms`) and
names one; an unrelated post that happens to say "overfitting" once does neither. Front matter naming
failure modes always passes, and an episode or topic review (the project's own kinds) needs one concept.

Word counts miss documents about training practice that use few of the field's words (seed variance,
evaluation noise, distillation before RL), so a document that names a concept, or nearly passes the
vocabulary test, gets a second look by meaning: its claims' mean vector against the mean vector of the
taxonomy's definitions. On the development sets, unrelated documents (quantization, tokenizers, datasets, speech,
video, profiling) reach a cosine of at most 0.47 and RL documents at least 0.52. Closeness alone cannot clear
a document about machine learning at large: an inference post (speculative decoding) naming one concept reaches
0.64, but sits nearer the taxonomy's general concepts (memory, numerics, compute) than its RL-specific ones,
so a document judged by meaning must sit nearer the specific ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..models import Document
from ..text import word_count
from .aliases import AliasHit, AliasIndex
from .clean import ClaimSentence
from .cues import Cues
from .mentions import is_table_row

MIN_DOMAIN_PER_100_WORDS = 1.5
MIN_CONCEPTS_WITH_VOCABULARY = 1
MIN_CONCEPTS_ALONE = 3
MIN_DOMAIN_FOR_SECOND_LOOK = 1.0   # a document naming no concept still gets a second look if it speaks the field
PROJECT_KINDS = ("episode", "topic")
MIN_TOPIC_SIMILARITY = 0.6   # cosine of a document's mean claim vector with the taxonomy's mean definition
TOPIC_SAMPLE_CLAIMS = 60     # claims read for it, from the top of the document


@dataclass(frozen=True)
class Relevance:
    """How much a document speaks about RL training, and the verdict."""

    domain_per_100_words: float
    concepts_named: int
    on_topic: bool
    topic_similarity: float | None = None


def judge_relevance(doc: Document, claim_hits: list[list[AliasHit]], claims: list[ClaimSentence], cues: Cues,
                    index: AliasIndex, general: frozenset[str] = frozenset()) -> Relevance:
    """Score a document's domain vocabulary density and the distinct concepts it names by strong alias, in
    its claims (`claim_hits`, the index's hits in each claim), its headings and its table rows (a short docs
    page may say what it is about only in its title, a reading list only in its tables). Concepts in
    `general` (machine-learning practice at large, such as memory or numerics) do not count: a quantization
    post names them too."""
    headings = [b.text for b in doc.blocks if b.kind == "heading" or is_table_row(b)]
    text = " ".join([*(c.sentence.text for c in claims), *headings])
    words = max(1, word_count(text))
    domain = 100.0 * len(cues.patterns.domain.findall(text)) / words
    titled = bool(cues.patterns.title.search(doc.meta.title or ""))
    hits = [h for found in claim_hits for h in found] + [h for heading in headings for h in index.find(heading)]
    named = {h.concept_id for h in hits if not h.weak and h.concept_id not in general}
    on_topic = (bool(doc.meta.failure_modes) or len(named) >= MIN_CONCEPTS_ALONE
                or ((domain >= MIN_DOMAIN_PER_100_WORDS or titled) and len(named) >= MIN_CONCEPTS_WITH_VOCABULARY)
                or (doc.kind in PROJECT_KINDS and len(named) >= 1))
    return Relevance(round(domain, 2), len(named), on_topic)


@dataclass(frozen=True)
class TopicCentroids:
    """Where the field's documents sit: the unit mean vector of all the taxonomy's definitions, and of its
    RL-specific and its general (machine learning at large) definitions apart."""

    all: np.ndarray
    specific: np.ndarray
    general: np.ndarray


def topic_centroids(specific: Sequence[str], general: Sequence[str],
                    embed: Callable[[Sequence[str]], np.ndarray]) -> TopicCentroids:
    """The centroids of the taxonomy's RL-specific and general definitions (each "label: description")."""
    vectors = embed([*specific, *general])
    return TopicCentroids(_unit(vectors.mean(axis=0)), _unit(vectors[:len(specific)].mean(axis=0)),
                          _unit(vectors[len(specific):].mean(axis=0)) if general else np.zeros(vectors.shape[1]))


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / (np.linalg.norm(vector) or 1.0)


def needs_second_look(relevance: Relevance) -> bool:
    """Whether the vocabulary test turned a document away although it names a concept or nearly speaks the
    field's vocabulary."""
    return not relevance.on_topic and (relevance.concepts_named >= MIN_CONCEPTS_WITH_VOCABULARY
                                       or relevance.domain_per_100_words >= MIN_DOMAIN_FOR_SECOND_LOOK)


def with_topic_similarity(relevance: Relevance, claims: list[ClaimSentence], centroids: TopicCentroids,
                          embed: Callable[[Sequence[str]], np.ndarray]) -> Relevance:
    """A document the vocabulary test turned away but that names a concept or nearly speaks the field, judged
    again by meaning: on topic when the mean vector of its first claims is within MIN_TOPIC_SIMILARITY of the
    taxonomy's centroid and nearer its RL-specific definitions than its general ones."""
    if not needs_second_look(relevance) or not claims:
        return relevance
    mean = _unit(embed([c.sentence.text for c in claims[:TOPIC_SAMPLE_CLAIMS]]).mean(axis=0))
    similarity = float(mean @ centroids.all)
    specific = float(mean @ centroids.specific) >= float(mean @ centroids.general)
    return replace(relevance, topic_similarity=round(similarity, 3),
                   on_topic=similarity >= MIN_TOPIC_SIMILARITY and specific)
