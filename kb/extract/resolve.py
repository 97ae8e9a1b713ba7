"""Resolve candidate mentions to concepts: classify each phrase, then make it an alias of the existing
concept it means (embedding similarity or a near-identical string) or, when it is confidently a failure mode
or fix that nothing in the taxonomy covers, a new concept; new concepts found in several documents merge.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..taxonomy import Concept
from ..text import normalize, slugify
from .aliases import tokens
from .classify import CLASSES, ConceptClassifier, feature_matrix
from .clean import plain
from .cues import Cues
from .mentions import Mention
from .names import (
    ACRONYM,
    abbreviates,
    alias_shaped,
    changed_setting,
    concept_vocabulary,
    content_stems,
    drops_direction,
    expand_acronyms,
    instructed_fix,
    is_neutral,
    labelled,
    labelled_name,
    names_a_concept,
    names_a_quantity,
    names_other_machinery,
    names_own_part,
    names_the_field,
    neutral_stems,
    opposite_direction,
    opposite_settings,
    shaped_kind,
    spelled_alike,
    squashed,
    stem_of,
    switches_off,
    tunes_a_setting,
    undoes_fix,
    without_imperative,
)

KIND_PREFIX = {"failure_mode": "fm", "mitigation": "mit"}
ALIAS_SIMILARITY = 0.68        # cosine at which a phrase means an existing concept
# A heading or lead term the writer labelled ("Issue 3: Hallucinated inputs") is surely the name of a failure or
# fix, so a lower cosine will do, for a sure match only ("Hallucinated inputs" is tool hallucination).
LABELLED_ALIAS_SIMILARITY = 0.6
AMBIGUOUS_WORD_OWNERS = 4      # a lone failure head held by this many concepts' names names none of them
WEAK_PREFIX_KEY = 3            # letters an open-ended weak alias is looked up by
SAME_MEANING = 0.90            # cosine at which the classifier's doubt no longer matters ...
IDENTICAL_NAME = 0.99          # cosine of a phrase that is a concept's name, however cased or inflected
SAME_MEANING_MIN_PROBABILITY = 0.1   # ... unless it is sure of the other kind ("length normalization" as the fix)
PART_OF_NAME_SIMILARITY = 0.55 # a phrase whose words all stand in an existing name ("Stop sequence") is that concept
ALIAS_MIN_PROBABILITY = 0.35   # the phrase must plausibly be of the concept's kind
CONFIDENT_PROBABILITY = 0.5    # ... and likely of it, for the alias to link other sentences
NEW_MIN_PROBABILITY = 0.85     # a new concept needs a confident classifier ...
LABELLED_MIN_PROBABILITY = 0.7   # ... and a labelled name must read as its label's kind without the label too
# ... and a place where writers name things; a list item's lead term founds none (read samples: one in seven real),
# nor does an emphasized phrase: writers stress a tip or a method they only list ("**Batch shuffling**" in a
# one-line tip); a blind read of thirteen new concepts found one of six founded by emphasis real, against four of
# seven founded elsewhere, and no gold concept of nineteen sets depended on them. Emphasis still names known ones.
# Nor does a noun phrase however often its document uses it, unless one of its document's headings holds it
# (`headed_phrase`): the three such of the last seven new concepts were all borderline when read blind (a method
# an abstract in a reading list names, a schedule that did not fix the run it was tried on, a benchmark's oracle),
# against four real of four founded by headings, and no gold concept of twenty sets depended on them.
NEW_ORIGINS = ("heading", "definition", "remedy", "cue")
# A failure is founded only where a writer names it as such: a heading, a definition or a labelled lead term.
# Writers describe failures in phrases coined on the spot, so not even a cued phrase founds one: of the new
# failures founded from emphasis, cue phrases and terms used two to four times on six sets, a blind judge found
# none of seven a failure mode of the field ("Insurmountable prior bias", "Single-goal exploitation").
FAILURE_ORIGINS = ("heading", "definition")
NEW_MERGE_SIMILARITY = 0.86
# A new name must stand near some name of the field's failures and fixes: one unlike all of them is most often
# a project's own bug or component ("Parameter name mismatches", "Transition aggregation"). A heading nearer
# machine-learning practice at large (`general` concepts: memory, GPUs, numerics) than anything RL-specific
# is a troubleshooting entry for the machinery ("CUDA version mismatch", "Uneven GPU utilization").
NEW_MIN_FIELD_SIMILARITY = 0.5

HINT_WEIGHT = 3.0
SECTION_WEIGHT = 2.0
_SECTION_WORDS = re.compile(r"[a-z]+(?:'t)?")


@dataclass(frozen=True)
class Resolution:
    """A mention resolved to a concept: `alias` of an existing one or `new`, with the probability of its kind."""

    mention: Mention
    concept_id: str
    kind: str
    how: str
    probability: float
    similarity: float
    confident: bool = True


@dataclass(frozen=True)
class ConceptVectors:
    """Vectors of every concept name (label and strong aliases) with the concept each belongs to."""

    names: list[str]
    owners: list[str]
    matrix: np.ndarray
    open_ended: tuple[tuple[str, str], ...] = ()   # (open-ended alias without its "*", normalized; owner)
    weak: tuple[tuple[str, str], ...] = ()         # (weak alias, normalized; owner)
    weak_open_ended: tuple[tuple[str, str], ...] = ()   # (open-ended weak alias without its "*", normalized; owner)

    @cached_property
    def _open_by_first_word(self) -> dict[str, list[tuple[str, str]]]:
        by_word: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for prefix, owner in self.open_ended:
            by_word[prefix.split()[0]].append((prefix, owner))
        return by_word

    @cached_property
    def _by_squashed(self) -> dict[str, str]:
        return {squashed(name): owner for name, owner in zip(self.names, self.owners) if len(squashed(name)) >= 4}

    def heading_word_added(self, phrase: str, cues: Cues) -> str | None:
        """The concept one of whose names `phrase` is with a head word of its kind added ("ICE-POP filtering" for
        "IcePop", "Clip-Higher trick"): the writer named the known method and said what kind of thing it is."""
        words = normalize(phrase).split()
        owner = self._by_squashed.get(squashed(" ".join(words[:-1]))) if len(words) >= 2 else None
        heads = cues.mitigation_heads if owner and owner.startswith("mit:") else cues.failure_heads
        return owner if owner and words[-1] in heads else None   # "Reward hacking penalty" is no hacking

    def qualified_by_method(self, phrase: str, cues: Cues) -> str | None:
        """The concept whose name `phrase` is once the acronyms of the field's methods that open it are dropped
        ("PPO-adaptive KL penalty" is "adaptive KL penalty", "GRPO length bias" is "length bias"): the writer
        said in which method's setting the known concept appears."""
        words = re.split(r"[\s-]+", phrase.strip())
        methods = neutral_stems(cues.neutral_terms)[1]
        dropped = 0
        while dropped < len(words) - 1 and ACRONYM.fullmatch(words[dropped]) and stem_of(words[dropped]) in methods:
            dropped += 1
        return self._by_squashed.get(squashed(" ".join(words[dropped:]))) if dropped else None

    def nearest_name_similarity(self, owner: str, sims: np.ndarray) -> float:
        """The similarity (from `sims`, one per name) of the concept's name nearest the phrase."""
        rows = self._rows_by_owner.get(owner)
        return float(sims[rows].max()) if rows is not None else 1.0

    @cached_property
    def _rows_by_owner(self) -> dict[str, np.ndarray]:
        rows: dict[str, list[int]] = defaultdict(list)
        for j, owner in enumerate(self.owners):
            rows[owner].append(j)
        return {owner: np.array(js) for owner, js in rows.items()}

    @cached_property
    def _weak_owners(self) -> dict[str, set[str]]:
        owners: dict[str, set[str]] = defaultdict(set)
        for name, owner in self.weak:
            owners[name].add(owner)
        return owners

    @cached_property
    def _weak_open_by_start(self) -> dict[str, list[tuple[str, str]]]:
        # an open-ended weak alias can only be spelled out by a phrase that starts with its first letters
        by_start: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for prefix, owner in self.weak_open_ended:
            by_start[prefix[:WEAK_PREFIX_KEY] if len(prefix) >= WEAK_PREFIX_KEY else ""].append((prefix, owner))
        return by_start

    @cached_property
    def _owners_by_word(self) -> dict[str, set[str]]:
        by_word: dict[str, set[str]] = defaultdict(set)
        for name, owner in zip(self.names, self.owners):
            for word in _WORD.findall(name.lower()):
                by_word[word.removesuffix("s")].add(owner)
        return by_word

    def owners_naming(self, word: str) -> set[str]:
        """The concepts one of whose names holds `word` (lower case, without a plural "s")."""
        return self._owners_by_word.get(word, set())

    def weakly_named(self, phrase: str) -> str | None:
        """The one concept that `phrase`, normalized, is a weak alias of ("gradient clipping"). A weak alias needs
        support to tie a sentence, where it may stand inside other words; a phrase that is that alias whole names
        its concept, however close it embeds to another's name ("gradient-preserving clipping")."""
        owners = set(self._weak_owners.get(phrase, set()))
        candidates = self._weak_open_by_start.get(phrase[:WEAK_PREFIX_KEY], []) + self._weak_open_by_start.get("", [])
        owners |= {owner for prefix, owner in candidates if _spells_out(phrase, prefix)}   # "hallucinat*"
        return next(iter(owners)) if len(owners) == 1 else None

    def completing(self, phrase: str) -> str | None:
        """The concept with an open-ended alias ("numerical instabilit*") that `phrase`, normalized, spells out
        whole: the alias with its last word completed. A word cut short embeds as something else, so an
        alias's open ending is matched here, by its letters."""
        words = phrase.split()
        for prefix, owner in self._open_by_first_word.get(words[0] if words else "", ()):
            if _spells_out(phrase, prefix):
                return owner
        return None

    @cached_property
    def _by_owner(self) -> dict[str, list[str]]:
        return {owner: [self.names[j] for j in rows] for owner, rows in self._rows_by_owner.items()}

    def names_of(self, owner: str) -> list[str]:
        """Every name of one concept."""
        return self._by_owner.get(owner, [])


