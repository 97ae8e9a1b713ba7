"""Read the corpus: turn Markdown, plain-text and saved-HTML files into `Document` values with spanned blocks."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import re
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal, NamedTuple

import yaml

from .config import MAX_DOCUMENT_BYTES
from .errors import CorpusError
from .models import Block, DocMeta, Document
from .text import EPISODE_ID
from .yaml_loaders import DuplicateKeyError, FrontMatterLoader, StrictFrontMatterLoader, yaml_problem

PARSER_VERSION = "10"

FORMATS: dict[str, Literal["md", "txt", "html"]] = {
    ".md": "md",
    ".markdown": "md",
    ".rst": "md",   # reStructuredText reads as Markdown once its directives are rewritten (`_rst_directives_opened`)
    ".txt": "txt",
    ".html": "html",
    ".htm": "html",
}
DOC_KINDS = ("post", "episode", "topic", "concept", "bibliography")
RELIABILITIES = ("primary", "secondary", "opinion")
DEFAULT_RELIABILITY = {
    "episode": "secondary",
    "topic": "secondary",
    "concept": "secondary",
    "bibliography": "primary",
    "post": "opinion",
}
BINARY_SNIFF_BYTES = 8192
TOPIC_MIN_EPISODES = 3

_EPISODE_IN_NAME = re.compile(r"(?<![A-Za-z0-9])[Ee](\d{3})(?!\d)")
_FRONT_MATTER_FENCE = re.compile(r"^---[ \t]*$")
_FRONT_MATTER_END = re.compile(r"^(?:---|\.\.\.)[ \t]*$")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][\w-]*:(?:\s|$)")
_YAML_OPENERS = frozenset("[{\"'|>&*!%@`")
_BULLET = re.compile(r"^[ \t]*(?:[•·]\s*|[-*]\s+|\d{1,3}[.)]\s+)(?=\S)")
_SENTENCE_END = re.compile(r"[.:;?!][\"'”’)\]]*$")
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE_LINE = re.compile(
    rf"^(?:{_MONTH}\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\s+{_MONTH},?\s+\d{{4}}|{_MONTH}\s+\d{{4}}"
    r"|\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4})$",
    re.IGNORECASE,
)
_MAX_HEADING_WORDS = 8


@dataclass(frozen=True)
class CorpusRead:
    """The documents read from a corpus directory and one-line "PATH: reason" warnings for skipped files."""

    documents: list[Document]
    warnings: list[str]


class _RawBlock(NamedTuple):
    kind: str
    text: str
    start: int
    end: int
    level: int = 0


# ----------------------------------------------------------------------------------------------- corpus walk


def read_corpus(corpus_dir: Path, *, strict: bool = False, max_bytes: int = MAX_DOCUMENT_BYTES,
                cache_dir: Path | None = None) -> CorpusRead:
    """Parse every supported file under `corpus_dir` in sorted order; bad files become warnings (or raise if
    strict). With `cache_dir`, unchanged files are loaded from their cached parse (see `parse_document`)."""
    root = Path(corpus_dir)
    if not root.is_dir():
        raise CorpusError(str(root), "corpus directory not found; create it or point kb at another data directory")
    documents: list[Document] = []
    warnings: list[str] = []
    owner_of_id: dict[str, str] = {}

    def skip(rel: str, reason: str) -> None:
        if strict:
            raise CorpusError(rel, reason)
        warnings.append(f"{rel}: {reason}")

    parsed: list[Document] = []
    for path, problem in _walk(root):
        rel = _relative(path, root)
        if problem:
            skip(rel, problem)
            continue
        try:
            doc = parse_document(path, root, max_bytes=max_bytes, cache_dir=cache_dir)
        except CorpusError as error:
            skip(error.path, error.reason)
            continue
        if doc.meta.front_matter_problem:
            skip(doc.path, doc.meta.front_matter_problem)   # strict refuses the file; lenient keeps it, warned
        parsed.append(doc)
    for doc in _with_distinct_ids(parsed):
        if doc.id in owner_of_id:
            skip(doc.path, f"duplicate id '{doc.id}' (already used by {owner_of_id[doc.id]}); rename one id")
            continue
        owner_of_id[doc.id] = doc.path
        documents.append(doc)
    return CorpusRead(documents=documents, warnings=warnings)


def _with_distinct_ids(documents: list[Document]) -> list[Document]:
    """The documents with file-name ids made distinct: documents whose ids come from the same file name (two
    folders' README.md, notes.md beside notes.html) take their paths instead ("trl-readme", then
    "notes-html"), so a corpus of several projects' docs keeps every file. An id set in front matter is the
    writer's and moves nothing: one equal to another document's id is still a duplicate."""
    named = {doc.path for doc in documents if doc.id != _slug(PurePosixPath(doc.path).stem)}
    ids = {doc.path: doc.id for doc in documents if doc.path not in named}
    for distinct in (lambda path: PurePosixPath(path).with_suffix("").as_posix(), lambda path: path):
        counts = Counter(ids.values())
        ids = {path: _slug(distinct(path)) if counts[i] > 1 else i for path, i in ids.items()}
    ids |= {doc.path: doc.id for doc in documents if doc.path in named}
    return [doc if doc.id == ids[doc.path] else doc.model_copy(update={"id": ids[doc.path]}) for doc in documents]


def _walk(root: Path):
    """Yield (path, problem) for supported files in sorted order, never entering a directory twice."""
    root_stat = root.stat()
    visited = {(root_stat.st_dev, root_stat.st_ino)}
    yield from _walk_dir(root, ancestors=[(root_stat.st_dev, root_stat.st_ino)], visited=visited)


def _walk_dir(directory: Path, ancestors: list[tuple[int, int]], visited: set[tuple[int, int]]):
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError as error:
        yield directory, f"cannot list directory ({error.strerror})"
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        supported = path.suffix.lower() in FORMATS
        try:
            info = os.stat(entry.path)
        except OSError as error:
            if supported or error.errno == errno.ELOOP:
                yield path, _stat_problem(error)
            continue
        if stat.S_ISDIR(info.st_mode):
            key = (info.st_dev, info.st_ino)
            if key in ancestors:
                yield path, "symlink loop (links to a directory above it); skipped"
            elif key in visited:
                yield path, "directory already read through another path; skipped"
            else:
                visited.add(key)
                yield from _walk_dir(path, ancestors + [key], visited)
        elif stat.S_ISREG(info.st_mode) and supported:
            yield path, None


def _stat_problem(error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "symlink loop; skipped"
    if isinstance(error, FileNotFoundError):
        return "broken symlink (its target does not exist); skipped"
    return f"cannot read ({error.strerror})"


def _relative(path: Path, root: Path) -> str:
    try:
        return PurePosixPath(Path(path).relative_to(root)).as_posix()
    except ValueError:
        return Path(path).name


# ----------------------------------------------------------------------------------------------- one document


def content_hash(rel: str, raw: bytes) -> str:
    """Identity of one file's parse: parser version, corpus-relative path and bytes."""
    return hashlib.sha256(PARSER_VERSION.encode() + b"\0" + rel.encode() + b"\0" + raw).hexdigest()


