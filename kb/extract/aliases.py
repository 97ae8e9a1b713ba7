"""Alias matching by stemmed word n-grams: one dictionary lookup per n-gram instead of one regex per concept.

Text and aliases are normalized the same way: case-folded, hyphens inside a word removed ("over-optimization"
-> "overoptimization", "Clip-Higher" -> "cliphigher"), split on anything else that is not a letter or digit,
and each word Snowball-stemmed, so "KL penalties" matches the alias "KL penalty". A hyphenated alias is also
registered split ("token-level loss" matches "token level loss"), and a short alias of words also joined
("KL penalty" matches "KL-penalty"). Stemming can over-reach ("monitorability" and "monitoring" share the
stem "monitor", "reinforcement" and "reinforce" too), so a matched word may differ from the alias word by at
most MAX_LENGTH_GAP characters, unless the alias ends in `*` ("memoriz*"), which asks for any word ending.

Writers put words inside a name ("annotators can often disagree" for "annotators disagree", "diverging too
far from a reference" for "diverges from the reference"), so a strong alias also matches by its other words
(two to four of them), with up to MAX_WORD_GAP inserted words (function words and hedges, `inserted_words`
in data/cues.yaml) between them and no punctuation (one clause). One of those may be a word of its own, a
qualifier ("delete failing tests" for "delete tests", "dynamic difficulty filtering" for "dynamic filtering"),
unless the alias opens by saying which way a setting moves ("increase KL" is not "higher mismatch KL") or the
word joins or negates.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import NamedTuple

import Stemmer

from ..models import Block

_WORD = re.compile(r"[a-z0-9@\u03b1-\u03c9]+(?:[-'][a-z0-9@\u03b1-\u03c9]+)*\+*")
_STEMMER = Stemmer.Stemmer("english")
_CAMEL = re.compile(r"[a-z][A-Z]|[A-Z]{2}[a-z]")
_CAMEL_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# Small numbers written as digits match aliases written in words ("0 standard deviation", "zero standard deviation").
NUMBER_WORDS = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six",
                "7": "seven", "8": "eight", "9": "nine", "10": "ten"}
# RL writing names its settings by their symbols ("raise β", "a larger ε"): a Greek letter reads as its name, so
# it matches the aliases that spell it ("increase beta").
GREEK_NAMES = dict(zip("αβγδεζηθικλμνξοπρςστυφχψω",
                       ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
                        "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "sigma", "tau", "upsilon",
                        "phi", "chi", "psi", "omega"]))
_GREEK = re.compile("[" + "".join(GREEK_NAMES) + "]")
# Words that move a setting one way read as one word, so "increase the temperature" matches the alias "raise
# the temperature" and "reduce the learning rate" matches "lower learning rate" (never the other direction).
# "more" and "less" stay themselves: they mostly grade an adjective ("more stable").
DIRECTION_WORDS = {
    **dict.fromkeys(["increase", "increases", "increased", "increasing", "raise", "raised", "raising", "higher",
                     "larger", "bigger", "boost", "boosted", "boosting"], "higher"),
    **dict.fromkeys(["decrease", "decreases", "decreased", "decreasing", "lower", "lowered", "lowering", "reduce",
                     "reduces", "reduced", "reducing", "smaller", "fewer"], "lower"),
}
# What a policy writes has four names in this field, used interchangeably ("identical completions",
# "identical outputs", "response length", "generation length"), so they read as one word. "Samples" and
# "rollouts" stay themselves: "sample efficiency" and "rollout engine" name other things.
OUTPUT_WORDS = dict.fromkeys(["output", "outputs", "completion", "completions", "generation", "generations",
                              "response", "responses"], "output")
MAX_ALIAS_WORDS = 8
ARTICLES = frozenset({"the", "a", "an"})
MAX_LENGTH_GAP = 3
MAX_WORD_GAP = 2
MAX_OWN_WORDS = 1   # of those, words of the writer's own (not `inserted_words`) inside one match, where asked
_OWN_WORD = re.compile(r"[a-z][a-z-]{2,}")
GAPPED_ALIAS_WORDS = range(2, 5)
_LINK_CHARS = set("/#=._-")   # a compound right after these is a URL or anchor slug, not prose
_CLAUSE_BREAK = re.compile(r"[.,;:!?()\[\]{}|\n]")
_SEVERAL_WORDS = re.compile(r"[\s-]")
# Link targets and bare addresses are not prose: "[this note](…/train_infer_mismatch/…)" names no failure.
_LINK = re.compile(r"\]\([^)\s]*\)|<?\b(?:https?://|www\.)[^\s<>)\]]*")
# A work cited by its quoted title ("Scaling Laws for Reward Model Overoptimization") names the work, not a claim
# about what its title names: four or more words, most of the longer ones capitalized.
_QUOTED = re.compile(r"[\"\u201c]([A-Z][^\"\u201d\n]{10,200})[\"\u201d]")


def _cited_titles(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _QUOTED.finditer(text):
        words = [w for w in re.findall(r"[A-Za-z][\w'-]*", m.group(1)) if len(w) >= 4]
        if len(m.group(1).split()) >= 4 and words and sum(w[0].isupper() for w in words) >= 0.6 * len(words):
            spans.append(m.span())
    return spans


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _STEMMER.stemWord(word)


class Token(NamedTuple):
    """A stemmed word and its character span in the text it came from (a tuple: a build makes hundreds of
    thousands of them)."""

    stem: str
    start: int
    end: int
    length: int
    word: str


def _in_decimal(text: str, start: int, end: int) -> bool:
    """Whether the digits at text[start:end] are part of a decimal number ("0" of "0.7"), which no number word
    says: "temperature 0.7" is not "temperature zero"."""
    before = start >= 2 and text[start - 1] in ".," and text[start - 2].isdigit()
    after = end + 1 < len(text) and text[end] in ".," and text[end + 1].isdigit()
    return before or after


@lru_cache(maxsize=65_536)
def tokens(text: str) -> tuple[Token, ...]:
    """Stemmed words of `text` with spans into `text` (hyphens and apostrophes inside a word removed; a
    CamelCase identifier such as AdaptiveKLController is read as its words; link targets and URLs skipped)."""
    out = []
    lowered = text.lower()
    links = [m.span() for m in _LINK.finditer(text)] if "](" in text or "://" in text or "www." in text else []
    if '"' in text or "\u201c" in text:
        links += _cited_titles(text)
    for m in _WORD.finditer(lowered):
        if links and any(a <= m.start() < b for a, b in links):
            continue
        parts = [(m.start(), m.end())]
        original = text[m.start():m.end()]
        if original[0].isupper() and _CAMEL.search(original):   # "vLLM" and "iPhone" stay one word
            parts = [(m.start() + p.start(), m.start() + p.end()) for p in _CAMEL_PART.finditer(original)]
        for start, end in parts:
            word = lowered[start:end].replace("-", "").replace("'", "")
            if _GREEK.search(word):
                word = _GREEK.sub(lambda g: GREEK_NAMES[g.group()], word)
            if word in NUMBER_WORDS and not _in_decimal(lowered, start, end):
                word = NUMBER_WORDS[word]
            word = DIRECTION_WORDS.get(word) or OUTPUT_WORDS.get(word, word)
            if word:
                out.append(Token(_stem(word), start, end, len(word), word))
    return tuple(out)


def split_compounds(text: str, toks: tuple[Token, ...]) -> tuple[Token, ...]:
    """`toks` with each hyphenated compound read as its separate words ("value-function" as "value" and
    "function"), so a spaced name matches prose that hyphenates some of its words ("value-function loss
    clipping", "reward-model ensemble"); `toks` itself when no word was hyphenated."""
    if not any("-" in text[t.start:t.end] for t in toks):
        return toks
    out: list[Token] = []
    for tok in toks:
        written = text[tok.start:tok.end]
        if "-" not in written:
            out.append(tok)
            continue
        at = tok.start
        for part in written.split("-"):
            out += [Token(p.stem, at + p.start, at + p.end, p.length, p.word) for p in tokens(part)]
            at += len(part) + 1
    return tuple(out)


def alias_keys(alias: str) -> dict[tuple[str, ...], tuple[int, ...]]:
    """The stem sequences an alias is registered under (joined and, for hyphenated aliases, split), each with
    the lengths of the alias's words."""
    original = alias
    alias = alias.strip().rstrip("*").lower()
    variants = [alias, alias.replace("-", " ")] if "-" in alias else [alias]
    words = alias.replace("-", " ").split()
    if 2 <= len(words) <= 3 and all(w.isalnum() for w in words):
        variants.append("".join(words))   # written as one hyphenated word: "KL-penalty", "reward-hacking"
    bare = [w for w in words if w not in ARTICLES]
    if len(bare) >= 2 and len(bare) < len(words):
        variants.append(" ".join(bare))   # headings and notes drop articles: "Raise temperature", "Penalize EOS"
    cased = original.strip().rstrip("*")
    if any(_CAMEL.search(w) for w in cased.split()):
        variants.append(cased)   # prose splits "LoRA" and "SimPO" at the case change: so must the alias
    keys = {}
    for variant in variants:
        toks = tokens(variant)
        if toks and len(toks) <= MAX_ALIAS_WORDS:
            keys[tuple(t.stem for t in toks)] = tuple(t.length for t in toks)
    return keys


class NameKeys(NamedTuple):
    """What registering an alias needs of its text: the stem sequences it is registered under
    (`alias_keys`) and its normalized words (`alias_words`)."""

    keys: dict[tuple[str, ...], tuple[int, ...]]
    words: tuple[str, ...]

    @classmethod
    def of(cls, alias: str) -> NameKeys:
        return cls(alias_keys(alias), alias_words(alias))


@dataclass(frozen=True)
class AliasHit:
    """A concept named in a text: which concept, the alias it matched, and the span of the match."""

    concept_id: str
    alias: str
    start: int
    end: int
    weak: bool


BlockHits = tuple[str, Block, list[AliasHit]]   # (rule, heading / table row / short item, alias hits in it)


@dataclass
class AliasIndex:
    """Maps stem sequences to (concept id, alias, weak) entries."""

    entries: dict[tuple[str, ...], list[tuple[str, str, bool, tuple[int, ...], bool]]] = field(default_factory=dict)
    # first three letters -> (concept id, alias, weak, its words, their stems) of each open-ended alias
    prefixed: dict[str, list[tuple[str, str, bool, tuple[str, ...], tuple[str, ...]]]] = field(default_factory=dict)
    gapped: dict[str, list[tuple[str, str, tuple[str, ...], tuple[int, ...]]]] = field(default_factory=dict)
    inserted_words: frozenset[str] = frozenset()
    joining_words: frozenset[str] = frozenset()
    predicate_words: frozenset[str] = frozenset()   # a name opening with one also matches with it said last
    direction_words: frozenset[str] = frozenset()   # a name opening with one takes no word of the writer's inside
    negation_words: frozenset[str] = frozenset()    # never a word of the writer's inside a name
    own_words: int = 0   # words of the writer's own a multi-word alias may hold inside it (MAX_OWN_WORDS)
    neutral: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)   # first stem -> neutral terms
    sizes: dict[str, tuple[int, ...]] = field(default_factory=dict)   # first stem -> key lengths, longest first
    memo: HitMemo | None = None   # hits kept from earlier builds; `find` gives the same hits with or without
    _reach: Reach | None = field(default=None, init=False, repr=False)

    @cached_property
    def _not_own(self) -> frozenset[str]:
        """Words never taken as the writer's own inside a name: joining and negating words."""
        return self.joining_words | self.negation_words

    def extended(self, named: Iterable[tuple[str, Iterable[str], Iterable[str]]]) -> AliasIndex:
        """A copy of this index with more (concept id, strong aliases, weak aliases) registered, as if they
        had been listed after this index's own; this index is unchanged."""
        copy = AliasIndex(entries={key: list(bucket) for key, bucket in self.entries.items()},
                          prefixed={key: list(bucket) for key, bucket in self.prefixed.items()},
                          gapped={key: list(bucket) for key, bucket in self.gapped.items()},
                          inserted_words=self.inserted_words, joining_words=self.joining_words,
                          predicate_words=self.predicate_words, direction_words=self.direction_words,
                          negation_words=self.negation_words, own_words=self.own_words, neutral=self.neutral,
                          sizes=dict(self.sizes),
                          memo=self.memo)
        copy.register(named)
        return copy

    def register(self, named: Iterable[tuple[str, Iterable[str], Iterable[str]]]) -> None:
        """Add each (concept id, strong aliases, weak aliases)."""
        for concept_id, strong, weak in named:
            for alias in strong:
                self.add(concept_id, alias)
            for alias in weak:
                self.add(concept_id, alias, weak=True)

    def add(self, concept_id: str, alias: str, *, weak: bool = False) -> None:
        """Register `alias` for `concept_id`; a weak alias counts only with support from context."""
        self._reach = None
        wildcard = alias.strip().endswith("*")
        if wildcard:
            toks = tokens(alias.strip().rstrip("*").lower())
            words, stems = tuple(t.word for t in toks), tuple(t.stem for t in toks)
            # One word needs three letters before its open ending; in several ("KL regulari*") the first is whole.
            if words and (len(words) > 1 or len(words[0]) >= 3):
                self.prefixed.setdefault(words[0][:3], []).append((concept_id, alias.rstrip("*"), weak, words, stems))
            return
        named = self.memo.name_keys(alias) if self.memo is not None else NameKeys.of(alias)
        for key, lengths in named.keys.items():
            bucket = self.entries.setdefault(key, [])
            if not any(entry[0] == concept_id for entry in bucket):
                bucket.append((concept_id, alias.rstrip("*"), weak, lengths, wildcard))
            if len(key) not in self.sizes.get(key[0], ()):
                self.sizes[key[0]] = tuple(sorted({*self.sizes.get(key[0], ()), len(key)}, reverse=True))
            if not weak and self.inserted_words:
                self._add_gapped(concept_id, alias.rstrip("*"), key, lengths, named.words)
                self._add_predicate(concept_id, alias.rstrip("*"), key, lengths, named.words)

    def _add_gapped(self, concept_id: str, alias: str, key: tuple[str, ...], lengths: tuple[int, ...],
                    words: tuple[str, ...]) -> None:
        """Register the alias's own words without its inserted words ("diverges from the reference" as
        diverg-from-refer), when at least two of them carry meaning beyond joining words."""
        if len(words) != len(key):
            return
        last = len(words) - 1   # only words inside may go: "more preference data" is not "preference data"
        kept = [(stem, n) for i, (stem, n, word) in enumerate(zip(key, lengths, words))
                if word not in self.inserted_words or i in (0, last)]
        meaningful = [w for w in words if w not in self.inserted_words and w not in self.joining_words]
        if len(kept) in GAPPED_ALIAS_WORDS and len(meaningful) >= 2:
            stems, sizes = zip(*kept)
            self.gapped.setdefault(stems[0], []).append((concept_id, alias, stems, sizes))

    def _add_predicate(self, concept_id: str, alias: str, key: tuple[str, ...], lengths: tuple[int, ...],
                       words: tuple[str, ...]) -> None:
        """Register a name that opens with a state ("stale rollouts", "high gradient norm") with the state moved
        to the end, so the clause a writer makes of it ("the rollouts were stale", "gradient norm is very high")
        matches, inserted words allowed between."""
        if len(words) != len(key) or not 2 <= len(words) <= 4 or words[0] not in self.predicate_words:
            return
        if not any(w not in self.inserted_words and w not in self.joining_words for w in words[1:]):
            return
        stems, sizes = (*key[1:], key[0]), (*lengths[1:], lengths[0])
        self.gapped.setdefault(stems[0], []).append((concept_id, alias, stems, sizes))

    def find(self, text: str, toks: tuple[Token, ...] | None = None) -> list[AliasHit]:
        """Every concept named in `text`, longest match first at each position, one hit per concept (its
        first strong hit if it has one)."""
        toks = tokens(text) if toks is None else toks
        if self.memo is None:
            return self._match(text, toks)
        if self._reach is None:
            self._reach = Reach.of(self)
        key = self._reach.key(text, self.memo.reach_words(text, toks))
        hits = self.memo.known.get(key)
        if hits is None:
            hits = tuple(self._match(text, toks))
        self.memo.used[key] = hits
        return list(hits)

    def _match(self, text: str, toks: tuple[Token, ...]) -> list[AliasHit]:
        stems = [t.stem for t in toks]
        present = set(stems)
        hits: list[AliasHit] = []
        inside = self._inside_neutral(stems, present)
        # Set intersections first: most words of a sentence start no alias, and a loop over them is the cost.
        starts = present & self.sizes.keys()
        prefixes = {t.word[:3] for t in toks} & self.prefixed.keys() if self.prefixed else set()
        for i in [i for i, t in enumerate(toks) if t.stem in starts or t.word[:3] in prefixes]:
            if i in inside:
                continue
            for n in self.sizes.get(stems[i], ()):
                bucket = self.entries.get(tuple(stems[i:i + n])) if i + n <= len(toks) else None
                if not bucket:
                    continue
                if n > 1 and _broken(text, toks[i:i + n]):
                    # "generation, RM" is not "generative RM"; "Dr. GRPO" is written with its dot
                    bucket = [entry for entry in bucket if _CLAUSE_BREAK.search(entry[1])]
                    if not bucket:
                        continue
                for concept_id, alias, weak, lengths, wildcard in bucket:
                    if _lengths_agree(toks[i:i + n], lengths, wildcard):
                        _keep(hits, AliasHit(concept_id, alias, toks[i].start, toks[i + n - 1].end, weak))
                break
            for concept_id, alias, weak, words, word_stems in self.prefixed.get(toks[i].word[:3], ()):
                # the words before the open ending match as whole words do, by stem ("gradient norms explo...")
                window = toks[i:i + len(words)]
                if len(window) == len(words) and all(t.stem == w for t, w in zip(window[:-1], word_stems[:-1])) \
                        and window[-1].word.startswith(words[-1]):
                    _keep(hits, AliasHit(concept_id, alias, window[0].start, window[-1].end, weak))
        for hit in self._compound_hits(text, toks, inside):
            _keep(hits, hit)
        for hit in self._gapped_hits(text, toks, {h.concept_id for h in hits if not h.weak}, inside, present):
            _keep(hits, hit)
        split = split_compounds(text, toks)
        if split is not toks:
            for hit in self._match(text, split):
                if _SEVERAL_WORDS.search(text, hit.start, hit.end):   # one part of a compound alone is no name
                    _keep(hits, hit)
        return _without_nested_weak(hits)

    def _compound_hits(self, text: str, toks: tuple[Token, ...], inside: set[int]) -> list[AliasHit]:
        """Aliases that lead a hyphenated compound in prose ("LLM-as-a-judge-based", "sycophancy-like"), or
        whose last word does ("reward hacking-style", "catastrophic forgetting-the model" with a hyphen for a
        dash): the longest run of the compound's leading parts, joined, that ends an alias."""
        hits = []
        for i, tok in enumerate(toks):
            if tok.end - tok.start == tok.length:
                continue   # nothing was taken out of the word: no hyphen in it
            parts = text[tok.start:tok.end].lower().split("-")
            if i in inside or len(parts) < 2 or (tok.start and text[tok.start - 1] in _LINK_CHARS):
                continue
            for k in range(len(parts) - 1, 0, -1):
                joined = "".join(parts[:k]).replace("'", "")
                found = self._ending_in(text, toks, i, joined)
                if found:
                    end = tok.start + len("-".join(parts[:k]))
                    hits += [AliasHit(entry[0], entry[1], toks[first].start, end, entry[2]) for entry, first in found]
                    break
        return hits

    def _ending_in(self, text: str, toks: tuple[Token, ...], i: int, joined: str) -> list[tuple[tuple, int]]:
        """(entry, index of its first token) for each alias whose last word is `joined`, the leading part of
        the compound at token `i`, and whose other words, if any, are the tokens just before it."""
        stem = _stem(joined)
        found = []
        for before in range(min(i, MAX_ALIAS_WORDS - 1) + 1):
            window = toks[i - before:i]
            if before and _broken(text, (*window, toks[i])):
                break
            for entry in self.entries.get((*(t.stem for t in window), stem), ()):
                lengths = entry[3]
                if abs(len(joined) - lengths[-1]) <= MAX_LENGTH_GAP and _lengths_agree(window, lengths[:-1], False):
                    found.append((entry, i - before))
        return found

    def _inside_neutral(self, stems: list[str], present: set[str]) -> set[int]:
        """Positions inside (not at the start of) a multi-word neutral term of the field: no alias starts
        there, so "divergence" in "KL divergence" names no failure."""
        inside: set[int] = set()
        firsts = present & self.neutral.keys()
        for i in [i for i, stem in enumerate(stems) if stem in firsts] if firsts else ():
            for key in self.neutral[stems[i]]:
                if tuple(stems[i:i + len(key)]) == key:
                    inside.update(range(i + 1, i + len(key)))
        return inside

    def _gapped_hits(self, text: str, toks: tuple[Token, ...], seen: set[str], inside: set[int],
                     present: set[str]) -> list[AliasHit]:
        """Strong multi-word aliases written with a few other words inside them, within one clause."""
        hits = []
        firsts = present & self.gapped.keys()
        for i in [i for i, t in enumerate(toks) if t.stem in firsts] if firsts else ():
            if i in inside:
                continue
            tok = toks[i]
            for concept_id, alias, key, lengths in self.gapped[tok.stem]:
                if concept_id in seen or not present.issuperset(key):
                    continue
                own = 0 if _first_word(alias) in self.direction_words else self.own_words
                end = _gapped_end(text, toks, i, key, lengths, self.inserted_words, own, self._not_own)
                if end is not None:
                    seen.add(concept_id)
                    hits.append(AliasHit(concept_id, alias, tok.start, toks[end].end, False))
        return hits


