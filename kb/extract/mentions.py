"""Candidate mentions: short phrases in a document that may name a failure mode or a fix.

They come from the places where writers name things: section headings, bold or italic lead terms, the lead
term of a list item ("Reward cap: ..."), emphasised terms, definitional sentences ("known as X", "X occurs
when ..."), and noun phrases headed by a failure or fix word ("entropy collapse", "length penalty").
Whether a candidate really names a concept is decided later (classify, resolve); this step only proposes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from ..models import Block, Document
from ..text import Sentence, normalize, word_count
from .clean import ClaimSentence, is_boilerplate, plain
from .cues import Cues

Origin = Literal["heading", "lead", "item", "emphasis", "definition", "term", "cue", "remedy"]
Hint = Literal["failure_mode", "mitigation"]
MAX_PHRASE_WORDS = 7
MAX_ITEM_WORDS = 6   # a list item this short may be a bare name
MAX_TERM_MODIFIERS = 3

_NUMBERING = re.compile(r"^\s*(?:#+\s*)?(?:\(?\d+(?:\.\d+)*[.):]?|\(?[ivx]+[.)]|\(?[a-h][.)]|[-*•·])\s+", re.IGNORECASE)
_LABEL = re.compile(r"^\s*([A-Za-z][A-Za-z -]{1,24}?)\s*(?:#?\d+[a-z]?|(?<=\s)[A-Z]\b)?\s*[:—–]\s*(.+)$")
# Bracketed tags before a heading's name ("[WIP]", "[Solved] -"), not Markdown links (no "(target)" follows)
_TAG_LEAD = re.compile(r"^[^\w\[]*(?:\[[^\]\n]{1,60}\](?!\()\s*)+(?:[-–—:|]\s*)?(?=\w)")
_PAREN_TAIL = re.compile(r"\s*[\(\[][^)\]]*[\)\]]\s*$")
# A heading's closing parenthetical of two to five words is often the method's descriptive name beside its
# acronym: "DR-GRPO (fixed-horizon normalization)".
_NAME_IN_PARENS = re.compile(r"\(([A-Za-z][A-Za-z' -]*[A-Za-z])\)\s*$")
_TARGET_TAIL = re.compile(r"\s+(?:to|at|=|->|→)\s*~?\d[\d.,]*\s*(?:%|x|k|steps?|tokens?)?\s*$", re.IGNORECASE)
# A status after a symbol at the end of a heading ("Bug fixes ✅ ESSENTIAL", "Reward clipping ⚠️ CRITICAL") grades
# the item; it is no word of its name.
_STATUS_TAIL = re.compile(r"\s*[\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff\ufe0f]+"   # check marks, emoji
                          r"\s*[A-Z]{3,}(?:[ -][A-Z]{3,})*\s*$")
_JOINING_DASH = re.compile(r"(?<=\w)[\u2010\u2011\u2013](?=\w)")
_NON_WORD_EDGES = re.compile(r"^[^\w(]+|[^\w)+]+$")
_LEAD_EMPH = re.compile(r"^\s*(?:\*\*|__)(.+?)(?:\*\*|__)|^\s*[*_](?![*\s])(.+?)[*_](?!\w)")
_LEAD_COLON = re.compile(r"^([^:.;!?—–]{3,60}?)\s*(?::|\s[—–-]\s)\s*\S")
_EMPH = re.compile(r"(?:\*\*|__)([^*_\n]{3,60}?)(?:\*\*|__)|(?<![*\w])\*([^*\s][^*\n]{2,58}?)\*(?![*\w])")
_DEFINED_AFTER = re.compile(
    r"\b(?:known as|called|referred to as|dubbed|termed|we call (?:this|it)|so-called)\s+(?:an?\s+|the\s+)?"
    r"[\"'“‘*_]*([A-Za-z][\w/-]*(?:\s+[\w/-]+){0,5}?)[\"'”’*_]*(?=\s*(?:[,.;:)!?]|$|\s(?:and|or|which|where|in|that|when|is|was)\b))",
    re.IGNORECASE,
)
_DEFINED_BEFORE = re.compile(
    r"^[\"'“‘*_]*([A-Z][\w/-]*(?:\s+[\w/-]+){0,5}?)[\"'”’*_]*\s*(?:\([^)]*\)\s*)?"
    r"(?:occurs|happens|arises|is when|refers to|is defined as|is the phenomenon|describes)\b"
)
_REMEDY_LEAD = re.compile(
    r"^(?:the (?:fix|cure|remedy|solution|mitigation)(?: for this)? (?:is|was) (?:to )?|to (?:fix|avoid|prevent|mitigate|"
    r"counter|address) (?:this|it|that)[^,]*,\s*|(?:a|one) (?:cheap |simple )?(?:fix|remedy) is (?:to )?|"
    r"we recommend (?:that )?(?:you )?|the proposed remedy is (?:to )?|it helps to )", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[,;:(]|\s+(?:so that|because|rather than|not by|by|which|before|while|and then)\s+")
MAX_REMEDY_WORDS = 8
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9@.+/'-]*[A-Za-z0-9+]|[A-Za-z]")
_STOP = {
    "the", "a", "an", "this", "that", "these", "those", "of", "and", "or", "to", "its", "it", "on", "in", "into",
    "with", "from", "for", "by", "is", "are", "was", "were", "be", "as", "at", "more", "less", "than", "what",
    "their", "our", "your", "my", "no", "not", "any", "such", "some", "all", "each", "every", "both", "which",
    "who", "how", "why", "when", "where", "can", "could", "will", "would", "should", "may", "might", "must", "has",
    "have", "had", "do", "does", "did", "also", "very", "much", "many", "most", "so", "if", "but", "then", "there",
    "here", "we", "you", "they", "he", "she", "i", "via", "about", "over", "under", "between", "without", "while",
    "one", "two", "three", "first", "second", "new", "same", "other", "another", "just", "only", "even", "still",
    "like", "using", "use", "used", "get", "gets", "got", "make", "makes", "made", "see", "called", "known", "based",
}


_SETTING_IDENTIFIER = re.compile(r"-{0,2}[A-Za-z][\w.-]*_[\w.-]*")
# a setting's or metric's name in running text: lower-case words joined by "_", maybe dotted ("actor.max_norm")
_SETTING_IN_TEXT = re.compile(
    r"(?<![\w./-])(?:--)?([a-z][a-z0-9]*(?:\.[a-z][a-z0-9]*)*(?:_[a-z0-9]+)+(?:\.[a-z][a-z0-9_]*)*)(?![\w/(-])")
_FILE_SUFFIX = re.compile(r"\.(?:py|json|ya?ml|md|txt|sh|cfg|toml|jsonl|csv|pt|bin|safetensors)$")


def setting_names(text: str) -> list[str]:
    """The names of settings or logged metrics written in `text` ("max_grad_norm", "actor.entropy_coeff",
    "frac_zero_std"), not file names or calls."""
    return [m.group(1) for m in _SETTING_IN_TEXT.finditer(text)
            if 5 <= len(m.group(1)) <= 60 and not _FILE_SUFFIX.search(m.group(1))]


@dataclass(frozen=True)
class Mention:
    """A candidate phrase, where it was found, and what its place in the document suggests."""

    phrase: str
    doc_id: str
    start: int
    end: int
    origin: Origin
    section: str
    block_kind: str
    hint: Hint | None = None
    sentence: Sentence | None = None


def clean_phrase(text: str) -> str:
    """A phrase without Markdown, numbering, a trailing parenthetical, emoji or edge punctuation."""
    text = _TAG_LEAD.sub("", text)   # "🥉 [Biggest facepalm] - Policy degradation": a tag, then the name
    text = plain(text)
    text = _STATUS_TAIL.sub("", text)
    text = _NUMBERING.sub("", text)
    text = _PAREN_TAIL.sub("", text)
    text = _TARGET_TAIL.sub("", text)   # "Lower entropy floor to 1.5" names the fix without the value
    text = text.replace("_", " ")   # a setting's identifier ("entropy_coef") is read as its words
    text = _JOINING_DASH.sub("-", text)   # "train–rollout gap" keeps its joint when other symbols go
    text = "".join(ch for ch in text if ch.isalnum() or ch.isspace() or ch in "-/'.,+&()@:;?!")
    text = _NON_WORD_EDGES.sub("", text.strip())
    return re.sub(r"\s+", " ", text).strip()


def split_label(text: str, cues: Cues) -> tuple[Hint | None, str]:
    """Split a leading label ("Fix 2: Add a stop sequence", "Problem: ...") into a hint and the rest."""
    m = _LABEL.match(text)
    if not m:
        return None, text
    label, rest = _without_weak_lead(m.group(1).strip(), cues), m.group(2).strip()
    if cues.patterns.failure_label.match(label):
        return "failure_mode", rest
    if cues.patterns.mitigation_label.match(label):
        return "mitigation", rest
    if cues.is_structural(label):
        return None, rest
    return None, text


def _unless_rejected(hint: Hint | None, text: str, cues: Cues) -> Hint | None:
    """A label's hint, except that an option the writer marks as rejected ("❌ Approach 1: ...") is labelled no fix."""
    return None if hint == "mitigation" and cues.rejects(text) else hint


