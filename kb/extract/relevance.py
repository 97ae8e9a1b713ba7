"""The relevance gate: only documents about RL training of language models get concepts and `about` edges.

A document passes when it names several of the taxonomy's failure modes or fixes, or speaks the field's
vocabulary (data/cues.yaml `domain_terms`, per 100 words, or a title with one of its `title_terms`) and
names two, or one failure mode; an unrelated post that happens to say "overfitting" once does neither. Front matter naming
failure modes always passes, and an episode or topic review (the project's own kinds) needs one concept.

Word counts miss documents about training practice that use few of the field's words (seed variance,
evaluation noise, distillation before RL), so a document that names a concept, or nearly passes the
vocabulary test, gets a second look by meaning: its claims' mean vector against the mean vector of the
taxonomy's definitions. On the development sets, unrelated documents (quantization, tokenizers, datasets, speech,
video, profiling) reach a cosine of at most 0.47 and RL documents at least 0.52. Closeness alone cannot clear
a document about machine learning at large: an inference post (speculative decoding) naming one concept reaches
0.64, but sits nearer the taxonomy's general concepts (memory, numerics, compute) than its RL-specific ones,
so a document judged by meaning must sit nearer the specific ones.

Library pages about machinery (a kernel, sequence parallelism, LoRA) speak the field's vocabulary and name one
method in passing ("works with the DPO and KTO trainers"). A document that speaks the field but names a single
concept, a fix, is therefore only tentatively on topic and gets the second look too, unless several of its
sentences talk of trouble (one that names a failure is about training going wrong); its vocabulary already
places it in the field, so it needs only MIN_LONE_SIMILARITY with the RL-specific definitions. On the development
sets such library pages reach at most 0.47 there and have no sentence of trouble; RL documents that name one fix
reach 0.51-0.71, except two troubleshooting pages (0.43) that pass by their talk of trouble.
"""

from __future__ import annotations

import re
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
MIN_CONCEPTS_WITH_VOCABULARY = 2   # or one failure mode; one fix alone makes a document only tentatively on topic
MIN_CONCEPTS_ALONE = 3
MIN_PROBLEM_SENTENCES = 3   # claims holding a failure head or label word ("drift", "issue") that make a page about trouble
MIN_DOMAIN_FOR_SECOND_LOOK = 1.0   # a document naming no concept still gets a second look if it speaks the field
PROJECT_KINDS = ("episode", "topic")
MIN_TOPIC_SIMILARITY = 0.6   # cosine of a document's mean claim vector with the taxonomy's mean definition
MIN_LONE_SIMILARITY = 0.5    # with the RL-specific definitions, for a document that names a single fix
TOPIC_SAMPLE_CLAIMS = 60     # claims read for it, from the top of the document
_WORD = re.compile(r"[a-z][a-z-]*")


@dataclass(frozen=True)
class Relevance:
    """How much a document speaks about RL training, and the verdict."""

    domain_per_100_words: float
    concepts_named: int
    on_topic: bool
    topic_similarity: float | None = None
    lone: bool = False   # passed the vocabulary test on a single fix: on topic only if its meaning agrees


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
    speaks_field = domain >= MIN_DOMAIN_PER_100_WORDS or titled
    names_failure = any(concept_id.startswith("fm:") for concept_id in named)
    on_topic = (bool(doc.meta.failure_modes) or len(named) >= MIN_CONCEPTS_ALONE
                or (speaks_field and (len(named) >= MIN_CONCEPTS_WITH_VOCABULARY or names_failure))
                or (doc.kind in PROJECT_KINDS and len(named) >= 1))
    if not on_topic and speaks_field and len(named) == 1 and problem_sentences(claims, cues) >= MIN_PROBLEM_SENTENCES:
        on_topic = True   # one fix named on a page that keeps talking about things going wrong
    lone = not on_topic and speaks_field and len(named) == 1
    return Relevance(round(domain, 2), len(named), on_topic, lone=lone)


def problem_sentences(claims: list[ClaimSentence], cues: Cues) -> int:
    """How many claims hold a word that names trouble: a failure head ("drift", "collapse") or a failure label
    ("issue", "bug"). A library page about a feature has at most one."""
    trouble = cues.failure_heads | {word for label in cues.failure_labels for word in label.split()}
    return sum(1 for c in claims if trouble.intersection(_WORD.findall(c.sentence.text.lower())))


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
    return not relevance.on_topic and (relevance.concepts_named >= 1
                                       or relevance.domain_per_100_words >= MIN_DOMAIN_FOR_SECOND_LOOK)


def with_topic_similarity(relevance: Relevance, claims: list[ClaimSentence], centroids: TopicCentroids,
                          embed: Callable[[Sequence[str]], np.ndarray]) -> Relevance:
    """A document the vocabulary test turned away but that names a concept or nearly speaks the field, judged
    again by meaning: on topic when the mean vector of its first claims is within MIN_TOPIC_SIMILARITY of the
    taxonomy's centroid and nearer its RL-specific definitions than its general ones; a document that already
    speaks the field on a single concept (`lone`) when it is within MIN_LONE_SIMILARITY of the RL-specific ones.
    `topic_similarity` records the cosine with the whole centroid."""
    if not needs_second_look(relevance) or not claims:
        return relevance
    mean = _unit(embed([c.sentence.text for c in claims[:TOPIC_SAMPLE_CLAIMS]]).mean(axis=0))
    similarity, specific = float(mean @ centroids.all), float(mean @ centroids.specific)
    on_topic = (specific >= MIN_LONE_SIMILARITY if relevance.lone
                else similarity >= MIN_TOPIC_SIMILARITY and specific >= float(mean @ centroids.general))
    return replace(relevance, topic_similarity=round(similarity, 3), on_topic=on_topic)