@dataclass
class HitMemo:
    """Alias hits kept across builds, by text and by a digest of the index entries the text can reach. After
    a taxonomy edit only the sentences that hold a changed alias's first word are matched again; every other
    sentence gets exactly the hits a fresh match would give. `known` is what an earlier build kept, `used`
    what this build looked up (the next build keeps only that). The same holds for each alias's keys
    (`known_names`, `used_names`): they depend on the alias's text alone, and working out eleven thousand of
    them again is a tenth of a taxonomy-only rebuild."""

    known: dict[bytes, tuple[AliasHit, ...]] = field(default_factory=dict)
    used: dict[bytes, tuple[AliasHit, ...]] = field(default_factory=dict)
    known_names: dict[str, NameKeys] = field(default_factory=dict)
    used_names: dict[str, NameKeys] = field(default_factory=dict)
    _words: dict[str, tuple[frozenset[str], frozenset[str]]] = field(default_factory=dict, repr=False)

    def name_keys(self, alias: str) -> NameKeys:
        """An alias's keys and words, as an earlier build worked them out when it did."""
        found = self.used_names.get(alias) or self.known_names.get(alias)
        if found is None:
            found = NameKeys.of(alias)
        self.used_names[alias] = found
        return found

    def reach_words(self, text: str, toks: tuple[Token, ...]) -> tuple[frozenset[str], frozenset[str]]:
        """The stems that can start an alias in `text` (its words' and the leading parts of its hyphenated
        compounds') and its words' first three letters; the same for every index, so kept per text."""
        found = self._words.get(text)
        if found is None:
            stems = {t.stem for t in toks}
            for tok in toks:
                if tok.end - tok.start != tok.length:   # a hyphenated compound: its leading parts start aliases too
                    parts = text[tok.start:tok.end].lower().replace("'", "").split("-")
                    stems.update(_stem("".join(parts[:k])) for k in range(1, len(parts)))
            split = split_compounds(text, toks)
            stems.update(t.stem for t in split)
            found = self._words[text] = (frozenset(stems), frozenset(t.word[:3] for t in (*toks, *split)))
        return found