def _without_weak_lead(label: str, cues: Cues) -> str:
    """A label without the adjectives that grade it or the word that numbers it ("Fundamental issue", "Main fix",
    "Solution two" are labels all the same)."""
    words = label.split()
    while len(words) > 1 and words[0].lower() in cues.weak_modifiers:
        words = words[1:]
    if len(words) > 1 and words[-1].lower() in cues.counting_words:
        words = words[:-1]
    return " ".join(words)


def _usable(phrase: str) -> bool:
    words = word_count(phrase)
    return 1 <= words <= MAX_PHRASE_WORDS and any(c.isalpha() for c in phrase) and len(phrase) <= 80


def heading_mentions(doc: Document, cues: Cues) -> list[Mention]:
    """Headings below the title (and the title itself, which often names the failure of a post-mortem), but not
    those inside a section on installing or running something (`procedure_sections`)."""
    out = []
    opened: list[tuple[int, bool]] = []   # (level, a procedure section) of the headings enclosing this one
    for block in doc.blocks:
        if block.kind != "heading":
            continue
        while opened and opened[-1][0] >= block.level:
            opened.pop()
        inside = any(procedure for _, procedure in opened)
        cleaned = clean_phrase(block.text)
        opened.append((block.level, cues.is_procedure_section(cleaned)))
        if inside:
            continue
        hint, rest = split_label(cleaned, cues)
        hint = _unless_rejected(hint, block.text, cues)
        phrase = clean_phrase(rest)
        if not _usable(phrase) or cues.is_structural(phrase) or phrase.endswith("?"):
            continue
        out.append(Mention(phrase, doc.id, block.start, block.end, "heading", block.section, "heading", hint))
        named = _NAME_IN_PARENS.search(plain(block.text))
        if named and 2 <= word_count(named.group(1)) <= 5 and not cues.is_structural(named.group(1)):
            out.append(Mention(clean_phrase(named.group(1)), doc.id, block.start, block.end, "heading",
                               block.section, "heading", hint))
    return out