def parse_document(path: Path, root: Path, *, max_bytes: int = MAX_DOCUMENT_BYTES, cache_dir: Path | None = None) -> Document:
    """Read and parse one corpus file; raise CorpusError with a one-line reason when it cannot be used.

    With `cache_dir`, a file whose bytes were parsed before is loaded from its cached parse instead; parsing
    never writes (the build stores new parses, see kb.build.read_documents)."""
    path = Path(path)
    rel = _relative(path, Path(root))
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise CorpusError(rel, f"unsupported file type '{path.suffix}'; use one of {', '.join(FORMATS)}")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise CorpusError(rel, f"file too large ({_mb(size)}; limit {_mb(max_bytes)})")
        raw = path.read_bytes()
    except OSError as error:
        raise CorpusError(rel, _stat_problem(error)) from None
    cached = Path(cache_dir) / f"{content_hash(rel, raw)}.json" if cache_dir else None
    if cached is not None and cached.is_file():
        try:
            return Document.model_validate_json(cached.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
    return _parse(_decode(raw, rel), raw, rel=rel, fmt=fmt)


def parse_text(raw: str, *, path: str, fmt: Literal["md", "txt", "html"]) -> Document:
    """Parse an in-memory document as if it were the file at corpus-relative `path`."""
    if "\x00" in raw[:BINARY_SNIFF_BYTES]:
        raise CorpusError(path, "binary file, not text")
    text = _normalize_newlines(raw.removeprefix("\ufeff"))
    if not text.strip():
        raise CorpusError(path, "empty file")
    return _parse(text, raw.encode("utf-8"), rel=path, fmt=fmt)


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / (1024 * 1024):.1f} MB"


