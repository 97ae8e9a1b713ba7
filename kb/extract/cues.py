"""Cue vocabularies (data/cues.yaml): structural headings, failure and fix head words, remedy and definition
phrases, boilerplate patterns and the domain vocabulary, loaded once into matchers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, PrivateAttr, ValidationError, field_validator

from ..errors import KBError
from ..text import normalize
from ..yaml_loaders import YamlLoader, yaml_problem


def _normalized(words: object) -> frozenset[str]:
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise ValueError("expected a list of words")
    return frozenset(normalize(w) for w in words)


WordSet = Annotated[frozenset[str], BeforeValidator(_normalized)]   # looked up word by word, normalized


def _words_pattern(words: list[str], *, whole: bool = False) -> re.Pattern[str]:
    """One case-insensitive pattern for a list of words/phrases; `stem*` matches word continuations."""
    parts = []
    for word in sorted({normalize(w) for w in words if w.strip()}, key=len, reverse=True):
        stem = word.endswith("*")
        body = re.escape(word.rstrip("*")).replace(r"\ ", r"[\s-]+")
        parts.append(body + (r"[\w-]*" if stem else r"(?![\w])"))
    alternation = "|".join(parts) or r"(?!x)x"
    return re.compile(rf"^(?:{alternation})$" if whole else rf"(?<![\w])(?:{alternation})", re.IGNORECASE)


_LIST_MARK = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
SET_ASIDE_REACH = 40   # characters before a name read for words that set it aside


def _alternation(patterns: list[str]) -> re.Pattern[str]:
    try:
        return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"not a valid regex ({exc})") from None


@dataclass(frozen=True)
class CuePatterns:
    """The cue phrase lists as compiled matchers."""

    structural: re.Pattern[str]          # headings that organise a document (whole phrase)
    procedure: re.Pattern[str]           # sections on installing or running something (whole phrase)
    failure_label: re.Pattern[str]       # labels that announce failures ("Problems")
    mitigation_label: re.Pattern[str]    # labels that announce fixes ("What works")
    remedy: re.Pattern[str]              # phrases that introduce a fix ("the fix is to")
    definition: re.Pattern[str]          # phrases that define a term ("is known as")
    failure_object: re.Pattern[str]      # ends a text right before a failure ("to prevent ")
    mitigation_subject: re.Pattern[str]  # starts a text right after a fix (" prevents")
    set_aside: re.Pattern[str]           # ends a text right before a name it sets aside ("rather than ")
    domain: re.Pattern[str]              # the field's vocabulary, for the relevance gate
    specific: re.Pattern[str]            # the part of it machine learning at large does not use
    title: re.Pattern[str]               # a title naming RL training of language models
    training: re.Pattern[str]            # words of training or optimizing a model, for the relevance gate
    language: re.Pattern[str]            # words of what language models read and write, for the relevance gate
    other_models: re.Pattern[str]        # words of other kinds of model (adversarial networks, robots, speech)
    boilerplate_block: re.Pattern[str]
    boilerplate_sentence: re.Pattern[str]
    setting_entry: re.Pattern[str]       # a list item giving a setting its value ("temperature: 1.0"), whole
    neutral_phrase: re.Pattern[str]      # neutral terms of several words ("explained variance", "Weights & Biases")


class Cues(BaseModel):
    """data/cues.yaml, validated: word lists become normalized sets, phrase lists compiled patterns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    structural_headings: list[str]
    procedure_sections: list[str]
    failure_labels: list[str]
    mitigation_labels: list[str]
    failure_heads: WordSet
    mitigation_heads: WordSet
    fix_verbs: WordSet
    remedy_phrases: list[str]
    definition_phrases: list[str]
    failure_object_cues: list[str]
    mitigation_subject_cues: list[str]
    set_aside_cues: list[str]
    boilerplate_blocks: list[str]
    boilerplate_sentences: list[str]
    setting_entries: list[str]
    domain_terms: list[str]
    shared_domain_terms: WordSet
    title_terms: list[str]
    training_terms: list[str]
    language_terms: list[str]
    other_model_terms: list[str]
    weak_modifiers: WordSet
    counting_words: WordSet
    non_concept_starts: WordSet
    connecting_words: WordSet
    coordinators: WordSet
    inserted_words: WordSet
    predicate_adjectives: WordSet
    reward_term_heads: WordSet
    generic_heads: WordSet
    generic_words: WordSet
    standalone_heads: WordSet
    modified_heads: WordSet
    neutral_terms: WordSet
    clause_words: WordSet
    report_tails: WordSet
    quantity_heads: WordSet
    part_words: WordSet
    off_words: WordSet
    rejection_marks: list[str]
    setting_words: WordSet
    not_trouble: WordSet
    degree_words: WordSet
    shortfall_starts: WordSet
    defect_starts: WordSet
    defect_tails: WordSet
    outcome_nouns: WordSet
    up_words: WordSet
    down_words: WordSet
    cost_words: WordSet
    negation_words: WordSet
    adjustments: WordSet
    adjustment_tails: WordSet
    outcome_tails: WordSet
    name_tails: WordSet
    topic_starts: WordSet
    field_acronyms: dict[str, str]

    _patterns: CuePatterns | None = PrivateAttr(default=None)
    _name_fillers: frozenset[str] = PrivateAttr(default=frozenset())

    def model_post_init(self, _context) -> None:
        self._name_fillers = frozenset(self.generic_heads | self.weak_modifiers | self.non_concept_starts
                                       | self.generic_words)
        self._patterns = CuePatterns(
            structural=_words_pattern(self.structural_headings, whole=True),
            procedure=_words_pattern(self.procedure_sections, whole=True),
            failure_label=_words_pattern(self.failure_labels, whole=True),
            mitigation_label=_words_pattern(self.mitigation_labels, whole=True),
            remedy=_words_pattern(self.remedy_phrases),
            definition=_words_pattern(self.definition_phrases),
            failure_object=re.compile(_words_pattern(self.failure_object_cues).pattern
                                      + r"\s+(?:the\s+|a\s+|an\s+|this\s+|such\s+)?$", re.IGNORECASE),
            mitigation_subject=re.compile(r"^\s+" + _words_pattern(self.mitigation_subject_cues).pattern,
                                          re.IGNORECASE),
            set_aside=re.compile(_words_pattern(self.set_aside_cues).pattern + r"\s+(?:[\w'-]+\s+)?$",
                                 re.IGNORECASE),
            domain=_words_pattern(self.domain_terms),
            specific=_words_pattern([t for t in self.domain_terms if normalize(t) not in self.shared_domain_terms]),
            title=_words_pattern(self.title_terms),
            training=_words_pattern(self.training_terms),
            language=_words_pattern(self.language_terms),
            other_models=_words_pattern(self.other_model_terms),
            boilerplate_block=_alternation(self.boilerplate_blocks),
            boilerplate_sentence=_alternation(self.boilerplate_sentences),
            setting_entry=_alternation(self.setting_entries),
            neutral_phrase=_words_pattern([t for t in self.neutral_terms if " " in t]),
        )

    @field_validator("boilerplate_blocks", "boilerplate_sentences", "setting_entries")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        _alternation(patterns)
        return patterns

    @property
    def patterns(self) -> CuePatterns:
        """The phrase lists compiled into matchers."""
        return self._patterns

    @property
    def name_fillers(self) -> frozenset[str]:
        """Words that sit in a concept's name without saying which concept it is: generic heads and words, weak
        modifiers and the words that open non-names ("reward", "current", "how")."""
        return self._name_fillers

    def is_structural(self, phrase: str) -> bool:
        """True when a cleaned heading is one of the headings that organise a document."""
        return bool(self.patterns.structural.match(normalize(phrase).strip(" .:!?")))

    def is_procedure_section(self, heading: str) -> bool:
        """True when a cleaned heading opens a section on installing, running or calling something."""
        return bool(self.patterns.procedure.match(normalize(heading).strip(" .:!?")))

    def is_boilerplate_block(self, text: str) -> bool:
        """True for a block that is a reference entry, table row, image or caption."""
        return bool(self.patterns.boilerplate_block.search(text))

    def is_setting_entry(self, text: str) -> bool:
        """True for a list item or short line that only gives a setting its value ("samples per prompt: `8`")."""
        item = _LIST_MARK.sub("", text.replace("**", "")).strip()
        first = item.split(maxsplit=1)[0].lower() if item else ""
        # "Enable reward normalization: `--reward_running_norm`" tells the reader to apply a fix, naming its flag
        return first not in self.fix_verbs and bool(self.patterns.setting_entry.fullmatch(item))

    def rejects(self, text: str) -> bool:
        """True when `text` (a heading, or a list item up to its lead term) carries a mark of an option rejected."""
        return any(mark in text for mark in self.rejection_marks)

    def sets_aside(self, text: str, start: int) -> bool:
        """True when the words right before text[start:] set what follows aside ("rather than <name>")."""
        return bool(self.patterns.set_aside.search(text[max(0, start - SET_ASIDE_REACH):start]))

    def is_boilerplate_sentence(self, text: str) -> bool:
        """True for a byline, reading time, tag line or similar sentence."""
        return bool(self.patterns.boilerplate_sentence.search(text))


def load_cues(path: Path) -> Cues:
    """Load and compile data/cues.yaml; a missing or invalid file is a one-line KBError naming it."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=YamlLoader)
        return Cues.model_validate(raw)
    except FileNotFoundError:
        raise KBError(f"{path}: cue vocabulary file is missing") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise KBError(f"{path}: invalid cue vocabulary at {where}: {error['msg']}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise KBError(f"{path}: invalid cue vocabulary ({yaml_problem(exc)})") from None
