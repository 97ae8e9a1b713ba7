"""The build directory on disk: atomic replacement, recovery, and the paths readers use."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from .config import Settings
from .errors import BuildMissingError

GRAPH_FILE = "graph.json"
DOCUMENTS_FILE = "documents.json"
MANIFEST_FILE = "manifest.json"
INDEX_DIR = "index"
REPRO_DIR = "repro"


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and os.replace, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (see `write_bytes_atomic`)."""
    write_bytes_atomic(path, text.encode("utf-8"))


def dump_json(data: Any) -> str:
    """Deterministic JSON text."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, indent=1) + "\n"


def staging_dir(settings: Settings) -> Path:
    """A fresh directory beside the build where the next build is written."""
    path = settings.data_dir / f".build-staging-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def publish(settings: Settings, staged: Path) -> None:
    """Swap a completed staged build in place of the current one.

    The old build is renamed aside, the new one renamed in, then the old one removed. If the process dies
    between the two renames, `recover` puts the old build back on the next start.
    """
    current = settings.build_dir
    retired = settings.data_dir / f".build-retired-{os.getpid()}"
    if current.exists():
        os.replace(current, retired)
    os.replace(staged, current)
    shutil.rmtree(retired, ignore_errors=True)


def recover(settings: Settings) -> None:
    """Restore the last good build after a crash mid-swap and remove abandoned staging directories."""
    data_dir = settings.data_dir
    if not data_dir.is_dir():
        return
    retired = sorted(data_dir.glob(".build-retired-*"))
    if not settings.build_dir.exists() and retired:
        os.replace(retired[-1], settings.build_dir)
        retired = retired[:-1]
    for leftover in [*retired, *data_dir.glob(".build-staging-*")]:
        if leftover.name.endswith(f"-{os.getpid()}"):
            continue
        shutil.rmtree(leftover, ignore_errors=True)


def require_build(settings: Settings) -> Path:
    """The build directory, or BuildMissingError saying which command makes it."""
    recover(settings)
    build = settings.build_dir
    if not (build / GRAPH_FILE).is_file() or not (build / MANIFEST_FILE).is_file():
        raise BuildMissingError(
            f"no knowledge base built in {build}: run `kb build --data-dir {settings.data_dir}` first"
        )
    return build


def read_manifest(build_dir: Path) -> dict[str, Any] | None:
    """The manifest of a build, or None when absent or unreadable."""
    try:
        return json.loads((build_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