def is_table_row(block: Block) -> bool:
    """A Markdown table row kept as a block by the parser."""
    return block.text.lstrip().startswith("|")


def table_mentions(doc: Document, cues: Cues) -> list[Mention]:
    """The first cell of each table row (tables often list failures or fixes by name in their first column),
    and every cell under a column the header labels as failures or fixes ("Symptom", "Fix")."""
    out = []
    header: list[Hint | None] | None = None
    for block in doc.blocks:
        if block.kind == "heading" or not is_table_row(block):
            header = None
            continue
        cells = block.text.strip().strip("|").split("|")
        if all(set(c.strip()) <= set("-: ") for c in cells):
            continue   # the separator under the header
        if header is None:
            header = [_column_kind(c, cues) for c in cells]
        for i, cell in enumerate(cells):
            hint = header[i] if i < len(header) else None
            if (i and not hint) or not cell.strip():
                continue
            out.extend(_block_mention(doc, block, cell, clean_phrase(cell), "lead", hint, None, cues, "table"))
    return out


def _block_mention(doc: Document, block: Block, raw: str, phrase: str, origin: Origin, hint: Hint | None,
                   sentence: Sentence | None, cues: Cues, block_kind: str | None = None) -> list[Mention]:
    """The mention of `phrase`, written as `raw` inside `block`, when it is usable, not structural and not a
    setting's identifier (a parameter table's `num_iterations` names a knob, not a failure or a fix) or in an
    item that only gives a setting its value ("samples per prompt: `8`")."""
    if not _usable(phrase) or cues.is_structural(phrase) or _SETTING_IDENTIFIER.fullmatch(raw.strip().strip("*`")):
        return []
    if block_kind != "table" and cues.is_setting_entry(block.text):
        return []
    start = block.start + max(0, block.text.find(raw))
    return [Mention(phrase, doc.id, start, start + len(raw), origin, block.section, block_kind or block.kind, hint,
                    sentence)]