# Endings that complete a stem into an inflection of the same word ("explo" + "sion", not + "ration").
_ENDING = re.compile(r"e|es|s|ed|ing|ion|ions|ation|ations|ization|zation|ity|ities|y|ies|cy|ce|t|ment|ments|ness"
                     r"|sion|sions|ze|zes|zed|ive")


def _word_completer(concepts: list[Concept]):
    """A function giving a concept's open-ended alias ("KL regulari*") as words the model knows ("KL
    regularization"): its last stem completed to the word beginning with it that the concept's own text uses
    most, else the rest of the taxonomy's; a truncated word embeds as noise, and a phrase of the document would
    then miss the concept it names."""
    def counts_of(group: list[Concept]) -> Counter:
        return Counter(w for c in group for text in (c.label, c.description, *c.aliases, *c.weak_aliases)
                       if not text.endswith("*") for w in _WORD.findall(text.lower()))

    everywhere = counts_of(concepts)
    own: dict[str, Counter] = {}

    def complete(alias: str, concept: Concept) -> str:
        text = alias.strip().rstrip("*")
        stem = _WORD.findall(text)[-1].lower() if _WORD.search(text) else ""
        if not alias.strip().endswith("*") or not stem or stem in everywhere or not text.lower().endswith(stem):
            return text
        if concept.id not in own:
            own[concept.id] = counts_of([concept])
        for counts in (own[concept.id], everywhere):
            found = sorted((w for w in counts if w.startswith(stem) and _ENDING.fullmatch(w[len(stem):])),
                           key=lambda w: (-counts[w], len(w), w))
            if found:
                return text[:len(text) - len(stem)] + found[0]
        return text

    return complete


