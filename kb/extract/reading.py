"""What extraction reads from one document before the taxonomy matters: its claim sentences and the phrases
where it names things. Both depend only on the document and the cue vocabularies, so a build can keep them
across taxonomy edits (`kb/build.py` caches them by content)."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Document
from .aliases import Token, tokens
from .clean import ClaimSentence, claim_sentences
from .cues import Cues
from .mentions import Mention, document_mentions


@dataclass(frozen=True)
class DocumentReading:
    """A document's claim sentences, each claim's stemmed words (what alias matching reads) and its candidate
    concept mentions."""

    claims: list[ClaimSentence]
    mentions: list[Mention]
    claim_tokens: list[tuple[Token, ...]]


def read_document(doc: Document, cues: Cues) -> DocumentReading:
    """Clean a document into claim sentences and find the phrases where it names things."""
    claims = claim_sentences(doc, cues)
    return DocumentReading(claims, document_mentions(doc, claims, cues), [tokens(c.sentence.text) for c in claims])