def _column_kind(cell: str, cues: Cues) -> Hint | None:
    """The kind a table header cell announces for its column ("Symptoms", "Fixes"), if any."""
    label = normalize(clean_phrase(cell))
    singulars = {label, label.removesuffix("s"), label.removesuffix("es")}
    if any(cues.patterns.failure_label.match(w) for w in singulars):
        return "failure_mode"
    if any(cues.patterns.mitigation_label.match(w) for w in singulars):
        return "mitigation"
    return None


def _lead_term(text: str) -> str | None:
    m = _LEAD_EMPH.match(text)
    if m:
        return m.group(1) or m.group(2)
    m = _LEAD_COLON.match(plain(text))
    return m.group(1) if m else None


def _short_item(block: Block) -> str | None:
    """A list item that is a short phrase and nothing else ("- Gradient clipping", "- Reduces mode collapse");
    it may name a known concept, but is too often an outcome ("- More stable training") to found one."""
    text = block.text.strip()
    if block.kind != "item" or "\n" in text or word_count(plain(text)) > MAX_ITEM_WORDS or text.endswith((".", ":", "?")):
        return None
    return text


def block_mentions(doc: Document, claims: list[ClaimSentence], cues: Cues) -> list[Mention]:
    """Lead terms of paragraphs and list items, emphasised terms, defined terms and head-word noun phrases."""
    by_block: dict[int, list[ClaimSentence]] = {}
    for claim in claims:
        by_block.setdefault(claim.block.start, []).append(claim)
    out: list[Mention] = []
    for block in doc.blocks:
        if block.kind == "heading" or is_boilerplate(block.text, cues):
            continue
        sentences = by_block.get(block.start, [])
        first = sentences[0].sentence if sentences else None
        lead = _lead_term(block.text)
        short = None if lead else _short_item(block)
        if short:
            out.extend(_block_mention(doc, block, short, clean_phrase(short), "item", None, first, cues))
        if lead:
            hint, rest = split_label(clean_phrase(lead), cues)
            hint = _unless_rejected(hint, block.text[:max(block.text.find(lead), 0) + len(lead)], cues)
            out.extend(_block_mention(doc, block, lead, clean_phrase(rest), "lead", hint, first, cues))
        for claim in sentences:
            out.extend(_sentence_mentions(doc, claim, cues))
    return out


def _sentence_mentions(doc: Document, claim: ClaimSentence, cues: Cues) -> list[Mention]:
    s, block = claim.sentence, claim.block
    out = []

    def add(raw: str, offset: int, origin: Origin, hint: Hint | None = None) -> None:
        phrase = clean_phrase(raw)
        if _usable(phrase) and not cues.is_structural(phrase):
            out.append(Mention(phrase, doc.id, s.start + offset, s.start + offset + len(raw), origin, block.section,
                               block.kind, hint, s))

    for m in _EMPH.finditer(s.text):
        raw = m.group(1) or m.group(2)
        add(raw, m.start(), "emphasis")
    for m in _DEFINED_AFTER.finditer(s.text):
        add(m.group(1), m.start(1), "definition")
    m = _DEFINED_BEFORE.match(plain(s.text))
    if m:
        add(m.group(1), 0, "definition")
    labelled_as = split_label(plain(s.text), cues)[0]   # "Fix: ... per-token clipping ...", "Problem: ..."
    for phrase, offset in head_terms(s.text, cues):
        hint = cued_kind(s.text, offset, offset + len(phrase), cues) or _label_kind(phrase, labelled_as, cues)
        add(phrase, offset, "cue" if hint else "term", hint)
    remedy = _REMEDY_LEAD.match(s.text)
    if remedy:
        clause = _CLAUSE_END.split(s.text[remedy.end():], maxsplit=1)[0].strip().rstrip(".")
        if 2 <= word_count(clause) <= MAX_REMEDY_WORDS:
            phrase = clean_phrase(clause)
            if _usable(phrase):
                out.append(Mention(phrase, doc.id, s.start + remedy.end(), s.start + remedy.end() + len(clause),
                                   "remedy", block.section, block.kind, "mitigation", s))
    return out