def concept_vectors(concepts: list[Concept], embed) -> ConceptVectors:
    """Embed each concept's label and strong aliases."""
    names, owners = [], []
    complete = _word_completer(concepts)
    for c in concepts:
        # in the taxonomy's order, not a set's: a name two concepts share must break ties alike in every process
        for name in dict.fromkeys([c.label.split(" (")[0], *(complete(a, c) for a in c.aliases)]):
            if name.strip():
                names.append(name)
                owners.append(c.id)
    open_ended = tuple((normalize(a.rstrip("*")), c.id) for c in concepts for a in c.aliases
                       if a.strip().endswith("*") and a.strip("* "))
    weak = tuple((normalize(a), c.id) for c in concepts for a in c.weak_aliases
                 if a.strip("* ") and not a.strip().endswith("*"))
    weak_open_ended = tuple((normalize(a.rstrip("*")), c.id) for c in concepts for a in c.weak_aliases
                            if a.strip().endswith("*") and a.strip("* "))
    # a name two concepts share is embedded once: vectors of one text embedded in different batches differ in
    # the last bits, and which owner a tie went to would then depend on the batch, not on the taxonomy's order
    unique = list(dict.fromkeys(names))
    row = {name: i for i, name in enumerate(unique)}
    matrix = embed(unique)[[row[name] for name in names]] if names else np.zeros((0, 384), dtype=np.float32)
    return ConceptVectors(names, owners, matrix, open_ended, weak, weak_open_ended)


def _spells_out(phrase: str, prefix: str) -> bool:
    """Whether normalized `phrase` is an open-ended alias's `prefix` with its last word completed."""
    return phrase.startswith(prefix) and " " not in phrase[len(prefix):]


_METRIC_KEY = re.compile(r"[\w.-]+(?:/[\w.-]+)+")   # "objective/entropy": a metric's logged name
_WORD = re.compile(r"[^\W_]+")


