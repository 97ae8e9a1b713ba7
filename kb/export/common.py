"""Helpers every export shares: node slugs and paths, the staged output folder, safe URLs, JSON-safe values,
text segments with marked spans, and the Jinja2 environments."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from markupsafe import Markup

from ..errors import KBError
from ..models import KIND_LABELS, ProgressCallback, Statement
from ..text import slugify

MARKER_FILE = ".kb-export"
TEMPLATES = Path(__file__).with_name("templates")
_SAFE_REL = re.compile(r"^[a-z0-9][a-z0-9.-]*(/[a-z0-9][a-z0-9.-]*)*$")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")
_LINE_START = re.compile(r"^(\s*)([-+>=]|\d+[.)])")


@lru_cache(maxsize=65536)
def node_slug(node_id: str) -> str:
    """A file-name-safe slug for a node id: `[a-z0-9-]` words of the id plus 8 hex digits of its hash."""
    words = slugify(node_id.split(":", 1)[-1], max_words=12)[:48].strip("-") or "node"
    return f"{words}-{hashlib.sha256(node_id.encode('utf-8')).hexdigest()[:8]}"


def safe_url(url: Any) -> str | None:
    """`url` if it is an absolute http(s) URL without whitespace or control characters, else None."""
    if not isinstance(url, str) or re.search(r"[\s\x00-\x1f\x7f<>\"'`]", url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def jsonable(value: Any) -> Any:
    """`value` with every part JSON can hold kept and the rest (dates, sets, numpy values, ...) made text/lists."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    if hasattr(value, "model_dump"):
        return jsonable(value.model_dump())
    return str(value)


def segments(text: str, spans: Sequence[Statement]) -> list[tuple[str, Statement | None]]:
    """`text` cut into (piece, statement) runs: each statement's span is its own run, the rest has None.
    Spans out of range or overlapping an earlier one are skipped, so the pieces always rebuild `text`."""
    out: list[tuple[str, Statement | None]] = []
    pos = 0
    for s in sorted(spans, key=lambda s: (s.start if s.start is not None else -1, s.end or 0)):
        if s.start is None or s.end is None or s.start < pos or s.end > len(text) or s.end <= s.start:
            continue
        if s.start > pos:
            out.append((text[pos:s.start], None))
        out.append((text[s.start:s.end], s))
        pos = s.end
    if pos < len(text):
        out.append((text[pos:], None))
    return out


# --- output folder ------------------------------------------------------------------------------------------


@contextmanager
def staged_output(out: Path, kind: str) -> Iterator[Path]:
    """Yield a fresh folder beside `out`; on success it replaces `out` (which must be new, empty, or a
    previous kb export) in two renames; on failure it is removed and `out` is left as it was."""
    out = Path(out).absolute()
    if out.exists():
        if not out.is_dir():
            raise KBError(f"{out} is a file; give a folder path for the export")
        if any(out.iterdir()) and not (out / MARKER_FILE).is_file():
            raise KBError(f"{out} is not empty and holds no previous kb export ({MARKER_FILE} is missing); "
                          "choose a new or empty folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.parent / f".{out.name}.staging-{os.getpid()}"
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir()
    try:
        yield staged
        (staged / MARKER_FILE).write_text(json.dumps({"kind": kind}) + "\n", encoding="utf-8")
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    retired = out.parent / f".{out.name}.retired-{os.getpid()}"
    if out.exists():
        os.replace(out, retired)
    os.replace(staged, out)
    shutil.rmtree(retired, ignore_errors=True)


def write_file(root: Path, rel: str, content: str | bytes) -> None:
    """Write `content` at `root/rel`; `rel` must be one of our own slugged paths (never outside root)."""
    if not _SAFE_REL.match(rel) or ".." in rel:
        raise KBError(f"refusing to write unsafe export path {rel!r}")
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))


class Progress:
    """Counts finished pages of an export and reports them to an optional callback."""

    def __init__(self, total: int, callback: ProgressCallback | None):
        self.total = total
        self.done = 0
        self.callback = callback

    def step(self, what: str) -> None:
        """One more unit of work finished."""
        self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.total, what)


# --- templates ----------------------------------------------------------------------------------------------


def md_text(value: Any) -> str:
    """Corpus text as inert Markdown on one line: HTML-escaped, Markdown syntax backslash-escaped."""
    text = " ".join(html.escape("" if value is None else str(value), quote=True).split())
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def md_url(url: Any) -> str | None:
    """An http(s) URL percent-encoded so it cannot break out of `(...)` in a Markdown link."""
    url = safe_url(url)
    return quote(url, safe=":/?&=#%@,;~.-_+!*$") if url else None


def _md_finalize(value: Any) -> Any:
    # Every {{ value }} in a Markdown template is escaped unless a macro or filter already marked it safe.
    if isinstance(value, Markup):
        return value
    return Markup(md_text(value))


def environment(flavour: str) -> jinja2.Environment:
    """The Jinja2 environment for `html` (autoescaped) or `md` (HTML- and Markdown-escaped) templates."""
    options: dict[str, Any] = {"loader": jinja2.FileSystemLoader(TEMPLATES / ("site" if flavour == "html" else "mkdocs")),
                               "autoescape": True, "undefined": jinja2.StrictUndefined, "trim_blocks": True,
                               "auto_reload": False,
                               "lstrip_blocks": True, "keep_trailing_newline": True}
    if flavour == "md":
        options["finalize"] = _md_finalize
    env = jinja2.Environment(**options)
    env.globals.update(kind_labels=KIND_LABELS, node_slug=node_slug, safe_url=safe_url, md_url=md_url)
    env.filters["dash"] = lambda v: "—" if v is None or v == "" else v
    return env