def _label_kind(phrase: str, label: Hint | None, cues: Cues) -> Hint | None:
    """The kind a sentence's label ("Fix: ...", "Symptom: ...") gives a noun phrase in it whose head word is of
    that kind: under "Fix:" a fix's name is the fix proposed, a failure's name is only what it is for."""
    heads = {"failure_mode": cues.failure_heads, "mitigation": cues.mitigation_heads}.get(label or "", set())
    words = normalize(phrase).split()
    return label if words and words[-1] in heads else None


def cued_kind(text: str, start: int, end: int, cues: Cues) -> Hint | None:
    """The kind a sentence gives the noun phrase at text[start:end] by the words around it: something to
    prevent or suffer from is a failure ("prone to mode collapse"), something that prevents is a fix."""
    if cues.patterns.failure_object.search(text[:start]):
        return "failure_mode"
    if cues.patterns.mitigation_subject.match(text[end:]):
        return "mitigation"
    return None


def head_terms(text: str, cues: Cues) -> list[tuple[str, int]]:
    """Noun phrases ending in a failure or fix head word, with up to three modifiers before it."""
    words = [(m.group(), m.start()) for m in _WORD.finditer(text)]
    heads = cues.failure_heads | cues.mitigation_heads
    out = []
    for i, (word, _) in enumerate(words):
        low = normalize(word)
        if low not in heads:
            continue
        j = i
        while j > 0 and i - j < MAX_TERM_MODIFIERS:
            prev = normalize(words[j - 1][0])
            between = text[words[j - 1][1] + len(words[j - 1][0]):words[j][1]]
            if (prev in _STOP or prev in cues.clause_words or not re.match(r"^[a-z][a-z0-9@.+/-]*$", prev)
                    or between.strip(" -")):
                break
            j -= 1
        while j < i and normalize(words[j][0]) in cues.non_concept_starts:
            j += 1   # a verb before the name is the writer's advice, not part of it: "avoid <name>", "add <name>"
        start = words[j][1]
        end = words[i][1] + len(word)
        if not (j == i and low in cues.modified_heads):
            out.append((text[start:end], start))
        tail = _prepositional_tail(words, i, text)
        if tail is not None:
            out.append((text[start:tail], start))
    return out


_TAIL_PREPOSITIONS = {"of", "on", "in", "from", "under"}


def _prepositional_tail(words: list[tuple[str, int]], i: int, text: str) -> int | None:
    """End of "collapse of entropy", "degradation on benchmarks": a head, a preposition and one or two
    content words, all in one clause."""
    if i + 2 >= len(words) or normalize(words[i + 1][0]) not in _TAIL_PREPOSITIONS:
        return None
    k = i + 2
    if normalize(words[k][0]) in ("the", "a", "an") and k + 1 < len(words):
        k += 1
    end = k
    if end + 1 < len(words) and normalize(words[end + 1][0]) not in _STOP and re.match(r"^[a-z][a-z-]*$", normalize(words[end + 1][0])):
        end += 1
    span = text[words[i][1]:words[end][1] + len(words[end][0])]
    if normalize(words[k][0]) in _STOP or any(c in span for c in ".,;:()"):
        return None
    return words[end][1] + len(words[end][0])


NAMING_ORIGINS = ("heading", "lead", "emphasis")


def named_prefix(phrase: str, cues: Cues) -> str | None:
    """The head-word name a heading or lead term opens with when the rest is a tail that says where or when
    ("KL clipping during collection" -> "KL clipping"), or None."""
    words = phrase.split()
    tail = next((i for i, w in enumerate(words) if i and normalize(w) in cues.name_tails), None)
    if tail is None:
        return None
    prefix = " ".join(words[:tail])
    return prefix if any(term == prefix for term, _ in head_terms(prefix, cues)) else None


def with_named_prefixes(mentions: list[Mention], cues: Cues) -> list[Mention]:
    """The mentions, plus the name each heading, lead or emphasised term opens with (`named_prefix`)."""
    out = list(mentions)
    for m in mentions:
        prefix = named_prefix(m.phrase, cues) if m.origin in NAMING_ORIGINS else None
        if prefix:
            out.append(replace(m, phrase=prefix, end=m.start + len(prefix)))
    return out


def document_mentions(doc: Document, claims: list[ClaimSentence], cues: Cues) -> list[Mention]:
    """Every candidate mention of a document, in document order."""
    found = [*heading_mentions(doc, cues), *table_mentions(doc, cues), *block_mentions(doc, claims, cues)]
    return sorted(with_named_prefixes(found, cues), key=lambda m: (m.start, m.origin))