def _decode(raw: bytes, rel: str) -> str:
    if b"\x00" in raw[:BINARY_SNIFF_BYTES]:
        raise CorpusError(rel, "binary file, not text")
    bom = b"\xef\xbb\xbf" if raw.startswith(b"\xef\xbb\xbf") else b""
    try:
        text = raw[len(bom) :].decode("utf-8")
    except UnicodeDecodeError as error:
        raise CorpusError(rel, f"not valid UTF-8 (byte {error.start + len(bom)}); save it as UTF-8") from None
    if not text.strip():
        raise CorpusError(rel, "empty file")
    return _normalize_newlines(text)


def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _parse(text: str, raw: bytes, *, rel: str, fmt: Literal["md", "txt", "html"]) -> Document:
    if fmt == "html":
        body, page_meta = _extract_html(text, rel)
        front: dict[str, Any] = {}
        problem = None
    else:
        front, body, problem = _split_front_matter(text, rel)
        page_meta = {}
    if not body.strip() and front.get("kind") != "bibliography":
        raise CorpusError(rel, "no text after the front matter")
    raw_blocks = _txt_blocks(body) if fmt == "txt" else _md_blocks(body)
    stem = PurePosixPath(rel).stem
    title = _front_title(front) or page_meta.get("title") or _first_title(raw_blocks, fmt) or stem
    body, raw_blocks = _with_summary(_front_summary(front) or page_meta.get("summary"), body, raw_blocks)
    blocks = _with_sections(_drop_repeats(raw_blocks), title)
    kind = front.get("kind") or _infer_kind(episode_in_name=_episode_in_name(PurePosixPath(rel).name), body=body)
    return Document(
        id=_as_text(front.get("id")) or _slug(stem),
        kind=kind,
        path=rel,
        format=fmt,
        meta=_meta(front, page_meta, title=title, kind=kind, rel=rel, problem=problem),
        text=body,
        blocks=blocks,
        content_hash=content_hash(rel, raw),
    )


def _front_title(front: dict[str, Any]) -> str | None:
    """The front matter's `title`, else the first text field named like one (`paper_title`, `post_title`): site
    generators name it as they please, and the first heading of the body is often a section ("The key idea")."""
    named = (value for key, value in front.items() if str(key).lower().endswith("title") and isinstance(value, str))
    return _as_text(front.get("title")) or next((v.strip() for v in named if v.strip()), None)


def _first_title(blocks: list[_RawBlock], fmt: str) -> str | None:
    if fmt == "txt":
        return blocks[0].text if blocks else None
    return next((b.text for b in blocks if b.kind == "heading"), None)


# Fields in which a page states its own gist in prose (a post's subtitle, a docs page's or skill's description).
SUMMARY_FIELDS = ("summary", "description", "subtitle", "excerpt", "abstract", "tldr", "tl;dr")
MIN_SUMMARY_WORDS = 3
_TAG = re.compile(r"<[^>]*>")


def _front_summary(front: dict[str, Any]) -> str | None:
    """The first summary field of the front matter that holds prose."""
    fields = {str(key).lower(): value for key, value in front.items()}
    return next((text for text in (_as_summary(fields.get(name)) for name in SUMMARY_FIELDS) if text), None)


def _as_summary(value: Any) -> str | None:
    """`value` as one line of prose (markup tags dropped), or None when it is not text of a few words."""
    if not isinstance(value, str):
        return None
    text = " ".join(_TAG.sub(" ", value).split())
    return text if len(text.split()) >= MIN_SUMMARY_WORDS else None


def _with_summary(summary: str | None, body: str, blocks: list[_RawBlock]) -> tuple[str, list[_RawBlock]]:
    """The body and its blocks with the page's own summary as a first paragraph: writers state the gist
    there (what fails, what fixes it) and often nowhere else in so few words. A summary the body already
    holds adds nothing, nor does one cut short from the body's opening ("The policy learned to…")."""
    if not summary or " ".join(summary.rstrip(".…").split()).lower() in " ".join(body.split()).lower():
        return body, blocks
    offset = len(summary) + 2
    shifted = [block._replace(start=block.start + offset, end=block.end + offset) for block in blocks]
    return f"{summary}\n\n{body}", [_RawBlock("paragraph", summary, 0, len(summary)), *shifted]


