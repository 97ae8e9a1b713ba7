"""The curated inputs: the failure-mode/mitigation taxonomy, a person's curation file and the query glossary."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import KBError
from .yaml_loaders import YamlLoader, yaml_problem


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Concept(_Strict):
    """A curated failure mode or mitigation."""

    id: str
    label: str
    description: str
    aliases: list[str] = Field(default_factory=list)
    weak_aliases: list[str] = Field(default_factory=list)
    mitigates: list[str] = Field(default_factory=list)
    general: bool = False
    """A failure or fix of machine-learning training at large (memory, numerics, seeds, evaluation noise): a
    document naming it is not thereby about RL, so the relevance gate does not count it."""


class Debate(_Strict):
    """A known disagreement: sentences taking opposite stances become contradicts/qualifies edges."""

    id: str
    question: str
    about: str
    stances: dict[str, list[str]]


class Taxonomy(_Strict):
    """Failure modes, mitigations and debates, as written in data/taxonomy.yaml."""

    failure_modes: list[Concept]
    mitigations: list[Concept]
    debates: list[Debate] = Field(default_factory=list)

    def concepts(self) -> list[Concept]:
        """Failure modes then mitigations."""
        return [*self.failure_modes, *self.mitigations]

    @model_validator(mode="after")
    def _ids_name_one_concept_each(self) -> Taxonomy:
        """Two entries under one id would silently become one node; a fix must address failure modes listed here."""
        seen: set[str] = set()
        for concept in self.concepts():
            if concept.id in seen:
                raise ValueError(f"the id {concept.id} is used twice")
            seen.add(concept.id)
        failure_modes = {c.id for c in self.failure_modes}
        for mitigation in self.mitigations:
            unknown = [m for m in mitigation.mitigates if m not in failure_modes]
            if unknown:
                raise ValueError(f"{mitigation.id} mitigates {', '.join(unknown)}, which is no failure mode here")
        return self


class QuoteRef(_Strict):
    """Points at a sentence by its source id and a substring of it."""

    source: str
    quote: str


class CuratedEdge(_Strict):
    """An edge a person asserts; ends are node ids or quote references."""

    kind: Literal["supports", "contradicts", "qualifies", "about", "mitigates", "cites"]
    u: str | QuoteRef
    v: str | QuoteRef
    note: str = ""


class CuratedNode(_Strict):
    """A node a person adds or corrects (failure modes and mitigations)."""

    id: str
    kind: Literal["failure_mode", "mitigation"]
    label: str
    description: str = ""
    aliases: list[str] = Field(default_factory=list)
    mitigates: list[str] = Field(default_factory=list)


class Retraction(_Strict):
    """Removes a node (`node`) or every edge of `kind` between `u` and `v`."""

    node: str | None = None
    kind: str | None = None
    u: str | None = None
    v: str | None = None
    reason: str = ""


class Curation(_Strict):
    """Additions, corrections and retractions by a person; applied after automatic extraction."""

    nodes: list[CuratedNode] = Field(default_factory=list)
    edges: list[CuratedEdge] = Field(default_factory=list)
    retract: list[Retraction] = Field(default_factory=list)


class Glossary(_Strict):
    """Groups of phrases the field uses for one thing; search expands a lexical query with a matched group."""

    groups: list[list[str]] = Field(default_factory=list)


def _load_yaml(path: Path, model: type[BaseModel], *, required: bool) -> Any:
    if not path.exists():
        if required:
            raise KBError(f"{path}: missing; it lists the failure modes and mitigations extraction starts from")
        return model()
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=YamlLoader) or {}
        return model.model_validate(data)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise KBError(f"{path}: not valid YAML ({yaml_problem(exc)})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if not where:   # a rule over the whole file (an id used twice), not one entry's field
            raise KBError(f"{path}: {first['msg'].removeprefix('Value error, ')}") from None
        raise KBError(f"{path}: invalid entry at {where}: {first['msg']}") from None


def load_taxonomy(path: Path) -> Taxonomy:
    """Read and validate the taxonomy file."""
    return _load_yaml(path, Taxonomy, required=True)


def load_curation(path: Path) -> Curation:
    """Read and validate the curation file (an absent file means no curation)."""
    return _load_yaml(path, Curation, required=False)


def load_glossary(path: Path) -> Glossary:
    """Read and validate the query glossary (an absent file means no query expansion)."""
    return _load_yaml(path, Glossary, required=False)
