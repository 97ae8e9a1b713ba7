"""The shape of a name: whether a phrase reads as the name of a failure mode or a fix (`names_a_concept`,
`labelled_name`), as another name of one (`alias_shaped`), as a setting tuned or misjudged, a neutral term of
the field or an instruction; its content stems, the directions it moves a setting, and acronyms the documents
define. Pure functions of the phrase and the cue vocabulary (data/cues.yaml); resolve.py decides with them.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import lru_cache

from rapidfuzz import fuzz

from ..taxonomy import Concept
from ..text import normalize
from .aliases import tokens
from .cues import Cues
from .mentions import Mention

ALIAS_FUZZ = 92                # string similarity at which a phrase is a spelling of an existing name
MAX_NEW_WORDS = 5              # the longest name a new concept may have ...
MAX_ALIAS_WORDS = 6            # ... and the longest other name of a concept
ACRONYM = re.compile(r"\b[A-Z]{2,5}\b")
_DIGITS = re.compile(r"\d+")
_ADJECTIVE_ENDS = ("ble", "ive", "ous", "ful", "less")
_ACRONYM_IN_PARENS = re.compile(r"\(([A-Z]{2,5})\)")
_WORDS_BEFORE = re.compile(r"((?:[A-Za-z][\w-]*\s+){0,5}[A-Za-z][\w-]*)\s*$")


def defined_acronyms(texts: Iterable[str]) -> dict[str, str]:
    """Acronym -> the words it stands for, from definitions in the documents ("Truncated Importance Sampling
    (TIS)", "supervised fine-tuning (SFT)"): the last words before the parenthesis whose initials spell it.
    Where documents spell one acronym out differently, the most frequent reading wins and a tie drops it."""
    readings: dict[str, Counter] = defaultdict(Counter)
    for text in texts:
        for match in _ACRONYM_IN_PARENS.finditer(text):
            before = _WORDS_BEFORE.search(text[max(0, match.start() - 120):match.start()])
            if before is None:
                continue
            words = [w for w in re.split(r"[\s-]+", before.group(1)) if w]
            acronym = match.group(1)
            tail = words[-len(acronym):]
            if len(tail) == len(acronym) and "".join(w[0] for w in tail).upper() == acronym:
                readings[acronym][" ".join(tail).lower()] += 1
    out = {}
    for acronym, counts in readings.items():
        top = counts.most_common(2)
        if len(top) == 1 or top[0][1] > top[1][1]:
            out[acronym] = top[0][0]
    return out


def expand_acronyms(phrase: str, expansions: dict[str, str]) -> str:
    """`phrase` with each upper-case acronym that `expansions` knows written out ("Full IS correction" ->
    "Full importance sampling correction"); unchanged when it has none."""
    return ACRONYM.sub(lambda m: expansions.get(m.group(0), m.group(0)), phrase)


@lru_cache(maxsize=8)
def neutral_stems(neutral_terms: frozenset[str]) -> tuple[frozenset[str], frozenset[str]]:
    """The neutral terms as stemmed phrases, and the stems of the one-word ones (GRPO, PPO, KL, SFT …)."""
    phrases = frozenset(" ".join(t.stem for t in tokens(term)) for term in neutral_terms)
    return phrases, frozenset(p for p in phrases if p and " " not in p)


def names_own_part(phrase: str, cues: Cues) -> bool:
    """Whether a phrase holds a part of one project's own plan: one of `part_words` followed by a letter, a number
    or a roman numeral ("Defer phase 2 training", "Stage B rollout"); the field's names say "two-stage", not which."""
    words = _PART_WORDS.findall(phrase)
    return any(word.lower() in cues.part_words and _PART_LABEL.fullmatch(label)
               for word, label in zip(words, words[1:]))


_PART_WORDS = re.compile(r"[^\W\d_]+|\d+[a-z]?")
_PART_LABEL = re.compile(r"[A-Z]|\d+[a-z]?|[IVX]+")   # a capital letter: "run a sweep" is no part A


def names_other_machinery(phrase: str, names: Iterable[str], cues: Cues) -> bool:
    """Whether `phrase` writes an acronym of the field's machinery (GRPO, PPO, DPO, KL …) that none of a
    concept's `names` holds: then the two name different things however close their vectors are ("GRPO
    objective" is not GSPO)."""
    single = neutral_stems(cues.neutral_terms)[1]
    acronyms = {stem_of(a) for a in ACRONYM.findall(phrase)} & single
    return bool(acronyms) and not any(acronyms <= {t.stem for t in tokens(name)} for name in names)


def stem_of(word: str) -> str:
    found = tokens(word)
    return found[0].stem if found else word.lower()


def is_neutral(phrase: str, cues: Cues) -> bool:
    """Whether a phrase is a neutral term of the field, as listed or spelled another way ("Supervised Fine
    Tuning", "Grouped Relative Policy Optimization")."""
    words = " ".join(w.strip("'.-,") for w in normalize(phrase).split())
    if words in cues.neutral_terms or words.rstrip("s") in cues.neutral_terms:
        return True
    if squashed(words) in _squashed_terms(cues.neutral_terms):
        return True
    stems = [t.stem for t in tokens(phrase)]
    phrases, single = neutral_stems(cues.neutral_terms)
    # "PPO importance sampling", "GRPO advantage": a method's name before a neutral term names the machinery too
    while len(stems) > 1 and stems[0] in single:
        stems = stems[1:]
    return " ".join(stems) in phrases


def squashed(text: str) -> str:
    return re.sub(r"[\s-]+", "", text.lower()).removesuffix("s")


@lru_cache(maxsize=8)
def _squashed_terms(neutral_terms: frozenset[str]) -> frozenset[str]:
    """The neutral terms without spaces or hyphens, so "fine tuning" meets "fine-tuning"."""
    return frozenset(squashed(t) for t in neutral_terms)


def alias_shaped(phrase: str, cues: Cues) -> bool:
    """Whether a phrase can stand as another name of a concept: one to six words, no sentence punctuation,
    not starting like a question or fragment, not a neutral term of the field ("reward model", "KL
    divergence"), and not made only of generic words ("reward", "Check")."""
    if any(c in phrase for c in "?!:;"):
        return False
    words = [w.strip("'.-,") for w in normalize(phrase).split()]
    if not 1 <= len(words) <= MAX_ALIAS_WORDS or (words[0] in cues.non_concept_starts
                                                   and not adjusted_setting(phrase, cues)):
        return False
    if is_neutral(phrase, cues):
        return False
    generic = cues.weak_modifiers | cues.non_concept_starts
    if not adjusted_setting(phrase, cues):
        generic |= cues.generic_heads   # "Increase temperature" names a fix though "temperature" alone names none
    return any(w not in generic and len(w) >= 3 for w in words)


@lru_cache(maxsize=65_536)
def name_words(phrase: str) -> tuple[str, ...] | None:
    """The normalized words of a phrase that could be a name, or None when it holds digits or sentence
    punctuation (a measurement, a clause, a question). Cached: each shape test of a phrase asks again."""
    if any(c.isdigit() for c in phrase) or any(c in phrase for c in ":?!/;,()"):
        return None
    return tuple(w.strip("'.-") for w in normalize(phrase).split())


def names_a_concept(phrase: str, kind: str, cues: Cues) -> bool:
    """Whether a phrase is shaped like the name of a concept of `kind`: one to five words, no digits or
    sentence punctuation, not starting like a question or fragment, joining nothing ("X and Y") and holding no
    verb of a clause, ending in a head word of that kind with at least one modifier that is not a generic
    adjective; or, for a failure, a setting misjudged ("Learning rate too high", "Insufficient warmup steps") or a
    part of the setup in a wrong state ("Stale rollout weights")."""
    words = name_words(phrase)
    if not words or len(words) > MAX_NEW_WORDS or words[0] in cues.non_concept_starts:
        return False
    if kind == "failure_mode" and misjudged_setting(words, cues):
        return True   # before the clause words: "Temperature not high enough" holds "not" and "enough"
    if any(w in cues.connecting_words or w in cues.clause_words or w in cues.report_tails for w in words):
        return False
    if is_neutral(phrase, cues):
        return False
    if kind == "mitigation" and adjusted_setting(phrase, cues):
        return True
    if kind == "failure_mode" and defective_part(words, cues):
        return True
    heads = cues.failure_heads if kind == "failure_mode" else cues.mitigation_heads
    words = _compound_head_apart(words, heads)
    for size in (2, 1):
        head = " ".join(words[-size:])
        if len(words) >= size and head in heads and head not in cues.generic_heads:
            modifiers = words[:-size]
            return size == 2 or any(m not in cues.weak_modifiers for m in modifiers) or head in cues.standalone_heads
    return words[-1] in heads and _qualified_generic_head(words[:-1], cues)


def _compound_head_apart(words: list[str], heads: frozenset[str] | set[str]) -> list[str]:
    """The words with a hyphenated last word split before its head ("judge-gaming" -> "judge", "gaming"), so a
    compound names a concept as its two words would; a compound that is itself a head stays whole."""
    first, _, last = words[-1].rpartition("-")
    if not first or words[-1] in heads or last not in heads:
        return words
    return [*words[:-1], first, last]


def _qualified_generic_head(modifiers: list[str], cues: Cues) -> bool:
    """Whether two or more modifiers make a generic head specific ("Explicit diversity reward", "Strict format
    validation"): the word next to the head says what kind, and no modifier is a weak or generic word."""
    generic = cues.name_fillers | cues.neutral_terms
    return len(modifiers) >= 2 and all(m not in generic and len(m) >= 3 for m in modifiers)


def labelled(mention: Mention, kind: str) -> bool:
    """Whether the writer labelled a heading or lead term as a failure or fix of `kind` ("Problem 2: ...",
    "Solution: ..."). A cell under a table's "Symptom" or "Fix" column is not such a label: troubleshooting
    tables list one run's or one tool's diagnoses and advice ("Drift score always zero", "KL too high"), not
    concepts of the field (judged blind: 1 of 12)."""
    return mention.hint == kind and mention.origin in ("heading", "lead") and mention.block_kind != "table"


def labelled_name(phrase: str, cues: Cues) -> bool:
    """Whether a labelled phrase reads as a name however it ends ("Delayed collapse to short identical
    outputs", "Beta too conservative"): two to six words without digits, sentence punctuation, clause verbs,
    report parts or a word joining two things, not a question or fragment and not a neutral term. The label
    already says what it is."""
    words = name_words(phrase)
    if not words or not 2 <= len(words) <= MAX_ALIAS_WORDS or words[0] in cues.non_concept_starts:
        return False
    if any(w in cues.clause_words or w in cues.report_tails or w in cues.coordinators for w in words):
        return False
    last = words[-1]
    singulars = {last, last.removesuffix("s"), last.removesuffix("es")}
    labels = (cues.patterns.failure_label, cues.patterns.mitigation_label)
    container = any(p.fullmatch(w) for p in labels for w in singulars)   # "Three fixes" lists fixes, is none
    # A label over a worked example ("Problem: Converting rectangular to polar coordinates") names a task, not a
    # training failure: a name that opens with an activity must speak the field (a head word or its vocabulary).
    field = cues.failure_heads | cues.mitigation_heads | set(cues.domain_terms)
    task = len(words[0]) >= 5 and words[0].endswith("ing") and not any(w in field for w in words)
    # "Different base model", "Data modification": nothing before the last word says which one
    vague = all(w in cues.weak_modifiers or w in cues.generic_heads or w in cues.generic_words for w in words[:-1])
    # "Training extremely slow", "Rewards flat": a symptom said of something, unless a setting misjudged
    symptom = last in cues.predicate_adjectives and not misjudged_setting(words, cues)
    return (not container and not task and not vague and not symptom and not is_neutral(phrase, cues)
            and last not in cues.connecting_words)


def misjudged_setting(words: Sequence[str], cues: Cues) -> bool:
    """Whether normalized `words` name a setting that was too much or too little: "<setting> too <degree>",
    "<setting> not <degree> enough" or "<shortfall> <setting>", three to five words, the setting saying which
    one."""
    if not 3 <= len(words) <= MAX_NEW_WORDS:
        return False
    if words[-2] == "too" and words[-1] in cues.degree_words:
        setting = words[:-2]
    elif len(words) >= 4 and words[-3] == "not" and words[-2] in cues.degree_words and words[-1] == "enough":
        setting = words[:-3]
    elif words[0] in cues.shortfall_starts:
        setting = words[1:]
    else:
        return False
    return any(w not in cues.weak_modifiers and w not in cues.non_concept_starts and len(w) >= 3 for w in setting)


def defective_part(words: Sequence[str], cues: Cues) -> bool:
    """Whether normalized `words` name a part of the setup in a wrong state: "<defect> <part>" ("Stale weights",
    "Missing stop token", "Incorrect probability ratios") or "<parts> <defect>" ("Tool name mismatch"), two to
    five words, the part saying which one and not being an outcome ("Wrong answers")."""
    if not 2 <= len(words) <= MAX_NEW_WORDS:
        return False
    if words[0] in cues.defect_starts:
        part = words[1:]
    elif words[-1] in cues.defect_tails:
        part = words[:-1]
    else:
        return False
    generic = cues.weak_modifiers | cues.generic_heads | cues.generic_words | cues.outcome_nouns
    return part[-1] not in generic and any(w not in generic and len(w) >= 3 for w in part)


def adjusted_setting(phrase: str, cues: Cues) -> bool:
    """Whether a phrase names a fix as a setting changed: "<adjustment> <setting>" ("Higher generation
    temperature", "More completions per prompt", "Reduce sequence length") or "<setting> <adjustment>"
    ("Temperature increase"), two to five words without digits, sentence punctuation or clause verbs, the
    setting saying which one. Such a phrase may be another name of an existing fix (`alias_shaped`) when that
    fix changes the same setting (`changed_setting`), which keeps "Increase temperature" on rollout temperature
    tuning, but founds no concept (`tunes_a_setting`)."""
    words = name_words(phrase)
    if not words or not 2 <= len(words) <= MAX_NEW_WORDS:
        return False
    if words[0] in cues.adjustments:
        setting = words[1:]
    elif words[-1] in cues.adjustment_tails:
        setting = words[:-1]   # "Temperature increase", "Learning rate reduction"
    else:
        return False
    if any(w in cues.clause_words or w in cues.report_tails or w in cues.coordinators for w in words) \
            or words[-1] in cues.outcome_tails or words[-1].endswith(_ADJECTIVE_ENDS + ("ly",)):
        return False   # "More stable" says how things turned out, "Increase gradually" how, not what was set;
                       # "Larger dataset + mixed tasks" changes two things at once
    return any(w not in cues.weak_modifiers and w not in cues.non_concept_starts and w not in cues.adjustments
               and len(w) >= 3 for w in setting)


def changed_setting(phrase: str, cues: Cues) -> frozenset[str]:
    """The content stems of the setting a phrase changes ("Reduce concurrent rollouts" -> concurrent, rollout),
    or an empty set when the phrase is not a setting changed (`adjusted_setting`)."""
    if not adjusted_setting(phrase, cues):
        return frozenset()
    words = [w for w in name_words(phrase) or [] if w not in cues.adjustments and w not in cues.adjustment_tails]
    return content_stems(" ".join(words), cues)


def tunes_a_setting(phrase: str, cues: Cues) -> bool:
    """Whether a phrase names a setting changed ("Lower rollout temperature"), a setting misjudged ("KL too
    high") or a part in a wrong state ("Missing gradient clipping"): one run's advice or diagnosis. It may be
    another name of an existing concept ("Reduce concurrent rollouts" for asynchronous rollouts) but founds
    none: judged blind, such names were not concepts of the field (16 of 17), as "2. Reduce Learning Rate" is not."""
    words = name_words(phrase)
    return adjusted_setting(phrase, cues) or (bool(words) and (misjudged_setting(words, cues)
                                                              or defective_part(words, cues)))


def shaped_kind(phrase: str, kind: str, cues: Cues) -> str:
    """The kind a phrase's shape overrules the classifier with: a setting misjudged ("Insufficient warmup",
    "Learning rate too high"), a shortfall ("Insufficient exploration") or a part in a wrong state ("Missing stop
    token") is a failure even when its words are those of a fix. Only a shortfall that is also shaped like a
    failure's name (`names_a_concept`) founds one; the others tune a setting (`tunes_a_setting`)."""
    words = name_words(phrase)
    misjudged = bool(words) and (misjudged_setting(words, cues) or words[0] in cues.shortfall_starts
                                 or defective_part(words, cues))
    return "failure_mode" if kind == "mitigation" and misjudged else kind


def without_imperative(mention: Mention, cues: Cues) -> Mention:
    """A heading or lead term that tells the reader to apply a fix ("Add entropy bonus", "Enable gradient
    clipping") stands for the fix it names, when the words after the verb name one; one about handling a
    problem ("Troubleshooting high variance", `topic_starts`) stands for what it is about, when that could be
    a concept's name."""
    words = mention.phrase.split()
    rest = " ".join(words[1:])
    if is_neutral(" ".join(words[:2]), cues) or not (len(words) >= 3 or (len(words) == 2 and len(rest) >= 6)):
        return mention   # "Reward model regularization" names a fix of the reward model; "Reward" is no verb here
    first = normalize(words[0])
    imperative = fix_verb(first, cues) and names_a_concept(rest, "mitigation", cues)
    topic = first in cues.topic_starts and alias_shaped(rest, cues)
    if imperative or topic:
        offset = len(mention.phrase) - len(rest)
        return replace(mention, phrase=rest, start=mention.start + offset)
    return mention


def instructed_fix(mention: Mention, cues: Cues) -> Mention | None:
    """A heading, lead term or short list item that tells the reader to apply something ("Add KL monitoring
    hooks", "Enforce a prompt length limit", "- Improve reward design") whose words after the verb are
    shaped like a name but not like a new fix's name: those words, which may name an existing fix (matched
    only, and kept only when the match is sure; they found no concept, since a bare instruction is as often one
    project's chore), or None."""
    words = mention.phrase.split()
    if mention.origin not in ("heading", "lead", "item") or len(words) < 3 or not fix_verb(normalize(words[0]), cues):
        return None
    rest = " ".join(words[1:])
    if not alias_shaped(rest, cues) or names_a_concept(rest, "mitigation", cues):
        return None   # a fix's name was already stripped by `without_imperative`
    return replace(mention, phrase=rest, start=mention.start + len(mention.phrase) - len(rest))


def fix_verb(word: str, cues: Cues) -> bool:
    """Whether a normalized word is a verb that applies a fix, as an instruction ("Add") or as a change log
    reports it ("Added", "Applied", "Capped")."""
    if word in cues.fix_verbs:
        return True
    if not word.endswith("ed") or len(word) < 4:
        return False
    bases = {word[:-2], word[:-1], word[:-3] + "y", word[:-3] if word[-3] == word[-4] else ""}
    return any(base in cues.fix_verbs for base in bases)


def content_stems(text: str, cues: Cues) -> frozenset[str]:
    """Stems of the words of a text that say which concept it is (not "reward", "model", "the")."""
    return _content_stems(text, cues.name_fillers)


@lru_cache(maxsize=131_072)
def _content_stems(text: str, fillers: frozenset[str]) -> frozenset[str]:
    # cached: a build asks for the same names thousands of times (every concept's names, twice)
    return frozenset(t.stem for t in tokens(text)
                     if t.word not in fillers and len(t.word) >= 2)


def concept_vocabulary(concepts: list[Concept], cues: Cues) -> dict[str, set[str]]:
    """Concept id -> the content stems of its label and aliases."""
    return {c.id: set().union(*(content_stems(n, cues) for n in [c.label, *c.aliases])) for c in concepts}


def spelled_alike(a: str, b: str) -> bool:
    """Whether two normalized names are one name spelled two ways (ALIAS_FUZZ): close in spelling and holding the
    same numbers, since a number tells named things apart however close the rest ("R1-zero" is not "R-Zero",
    "GPT-4" not "GPT-3")."""
    return fuzz.ratio(a, b) >= ALIAS_FUZZ and _DIGITS.findall(a) == _DIGITS.findall(b)


def abbreviates(short: str, full: str) -> bool:
    """Whether `short` writes `full` with its leading words as an acronym ("NL penalty", "natural language
    penalty"; "IS correction", "importance sampling correction")."""
    head, *rest = short.split() or [""]
    words = full.split()
    n = len(head)
    if not (2 <= n <= 5 and head.isupper() and head.isalpha()) or len(words) != n + len(rest):
        return False
    initials = "".join(w[0] for w in words[:n]).upper()
    return initials == head and [w.lower() for w in words[n:]] == [w.lower() for w in rest]


def opposite_settings(a: str, b: str, cues: Cues) -> bool:
    """Whether two names say a setting went opposite ways ("Learning rate too high" / "... too low", "Lower
    beta" / "Higher beta"): close in spelling and meaning, yet not one concept."""
    wa, wb = normalize(a).split(), normalize(b).split()
    if not wa or not wb:
        return False
    changes = cues.adjustments | cues.shortfall_starts
    last = wa[-1] != wb[-1] and wa[-1] in cues.degree_words and wb[-1] in cues.degree_words
    first = wa[0] != wb[0] and wa[0] in changes and wb[0] in changes
    return last or first


def directions(text: str, cues: Cues) -> frozenset[str]:
    """Which way a text says a quantity went: "up", "down", both or neither (a negated word says neither)."""
    return _directions(text, cues.up_words, cues.down_words, cues.negation_words)


@lru_cache(maxsize=65_536)
def _directions(text: str, up: frozenset[str], down: frozenset[str], negations: frozenset[str]) -> frozenset[str]:
    words = normalize(text).replace("-", " ").split()
    said = {w for before, w in zip(["", *words], words) if before not in negations}
    return frozenset(way for way, vocabulary in (("up", up), ("down", down)) if said & vocabulary)


def names_a_quantity(phrase: str, cues: Cues) -> bool:
    """Whether a phrase names a measured or set quantity and no way it moved ("Token count", "Average response
    length", "Rollouts per task"): it can be another name only of a concept named the same."""
    words = normalize(phrase).split()
    # "Rollouts per task", "tokens per second": a count of one thing for another ("Different seeds per run" is a fix)
    rate = len(words) >= 3 and words[1] == "per"
    return bool(words) and (words[-1] in cues.quantity_heads or rate) and not directions(phrase, cues)


def drops_direction(phrase: str, name: str, cues: Cues) -> bool:
    """Whether a concept's name says which way a quantity goes ("Larger batch size", "Zero variance") or what a
    step costs ("Weight sync overhead", "Fast weight transfer") and the phrase says neither ("Per-device batch
    size", "Variance", "Weight updates"): the phrase names the quantity or the step, not the concept."""
    def qualified(text: str) -> bool:
        return bool(directions(text, cues)) or _says_cost(text, cues)
    return qualified(name) and not qualified(phrase)


def _says_cost(text: str, cues: Cues) -> bool:
    return bool(set(normalize(text).split()) & cues.cost_words)


def names_the_field(phrase: str, cues: Cues) -> bool:
    """Whether a phrase names only the field or its machinery: generic words around a neutral term or none ("RL
    training", "Reinforcement learning training", "Policy model"). It says nothing of which concept it is."""
    all_words = normalize(phrase).split()
    words = [w for w in all_words if w not in cues.generic_words]
    if directions(phrase, cues) or _says_cost(phrase, cues):
        return False   # "Larger KL divergence", "Entropy decrease" say which way something went
    return bool(all_words) and (not words or is_neutral(" ".join(words), cues))


def opposite_direction(phrase: str, names: Iterable[str], cues: Cues) -> bool:
    """Whether a phrase moves a quantity one way and every name of a concept that says a way says the other
    ("Increase learning rate" against "Lower learning rate"), so it cannot be another name of it."""
    said = directions(phrase, cues)
    if len(said) != 1:
        return False
    theirs = _ways_said(tuple(names), cues.up_words, cues.down_words, cues.negation_words)
    return bool(theirs) and all(not (said & d) for d in theirs)


def switches_off(phrase: str, cues: Cues) -> bool:
    """Whether a phrase opens by switching something off ("Disable reward scaling", "Turn off the KL term")."""
    return _switches_off(phrase, cues.off_words, True)


def undoes_fix(phrase: str, names: Iterable[str], cues: Cues) -> bool:
    """Whether a phrase switches off a fix ("Disable reward scaling") that no name of a concept switches off
    ("Reward scaling", "Normalize rewards"): it names undoing that fix, not the fix."""
    return switches_off(phrase, cues) and not any(_switches_off(n, cues.off_words) for n in names)


@lru_cache(maxsize=65_536)
def _switches_off(text: str, off: frozenset[str], opening: bool = False) -> bool:
    words = normalize(text).replace("-", " ").replace("_", " ").replace("=", " ").split()
    if opening:   # the phrase: an opening word ("Disable ...", "Turn off ...")
        return bool(words) and (words[0] in off or " ".join(words[:2]) in off)
    return any(w in off for w in words) or any(" ".join(pair) in off for pair in zip(words, words[1:]))


@lru_cache(maxsize=4096)
def _ways_said(names: tuple[str, ...], up: frozenset[str], down: frozenset[str],
               negations: frozenset[str]) -> tuple[frozenset[str], ...]:
    """The directions of those of `names` that say one (a concept's names are asked about many phrases)."""
    return tuple(d for d in (_directions(n, up, down, negations) for n in names) if d)