def _section_weights(section: str, cues: Cues) -> np.ndarray:
    """Multipliers from the words of the section heading ("Fixes", "Known issues", "What went wrong")."""
    weights = np.ones(len(CLASSES), dtype=np.float32)
    labels = section_labels(section, cues)
    for kind in ("failure_mode", "mitigation"):
        if kind in labels:
            weights[CLASSES.index(kind)] *= SECTION_WEIGHT
    return weights


def section_labels(section: str, cues: Cues) -> set[str]:
    """The kinds a section heading announces by a label in it, one to three words long and singular or plural
    ("Pitfalls", "Root causes", "What didn't work" for failures; "Fixes", "What worked" for fixes)."""
    words = _SECTION_WORDS.findall(section.lower())
    found = set()
    for size in (1, 2, 3):
        for i in range(len(words) - size + 1):
            *first, last = words[i:i + size]
            for singular in {last, last.removesuffix("s"), last.removesuffix("es")}:
                phrase = " ".join([*first, singular])
                if cues.patterns.failure_label.match(phrase):
                    found.add("failure_mode")
                if cues.patterns.mitigation_label.match(phrase):
                    found.add("mitigation")
    return found


def _in_context(probabilities: np.ndarray, mention: Mention, section_weights: np.ndarray) -> np.ndarray:
    p = probabilities * section_weights
    if mention.hint:
        p[CLASSES.index(mention.hint)] *= HINT_WEIGHT
    return p / p.sum()


def founding_place(mention: Mention, kind: str, cues: Cues, headed: bool = False) -> bool:
    """Whether a mention stands where writers name things, so it may found a concept: for a fix, a heading,
    definition or labelled lead term, a phrase one of its document's headings also holds (`headed`: "penalty
    annealing" under "Penalty annealing strategy"), or a remedy or cued phrase, unless it ends in a reward
    term's head ("prose leakage penalty"): outside a heading or definition such a phrase was most often the
    project's own reward term (judged blind: the new fixes so named were "Multiplicative penalty", "Natural
    language penalty", "NL penalty", none real). A failure is founded only by a heading, a definition or a
    labelled lead term."""
    if kind == "failure_mode":
        return mention.origin in FAILURE_ORIGINS or labelled(mention, kind)
    if mention.origin in ("heading", "definition") or labelled(mention, kind):
        return True
    own_term = normalize(mention.phrase).split()[-1] in cues.reward_term_heads
    return (mention.origin in NEW_ORIGINS or headed) and not own_term


def headed_phrase(mention: Mention, headings: Sequence[str]) -> bool:
    """Whether a phrase of two words or more, said outside a heading, is also written in one of its document's
    (normalized) `headings`, whole words: the writer named it there with a word or two around it."""
    phrase = normalize(mention.phrase)
    if mention.origin == "heading" or len(phrase.split()) < 2:
        return False
    pattern = re.compile(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])")
    return any(pattern.search(h) for h in headings)


def _kind_of(concept_id: str) -> str:
    return "mitigation" if concept_id.startswith("mit:") else "failure_mode"


