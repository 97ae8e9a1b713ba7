"""What the explorer's first page needs, importable without pydantic, networkx or numpy, so the home page
draws about as fast as an empty Streamlit app: the data-dir argument, widget keys, the Open button, Markdown
escaping, and the home page's failure-mode rows.

The rows come from the API's failure-mode cards (`concept_cards(summary=True)`) and are cached twice: in the
process (st.cache_data) and on disk beside the build's other caches, keyed by a hash of the build manifest,
so a restarted explorer does not load the graph until a page needs it."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable
from typing import Any

import streamlit as st

from ..config import load_settings

NODE_PAGE = "kb/app/pages/node.py"
HOME_CACHE = "explorer-home.json"
HOME_FORMAT = 1  # bump when the row fields change
HOME_FIRST = 20  # failure modes drawn before "Show all": the list is most of what the first render draws
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=^])")

HOME_ORDERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "weight of evidence": lambda r: (-r["weight"], r["label"].lower()),
    "name": lambda r: r["label"].lower(),
    "newest evidence": lambda r: (r["newest"] is None, [-ord(ch) for ch in r["newest"] or ""], r["label"].lower()),
    "open disagreements": lambda r: (-r["disagreements"], r["label"].lower()),
    "reproductions": lambda r: (-r["reproductions"], -r["weight"], r["label"].lower()),
}
"""Ways to order the home page's failure modes; weight of evidence = sources + papers + reproductions."""


def md_escape(text: str | None) -> str:
    """Text made inert for st.markdown: markdown, LaTeX ($), emoji/colour directives (:) and HTML all escaped."""
    return _MD_SPECIAL.sub(r"\\\1", text or "").replace("\n", " ")


def key_for(*parts: str) -> str:
    """A widget key from a context and node ids; characters a CSS class cannot hold are spelled out in hex."""
    return "-".join(_KEY_UNSAFE.sub(lambda m: f"_{ord(m.group()):x}_", p) for p in parts)


def open_button(label: str, node_id: str, key: str, claim: str | None = None) -> None:
    """A small button that opens the node page of `node_id` (`claim`: a passage to highlight in a source)."""
    if st.button(label, key=key, help=node_id):
        st.switch_page(NODE_PAGE, query_params={"node": node_id, **({"claim": claim} if claim else {})})


def data_dir_arg() -> str | None:
    """The `--data-dir` given after `--` on the streamlit command line, if any."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--data-dir", default=None)
    known, _ = parser.parse_known_args(sys.argv[1:])
    return known.data_dir


def build_stamp() -> tuple[str, float]:
    """(data dir, manifest mtime): the cache key of the current build."""
    settings = load_settings(data_dir_arg())
    manifest = settings.build_dir / "manifest.json"
    return str(settings.data_dir), manifest.stat().st_mtime if manifest.is_file() else 0.0


def order_rows(rows: list[dict[str, Any]], order: str) -> list[dict[str, Any]]:
    """Home rows sorted by one of HOME_ORDERS (unknown names fall back to weight of evidence)."""
    return sorted(rows, key=HOME_ORDERS.get(order, HOME_ORDERS["weight of evidence"]))


@st.cache_data(show_spinner=False)
def home_data(data_dir: str, stamp: float) -> dict[str, Any] | None:
    """{"counts": caption, "rows": one dict per failure mode} for the home page, or None when there is no
    readable build (the caller then shows why, through `widgets.open_kb`)."""
    settings = load_settings(data_dir)
    manifest = settings.build_dir / "manifest.json"
    if not manifest.is_file():
        return None
    key = f"{HOME_FORMAT}:{hashlib.sha256(manifest.read_bytes()).hexdigest()}"
    path = settings.cache_dir / HOME_CACHE
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        if cached.get("build") == key:
            return cached["data"]
    except (OSError, ValueError, AttributeError):
        pass
    data = _compute_home_data(data_dir, stamp)
    if data is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}")
            tmp.write_text(json.dumps({"build": key, "data": data}), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only data dir only costs the next start its speed
    return data


def _compute_home_data(data_dir: str, stamp: float) -> dict[str, Any] | None:
    from ..errors import KBError
    from ..models import KIND_LABELS
    from .views import scorecard_line
    from .widgets import failure_mode_cards, load_kb

    try:
        kb = load_kb(data_dir, stamp)
        cards = failure_mode_cards(data_dir, stamp)
    except (KBError, OSError, ValueError, KeyError, TypeError):
        return None
    counts = " · ".join(f"{v} {KIND_LABELS.get(k, k)}s" for k, v in kb.stats()["nodes"].items())
    rows = [{"id": c.node.id, "label": c.node.label, "description": c.node.description,
             "line": scorecard_line(c.scorecard), "weight": c.scorecard.weight, "newest": c.scorecard.newest_evidence,
             "disagreements": c.scorecard.disagreements, "reproductions": c.scorecard.reproductions} for c in cards]
    return {"counts": counts, "rows": rows}
