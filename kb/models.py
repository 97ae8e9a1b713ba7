"""The nouns of kb as pydantic models: documents and their blocks, graph nodes and edges, provenance."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DocKind = Literal["post", "episode", "topic", "concept", "bibliography"]
Reliability = Literal["primary", "secondary", "opinion"]
BlockKind = Literal["heading", "paragraph", "item"]
NodeKind = Literal["source", "paper", "claim", "evidence", "failure_mode", "mitigation", "reproduction"]
EdgeKind = Literal[
    "states", "cites", "about", "supports", "contradicts", "qualifies", "mitigates", "reproduces", "demonstrates"
]
NODE_KINDS: tuple[str, ...] = NodeKind.__args__  # type: ignore[attr-defined]
EDGE_KINDS: tuple[str, ...] = EdgeKind.__args__  # type: ignore[attr-defined]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DocMeta(_Frozen):
    """Front matter of a document, explicit or inferred."""

    title: str
    authors: list[str] = Field(default_factory=list)
    date: str | None = None
    url: str | None = None
    episode: str | None = None
    paper: str | None = None
    reliability: Reliability = "secondary"
    failure_modes: list[str] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)


class Block(_Frozen):
    """One heading, paragraph or list item; `start`/`end` index into the owning Document.text."""

    kind: BlockKind
    text: str
    section: str
    start: int
    end: int
    level: int = 0


class Document(_Frozen):
    """A parsed corpus file. `text` is the body that every span and quote refers to."""

    id: str
    kind: DocKind
    path: str
    format: Literal["md", "txt", "html"]
    meta: DocMeta
    text: str
    blocks: list[Block]
    content_hash: str


class Provenance(_Frozen):
    """Where a node or edge came from: the source, the exact quote, its span, and who asserted it."""

    source_id: str
    quote: str
    start: int | None = None
    end: int | None = None
    asserted_by: str


class Node(_Frozen):
    """A typed node of the claim graph."""

    id: str
    kind: NodeKind
    label: str
    text: str = ""
    description: str = ""
    provenance: Provenance | None = None
    attrs: dict[str, Any] = Field(default_factory=dict)


class Edge(_Frozen):
    """A typed, directed edge with the provenance that backs it."""

    u: str
    v: str
    kind: EdgeKind
    provenance: Provenance
    attrs: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        """A stable key that distinguishes parallel edges of one kind between the same nodes."""
        return f"{self.kind}|{self.provenance.asserted_by}|{self.provenance.source_id}|{self.provenance.start}"