def resolve_mentions(mentions: list[Mention], concepts: list[Concept], classifier: ConceptClassifier, embed,
                     cues: Cues, acronyms: dict[str, str] | None = None) -> tuple[list[Resolution], list[Concept]]:
    """Resolutions of the mentions that name a concept, and the new concepts they introduce; `acronyms` are
    the documents' own definitions (`defined_acronyms`), used to spell a phrase's acronyms out."""
    if not mentions:
        return [], []
    mentions = [without_imperative(m, cues) for m in mentions]
    headings: dict[str, list[str]] = defaultdict(list)
    for m in mentions:
        if m.origin == "heading":
            headings[m.doc_id].append(normalize(m.phrase))
    instructed = {id(m): found for m in mentions if (found := instructed_fix(m, cues)) is not None}
    phrases = sorted({m.phrase for m in mentions} | {m.phrase for m in instructed.values()})
    vectors = embed(phrases)
    row = {p: i for i, p in enumerate(phrases)}
    base = classifier.probabilities(feature_matrix(phrases, vectors, cues))
    known = concept_vectors(concepts, embed)
    vocabulary = concept_vocabulary(concepts, cues)
    name_stems = NameStems.of(known.names, cues)
    sims = vectors @ known.matrix.T if len(known.names) else np.zeros((len(phrases), 0))
    for i, spelled in _spelled_out_similarities(phrases, known, acronyms or {}, embed).items():
        np.maximum(sims[i], spelled, out=sims[i])   # in place: the matrix is this call's own and large
    general = {c.id for c in concepts if c.general}
    general_names = np.array([owner in general for owner in known.owners], dtype=bool)
    resolutions: list[Resolution] = []
    new_candidates: list[tuple[Mention, str, float]] = []
    weights = {section: _section_weights(section, cues) for section in {m.section for m in mentions}}
    shaped = {phrase: alias_shaped(phrase, cues) for phrase in phrases}

    def existing(mention: Mention) -> Resolution | None:
        """The mention as another name of an existing concept: by its own words (a labelled heading or lead
        term at a lower cosine, surely), or, for an instruction, by the words after its verb (surely)."""
        i = row[mention.phrase]
        p = _in_context(base[i], mention, weights[mention.section])
        match = None
        if shaped[mention.phrase]:
            match = (_existing_match(mention.phrase, sims[i], known, p, vocabulary, cues)
                     or _part_of_name(mention.phrase, sims[i], known, name_stems, p, cues))
            if match is None and mention.hint is not None and mention.origin in ("heading", "lead"):
                match = _existing_match(mention.phrase, sims[i], known, p, vocabulary, cues,
                                        LABELLED_ALIAS_SIMILARITY)
                match = match if match is not None and match[2] else None
        if match is not None and mention.origin == "item" and not match[2]:
            match = None   # a bare list item is often an outcome ("Rewards flat"): only a sure match names a concept
        if match is None and id(mention) in instructed:
            told, mention = mention, instructed[id(mention)]
            i = row[mention.phrase]
            p = _in_context(base[i], mention, weights[mention.section])
            match = _existing_match(mention.phrase, sims[i], known, p, vocabulary, cues)
            if match is None or not match[2] or _kind_of(match[0]) != "mitigation" \
                    or opposite_direction(told.phrase, known.names_of(match[0])[:1], cues) \
                    or (told.origin == "item" and not _item_names(mention.phrase, match, vocabulary)):
                return None   # "Increase beta for more KL regularization" is no "Weaker KL penalty", by its label
        if match is None:
            return None
        concept_id, similarity, confident = match
        kind = _kind_of(concept_id)
        return Resolution(mention, concept_id, kind, "alias", float(p[CLASSES.index(kind)]), similarity, confident)

    for mention in mentions:
        found = existing(mention)
        if found is not None and (found.confident or not labelled(mention, found.kind)):
            resolutions.append(found)
            continue
        # A name the writer labelled ("Failure mode 1: Search exhaustion without retrieval") that only comes near
        # a known concept in meaning names no known one surely, and may found its own below.
        i = row[mention.phrase]
        p = _in_context(base[i], mention, weights[mention.section])
        kind = shaped_kind(mention.phrase, CLASSES[int(np.argmax(p))], cues)
        if kind == "other" or p.max() < NEW_MIN_PROBABILITY:
            continue   # a new concept needs a confident classifier
        named = (names_a_concept(mention.phrase, kind, cues)
                 or (labelled(mention, kind) and labelled_name(mention.phrase, cues)
                     and base[i][CLASSES.index(kind)] >= LABELLED_MIN_PROBABILITY)) \
            and not tunes_a_setting(mention.phrase, cues) and not names_own_part(mention.phrase, cues)
        headed = named and kind == "mitigation" and headed_phrase(mention, headings.get(mention.doc_id, ()))
        if named and founding_place(mention, kind, cues, headed) and _near_field(sims[i], general_names, mention, headed):
            new_candidates.append((mention, kind, float(p.max())))
    new_resolutions, new_concepts = _new_concepts(new_candidates, vectors, row, cues)
    return [*resolutions, *new_resolutions], new_concepts


def told_in_text(new_concepts: list[Concept], resolutions: list[Resolution],
                 claims: Mapping[str, Sequence[str]], cues: Cues) -> tuple[list[Concept], list[Resolution]]:
    """New concepts without those only a heading founds whose words no sentence of its document holds together
    ("Rollback procedure" over the steps of a recovery, "End-to-end validation" over a checklist): a section
    title names what the section does, while a concept's name comes back in the text ("Stale group skipping"
    over "a group that went stale is skipped"). A heading the writer labelled as a failure or fix ("Failure mode
    1: ...") names one whether or not the text repeats its words. `claims` are each document's claim sentences."""
    stems: dict[str, list[frozenset[str]]] = {}   # only documents with a heading to check: a rebuild reads few

    def told(r: Resolution) -> bool:
        if r.mention.origin != "heading" or labelled(r.mention, r.kind):
            return True
        doc_id = r.mention.doc_id
        if doc_id not in stems:
            stems[doc_id] = [content_stems(text, cues) for text in claims.get(doc_id, ())]
        words = content_stems(r.mention.phrase, cues)
        # a longer name may come back in other grammar ("Padding tokens rewarded as text" is told as "the reward
        # counted padding tokens as text"): one of three or more words may be missing
        needed = len(words) - (1 if len(words) >= 3 else 0)
        return bool(words) and any(len(words & sentence) >= needed for sentence in stems[doc_id])

    kept = {r.concept_id for r in resolutions if r.how == "new" and told(r)}
    founded = {c.id for c in new_concepts}
    return ([c for c in new_concepts if c.id in kept],
            [r for r in resolutions if r.concept_id not in founded or r.concept_id in kept])