def _slug(stem: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "document"


# ----------------------------------------------------------------------------------------------- front matter


def _split_front_matter(text: str, rel: str) -> tuple[dict[str, Any], str, str | None]:
    """The front matter, the body after it, and the problem found in front matter that was read all the same:
    a repeated key (its last value kept), or YAML that failed and was read as plain `key: value` lines (None
    when YAML read it cleanly)."""
    lines = text.split("\n")
    if not _FRONT_MATTER_FENCE.match(lines[0]):
        return {}, text, None
    end = next((i for i in range(1, len(lines)) if _FRONT_MATTER_END.match(lines[i])), None)
    if end is None:
        raise CorpusError(rel, "malformed front matter: no closing '---' line")
    front = "\n".join(lines[1:end])
    try:
        data, lenient = yaml.load(front, Loader=StrictFrontMatterLoader), None
    except DuplicateKeyError as error:   # YAML readers keep the last value; so does kb, and says so
        try:
            data = yaml.load(front, Loader=FrontMatterLoader)
            lenient = f"malformed front matter: {yaml_problem(error, first_line=2)}; the last value was kept"
        except yaml.YAMLError as other:
            data, lenient = _read_plainly(lines[1:end], other, rel)
    except yaml.YAMLError as error:
        data, lenient = _read_plainly(lines[1:end], error, rel)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CorpusError(rel, f"malformed front matter: expected key: value pairs, got a {type(data).__name__}")
    _check_front_matter(data, rel)
    body_start = sum(len(line) + 1 for line in lines[: end + 1])
    return data, text[body_start:], lenient


def _read_plainly(lines: list[str], error: yaml.YAMLError, rel: str) -> tuple[dict[str, Any], str]:
    """Front matter YAML refused, read as plain `key: value` lines, with the problem to warn of; a CorpusError
    naming the problem when the lines are not of that shape."""
    problem = f"malformed front matter: {yaml_problem(error, first_line=2)}"
    data = _plain_front_matter(lines)
    if data is None:
        raise CorpusError(rel, problem) from None
    return data, f"{problem}; its key: value lines were read as plain text"


def _plain_front_matter(lines: list[str]) -> dict[str, Any] | None:
    """Front matter that YAML rejects only because a value holds ": " unquoted, as blog posts often write a
    description ("Critic lag: a note on PPO runs"), read entry by entry: each top-level `key:` line
    with the indented lines under it is parsed as YAML alone, and a one-line entry YAML still rejects keeps its
    value as plain text. None when some line is not of that shape or a value opens a YAML structure (a quote,
    bracket or block marker) that does not close: that front matter is broken, not merely unquoted."""
    entries: list[list[str]] = []
    for line in lines:
        if line[:1].isspace() or not line.strip() or line.startswith("- "):
            if entries:
                entries[-1].append(line)
            elif line.strip():
                return None
        elif _PLAIN_KEY.match(line):
            entries.append([line])
        elif not line.startswith("#"):
            return None
    data: dict[str, Any] = {}
    for entry in entries:
        try:
            parsed = yaml.load("\n".join(entry), Loader=FrontMatterLoader)
        except yaml.YAMLError:
            key, _, value = entry[0].partition(":")
            value = value.strip()
            if sum(1 for line in entry if line.strip()) > 1 or ": " not in value or value[:1] in _YAML_OPENERS:
                return None
            parsed = {key.strip(): value}
        if not isinstance(parsed, dict):
            return None
        data.update(parsed)
    return data


def _check_front_matter(data: dict[str, Any], rel: str) -> None:
    for key, allowed in (("kind", DOC_KINDS), ("reliability", RELIABILITIES)):
        if key in data and data[key] not in allowed:
            raise CorpusError(rel, f"malformed front matter: {key} '{data[key]}' is not one of {', '.join(allowed)}")
    if data.get("kind") == "bibliography" and not isinstance(data.get("papers"), list):
        raise CorpusError(rel, "malformed front matter: kind bibliography needs a 'papers' list")


_KNOWN_FIELDS = {
    "id",
    "kind",
    "title",
    "authors",
    "author",
    "date",
    "url",
    "episode",
    "paper",
    "reliability",
    "failure_modes",
}


def _meta(front: dict[str, Any], page: dict[str, Any], *, title: str, kind: str, rel: str,
          problem: str | None = None) -> DocMeta:
    episode = _as_text(front.get("episode")) or _episode_in_name(PurePosixPath(rel).name)
    extra = {str(key): _json_safe(value) for key, value in front.items() if key not in _KNOWN_FIELDS}
    return DocMeta(
        title=title,
        authors=_as_list(front.get("authors", front.get("author"))) or _as_list(page.get("authors")),
        date=_as_text(front.get("date")) or page.get("date"),
        url=_as_text(front.get("url")) or page.get("url"),
        episode=episode,
        paper=_as_text(front.get("paper")),
        reliability=front.get("reliability") or DEFAULT_RELIABILITY[kind],
        failure_modes=_as_list(front.get("failure_modes")),
        extra=extra,
        front_matter_problem=problem,
    )


def _episode_in_name(name: str) -> str | None:
    found = _EPISODE_IN_NAME.search(name)
    return f"E{found.group(1)}" if found else None


def _infer_kind(*, episode_in_name: str | None, body: str) -> str:
    if episode_in_name:
        return "episode"
    if len(set(EPISODE_ID.findall(body))) >= TOPIC_MIN_EPISODES:
        return "topic"
    return "post"


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_json_safe(item) for item in value]
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(_json_safe(value)).strip()
    return text or None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [text for text in (_as_text(item) for item in items) if text]