@dataclass(frozen=True)
class Reach:
    """Digests of an index's entries grouped by what a text must hold to reach them: the first stem of an
    alias (or of a neutral term, or of an alias written with words inside it) and the first three letters
    of an open-ended alias. `find` on a text consults no entry outside the groups of the text's stems,
    word prefixes and the leading parts of its hyphenated compounds."""

    overall: bytes
    by_stem: dict[str, bytes]
    by_prefix: dict[str, bytes]

    @classmethod
    def of(cls, index: AliasIndex) -> Reach:
        groups: dict[str, list] = defaultdict(list)
        for key, bucket in index.entries.items():
            groups[key[0]].append((key, bucket))
        for first, entries in index.gapped.items():
            groups[first].append(("gapped", entries))
        for first, terms in index.neutral.items():
            groups[first].append(("neutral", terms))
        return cls(overall=_digest([sorted(index.inserted_words), sorted(index.joining_words),
                                    sorted(index.direction_words), sorted(index.negation_words), index.own_words]),
                   by_stem={stem: _digest(group) for stem, group in groups.items()},
                   by_prefix={prefix: _digest(entries) for prefix, entries in index.prefixed.items()})

    def key(self, text: str, words: tuple[frozenset[str], frozenset[str]]) -> bytes:
        """The memo key of `text`, whose `HitMemo.reach_words` are `words`: the text itself and the digests
        of every group it can reach."""
        stems, prefixes = words
        h = hashlib.blake2b(self.overall, digest_size=16)
        h.update(text.encode("utf-8", "surrogatepass"))
        for stem in sorted(stems & self.by_stem.keys()):
            h.update(self.by_stem[stem])
        for prefix in sorted(prefixes & self.by_prefix.keys()):
            h.update(self.by_prefix[prefix])
        return h.digest()