def _spelled_out_similarities(phrases: list[str], known: ConceptVectors, expansions: dict[str, str],
                              embed) -> dict[int, np.ndarray]:
    """Similarities to the known names of each phrase (by index) that holds an acronym the documents define,
    with it spelled out; a phrase's similarity is the better of as written and spelled out, so "Full IS
    correction" meets "importance sampling correction"."""
    spelled = {i: expand_acronyms(p, expansions) for i, p in enumerate(phrases)}
    changed = [i for i, text in spelled.items() if text != phrases[i]]
    if not changed or not len(known.names):
        return {}
    return dict(zip(changed, embed([spelled[i] for i in changed]) @ known.matrix.T))


def _near_field(sims: np.ndarray, general_names: np.ndarray, mention: Mention, headed: bool = False) -> bool:
    """Whether a phrase that would found a concept stands near the field (see NEW_MIN_FIELD_SIMILARITY): `sims`
    are its cosines with every concept name, `general_names` marks the names of general concepts. A heading, or
    a phrase a heading holds (`headed`), must also stand nearer an RL-specific name than a general one."""
    if not len(sims):
        return True
    if float(sims.max()) < NEW_MIN_FIELD_SIMILARITY:
        return False
    if (mention.origin != "heading" and not headed) or general_names.all() or not general_names.any():
        return True
    return float(sims[~general_names].max()) >= float(sims[general_names].max())


def _existing_match(phrase: str, sims: np.ndarray, known: ConceptVectors, p: np.ndarray,
                    vocabulary: dict[str, set[str]], cues: Cues,
                    threshold: float = ALIAS_SIMILARITY) -> tuple[str, float, bool] | None:
    """The existing concept a phrase names, its similarity, and whether the match is confident: near-identical
    meaning, close meaning of a plausible kind with a content word in common, or the same name spelled
    differently. A close meaning of a plausible kind without a shared word still ties the mention where it
    stands, but is not confident enough to link other sentences. A phrase that is whole a weak alias of one
    concept names that concept, not another it embeds near ("gradient clipping" is not "gradient-preserving
    clipping", "outcome reward" is no credit-assignment failure), as confidently as it matched the other. A lone
    word does so whatever kind the classifier reads in it ("Truncation" is truncated generations, not a probe)."""
    match = _nearest_match(phrase, sims, known, p, vocabulary, cues, threshold)
    weakly = known.weakly_named(normalize(phrase))
    # the classifier cannot tell the kind of a lone word ("Truncation" reads as a fix to it)
    lone = len(_WORD.findall(phrase.lower())) == 1
    if match is not None and weakly is not None and match[0] != weakly \
            and (lone or p[CLASSES.index(_kind_of(weakly))] >= ALIAS_MIN_PROBABILITY):
        return weakly, known.nearest_name_similarity(weakly, sims), match[2]
    return match


def _item_names(phrase: str, match: tuple[str, float, bool], vocabulary: dict[str, set[str]]) -> bool:
    """Whether the words after a list item's verb name the fix they matched: the same meaning, or their head
    word among the fix's own words. A list of instructions names one project's chores as often as fixes
    ("Use GRPO beside a reward model", "Add support for a reference copy"), so a shared modifier is not enough."""
    found = tokens(phrase)
    return match[1] >= SAME_MEANING or (bool(found) and found[-1].stem in vocabulary.get(match[0], set()))


def _names_alone(phrase: str, known: ConceptVectors, cues: Cues) -> bool:
    """Whether a phrase may name an existing concept by meaning: several words (a hyphenated compound counts its
    parts), or one that heads a failure's name ("Plateaus", "Loopholes"), names a phenomenon on its own
    ("Sycophancy") or is a weak alias ("Laziness"). A failure's head that the names of several concepts hold
    ("Variance": zero-variance groups, high-variance gradients, seed variance, noisy evaluation) says not which."""
    words = _WORD.findall(phrase.lower())
    if len(words) != 1:
        return True
    word = words[0]
    if word in cues.standalone_heads or known.weakly_named(word) is not None:
        return True
    heads = any(w in cues.failure_heads for w in (word, word.removesuffix("s")))
    return heads and len(known.owners_naming(word.removesuffix("s"))) < AMBIGUOUS_WORD_OWNERS


