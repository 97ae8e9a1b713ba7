"""Cue vocabularies (data/cues.yaml): structural headings, failure and fix head words, remedy and definition
phrases, boilerplate patterns and the domain vocabulary, loaded once into matchers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import KBError
from ..taxonomy import YAML_LOADER
from ..text import normalize


class CueFile(BaseModel):
    """The schema of data/cues.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    structural_headings: list[str]
    failure_labels: list[str]
    mitigation_labels: list[str]
    failure_heads: list[str]
    mitigation_heads: list[str]
    fix_verbs: list[str]
    remedy_phrases: list[str]
    definition_phrases: list[str]
    boilerplate_blocks: list[str]
    boilerplate_sentences: list[str]
    domain_terms: list[str]
    weak_modifiers: list[str]
    non_concept_starts: list[str]
    connecting_words: list[str]
    generic_heads: list[str]
    neutral_terms: list[str]


def _words_pattern(words: list[str], *, whole: bool = False) -> re.Pattern[str]:
    """One case-insensitive pattern for a list of words/phrases; `stem*` matches word continuations."""
    parts = []
    for word in sorted({normalize(w) for w in words if w.strip()}, key=len, reverse=True):
        stem = word.endswith("*")
        body = re.escape(word.rstrip("*")).replace(r"\ ", r"[\s-]+")
        parts.append(body + (r"[\w-]*" if stem else r"(?![\w])"))
    alternation = "|".join(parts) or r"(?!x)x"
    return re.compile(rf"^(?:{alternation})$" if whole else rf"(?<![\w])(?:{alternation})", re.IGNORECASE)


@dataclass(frozen=True)
class Cues:
    """Compiled cue matchers."""

    structural: re.Pattern[str]
    failure_label: re.Pattern[str]
    mitigation_label: re.Pattern[str]
    failure_heads: frozenset[str]
    mitigation_heads: frozenset[str]
    fix_verbs: frozenset[str]
    remedy: re.Pattern[str]
    definition: re.Pattern[str]
    boilerplate_block: re.Pattern[str]
    boilerplate_sentence: re.Pattern[str]
    domain_terms: re.Pattern[str]
    weak_modifiers: frozenset[str]
    non_concept_starts: frozenset[str]
    connecting_words: frozenset[str]
    generic_heads: frozenset[str]
    neutral_terms: frozenset[str]

    def is_structural(self, phrase: str) -> bool:
        """True when a cleaned heading is one of the headings that organise a document."""
        return bool(self.structural.match(normalize(phrase).strip(" .:!?")))

    def is_boilerplate_block(self, text: str) -> bool:
        """True for a block that is a reference entry, table row, image or caption."""
        return bool(self.boilerplate_block.search(text))

    def is_boilerplate_sentence(self, text: str) -> bool:
        """True for a byline, reading time, tag line or similar sentence."""
        return bool(self.boilerplate_sentence.search(text))


def load_cues(path: Path) -> Cues:
    """Load and compile data/cues.yaml; a missing or invalid file is a one-line KBError naming it."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER)
        spec = CueFile.model_validate(raw)
    except FileNotFoundError:
        raise KBError(f"{path}: cue vocabulary file is missing") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise KBError(f"{path}: invalid cue vocabulary at {where}: {error['msg']}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise KBError(f"{path}: invalid cue vocabulary ({first})") from None
    try:
        blocks, sentences = (re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
                             for patterns in (spec.boilerplate_blocks, spec.boilerplate_sentences))
    except re.error as exc:
        raise KBError(f"{path}: a boilerplate pattern is not a valid regex ({exc})") from None
    return Cues(
        structural=_words_pattern(spec.structural_headings, whole=True),
        failure_label=_words_pattern(spec.failure_labels, whole=True),
        mitigation_label=_words_pattern(spec.mitigation_labels, whole=True),
        failure_heads=frozenset(normalize(w) for w in spec.failure_heads),
        mitigation_heads=frozenset(normalize(w) for w in spec.mitigation_heads),
        fix_verbs=frozenset(normalize(w) for w in spec.fix_verbs),
        remedy=_words_pattern(spec.remedy_phrases),
        definition=_words_pattern(spec.definition_phrases),
        boilerplate_block=blocks,
        boilerplate_sentence=sentences,
        domain_terms=_words_pattern(spec.domain_terms),
        weak_modifiers=frozenset(normalize(w) for w in spec.weak_modifiers),
        non_concept_starts=frozenset(normalize(w) for w in spec.non_concept_starts),
        connecting_words=frozenset(normalize(w) for w in spec.connecting_words),
        generic_heads=frozenset(normalize(w) for w in spec.generic_heads),
        neutral_terms=frozenset(normalize(w) for w in spec.neutral_terms),
    )
