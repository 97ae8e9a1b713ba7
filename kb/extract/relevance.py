"""The relevance gate: only documents about RL training of language models get concepts and `about` edges.

A document passes when it names several of the taxonomy's failure modes or fixes and uses a few of the field's
words, or speaks the field's vocabulary (data/cues.yaml `domain_terms`, per 100 words, or a title with one of
its `title_terms`) and names a failure mode; an unrelated post that happens to say "overfitting" once does
neither. A post on machine learning at large can name three concepts in words the field shares
("forgetting", "overfitting", "calibration") without one of the field's own; it gets the second look below.
Front matter naming failure modes always passes, and an episode or topic review (the project's own kinds)
needs one concept.

Whatever its words, a page that never speaks of training or optimizing a model nor names an RL method
(`training_terms`), and names no RL-specific failure outright in a sentence, is not about RL training: an agent
benchmark's guide to scoring episodes speaks of rewards, trajectories and reward shaping throughout and trains
nothing.

Word counts miss documents about training practice that use few of the field's words (seed variance, evaluation
noise, distillation before RL), so a document that names a concept gets a second look by meaning: its claims' mean
vector against the mean vector of the taxonomy's definitions. On the development sets, unrelated documents
(quantization, tokenizers, datasets, speech, video, profiling) reach a cosine of at most 0.47 and RL documents at
least 0.52. Closeness alone cannot clear a document about machine learning at large: an inference post (speculative
decoding) naming one concept reaches 0.64, but sits nearer the taxonomy's general concepts (memory, numerics,
compute) than its RL-specific ones, so a document judged by meaning must sit nearer the specific ones.

Library pages about machinery (a kernel, sequence parallelism, LoRA, logging) speak the field's vocabulary and
name a method or two in passing ("works with the DPO and KTO trainers"), or list several (a dataset-format page
for preference trainers names DPO, unpaired preferences and online DPO). A document that speaks the field or
names three concepts, but names fixes and no failure, is therefore only tentatively on topic and gets the
second look too, unless several
of its sentences or headings talk of trouble (one that names a failure is about training going wrong); its
vocabulary already places it in the field, so it needs only MIN_TENTATIVE_SIMILARITY with the RL-specific
definitions. On the development sets such library pages reach at most 0.47 there and have at most one text
of trouble; RL documents that name only fixes reach 0.35-0.76, those under 0.5 pass only by their talk of
trouble, and four library pages on low-precision or asynchronous training (0.39-0.45) with little of it were
turned away: by meaning alone they cannot be told from the library pages above.

A general failure (memory, numerics) counts as the failure a page names once the page also names something
RL-specific: a page on low-precision RL that speaks the field and names a numerical drift between trainer and
sampler and truncated importance sampling is about a failure (one of those four pages passes this way).
Letting an RL library's troubleshooting page pass on three named concepts, one specific, amid talk of trouble
gained four pages of the development sets but tied a distributed-framework guide of a fresh set to five
concepts on its first read, so it was dropped. The stricter form kept now asks for four named concepts, one of
them an RL-specific failure, a few of the field's words and talk of trouble: slime's FAQ and debugging guide
and a post on sharing GPUs between trainer and sampler pass (their annotated failures are garbled rollouts,
out-of-memory errors, NaN gradients), while the library pages on kernels, profiling, performance tuning and
datasets of the development sets stay out.

RL on something other than language models, a robot's reward design or a game agent's training log, speaks the
field's words as much as RL on language models and names reward hacking and reward shaping in the same words; what
it does not say is what a language model reads and writes (prompts, tokens, answers, generations). A page long
enough to judge that says those words rarely is not on topic, whatever else it passes; nor is one that says more of
another kind of model (`other_model_terms`: a list of GAN training tips borrows replay "from RL", names mode collapse
and label noise, and its generator counts among the language words; a VAE training guide speaks of KL penalties,
annealing and posterior collapse throughout).

Some cases turn on the page's own framing. A page whose title names a failure, a general one included
("Handling OOM issues"), and that uses a few of the field's words is about that failure in RL training (an RL
library's guide to memory errors in generation, training and weight updates); so is a page that speaks the field
and keeps talking of trouble about a failure it names (a note on sampler memory errors when trainer and sampler
share GPUs). The library pages on kernels, profiling and performance of the development sets speak the field at
under 1 word per 100 and talk of no trouble. A page that barely speaks the field
(under FIRM_DOMAIN_PER_100_WORDS), names fewer than three concepts and hardly talks of trouble is not settled by
its words: a prompting guide for a model trained with RL speaks of rewards and episodes and names format errors
once, and is judged by meaning instead (0.48 with the RL-specific definitions; turned away). Nor do three named
concepts settle a page that neither speaks the field (under MIN_DOMAIN_PER_100_WORDS) nor talks of trouble: an
RL project's report on a base model's pass@k names truncated outputs, a pass@k evaluation and a verifier at 1.1
field words per 100, and is judged by meaning (turned away); no RL document of fifteen sets passed that way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..models import Document
from ..text import word_count
from .aliases import AliasHit, AliasIndex
from .clean import ClaimSentence
from .cues import Cues
from .mentions import is_table_row

MIN_DOMAIN_PER_100_WORDS = 1.5
MIN_CONCEPTS_ALONE = 3
# Naming three concepts passes a document only if it speaks a little of the field too (per 100 words): on the
# development sets, RL documents that pass by names sit at 0.52 or more, while posts on machine learning at
# large that name "overfitting", "forgetting" or "calibration" three times over sit at 0.0-0.11, and an
# evaluation write-up naming seven concepts in passing (decontamination, greedy decoding) at 0.33. Raising the
# bar from 0.3 to 0.5 changed no recall on twenty-two sets.
MIN_DOMAIN_WITH_NAMES = 0.5
MIN_TROUBLESHOOTING_CONCEPTS = 4
MIN_PROBLEM_SENTENCES = 3   # claims or headings with a word of trouble ("drift", "issue") that make a page about it
# How often (per 1000 words) a document says the field's own words before it speaks the field at all: on 21
# sets, the unrelated documents that say one at all say it at most 2.0 times per 1000 words, in its everyday
# sense ("advantages", "episode", "preferences", "trajectory"); RL documents at least 2.8 times (a guide to
# memory errors in RL training, mostly about devices and batch sizes).
MIN_OWN_WORDS_PER_1000 = 2.5
# How often (per 1000 words) a page about training language models says words of what they read and write
# (`language_terms`): on seventeen sets the RL pages say them 8 or more times, while a robot's reward design guide,
# which speaks of rewards, penalties and reward hacking throughout, says one in 1,400 words. Only a page long
# enough for the absence to mean something is judged by it.
MIN_LANGUAGE_PER_1000 = 2.0
LANGUAGE_SAMPLE_WORDS = 200
# A page must say another kind of model's words (`other_model_terms`) this often, and more often than the language
# words, to be about that kind: on realdev and twelve outside sets RL pages say them at most 5 times (a robot in an
# example, sparse autoencoders in a survey), while a GAN tips page says 18 against 11 language words (its generator
# among them), a VAE training guide 49 against 15 and speech pages 19-44.
MIN_OTHER_MODEL_WORDS = 10
FIRM_DOMAIN_PER_100_WORDS = 3.0   # below it, a page that names a concept or two in passing gets the second look
MIN_DOMAIN_FOR_SECOND_LOOK = 1.0   # the field's words per 100 a page judged by meaning needs when it names no failure
PROJECT_KINDS = ("episode", "topic")
MIN_TOPIC_SIMILARITY = 0.6   # cosine of a document's mean claim vector with the taxonomy's mean definition
MIN_TENTATIVE_SIMILARITY = 0.5   # with the RL-specific definitions, for a document that names only a fix or two
TOPIC_SAMPLE_CLAIMS = 60     # claims read for it, from the top of the document
_WORD = re.compile(r"[a-z][a-z-]*")
_CODE_OR_TARGET = re.compile(r"`[^`]*`|\]\([^)]*\)")


@dataclass(frozen=True)
class Relevance:
    """How much a document speaks about RL training, and the verdict."""

    domain_per_100_words: float
    concepts_named: int
    on_topic: bool
    topic_similarity: float | None = None
    tentative: bool = False   # speaks the field but names only a fix or two: on topic only if its meaning agrees
    names_failure: bool = False   # names an RL-specific failure mode (a weak word counts beside its fix)
    talks_of_trouble: bool = False   # MIN_PROBLEM_SENTENCES claims or headings hold a word of trouble
    own_words: bool = True   # says words of the field that machine learning at large does not ("reward", "policy")
    trains: bool = True   # speaks of training (`training_terms`) or names an RL failure outright in a sentence
    of_language_models: bool = True   # says words of what language models read and write (MIN_LANGUAGE_PER_1000)


def judge_relevance(doc: Document, claim_hits: list[list[AliasHit]], claims: list[ClaimSentence], cues: Cues,
                    index: AliasIndex, general: frozenset[str] = frozenset(),
                    related: Mapping[str, frozenset[str]] | None = None) -> Relevance:
    """Score a document's domain vocabulary density and the distinct concepts it names by strong alias, in
    its claims (`claim_hits`, the index's hits in each claim), its headings and its table rows (a short docs
    page may say what it is about only in its title, a reading list only in its tables). Concepts in
    `general` (machine-learning practice at large, such as memory or numerics) do not count on their own: a
    quantization post names them too. Beside an RL-specific concept they do: a page that speaks the field and
    names out-of-memory errors and one RL fix is about a failure. So is a page that names a fix outright and
    the failure that fix addresses (`related`, from the taxonomy) in a weak word ("truncated importance
    sampling" beside "mismatch")."""
    headings = [b.text for b in doc.blocks if b.kind == "heading" or is_table_row(b)]
    text = " ".join([*(c.sentence.text for c in claims), *headings])
    words = max(1, word_count(text))
    # the words the field shares with machine learning at large ("fine-tuning", "gradient") count only beside
    # one of its own: a supervised fine-tuning report that says them throughout does not speak the field
    # ... and its own words said once or twice in a long page are as likely their everyday senses ("the
    # advantages of this method", "the next episode of a series")
    titled_text = f"{doc.meta.title or ''} {text}"
    own_words = _often(cues.patterns.specific, titled_text, words)
    domain = 100.0 * len(cues.patterns.domain.findall(text)) / words if own_words else 0.0
    titled = bool(cues.patterns.title.search(doc.meta.title or ""))
    heading_hits = [index.find(heading) for heading in headings]
    hits = [h for found in claim_hits for h in found] + [h for found in heading_hits for h in found]
    # a failure named where the writer also speaks the field ("rollouts hit CUDA out of memory when the sampler ...")
    said_in_field = {h.concept_id for text, found in zip([*(c.sentence.text for c in claims), *headings],
                                                       [*claim_hits, *heading_hits])
                     if cues.patterns.domain.search(text) for h in found if not h.weak}
    named_any = {h.concept_id for h in hits if not h.weak}
    named = named_any - general
    speaks_field = domain >= MIN_DOMAIN_PER_100_WORDS or titled
    specific_failure = any(concept_id.startswith("fm:") for concept_id in named)
    # an RL failure named in a weak word beside the fix the taxonomy says addresses it
    specific_failure = specific_failure or bool(_vouched_failures(hits, named, related or {}))
    # a general failure (memory, numerics) counts once the page names something specific to RL training
    names_failure = specific_failure or any(concept_id.startswith("fm:") for concept_id in (named_any if named else ()))
    names_enough = len(named) >= MIN_CONCEPTS_ALONE and (domain >= MIN_DOMAIN_WITH_NAMES or titled)
    titles = [b.text for b in doc.blocks if b.kind == "heading"]
    talks_of_trouble = problem_sentences([c.sentence.text for c in claims] + titles, cues) >= MIN_PROBLEM_SENTENCES
    # a page barely in the field's words that names a failure and a fix in passing, and hardly talks of trouble,
    # is about something next to it (a prompting guide for a model trained with RL): its meaning decides
    in_passing = (domain < FIRM_DOMAIN_PER_100_WORDS and not titled and len(named) < MIN_CONCEPTS_ALONE
                  and not talks_of_trouble)
    # a page whose title names a failure, general ones included ("Handling OOM issues"), in the field's words
    titled_failure = domain >= MIN_DOMAIN_WITH_NAMES and _names_failure_in(doc.meta.title or "", index)
    # a page in the field's words that keeps talking of trouble about a failure it names, a general one included,
    # where it also speaks the field (a note on rollout memory errors when trainer and sampler share GPUs; not an
    # RLHF toolkit's install guide whose troubleshooting says "CUDA out of memory")
    troubled_failure = (speaks_field and talks_of_trouble
                        and any(c.startswith("fm:") for c in named_any & said_in_field))
    # three names and a failure settle a page that talks of trouble (one that speaks the field is settled by the
    # next clause); one that does neither (a base model's pass@k report in an RL project) is judged by its meaning
    sure = (bool(doc.meta.failure_modes) or (names_enough and names_failure and talks_of_trouble)
            or (speaks_field and names_failure and not in_passing) or titled_failure or troubled_failure
            or (doc.kind in PROJECT_KINDS and len(named) >= 1))
    # the field's words or several of its methods, but no failure: a library page listing trainers is as likely.
    # Several names with a failure among them but few of the field's words and no trouble are not tentative:
    # they face the full test by meaning (a summary of a language-model paper names memorization, scaling and
    # task breadth in words the field shares)
    tentative = not sure and (speaks_field or (names_enough and not names_failure)) and len(named) >= 1
    troubled = tentative and talks_of_trouble
    # an RL library's troubleshooting page: a few of the field's words, an RL-specific failure among several
    # named concepts (memory and numerics count here), and talk of trouble
    troubleshooting = (not sure and talks_of_trouble and specific_failure
                       and len(named_any) >= MIN_TROUBLESHOOTING_CONCEPTS and domain >= MIN_DOMAIN_WITH_NAMES)
    # a page that neither speaks of training a model nor names an RL failure outright in a sentence is not about RL
    # training, however much it says of rewards and trajectories: an agent benchmark's guide to how it scores
    # episodes names reward shaping, a refusal that earns full reward and, in a table, a check by substring match
    # (a verifier's false positives), and trains nothing
    said_failure = any(not h.weak and h.concept_id.startswith("fm:") and h.concept_id not in general
                       for found in claim_hits for h in found)
    page = f"{doc.meta.title or ''} {doc.text}"   # the whole page, code and tables included
    trains = bool(doc.meta.failure_modes) or said_failure or bool(cues.patterns.training.search(page))
    # RL on something other than language models (a robot, a game) speaks the field's words as much
    page_words = word_count(page)
    language_words = len(cues.patterns.language.findall(page))
    # ... and so does one that says more of another kind of model (adversarial networks, speech) than of language
    other_words = len(cues.patterns.other_models.findall(page))
    of_language_models = (bool(doc.meta.failure_modes) or doc.kind in PROJECT_KINDS
                          or (page_words < LANGUAGE_SAMPLE_WORDS
                              or 1000.0 * language_words / page_words >= MIN_LANGUAGE_PER_1000)
                          and not (other_words >= MIN_OTHER_MODEL_WORDS and other_words > language_words))
    on_topic = (sure or troubled or troubleshooting) and trains and of_language_models
    return Relevance(round(domain, 2), len(named), on_topic, tentative=tentative and not troubled,
                     names_failure=specific_failure, talks_of_trouble=talks_of_trouble, own_words=own_words,
                     trains=trains, of_language_models=of_language_models)


def _often(pattern: re.Pattern[str], text: str, words: int) -> bool:
    """Whether `pattern` matches in `text` (of `words` words) at least MIN_OWN_WORDS_PER_1000 times per 1000 words."""
    return 1000.0 * len(pattern.findall(text)) / words >= MIN_OWN_WORDS_PER_1000


def _names_failure_in(title: str, index: AliasIndex) -> bool:
    """Whether a title names a failure mode by a strong alias."""
    return any(not h.weak and h.concept_id.startswith("fm:") for h in index.find(title))


def _vouched_failures(hits: list[AliasHit], named: set[str], related: Mapping[str, frozenset[str]]) -> set[str]:
    """RL-specific failures named only by a weak alias beside a fix, named outright, that addresses them."""
    return {h.concept_id for h in hits if h.weak and h.concept_id.startswith("fm:")
            and related.get(h.concept_id, frozenset()) & named}


def problem_sentences(texts: list[str], cues: Cues) -> int:
    """How many texts (claims, headings) hold a word that names trouble: a failure head ("drift", "collapse")
    or a failure label ("issue", "problem"). A library page about a feature has at most one; a troubleshooting
    page may say it mostly in its headings ("Problem: NaN loss")."""
    words = (cues.failure_heads | {label for label in cues.failure_labels if " " not in label}) - cues.not_trouble
    phrases = [label for label in cues.failure_labels if " " in label]   # "root cause", not any "root"

    def troubled(text: str) -> bool:
        return bool(words.intersection(_WORD.findall(text))) or any(p in text for p in phrases)

    # a neutral term holds no trouble ("explained variance", the logging service "Weights & Biases"), and nor does
    # a name in code or a link's target (`data_leakage_audit.json`)
    return sum(1 for text in map(str.lower, texts)
               if troubled(text) and troubled(cues.patterns.neutral_phrase.sub(" ", _CODE_OR_TARGET.sub(" ", text))))


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
    """Whether the vocabulary test turned a document away although it names a concept of the field. Meaning
    confirms a page that names the field's failures or fixes but makes none of one that names nothing: a page
    on routing requests between models by cost (0.64 by meaning, the field's words 1.4 times per 100) was tied
    only through weak words ("deterministic", "guardrail"), and of nine sets no RL page passed by meaning with
    nothing named. Nor does meaning rescue a page that hardly says the field's own words (`own_words`), however
    much it speaks of training: a guide to grading model outputs with a language-model judge names judge bias,
    length bias and jailbreaks throughout (0.63 by meaning) and says "policy" three times in 3,000 words, "reward"
    never; a post on distilling reasoning into a small model by supervised fine-tuning names forgetting and
    hallucination amid its trouble (0.60, nearer the RL-specific definitions) and says "reinforcement learning"
    once. Of twenty-five sets and realdev, every RL page but one FAQ says the field's own words, and 23 unrelated
    pages that do not reach up to 0.69 by meaning."""
    return (not relevance.on_topic and relevance.concepts_named >= 1 and relevance.trains
            and relevance.of_language_models and relevance.own_words)


def with_topic_similarity(relevance: Relevance, claims: list[ClaimSentence], centroids: TopicCentroids,
                          embed: Callable[[Sequence[str]], np.ndarray]) -> Relevance:
    """A document the vocabulary test turned away but that names a concept, judged again by meaning: on topic when
    the mean vector of its first claims is within MIN_TOPIC_SIMILARITY of the taxonomy's centroid and nearer its
    RL-specific definitions than its general ones; a document that already speaks the field on a fix or two
    (`tentative`) when it is within MIN_TENTATIVE_SIMILARITY of the RL-specific ones. A page judged by meaning that
    names no RL-specific failure must speak the field a little (MIN_DOMAIN_FOR_SECOND_LOOK): one naming a single
    fix in a word the field shares and hardly any of its vocabulary is about a neighbouring subject (a decoding
    method for reasoning reaches 0.63 by meaning). A page that names an RL-specific failure outright and keeps
    talking of trouble need not sit nearer the RL-specific definitions: a library's guide to checking that trainer
    and sampler agree on token probabilities talks of precision and kernels throughout, and sits nearer the general
    ones (0.72 against 0.63). `topic_similarity` records the cosine with the whole centroid."""
    if not needs_second_look(relevance) or not claims:
        return relevance
    mean = _unit(embed([c.sentence.text for c in claims[:TOPIC_SAMPLE_CLAIMS]]).mean(axis=0))
    similarity, specific = float(mean @ centroids.all), float(mean @ centroids.specific)
    on_topic = (specific >= MIN_TENTATIVE_SIMILARITY if relevance.tentative
                else similarity >= MIN_TOPIC_SIMILARITY
                and (relevance.names_failure and relevance.talks_of_trouble
                     or specific >= float(mean @ centroids.general)
                     and (relevance.names_failure or relevance.domain_per_100_words >= MIN_DOMAIN_FOR_SECOND_LOOK)))
    return replace(relevance, topic_similarity=round(similarity, 3), on_topic=on_topic)
