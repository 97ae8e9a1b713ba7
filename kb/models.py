"""The nouns of kb as pydantic models: documents and their blocks, graph nodes and edges, provenance."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from .kinds import NODE_KINDS

DocKind = Literal["post", "episode", "topic", "concept", "bibliography"]
Reliability = Literal["primary", "secondary", "opinion"]
BlockKind = Literal["heading", "paragraph", "item"]
NodeKind = Literal[NODE_KINDS]  # type: ignore[valid-type]
EdgeKind = Literal[
    "states", "cites", "about", "supports", "contradicts", "qualifies", "mitigates", "reproduces", "demonstrates"
]
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
    # Set when YAML rejected the front matter and its `key: value` lines were read as plain text instead; a
    # strict build refuses the file for it, a lenient one keeps the document and warns.
    front_matter_problem: str | None = None


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


class PaperRef(BaseModel):
    """A paper a hit links to."""

    id: str
    key: str
    arxiv: str | None = None
    episode: str | None = None
    title: str


class Hit(BaseModel):
    """One search result with what it links to; `kb query --json` prints a list of these."""

    id: str
    kind: str
    label: str
    text: str
    score: float
    source_id: str | None
    source_title: str | None
    quote: str | None
    asserted_by: str | None
    episodes: list[str]
    papers: list[PaperRef]
    failure_modes: list[str]
    mitigations: list[str]


# --- view models: what the API hands to every front end (app, static site, MkDocs, `kb show`) ------------------

KIND_LABELS: dict[str, str] = {
    "failure_mode": "failure mode", "mitigation": "mitigation", "paper": "paper", "source": "source",
    "claim": "claim", "evidence": "evidence", "reproduction": "reproduction",
}
"""The one table of human names for node kinds."""

AttributionCategory = Literal["curated", "rule", "similarity", "reproduction", "other"]
ProgressCallback = Callable[[int, int, str], None]
"""`progress(done, total, what)`: called as a long export (or build) advances."""


class Attribution(_Frozen):
    """Who asserted a node or edge, classified once for every front end.

    `family` is what the styling keys on: curated (solid), inferred (a rule or a similarity score, dashed) or
    measured (a reproduction run); `label` is the text shown everywhere, score included."""

    asserted_by: str
    category: AttributionCategory
    family: Literal["curated", "inferred", "measured", "unknown"]
    label: str
    score: float | None = None


def attribution(asserted_by: str | None) -> Attribution:
    """Classify `asserted_by` (`curated`, `rule:NAME`, `similarity:0.81`, `reproduction:RUN`, anything else)."""
    who = asserted_by or "unknown"
    prefix, _, rest = who.partition(":")
    if who == "curated":
        return Attribution(asserted_by=who, category="curated", family="curated", label="curated")
    if prefix == "rule":
        return Attribution(asserted_by=who, category="rule", family="inferred", label=f"inferred: rule {rest}")
    if prefix == "similarity":
        try:
            score: float | None = float(rest)
        except ValueError:
            score = None
        shown = f"{score:.2f}" if score is not None else rest
        return Attribution(asserted_by=who, category="similarity", family="inferred", score=score,
                           label=f"inferred: similarity {shown}")
    if prefix == "reproduction":
        return Attribution(asserted_by=who, category="reproduction", family="measured", label=f"reproduction run {rest}")
    return Attribution(asserted_by=who, category="other", family="unknown", label=who)


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class _Attributed(_View):
    asserted_by: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def attribution(self) -> Attribution:
        """The provenance classification of `asserted_by`."""
        return attribution(self.asserted_by)


class NodeRef(_View):
    """A node named by id, kind and label: enough to link to it."""

    id: str
    kind: str
    label: str

    @property
    def kind_label(self) -> str:
        """The human name of the node's kind."""
        return KIND_LABELS.get(self.kind, self.kind)


