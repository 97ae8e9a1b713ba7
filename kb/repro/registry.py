"""The registry: every script in scripts/repro that declares a `REPRO` block, read without importing it.

A script owns its own description (title, failure modes, mitigations, signature, rule, anchor paper), so a
rule is written once: the script's `REPRO["rule"]` is both what it checks and what the registry shows. The
block is read with `ast.literal_eval`, so listing reproductions (and building the graph) never imports torch.
"""

from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from ..errors import NotFoundError, ReproError

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS_DIR = REPO_ROOT / "scripts" / "repro"


class Anchor(BaseModel):
    """The published result a reproduction mirrors."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    paper: str
    arxiv: str | None = None
    result: str


class Reproduction(BaseModel):
    """One registered reproduction: its script, what it reproduces, and the signature it must show."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    title: str
    script: str
    reproduces: list[str]
    mitigations: list[str]
    signature: str
    rule: str
    anchor: Anchor

    @field_validator("reproduces", "mitigations")
    @classmethod
    def _taxonomy_ids(cls, ids: list[str], info) -> list[str]:
        prefix = {"reproduces": "fm:", "mitigations": "mit:"}[info.field_name]
        if not ids or not all(i.startswith(prefix) for i in ids):
            raise ValueError(f"{info.field_name} must list ids starting with {prefix}")
        return ids

    @property
    def script_path(self) -> Path:
        path = Path(self.script)
        return path if path.is_absolute() else REPO_ROOT / path

    def script_hash(self) -> str:
        """sha256 of the script's current bytes (a recorded run is current only while this matches)."""
        return hashlib.sha256(self.script_path.read_bytes()).hexdigest()


def read_declaration(path: Path) -> Reproduction:
    """The `NAME` and `REPRO` literals of one script, validated; ReproError names the file and what is wrong."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError) as exc:
        raise ReproError(f"{path.name}: cannot read the script ({exc})") from None
    found: dict[str, object] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            key = stmt.targets[0].id
            if key in ("NAME", "REPRO"):
                try:
                    found[key] = ast.literal_eval(stmt.value)
                except ValueError:
                    raise ReproError(f"{path.name}: {key} must be a plain literal (strings, lists, dicts)") from None
    if found.get("NAME") != path.stem:
        raise ReproError(f"{path.name}: NAME must be {path.stem!r} (the file name), found {found.get('NAME')!r}")
    block = found.get("REPRO")
    if not isinstance(block, dict):
        raise ReproError(f"{path.name}: no REPRO = {{...}} block "
                         "(title, reproduces, mitigations, signature, rule, anchor)")
    try:
        script = str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)
        return Reproduction(name=path.stem, script=script, **block)
    except (TypeError, ValidationError) as exc:
        first = exc.errors()[0] if isinstance(exc, ValidationError) else {"loc": (), "msg": str(exc)}
        where = ".".join(str(p) for p in first["loc"]) or "REPRO"
        raise ReproError(f"{path.name}: REPRO {where}: {first['msg']}") from None


def _fingerprint(directory: Path) -> tuple[tuple[str, int, int], ...]:
    return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(directory.glob("*.py")))


def declares(path: Path) -> bool:
    """Whether a script has a top-level `REPRO = ...` (a file without one is a helper, not a reproduction)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return True  # let read_declaration report it
    return any(isinstance(s, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "REPRO" for t in s.targets)
               for s in tree.body)


@lru_cache(maxsize=4)
def _scan(directory: Path, _stamp: tuple) -> dict[str, Reproduction]:
    return {p.stem: read_declaration(p) for p in sorted(directory.glob("*.py")) if declares(p)}


def registry(directory: Path | None = None) -> dict[str, Reproduction]:
    """Every reproduction declared in `directory` (default scripts/repro), by name, in file-name order.

    Re-read whenever a script in it changes, so a new file is registered the moment it is saved.
    """
    directory = SCRIPTS_DIR if directory is None else directory
    return dict(_scan(directory, _fingerprint(directory))) if directory.is_dir() else {}


def list_reproductions() -> list[Reproduction]:
    """All registered reproductions, in file-name order."""
    return list(registry().values())


def get_reproduction(name: str) -> Reproduction:
    """The reproduction called `name`; NotFoundError names the valid ones."""
    known = registry()
    try:
        return known[name]
    except KeyError:
        raise NotFoundError(f"no reproduction named {name!r}: choose one of {', '.join(known)}") from None