# ----------------------------------------------------------------------------------------------- blocks


def _md_blocks(body: str) -> list[_RawBlock]:
    """Headings, paragraphs, list items and table rows of a Markdown body, spanned by its token line maps."""
    from markdown_it import MarkdownIt

    line_starts = _line_starts(body)
    rewritten = _prose_fences_opened(_admonitions_opened(_rst_directives_opened(_rst_underlines_as_setext(
        _myst_targets_blanked(body)))))
    tokens = MarkdownIt("commonmark").enable("table").parse(rewritten)
    blocks: list[_RawBlock] = []
    in_item = 0
    for index, token in enumerate(tokens):
        if token.type == "list_item_open":
            in_item += 1
        elif token.type == "list_item_close":
            in_item -= 1
        elif token.type == "tr_open" and token.map:
            start, end = _strip_range(body, line_starts[token.map[0]], line_starts[token.map[1]])
            blocks.append(_RawBlock("paragraph", body[start:end], start, end))
        elif token.type == "html_block" and token.map:
            blocks.extend(_html_block_prose(body, line_starts[token.map[0]], line_starts[token.map[1]]))
        elif token.type == "inline" and token.map and index > 0:
            opener = tokens[index - 1]
            if opener.type not in ("heading_open", "paragraph_open") or not token.content.strip():
                continue
            kind = "heading" if opener.type == "heading_open" else ("item" if in_item else "paragraph")
            level = int(opener.tag[1]) if kind == "heading" else 0
            seg_start, seg_end = line_starts[token.map[0]], line_starts[token.map[1]]
            blocks.append(_locate(body, token.content, seg_start, seg_end, kind, level))
    return blocks


_RST_UNDERLINE = re.compile(r"^([^\n]*\S[^\n]*)\n([~^\"+])\2{2,}[ \t]*$", re.MULTILINE)


def _rst_underlines_as_setext(body: str) -> str:
    """`body` with reStructuredText section underlines ("Title" over a run of `~`, `^`, `"` or `+` at least as
    long) rewritten, character for character, as Markdown setext underlines. Saved .rst pages reach the corpus
    as Markdown, where a `~~~` line opens a code fence that would swallow the rest of the page."""
    def setext(m: re.Match) -> str:
        title, underline = m.group(1), m.group(0)[len(m.group(1)) + 1:]
        if len(underline.rstrip()) < len(title.strip()) or title.lstrip().startswith(("```", "~~~", "    ")):
            return m.group(0)
        return f"{title}\n{'-' * len(underline.rstrip())}{underline[len(underline.rstrip()):]}"

    return _RST_UNDERLINE.sub(setext, body)


_RST_DIRECTIVE = re.compile(r"^( *)\.\.(?:[ \t]+(?:([\w-]+)::[ \t]*(.*)|.*))?$")
_RST_ADMONITIONS = frozenset({"note", "warning", "tip", "important", "attention", "caution", "danger", "error",
                              "hint", "seealso", "admonition", "topic", "sidebar"})


def _rst_directives_opened(body: str) -> str:
    """`body` with reStructuredText directives rewritten line for line: an admonition (`.. note::`) becomes its
    title as a heading and its indented body, dedented, prose; any other directive (`.. code-block::`,
    `.. math::`, `.. image::`), a comment or link target (`.. _name:`) and a literal block after `::` is
    blanked with its indented body, so code and LaTeX never read as sentences."""
    lines = body.split("\n")
    i = 0
    while i < len(lines):
        m = _RST_DIRECTIVE.match(lines[i])
        literal = lines[i].rstrip().endswith("::") and not m and i + 1 < len(lines) and not lines[i + 1].strip()
        if not m and not literal:
            i += 1
            continue
        indent = len(m.group(1)) if m else _indent(lines[i])
        end = i + 1
        while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
            end += 1
        while end > i + 1 and not lines[end - 1].strip():
            end -= 1
        body_lines = lines[i + 1:end]
        name = (m.group(2) or "").lower() if m else ""
        if m and name in _RST_ADMONITIONS:
            inner = min((_indent(x) for x in body_lines if x.strip()), default=indent)
            title = (m.group(3) or "").strip()
            lines[i] = f"{' ' * indent}#### {title}" if title else ""
            lines[i + 1:end] = [" " * indent + x[inner:] if x.strip() else x for x in body_lines]
        elif m:
            lines[i:end] = [""] * (end - i)
        else:
            lines[i] = lines[i].rstrip()[:-1]   # "as follows::" introduces the block and keeps one colon
            lines[i + 1:end] = [""] * (end - i - 1)
        i = end
    return "\n".join(lines)