class NodeView(NodeRef, _Attributed):
    """A node's own facts; the optional fields are filled for the kinds that have them."""

    text: str = ""
    description: str = ""
    aliases: list[str] = Field(default_factory=list)
    source_id: str | None = None
    source_title: str | None = None
    source_page: bool = False
    quote: str | None = None
    start: int | None = None
    end: int | None = None
    section: str | None = None
    date: str | None = None
    reliability: str | None = None
    url: str | None = None
    arxiv: str | None = None
    episode: str | None = None
    key: str | None = None
    year: str | None = None
    venue: str | None = None
    authors: str | None = None
    doc_kind: str | None = None
    paper: str | None = None
    path: str | None = None
    name: str | None = None
    script: str | None = None

    @field_validator("authors", mode="before")
    @classmethod
    def _authors_as_text(cls, value: Any) -> Any:
        return ", ".join(map(str, value)) if isinstance(value, list) else value

    @field_validator("year", "date", "episode", "paper", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return None if value is None else str(value)


class EdgeView(_Attributed):
    """A typed edge with the quote and provenance that back it."""

    u: str
    v: str
    kind: str
    source_id: str | None = None
    source_title: str | None = None
    quote: str | None = None
    start: int | None = None
    end: int | None = None
    target_quote: str | None = None
    target_source_id: str | None = None
    note: str | None = None
    matched: str | None = None
    score: float | None = None
    debate: Any = None


class Neighbour(_View):
    """One edge of a node seen from that node: the edge, the node at its other end, and the direction."""

    edge: EdgeView
    other: NodeRef
    outgoing: bool

    @property
    def shown_quote(self) -> str:
        """The quote to show beside the edge (the target's quote for an outgoing similarity link)."""
        if self.outgoing and self.edge.target_quote:
            return self.edge.target_quote
        return self.edge.quote or ""


class Statement(_Attributed):
    """A claim or evidence: its quote, where it stands in its source, and what it is about."""

    id: str
    kind: str
    text: str = ""
    quote: str | None = None
    source_id: str | None = None
    source_title: str | None = None
    source_page: bool = False
    start: int | None = None
    end: int | None = None
    section: str | None = None
    reliability: str | None = None
    date: str | None = None
    link: EdgeView | None = None
    about: list[NodeRef] = Field(default_factory=list)

    @property
    def shown(self) -> str:
        """The words to show: the exact quote, else the normalised text."""
        return self.quote or self.text


class Disagreement(_View):
    """A contradicts/qualifies edge as its two statements side by side."""

    kind: str
    u: Statement
    v: Statement
    edge: EdgeView


class MitigationLink(_View):
    """The node at the other end of one or more `mitigates` edges, with every such edge."""

    node: NodeView
    edges: list[EdgeView]


class ReproductionView(NodeView):
    """A reproduction node with its last recorded result (None before the first run) and its plot."""

    result: dict[str, Any] | None = None
    plot_path: str | None = None

    @property
    def summary(self) -> list[tuple[str, str]]:
        """Up to eight short scalar fields of the result, for one-line summaries."""
        if not isinstance(self.result, dict):
            return []
        r = self.result
        head = [("signature", "shown" if r.get("signature_met") else "NOT shown")]
        if r.get("stale", True):  # the script changed since this run (or the run predates hashing)
            head.append(("STALE", "the script changed since this run; rerun it"))
        rest = [(k, str(r[k])) for k in ("quick", "seed", "device", "seconds", "started_at") if k in r]
        return (head + rest)[:8]


class Scorecard(_View):
    """Counts that sum up a concept; always computed from the lists of the card it belongs to."""

    sources: int
    papers: int
    evidence: int
    claims: int
    mitigations: int
    reproductions: int
    disagreements: int
    newest_evidence: str | None

    @property
    def weight(self) -> int:
        """Weight of evidence: sources + papers + reproductions (the home page's default order)."""
        return self.sources + self.papers + self.reproductions

    def items(self) -> list[tuple[str, int | str | None]]:
        """(name, value) pairs in display order."""
        return [(name.replace("_", " "), getattr(self, name)) for name in type(self).model_fields]


class ConceptCard(_View):
    """Everything known about a failure mode or mitigation."""

    node: NodeView
    statements: list[Statement]
    papers: list[NodeView]
    mitigations: list[MitigationLink]
    reproductions: list[ReproductionView]
    disagreements: list[Disagreement]
    sources: list[str]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def scorecard(self) -> Scorecard:
        """The counts of this card's own lists, so the summary and the lists cannot disagree."""
        dates = [s.date for s in self.statements if s.date]
        return Scorecard(
            sources=len(self.sources), papers=len(self.papers),
            evidence=sum(1 for s in self.statements if s.kind == "evidence"),
            claims=sum(1 for s in self.statements if s.kind == "claim"),
            mitigations=len(self.mitigations), reproductions=len(self.reproductions),
            disagreements=len(self.disagreements), newest_evidence=max(dates) if dates else None,
        )

    @property
    def is_failure_mode(self) -> bool:
        """Whether this is a failure mode (else a mitigation)."""
        return self.node.kind == "failure_mode"


class PaperCard(_View):
    """A paper with the statements that cite it, the sources that cite it and the failure modes involved."""

    node: NodeView
    citing: list[Statement]
    sources: list[NodeView]
    failure_modes: list[NodeRef]
    bibtex: str


class SourceView(_View):
    """A source document's text with the spans of the statements extracted from it."""

    node: NodeView
    text: str
    meta: dict[str, Any]
    claims: list[Statement]
    cites: list[NodeRef]


class NodeDetail(_View):
    """Any node with every edge that touches it (what `kb show` prints and the statement pages draw)."""

    node: NodeView
    neighbours: list[Neighbour]
