"""Small text utilities shared by the stages: sentence splitting with spans, slugs, phrase patterns."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_ABBREVIATIONS = {"e.g", "i.e", "al", "vs", "dr", "mr", "ms", "fig", "eq", "cf", "approx", "etc", "no", "st"}
_SENTENCE_END = re.compile(r"[.!?…](?:[\"”’')\]]*)\s+")
EPISODE_ID = re.compile(r"\bE\d{3}\b")
ARXIV_ID = re.compile(r"(?<![\w.])(\d{4}\.\d{4,5})(?:v\d+)?(?![\w.])")


@dataclass(frozen=True)
class Sentence:
    """A sentence with its character span in the text it was split from."""

    text: str
    start: int
    end: int


def split_sentences(text: str, offset: int = 0) -> list[Sentence]:
    """Split `text` into sentences; spans are shifted by `offset`. A sentence that lost a word ("RL on .") still ends at its period."""
    sentences: list[Sentence] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        candidate = text[start:end].rstrip()
        last_word = re.findall(r"([\w.]+)[.!?…][\"”’')\]]*$", candidate)
        if last_word and last_word[0].lower().rstrip(".") in _ABBREVIATIONS:
            continue
        nxt = text[end:end + 1]
        if nxt and nxt.islower():
            continue
        _append(sentences, text, start, end, offset)
        start = end
    _append(sentences, text, start, len(text), offset)
    return sentences


def _append(out: list[Sentence], text: str, start: int, end: int, offset: int) -> None:
    chunk = text[start:end]
    stripped = chunk.strip()
    if not stripped:
        return
    lead = len(chunk) - len(chunk.lstrip())
    s = start + lead
    out.append(Sentence(stripped, offset + s, offset + s + len(stripped)))


_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=262_144)
def normalize(text: str) -> str:
    """Case-fold and unify quotes and whitespace, for matching (never for quoting)."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return _SPACES.sub(" ", text).strip().lower()


def slugify(text: str, max_words: int = 8) -> str:
    """A lowercase hyphenated slug of at most `max_words` words."""
    words = re.findall(r"[a-z0-9]+", normalize(text))
    return "-".join(words[:max_words]) or "untitled"


def short_hash(*parts: str, length: int = 10) -> str:
    """A stable short hex digest of the joined parts, for content-addressed ids."""
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:length]


def phrase_pattern(phrases: list[str]) -> re.Pattern[str] | None:
    """One regex matching any phrase on word boundaries; a trailing `*` matches the rest of the word."""
    parts = []
    for phrase in sorted({p for p in phrases if p.strip()}, key=len, reverse=True):
        p = normalize(phrase)
        wildcard = p.endswith("*")
        body = re.escape(p.rstrip("*")).replace(r"\ ", r"\s+")
        lead = r"(?<![\w])" if p[:1].isalnum() else ""
        tail = r"[\w-]*" if wildcard else (r"(?![\w])" if p.rstrip("*")[-1:].isalnum() else "")
        parts.append(lead + body + tail)
    if not parts:
        return None
    return re.compile("|".join(parts))


def word_count(text: str) -> int:
    """Number of word-like tokens."""
    return len(re.findall(r"\w+", text))
