"""scripts/eval_search.py: where the realdev-style folders' documents go in the scratch knowledge base and how
their questions find the document that answers them (the scores themselves come from real documents outside
the repository)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import networkx as nx

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("eval_search", REPO / "scripts" / "eval_search.py")
es = importlib.util.module_from_spec(_spec)
sys.modules["eval_search"] = es   # its dataclasses look their module up by name
_spec.loader.exec_module(es)


def _folder(root: Path, name: str, question: str) -> Path:
    folder = root / name
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "README.md").write_text(f"# {name}\n\nA page of set {name}.\n", encoding="utf-8")
    gold = [{"file": "docs/README.md", "kind": "docs", "failure_modes": [], "mitigations": [], "queries": [question]}]
    (folder / "GOLD.json").write_text(json.dumps(gold), encoding="utf-8")
    return folder


def test_merged_folders_keep_their_same_named_files_apart_and_a_single_folder_stays_flat(tmp_path):
    base = tmp_path / "data"
    (base / "corpus").mkdir(parents=True)
    (base / "corpus" / "post.md").write_text("# Post\n\nShipped text.\n", encoding="utf-8")
    one, two = _folder(tmp_path, "setA", "first?"), _folder(tmp_path, "setB", "second?")

    merged = es.scratch_dir(base, [one, two], tmp_path / "cache")
    assert (merged / "corpus" / "realdev" / "setA" / "README.md").read_text(encoding="utf-8").startswith("# setA")
    assert (merged / "corpus" / "realdev" / "setB" / "README.md").read_text(encoding="utf-8").startswith("# setB")
    alone = es.scratch_dir(base, [one], tmp_path / "cache")
    assert alone != merged
    assert (alone / "corpus" / "realdev" / "README.md").is_file() and (alone / "corpus" / "post.md").is_file()


def test_a_merged_set_question_is_answered_only_by_its_own_folders_document(tmp_path):
    two = _folder(tmp_path, "setB", "second?")
    kb = SimpleNamespace(G=nx.MultiDiGraph(), documents={
        "seta-readme": {"path": "realdev/setA/README.md"}, "setb-readme": {"path": "realdev/setB/README.md"}})

    [query] = es.realdev_queries(kb, two, "merged", "setB/")
    assert (query.text, query.set_name) == ("second?", "merged")
    assert query.answered({"id": "psg:setb-readme:0", "source_id": "setb-readme"})
    assert not query.answered({"id": "psg:seta-readme:0", "source_id": "seta-readme"})