def _indent(line: str) -> int:
    """How many spaces a line starts with."""
    return len(line) - len(line.lstrip(" "))


# MkDocs admonitions (`!!! note "Title"`, collapsible `??? info`) and content tabs (`=== "Tab"`).
_ADMONITION = re.compile(r'^( *)(?:(?:!!!|\?\?\?\+?)[ \t]*[\w-]*|===\+?)(?:[ \t]+"([^"]*)")?[ \t]*$')
_ADMONITION_INDENT = 4


_MYST_TARGET = re.compile(r"^[ \t]*\([\w.:-]+\)=[ \t]*$", re.MULTILINE)


def _myst_targets_blanked(body: str) -> str:
    """`body` with MyST target lines (`(on-policy-training)=`, an anchor for cross-references above a heading)
    blanked, line for line: they are markup, and read as a paragraph they would be a one-line block naming
    whatever concept their label spells."""
    return _MYST_TARGET.sub("", body)


def _admonitions_opened(body: str) -> str:
    """`body` with the four-space-indented bodies of MkDocs admonitions and content tabs dedented, line for line,
    and each opener's title as a heading. Plain Markdown reads such a body as a code block, which would hide
    the prose of every documentation site that folds its explanations into notes and tabs."""
    lines = body.split("\n")
    for i, line in enumerate(lines):
        m = _ADMONITION.match(line)
        if not m or (line.lstrip().startswith("===") and m.group(2) is None):
            continue   # a bare "===" line is a setext underline
        indent = len(m.group(1))
        lines[i] = f"{m.group(1)}#### {m.group(2)}" if m.group(2) else ""
        inner = indent + _ADMONITION_INDENT
        for j in range(i + 1, len(lines)):
            if lines[j].strip() and _indent(lines[j]) < inner:
                break
            lines[j] = lines[j][:indent] + lines[j][inner:] if lines[j].strip() else lines[j]
    return "\n".join(lines)


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*([^`\s]*)[^`\n]*$")
_PROSE_FENCE_INFO = frozenset({"", "text", "txt", "plain", "plaintext", "markdown", "md", "note", "notes"})
_CODE_CHARS = re.compile(r"[{}()\[\];=<>$\\|#/_\u2500-\u257f]")
_NOTE_LINE = re.compile(r"^\s*(?:[-*•+]\s|\d{1,2}[.)]\s|[A-Za-z][\w -]{0,30}:(?:\s|$))")
_PROSE_WORD = re.compile(r"[A-Za-z][a-z]+")
PROSE_FENCE_MIN_WORDS = 30
_NOTE_HEADING = re.compile(r"^#{1,6} +[A-Za-z][A-Za-z' -]{0,40}:?\s*$")   # "## Key takeaways", not "# x = 1"


def _prose_fences_opened(body: str) -> str:
    """`body` with the fence lines of unlabelled (or `text`/`markdown`) fenced blocks that hold notes blanked,
    line for line, so they read as Markdown. People keep reading notes in fences; a block of code, logs or
    settings stays a fence (most of its lines are not word runs), and so does an example prompt or answer
    (its lines are not list items or labelled lines)."""
    lines = body.split("\n")
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        marker, info = m.group(1), m.group(2).lower()
        close = next((j for j in range(i + 1, len(lines))
                      if lines[j].strip().startswith(marker) and set(lines[j].strip()) == {marker[0]}), None)
        if close is None:
            break
        if info in _PROSE_FENCE_INFO and _reads_as_prose(lines[i + 1:close]):
            lines[i] = lines[close] = ""
        elif _written_in_comments(lines[i + 1:close]):
            lines[i:close + 1] = ["", *(_comment_text(line) for line in lines[i + 1:close]), ""]
        i = close + 1
    return "\n".join(lines)


_HASH_COMMENT = re.compile(r"^\s*#+\s?(.*)$")
COMMENT_PROSE_SHARE = 0.6     # of a fence's non-blank lines, `#` comments holding words
COMMENT_PROSE_MIN_WORDS = 15


def _written_in_comments(lines: list[str]) -> bool:
    """Whether a fenced block is notes written as `#` comments around a line or two of code (course notes do
    this: "# Solutions:" over "# - Entropy bonus"): most non-blank lines are comments holding words, at least
    COMMENT_PROSE_MIN_WORDS of them in all. A script or config with comments between its lines stays code."""
    filled = [line for line in lines if line.strip()]
    comments = [m.group(1) for m in map(_HASH_COMMENT.match, filled) if m and _PROSE_WORD.search(m.group(1))]
    words = sum(len(_PROSE_WORD.findall(text)) for text in comments)
    return bool(filled) and len(comments) >= COMMENT_PROSE_SHARE * len(filled) and words >= COMMENT_PROSE_MIN_WORDS


def _comment_text(line: str) -> str:
    """A comment line's text without its marks (read as Markdown), a code line blanked: line for line, so the
    block's Markdown still maps onto the source's lines."""
    m = _HASH_COMMENT.match(line)
    return m.group(1) if m else ""


def _reads_as_prose(lines: list[str]) -> bool:
    """Whether most non-blank lines are runs of words with little code punctuation, a third of them list
    items or labelled lines ("result: …"), and none a comment: a `#` line is a heading ("## key takeaways")
    only when it is a few words and the rest reads as notes."""
    filled = [line for line in lines if line.strip()]
    notes = [line for line in filled if _NOTE_LINE.match(line)]
    if any(line.lstrip().startswith("#") and not _NOTE_HEADING.match(line) for line in filled) \
            or len(notes) * 3 < len(filled):
        return False
    prose = [line for line in filled if len(_PROSE_WORD.findall(line)) >= 5
             and len(_CODE_CHARS.findall(line)) <= len(line) / 25]
    words = sum(len(_PROSE_WORD.findall(line)) for line in prose)
    return len(filled) >= 3 and len(prose) * 2 >= len(filled) and words >= PROSE_FENCE_MIN_WORDS


_HTML_TEXT_RUN = re.compile(r"(?<=>)[^<>]+(?=<)|\A[^<>]+(?=<)|(?<=>)[^<>]+\Z")
_HTML_HIDDEN = re.compile(r"<(script|style|template|svg)\b", re.IGNORECASE)
# A `<details>` block's `<summary>` names what the folded text is about, as a heading does; `<h1>`..`<h6>` are
# headings written as HTML (a README's centred title). Level 6 keeps a summary below every Markdown heading.
_HTML_HEADING = re.compile(r"<(summary|h([1-6]))\b[^>]*>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
HTML_PROSE_MIN_WORDS = 8   # a shorter run between tags is a label ("Abstract"), a cell or a link text


def _html_block_prose(body: str, seg_start: int, seg_end: int) -> list[_RawBlock]:
    """The prose of a raw HTML block inside Markdown (a README's `<details>` abstracts): each heading element
    (`<summary>`, `<h1>`..`<h6>`) whose text is one run between tags, as a heading, and each run of text
    between tags long enough to be a sentence, as a paragraph spanning it exactly. Blocks holding scripts or
    styles give nothing."""
    segment = body[seg_start:seg_end]
    if _HTML_HIDDEN.search(segment):
        return []
    headings = {}
    for m in _HTML_HEADING.finditer(segment):
        runs = [r for r in _HTML_TEXT_RUN.finditer(segment, m.start(3), m.end(3) + 1) if r.group().strip()
                and r.end() <= m.end(3)]
        if len(runs) == 1:
            start, end = _strip_range(body, seg_start + runs[0].start(), seg_start + runs[0].end())
            headings[start] = _RawBlock("heading", body[start:end], start, end, int(m.group(2) or 6))
    out = []
    for m in _HTML_TEXT_RUN.finditer(segment):
        start, end = _strip_range(body, seg_start + m.start(), seg_start + m.end())
        if start in headings:
            out.append(headings[start])
        elif len(body[start:end].split()) >= HTML_PROSE_MIN_WORDS:
            out.append(_RawBlock("paragraph", body[start:end], start, end))
    return out


def _line_starts(body: str) -> list[int]:
    starts = [0]
    for match in re.finditer("\n", body):
        starts.append(match.end())
    starts.append(len(body))  # one past the last line, so map ends always index safely
    return starts


def _strip_range(body: str, start: int, end: int) -> tuple[int, int]:
    segment = body[start:end]
    left = len(segment) - len(segment.lstrip())
    right = len(segment.rstrip())
    return start + left, start + max(left, right)


def _locate(body: str, content: str, seg_start: int, seg_end: int, kind: str, level: int) -> _RawBlock:
    """Find the inline content's lines, in order, inside its source lines; fall back to the raw source lines."""
    lines = content.strip().split("\n")
    position, first, last_end = seg_start, None, None
    for line in lines:
        line = line.strip()
        found = body.find(line, position, seg_end)
        if found < 0:
            start, end = _strip_range(body, seg_start, seg_end)
            return _RawBlock(kind, body[start:end], start, end, level)
        first = found if first is None else first
        position = last_end = found + len(line)
    text = "\n".join(line.strip() for line in lines)
    return _RawBlock(kind, text, first, last_end, level)


def _txt_blocks(body: str) -> list[_RawBlock]:
    """One block per non-empty line: bulleted lines are items, short title-like lines are headings."""
    lines = [(m.start(), m.group()) for m in re.finditer(r"[^\n]*", body) if m.group().strip()]
    blocks: list[_RawBlock] = []
    for index, (offset, line) in enumerate(lines):
        bullet = _BULLET.match(line)
        if bullet:
            start, end = _strip_range(body, offset + bullet.end(), offset + len(line))
            blocks.append(_RawBlock("item", body[start:end], start, end))
            continue
        start, end = _strip_range(body, offset, offset + len(line))
        text = body[start:end]
        following = lines[index + 1][1].strip() if index + 1 < len(lines) else None
        if _is_txt_heading(text, following, first=index == 0):
            blocks.append(_RawBlock("heading", text, start, end, 1 if index == 0 else 2))
        else:
            blocks.append(_RawBlock("paragraph", text, start, end))
    return blocks


def _heading_shaped(line: str) -> bool:
    return (
        len(line.split()) <= _MAX_HEADING_WORDS
        and not _SENTENCE_END.search(line)
        and (line[0].isupper() or line[0].isdigit())
        and not _BULLET.match(line)
        and not _DATE_LINE.match(line)
    )


def _is_txt_heading(line: str, following: str | None, *, first: bool) -> bool:
    """A short title-like line that opens the file or introduces a longer line of running text."""
    if not _heading_shaped(line):
        return False
    if first:
        return True
    # A short or dated next line means a byline run ("Tahmid" / "Tahmid AI Researcher" / "May 30, 2025").
    return (
        following is not None
        and len(following) > len(line)
        and not _heading_shaped(following)
        and not _DATE_LINE.match(following)
    )


def _normalized(text: str) -> str:
    return " ".join(text.split()).casefold()


def _drop_repeats(blocks: list[_RawBlock]) -> list[_RawBlock]:
    """Drop paragraphs/items seen earlier in the document, and repeated headings that introduce dropped text."""
    seen_text: set[str] = set()
    seen_headings: set[str] = set()
    repeat = [False] * len(blocks)
    for index, block in enumerate(blocks):
        if block.kind != "heading":
            key = _normalized(block.text)
            repeat[index] = key in seen_text
            seen_text.add(key)
    kept = []
    for index, block in enumerate(blocks):
        if block.kind == "heading":
            key = _normalized(block.text)
            next_dropped = index + 1 < len(blocks) and blocks[index + 1].kind != "heading" and repeat[index + 1]
            seen_before = key in seen_headings
            seen_headings.add(key)
            if seen_before and next_dropped:
                continue
        elif repeat[index]:
            continue
        kept.append(block)
    return kept


def _with_sections(blocks: list[_RawBlock], title: str) -> list[Block]:
    section = title
    out = []
    for block in blocks:
        if block.kind == "heading":
            section = block.text
        out.append(
            Block(
                kind=block.kind,
                text=block.text,
                section=section,
                start=block.start,
                end=block.end,
                level=block.level,
            )
        )
    return out


# ----------------------------------------------------------------------------------------------- html


def _extract_html(html: str, rel: str) -> tuple[str, dict[str, Any]]:
    """Main text of a saved page as Markdown (scripts, styles and attributes never survive) plus its metadata."""
    import trafilatura

    body = trafilatura.extract(
        html,
        output_format="markdown",
        include_comments=False,
        include_tables=True,
        include_links=False,
        include_images=False,
        favor_recall=True,
    )
    if not body or not body.strip():
        raise CorpusError(rel, "no readable text in HTML page")
    found = trafilatura.extract_metadata(html)
    page: dict[str, Any] = {}
    if found is not None:
        page["title"] = (found.title or "").strip() or None
        page["authors"] = [name.strip() for name in (found.author or "").split(";") if name.strip()]
        page["date"] = found.date or None
        page["url"] = found.url or None
        page["summary"] = _as_summary(found.description)
    return _normalize_newlines(body.strip()) + "\n", page