def _nearest_match(phrase: str, sims: np.ndarray, known: ConceptVectors, p: np.ndarray,
                   vocabulary: dict[str, set[str]], cues: Cues, threshold: float) -> tuple[str, float, bool] | None:
    """`_existing_match` by the concepts' names and meaning alone. A logged quantity ("rollout/reward") names
    nothing, and a lone word only by being a name or a failure's head: "Normalization" or "Behavior" embeds near
    some concept's name without saying which one."""
    if not len(known.names) or _METRIC_KEY.fullmatch(phrase.strip()):
        return None
    quantity = names_a_quantity(phrase, cues)
    if quantity or names_the_field(phrase, cues) or not _names_alone(phrase, known, cues):
        sims = np.where(sims >= IDENTICAL_NAME, sims, -1.0)
    top = np.argpartition(-sims, 4)[:5] if len(sims) > 5 else np.arange(len(sims))   # the five nearest, unsorted
    order = top[np.argsort(-sims[top])]
    norm = normalize(phrase)
    stems = content_stems(phrase, cues)
    head = tokens(phrase)[-1].stem if len(norm.split()) > 1 and tokens(phrase) else None
    # a word with digits in it is a version or a model's name ("Kimi K1.5"), not a word a name shares ("k1 estimator")
    words = {stem for stem in stems - {head} if not any(ch.isdigit() for ch in stem)}
    # "Explicit reward", "Continue training": with a head this generic, the word before it must be one of the near
    # name's own words; any name of the concept would do for a specific head, but forty names share most modifiers
    generic_head = len(norm.split()) > 1 and norm.split()[-1] in cues.generic_heads
    setting = changed_setting(phrase, cues)
    # a phrase shaped as a failure, or named as one ("Batch imbalance"; not "Per-token KL divergence", whose
    # head is a neutral term), is what a fix repairs, not the fix
    defect = shaped_kind(phrase, "mitigation", cues) == "failure_mode" or (
        names_a_concept(phrase, "failure_mode", cues) and not is_neutral(" ".join(norm.split()[-2:]), cues))
    completed = None if quantity else (known.completing(norm) or known.heading_word_added(phrase, cues)
                                       or known.qualified_by_method(phrase, cues))
    if completed is not None and p[CLASSES.index(_kind_of(completed))] >= ALIAS_MIN_PROBABILITY \
            and not opposite_direction(phrase, known.names_of(completed), cues):
        return completed, known.nearest_name_similarity(completed, sims), True
    off = switches_off(phrase, cues)
    for j in order:
        owner, similarity = known.owners[j], float(sims[j])
        if names_other_machinery(phrase, known.names_of(owner), cues) or \
                opposite_direction(phrase, known.names_of(owner), cues) or drops_direction(phrase, known.names[j], cues):
            continue   # however near: "Reward computation" is not "Slow reward computation", "Base model" no stronger one
        if _kind_of(owner) == "mitigation" and undoes_fix(phrase, known.names_of(owner), cues):
            continue   # "Disable reward scaling" undoes reward normalization
        if similarity < SAME_MEANING and not setting <= vocabulary.get(owner, set()):
            continue   # changing a setting is the fix that changes it: "Reduce concurrent rollouts" is not async rollouts
        if similarity < SAME_MEANING and defect and _kind_of(owner) == "mitigation":
            continue   # "Incomplete reward design" is what a fix repairs, not the fix ("Better reward design")
        kind_probability = p[CLASSES.index(_kind_of(owner))]
        plausible = kind_probability >= ALIAS_MIN_PROBABILITY
        # the shared word must say which one: "Purely sampling" shares only its head with "Dynamic sampling"
        said_by = content_stems(known.names[j], cues) if generic_head else vocabulary.get(owner, set())
        # switching off is a word in common with a fix that switches off too ("Disable reward scaling" and
        # "scale_rewards=false"), once the thing switched off is of its words as well
        off_shared = off and _kind_of(owner) == "mitigation" and head in said_by
        shared = ((bool(words & said_by) or off_shared) and (len(norm.split()) > 1 or len(norm) >= 8)
                  and kind_probability >= CONFIDENT_PROBABILITY)
        spelled = spelled_alike(norm, normalize(known.names[j])) and plausible
        same = similarity >= SAME_MEANING and kind_probability >= SAME_MEANING_MIN_PROBABILITY
        if same or (plausible and shared and similarity >= threshold) or spelled:
            return owner, similarity, True
        if plausible and similarity >= threshold:
            return owner, similarity, False
    return None