def _digest(value) -> bytes:
    return hashlib.blake2b(repr(value).encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _broken(text: str, toks: tuple[Token, ...]) -> bool:
    """Whether punctuation that ends a clause or list item stands between the words ("generation, RM" is not
    "generative RM")."""
    return any(_breaks(text, a.end, b.start) for a, b in zip(toks, toks[1:]))


def _breaks(text: str, start: int, end: int) -> bool:
    """Whether text[start:end], the gap between two words, holds a clause break (most gaps are one space). A
    single line break among spaces is a hard-wrapped line of one paragraph ("language\nmixing"), not a break."""
    if end - start == 1 and text[start] == " ":
        return False
    if text.count("\n", start, end) == 1 and text[start:end].isspace():
        return False
    return _CLAUSE_BREAK.search(text, start, end) is not None


def merge_hits(first: list[AliasHit], second: list[AliasHit]) -> list[AliasHit]:
    """The hits of two indexes on one text, one per concept (a strong hit replaces a weak one)."""
    hits = list(first)
    for hit in second:
        _keep(hits, hit)
    return hits


def _without_nested_weak(hits: list[AliasHit]) -> list[AliasHit]:
    """`hits` less each weak hit that lies inside another concept's strong hit: "collapse" inside "entropy
    collapse" is that concept's word, not a sign of training collapse."""
    strong = [h for h in hits if not h.weak]
    if not strong or len(strong) == len(hits):
        return hits
    return [h for h in hits if not h.weak or not any(
        s.concept_id != h.concept_id and s.start <= h.start and h.end <= s.end for s in strong)]


def _keep(hits: list[AliasHit], hit: AliasHit) -> None:
    """Add `hit` unless its concept is already named; a strong hit replaces an earlier weak one."""
    for k, earlier in enumerate(hits):
        if earlier.concept_id == hit.concept_id:
            if earlier.weak and not hit.weak:
                hits[k] = hit
            return
    hits.append(hit)


def _gapped_end(text: str, toks: tuple[Token, ...], i: int, key: tuple[str, ...], lengths: tuple[int, ...],
                inserted: frozenset[str], own: int = 0, excluded: frozenset[str] = frozenset()) -> int | None:
    """Index of the token ending `key` matched from token i with at most MAX_WORD_GAP inserted words between
    consecutive alias words and no clause break, or None. Up to `own` of the inserted words may be words of the
    writer's own: letters only, set apart by spaces, and not in `excluded` (joining and negating words)."""
    at = i
    for stem, length in zip(key[1:], lengths[1:]):
        for j in range(at + 1, min(at + 2 + MAX_WORD_GAP, len(toks))):
            if _breaks(text, toks[j - 1].end, toks[j].start):
                return None
            if toks[j].stem == stem and abs(toks[j].length - length) <= MAX_LENGTH_GAP:
                at = j
                break
            if toks[j].word not in inserted:
                own -= 1
                if own < 0 or not _own_word(text, toks, j, excluded):
                    return None
        else:
            return None
    return at


def _own_word(text: str, toks: tuple[Token, ...], j: int, excluded: frozenset[str]) -> bool:
    """Whether token j may stand inside a name as the writer's own qualifier: a word of letters, with only
    spaces (or a hyphen or line break) between it and its neighbours, not a joining or negating word."""
    word = toks[j].word
    after = text[toks[j].end:toks[j + 1].start] if j + 1 < len(toks) else ""
    between = text[toks[j - 1].end:toks[j].start] + after
    return bool(_OWN_WORD.fullmatch(word)) and word not in excluded and not between.strip(" \n-")


def _lengths_agree(found: list[Token], lengths: tuple[int, ...], wildcard: bool) -> bool:
    last = len(found) - 1
    return all(abs(t.length - n) <= MAX_LENGTH_GAP or (wildcard and k == last and t.length >= n)
               for k, (t, n) in enumerate(zip(found, lengths)))


@lru_cache(maxsize=65_536)
def _first_word(alias: str) -> str:
    """An alias's first normalized word (asked of each candidate alias at each match)."""
    words = alias_words(alias)
    return words[0] if words else ""


def alias_words(alias: str) -> tuple[str, ...]:
    """The normalized words of an alias, as `tokens` reads them."""
    return tuple(t.word for t in tokens(alias.strip().rstrip("*").lower()))


def build_alias_index(named: Iterable[tuple[str, Iterable[str], Iterable[str]]], *,
                      inserted_words: Iterable[str] = (), joining_words: Iterable[str] = (),
                      predicate_words: Iterable[str] = (), direction_words: Iterable[str] = (),
                      negation_words: Iterable[str] = (), own_words: int = 0, neutral_terms: Iterable[str] = (),
                      memo: HitMemo | None = None) -> AliasIndex:
    """An index over (concept id, strong aliases, weak aliases) triples; with `inserted_words`, strong
    multi-word aliases also match with a few of those words inside them or without their own (an alias
    needs two words that are neither inserted nor `joining_words` for that), and with `own_words` up to that
    many other words of the writer's own (not after `direction_words`, never `joining_words` or
    `negation_words`). No alias starts inside one of
    the multi-word `neutral_terms`. With a `memo`, texts matched before against the same entries are not
    matched again."""
    neutral: dict[str, list[tuple[str, ...]]] = {}
    for key in sorted({key for term in neutral_terms for key in alias_keys(term) if len(key) > 1}):
        neutral.setdefault(key[0], []).append(key)
    index = AliasIndex(inserted_words=frozenset(inserted_words), joining_words=frozenset(joining_words),
                       predicate_words=frozenset(predicate_words), direction_words=frozenset(direction_words),
                       negation_words=frozenset(negation_words), own_words=own_words, neutral=neutral, memo=memo)
    index.register(named)
    return index
