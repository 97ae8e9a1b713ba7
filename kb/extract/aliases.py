"""Alias matching by stemmed word n-grams: one dictionary lookup per n-gram instead of one regex per concept.

Text and aliases are normalized the same way: case-folded, hyphens inside a word removed ("over-optimization"
-> "overoptimization", "Clip-Higher" -> "cliphigher"), split on anything else that is not a letter or digit,
and each word Snowball-stemmed, so "KL penalties" matches the alias "KL penalty". A hyphenated alias is also
registered split ("token-level loss" matches "token level loss"). Stemming can over-reach
("monitorability" and "monitoring" share the stem "monitor", "reinforcement" and "reinforce" too), so a
matched word may differ from the alias word by at most MAX_LENGTH_GAP characters, unless the alias ends in
`*` ("memoriz*"), which asks for any word ending.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import Stemmer

_WORD = re.compile(r"[a-z0-9@]+(?:[-'][a-z0-9@]+)*\+*")
_STEMMER = Stemmer.Stemmer("english")
_CAMEL = re.compile(r"[a-z][A-Z]|[A-Z]{2}[a-z]")
_CAMEL_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
MAX_ALIAS_WORDS = 8
MAX_LENGTH_GAP = 3


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _STEMMER.stemWord(word)


@dataclass(frozen=True)
class Token:
    """A stemmed word and its character span in the text it came from."""

    stem: str
    start: int
    end: int
    length: int
    word: str


@lru_cache(maxsize=65_536)
def tokens(text: str) -> tuple[Token, ...]:
    """Stemmed words of `text` with spans into `text` (hyphens and apostrophes inside a word removed; a
    CamelCase identifier such as AdaptiveKLController is read as its words)."""
    out = []
    lowered = text.lower()
    for m in _WORD.finditer(lowered):
        parts = [(m.start(), m.end())]
        original = text[m.start():m.end()]
        if _CAMEL.search(original):
            parts = [(m.start() + p.start(), m.start() + p.end()) for p in _CAMEL_PART.finditer(original)]
        for start, end in parts:
            word = lowered[start:end].replace("-", "").replace("'", "")
            if word:
                out.append(Token(_stem(word), start, end, len(word), word))
    return tuple(out)


def alias_keys(alias: str) -> dict[tuple[str, ...], tuple[int, ...]]:
    """The stem sequences an alias is registered under (joined and, for hyphenated aliases, split), each with
    the lengths of the alias's words."""
    alias = alias.strip().rstrip("*").lower()
    variants = [alias, alias.replace("-", " ")] if "-" in alias else [alias]
    keys = {}
    for variant in variants:
        toks = tokens(variant)
        if toks and len(toks) <= MAX_ALIAS_WORDS:
            keys[tuple(t.stem for t in toks)] = tuple(t.length for t in toks)
    return keys


@dataclass(frozen=True)
class AliasHit:
    """A concept named in a text: which concept, the alias it matched, and the span of the match."""

    concept_id: str
    alias: str
    start: int
    end: int
    weak: bool


@dataclass
class AliasIndex:
    """Maps stem sequences to (concept id, alias, weak) entries."""

    entries: dict[tuple[str, ...], list[tuple[str, str, bool, tuple[int, ...], bool]]] = field(default_factory=dict)
    prefixed: dict[str, list[tuple[str, str, bool, tuple[str, ...]]]] = field(default_factory=dict)
    longest: int = 1
    first_stems: set[str] = field(default_factory=set)

    def add(self, concept_id: str, alias: str, *, weak: bool = False) -> None:
        """Register `alias` for `concept_id`; a weak alias counts only with support from context."""
        wildcard = alias.strip().endswith("*")
        if wildcard:
            words = tuple(t.word for t in tokens(alias.strip().rstrip("*").lower()))
            if words and len(words[0]) >= 3:
                self.prefixed.setdefault(words[0][:3], []).append((concept_id, alias.rstrip("*"), weak, words))
            return
        for key, lengths in alias_keys(alias).items():
            bucket = self.entries.setdefault(key, [])
            if not any(entry[0] == concept_id for entry in bucket):
                bucket.append((concept_id, alias.rstrip("*"), weak, lengths, wildcard))
            self.longest = max(self.longest, len(key))
            self.first_stems.add(key[0])

    def find(self, text: str, toks: tuple[Token, ...] | None = None) -> list[AliasHit]:
        """Every concept named in `text`, longest match first at each position, without overlapping hits
        of the same concept."""
        toks = tokens(text) if toks is None else toks
        stems = [t.stem for t in toks]
        hits: list[AliasHit] = []
        seen: set[str] = set()
        for i in range(len(toks)):
            if stems[i] not in self.first_stems and toks[i].word[:3] not in self.prefixed:
                continue
            for n in range(min(self.longest, len(toks) - i), 0, -1):
                bucket = self.entries.get(tuple(stems[i:i + n]))
                if not bucket:
                    continue
                for concept_id, alias, weak, lengths, wildcard in bucket:
                    if concept_id in seen or not _lengths_agree(toks[i:i + n], lengths, wildcard):
                        continue
                    seen.add(concept_id)
                    hits.append(AliasHit(concept_id, alias, toks[i].start, toks[i + n - 1].end, weak))
                break
            for concept_id, alias, weak, words in self.prefixed.get(toks[i].word[:3], ()):
                window = toks[i:i + len(words)]
                if concept_id in seen or len(window) < len(words):
                    continue
                if all(t.word == w for t, w in zip(window[:-1], words[:-1])) and window[-1].word.startswith(words[-1]):
                    seen.add(concept_id)
                    hits.append(AliasHit(concept_id, alias, window[0].start, window[-1].end, weak))
        return hits


def _lengths_agree(found: list[Token], lengths: tuple[int, ...], wildcard: bool) -> bool:
    last = len(found) - 1
    return all(abs(t.length - n) <= MAX_LENGTH_GAP or (wildcard and k == last and t.length >= n)
               for k, (t, n) in enumerate(zip(found, lengths)))


def build_alias_index(named: Iterable[tuple[str, Iterable[str], Iterable[str]]]) -> AliasIndex:
    """An index over (concept id, strong aliases, weak aliases) triples."""
    index = AliasIndex()
    for concept_id, strong, weak in named:
        for alias in strong:
            index.add(concept_id, alias)
        for alias in weak:
            index.add(concept_id, alias, weak=True)
    return index
