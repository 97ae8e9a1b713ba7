"""scripts/eval_extract.py: the gold matching rule, the per-set summary and its argument checks (the
numbers themselves come from real documents outside the repository)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("eval_extract", REPO / "scripts" / "eval_extract.py")
ev = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ev)

GRAPH = {
    "nodes": [
        {"id": "src:post", "kind": "source", "path": "corpus/realdev/post.md"},
        {"id": "src:other", "kind": "source", "path": "corpus/realdev/other.md"},
        {"id": "fm:collapse", "kind": "failure_mode", "label": "Entropy collapse", "description": "",
         "aliases": ["policy entropy collapses"], "source_id": "taxonomy"},
        {"id": "mit:bonus", "kind": "mitigation", "label": "Entropy bonus", "description": "", "aliases": [],
         "source_id": "post"},
        {"id": "claim:1", "kind": "claim"},
    ],
    "edges": [
        {"source": "claim:1", "target": "fm:collapse", "kind": "about", "source_id": "post"},
        {"source": "claim:1", "target": "fm:collapse", "kind": "about", "source_id": "other"},
    ],
}
GOLD = [
    {"file": "docs/post.md", "kind": "post",
     "failure_modes": [{"name": "entropy collapse", "keywords": [["entropy", "collapse"]]},
                       {"name": "length growth", "keywords": [["length"]]}],
     "mitigations": [{"name": "entropy bonus", "keywords": [["bonus"]]}]},
    {"file": "docs/other.md", "kind": "distractor", "failure_modes": [], "mitigations": []},
]


def test_a_gold_concept_is_found_by_a_tied_concept_holding_every_stem_of_one_group():
    result = ev.score(GRAPH, GOLD)
    post = result["per_doc"][0]
    assert post["failure_mode"] == (1, 2) and post["missing"]["failure_mode"] == ["length growth"]
    assert post["mitigation"] == (1, 1)   # a new concept found in the post is tied to it by provenance
    assert result["distractor"]["concepts"] == [("other.md", "fm:collapse")]
    assert result["distractor"]["about_edges"] == 1
    assert [c[0] for c in result["new_concepts"]] == ["mit:bonus"]


def test_the_summary_totals_every_set_but_realdev(capsys):
    result = {**ev.score(GRAPH, GOLD), "seed_checks": {"a": True, "b": False}}
    ev.summary({"realdev": result, "setA": result, "setB": result})
    out = capsys.readouterr().out
    assert "setA" in out and "1/2" in out
    assert out.splitlines()[-1].split()[-4:] == ["2/4", "(0.50)", "2/2", "(1.00)"]


def test_sets_without_gold_or_with_one_name_are_refused(tmp_path, capsys):
    assert ev.main(["--realdev", str(tmp_path / "nowhere")]) == 1
    assert "no GOLD.json" in capsys.readouterr().err
    for name in ("a", "b"):
        (tmp_path / name / "same").mkdir(parents=True)
        (tmp_path / name / "same" / "GOLD.json").write_text(json.dumps(GOLD), encoding="utf-8")
    assert ev.main(["--realdev", str(tmp_path / "a" / "same"), "--realdev", str(tmp_path / "b" / "same")]) == 1
    assert "share a folder name" in capsys.readouterr().err