@dataclass(frozen=True)
class NameStems:
    """Which concept names (by index) hold each content stem."""

    holding: dict[str, set[int]]

    @classmethod
    def of(cls, names: list[str], cues: Cues) -> NameStems:
        holding: dict[str, set[int]] = defaultdict(set)
        for j, name in enumerate(names):
            for stem in content_stems(name, cues):
                holding[stem].add(j)
        return cls(dict(holding))

    def holding_all(self, stems: set[str]) -> set[int]:
        """Indices of the names that hold every one of `stems`."""
        return set.intersection(*(self.holding.get(s, set()) for s in stems)) if stems else set()


def _part_of_name(phrase: str, sims: np.ndarray, known: ConceptVectors, name_stems: NameStems, p: np.ndarray,
                  cues: Cues) -> tuple[str, float, bool] | None:
    """The existing concept one of whose names holds every content word of the phrase ("Loss instability" in
    "training instability", "Stop sequence" in "stop sequences and EOS handling") at a modest similarity: the
    phrase is a shortened name, not a new concept. It ties where it stands but does not link other sentences."""
    words = tokens(phrase)
    stems = content_stems(phrase, cues)
    if len(words) < 2 or words[-1].stem not in stems:    # "Average rewards" is not a kind of "weight averaging"
        return None   # and a lone word ("Deterministic") is no shortened "deterministic failure"
    best: tuple[str, float, bool] | None = None
    for j in sorted(name_stems.holding_all(stems)):
        similarity = float(sims[j])
        if (similarity >= PART_OF_NAME_SIMILARITY
                and not names_other_machinery(phrase, known.names_of(known.owners[j]), cues)
                and not drops_direction(phrase, known.names[j], cues)
                and not opposite_direction(phrase, known.names_of(known.owners[j]), cues)
                and p[CLASSES.index(_kind_of(known.owners[j]))] >= ALIAS_MIN_PROBABILITY
                and (best is None or similarity > best[1])):
            best = (known.owners[j], similarity, False)
    return best


def _same_concept(group: dict, phrase: str, vector: np.ndarray, cues: Cues) -> bool:
    """Whether a new phrase joins a group of new phrases: close in meaning, a spelling of its label or an
    abbreviation of it, or its label shortened or lengthened ("Advantage reweighting" and "Zero-cost advantage
    reweighting") at a modest similarity; and not the opposite setting."""
    label = group["label"]
    if opposite_settings(label, phrase, cues):
        return False
    similarity = float(group["vector"] @ vector)
    ours, theirs = content_stems(phrase, cues), content_stems(label, cues)
    nested = bool(ours) and bool(theirs) and (ours <= theirs or theirs <= ours)
    return (similarity >= NEW_MERGE_SIMILARITY or (nested and similarity >= PART_OF_NAME_SIMILARITY)
            or spelled_alike(normalize(label), normalize(phrase))
            or abbreviates(phrase, label) or abbreviates(label, phrase))


def _new_concepts(candidates: list[tuple[Mention, str, float]], vectors: np.ndarray,
                  row: dict[str, int], cues: Cues) -> tuple[list[Resolution], list[Concept]]:
    """Group confident new phrases of one kind by meaning; each group becomes one concept."""
    groups: list[dict] = []
    for mention, kind, probability in sorted(candidates, key=lambda c: (c[0].doc_id, c[0].start)):
        v = vectors[row[mention.phrase]]
        group = next((gr for gr in groups if gr["kind"] == kind and _same_concept(gr, mention.phrase, v, cues)), None)
        if group is None:
            group = {"kind": kind, "label": mention.phrase, "vector": v, "members": []}
            groups.append(group)
        group["members"].append((mention, probability, float(group["vector"] @ v)))
    resolutions, concepts = [], []
    used_ids: dict[str, int] = defaultdict(int)
    for group in groups:
        spelled_out = [m.phrase for m, _, _ in group["members"] if abbreviates(group["label"], m.phrase)]
        label = spelled_out[0] if spelled_out else group["label"]
        label = label[:1].upper() + label[1:]
        base_id = f"{KIND_PREFIX[group['kind']]}:{slugify(label, max_words=6)}"
        used_ids[base_id] += 1
        concept_id = base_id if used_ids[base_id] == 1 else f"{base_id}-{used_ids[base_id]}"
        first = group["members"][0][0]
        description = plain(first.sentence.text) if first.sentence else label
        aliases = sorted({m.phrase for m, _, _ in group["members"] if normalize(m.phrase) != normalize(label)})
        concepts.append(Concept(id=concept_id, label=label, description=description, aliases=aliases))
        for mention, probability, similarity in group["members"]:
            resolutions.append(Resolution(mention, concept_id, group["kind"], "new", probability, similarity))
    return resolutions, concepts
