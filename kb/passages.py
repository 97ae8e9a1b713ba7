"""Passages: runs of consecutive paragraphs and list items under one heading, indexed for search beside the
extracted nodes so that a question can land on the paragraph that answers it even when no sentence of it
became a claim."""

from __future__ import annotations

from dataclasses import dataclass

from .models import Document

# A passage grows block by block until it has at least this many words; a single longer block stays whole
# (the model reads its first 256 word pieces, BM25 reads all of it).
PASSAGE_MIN_WORDS = 60
PASSAGE_MAX_WORDS = 160
# Shorter leftovers (a caption, a lone link) are too thin to answer anything.
PASSAGE_KEEP_WORDS = 8


@dataclass(frozen=True)
class Passage:
    """Consecutive blocks of one section of a document; `start`/`end` index into the document's text."""

    id: str
    source_id: str
    title: str
    section: str
    text: str
    start: int
    end: int

    @property
    def context_text(self) -> str:
        """The passage with its document title and section heading in front, as it is embedded and indexed."""
        heading = f" — {self.section}" if self.section and self.section != self.title else ""
        return f"{self.title}{heading}: {self.text}"


def document_passages(doc: Document) -> list[Passage]:
    """The passages of a document, in reading order."""
    passages: list[Passage] = []
    run: list = []

    def flush() -> None:
        words = sum(len(b.text.split()) for b in run)
        if run and words >= PASSAGE_KEEP_WORDS:
            start, end = run[0].start, run[-1].end
            passages.append(Passage(id=f"psg:{doc.id}:{start}", source_id=doc.id, title=doc.meta.title,
                                    section=run[0].section, text="\n".join(b.text for b in run), start=start, end=end))
        run.clear()

    for block in doc.blocks:
        if block.kind == "heading" or (run and block.section != run[0].section):
            flush()
        if block.kind == "heading":
            continue
        if run and sum(len(b.text.split()) for b in run) + len(block.text.split()) > PASSAGE_MAX_WORDS:
            flush()
        run.append(block)
        if sum(len(b.text.split()) for b in run) >= PASSAGE_MIN_WORDS:
            flush()
    flush()
    return passages
