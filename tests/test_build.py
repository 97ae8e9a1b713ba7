"""The build stage end to end through the real embedding model: atomic, deterministic, incremental, robust."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest

from kb.api import KnowledgeBase
from kb.build import build
from kb.config import load_settings
from kb.errors import KBError
from kb.store import GRAPH_FILE


def test_session_build_has_every_kind(kb):
    stats = kb.stats()
    assert set(stats["nodes"]) >= {"source", "paper", "claim", "evidence", "failure_mode", "mitigation", "reproduction"}
    assert set(stats["edges"]) >= {"states", "cites", "about", "supports", "contradicts", "qualifies", "mitigates", "reproduces", "demonstrates"}
    assert stats["nodes"]["source"] == len(list((kb.settings.corpus_dir).rglob("*.*")))


def test_unchanged_rebuild_is_skipped_and_forced_rebuild_is_byte_identical(data_copy):
    settings = load_settings(data_copy)
    graph = settings.build_dir / GRAPH_FILE
    before = graph.read_bytes()
    report = build(settings)
    assert report.up_to_date and report.seconds < 1.0
    forced = build(settings, force=True)
    assert not forced.up_to_date and forced.embedded == 0
    assert graph.read_bytes() == before


def test_new_document_is_incremental(data_copy, monkeypatch):
    import kb.parse

    parsed = []
    real_parse = kb.parse._parse
    monkeypatch.setattr(kb.parse, "_parse", lambda text, raw, *, rel, fmt: parsed.append(rel) or real_parse(text, raw, rel=rel, fmt=fmt))
    settings = load_settings(data_copy)
    (settings.corpus_dir / "posts" / "new.md").write_text(
        "---\nid: new-post\nkind: post\ntitle: New post\n---\n# New post\n\n"
        "Reward hacking shows up when the checker can be fooled by printing the expected output.\n",
        encoding="utf-8",
    )
    report = build(settings)
    assert not report.up_to_date
    assert 1 <= report.embedded <= 3, report
    assert parsed == ["posts/new.md"]
    kb = KnowledgeBase.load(data_copy)
    assert "src:new-post" in kb.G
    hits = kb.search("checker fooled by printing the expected output", k=3, kinds=["claim"])
    assert hits[0].source_id == "new-post" and "fm:reward-hacking" in hits[0].failure_modes


def test_taxonomy_edit_reuses_document_readings_and_gives_the_graph_a_fresh_read_gives(data_copy, monkeypatch):
    import shutil

    import kb.build

    settings = load_settings(data_copy)
    settings.taxonomy_path.write_text(settings.taxonomy_path.read_text(encoding="utf-8").replace(
        "aliases: [reward hacking,", "aliases: [reward hacking, checker fooled,", 1), encoding="utf-8")
    read = []
    real_read = kb.build.read_document
    monkeypatch.setattr(kb.build, "read_document", lambda doc, cues: read.append(doc.id) or real_read(doc, cues))
    build(settings)
    assert read == []                                  # every document's reading came from the session build
    graph = settings.build_dir / GRAPH_FILE
    cached = graph.read_bytes()
    shutil.rmtree(settings.cache_dir / "readings")
    build(settings, force=True)
    assert len(read) == len(list(settings.corpus_dir.rglob("*.*")))
    assert graph.read_bytes() == cached                # reading afresh changes nothing
    damaged = sorted((settings.cache_dir / "readings").glob("*.pickle"))[0]
    damaged.write_bytes(b"not a pickle")
    build(settings, force=True)                         # a damaged cache file is read again, not fatal
    assert graph.read_bytes() == cached
    for memo in (settings.cache_dir / "alias_hits").glob("*.pickle"):
        memo.write_bytes(b"not a pickle")              # nor is damaged memo of alias hits: every text is matched again
    build(settings, force=True)
    assert graph.read_bytes() == cached


def test_taxonomy_edit_matches_again_only_the_sentences_an_edited_alias_can_reach(data_copy, monkeypatch):
    import shutil

    from kb.extract.aliases import AliasIndex

    settings = load_settings(data_copy)
    matched = []
    real_match = AliasIndex._match
    monkeypatch.setattr(AliasIndex, "_match", lambda self, text, toks: matched.append(text) or real_match(self, text, toks))
    settings.taxonomy_path.write_text(settings.taxonomy_path.read_text(encoding="utf-8").replace(
        "aliases: [reward hacking,", "aliases: [reward hacking, grader gaming,", 1), encoding="utf-8")
    build(settings)
    graph = (settings.build_dir / GRAPH_FILE).read_bytes()
    assert matched and all("grader" in text.lower() for text in matched)   # "grader gaming" starts with "grader"
    shutil.rmtree(settings.cache_dir / "alias_hits")
    build(settings, force=True)
    assert (settings.build_dir / GRAPH_FILE).read_bytes() == graph       # every text matched afresh: the same graph


def test_failed_build_leaves_previous_build(data_copy, monkeypatch):
    settings = load_settings(data_copy)
    before = (settings.build_dir / GRAPH_FILE).read_bytes()
    (settings.corpus_dir / "posts" / "another.md").write_text("# Another\n\nSome new text about overfitting here.\n", encoding="utf-8")

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("kb.build.write_build", boom)
    with pytest.raises(RuntimeError):
        build(settings)
    assert (settings.build_dir / GRAPH_FILE).read_bytes() == before
    assert not list(data_copy.glob(".build-staging-*"))
    KnowledgeBase.load(data_copy)


def test_killed_build_leaves_a_usable_build(data_copy):
    settings = load_settings(data_copy)
    (settings.corpus_dir / "posts" / "third.md").write_text("# Third\n\nA post about memorization of tasks.\n", encoding="utf-8")
    before = (settings.build_dir / GRAPH_FILE).read_bytes()
    for delay in (0.3, 0.8, 1.5):
        proc = subprocess.Popen([sys.executable, "-m", "kb", "--data-dir", str(data_copy), "build", "--force"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kb = KnowledgeBase.load(data_copy)
        graph = (settings.build_dir / GRAPH_FILE).read_bytes()
        assert graph == before or "src:third" in kb.G


def test_bad_inputs_are_skipped_with_warnings_and_strict_fails_without_touching_build(data_copy):
    settings = load_settings(data_copy)
    corpus = settings.corpus_dir / "zz-bad"
    corpus.mkdir()
    (corpus / "empty.md").write_text("", encoding="utf-8")
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    (corpus / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (corpus / "front.md").write_text("---\nkind: [unclosed\n---\n# Title\n\nBody text here.\n", encoding="utf-8")
    with open(corpus / "huge.md", "wb") as f:
        f.truncate(20 * 1024 * 1024)
    (corpus / "dupe.md").write_text("---\nid: obvious-ways-rl-can-fail\n---\n# Dupe\n\nSame id as a seed.\n", encoding="utf-8")
    os.symlink(corpus, corpus / "loop")
    before = (settings.build_dir / GRAPH_FILE).read_bytes()

    with pytest.raises(KBError) as err:
        build(replace(settings, strict=True))
    assert "\n" not in str(err.value) and "zz-bad/" in str(err.value)
    assert (settings.build_dir / GRAPH_FILE).read_bytes() == before

    report = build(settings)
    warned = "\n".join(report.warnings)
    for name in ("empty.md", "binary.txt", "latin1.txt", "front.md", "huge.md", "dupe.md", "loop"):
        assert name in warned, name
    assert all("\n" not in w for w in report.warnings)
    kb = KnowledgeBase.load(data_copy)
    assert "src:obvious-ways-rl-can-fail" in kb.G
    assert kb.G.nodes["src:obvious-ways-rl-can-fail"]["path"] == "posts/obvious-ways-rl-can-fail.txt"

    # Nothing changed since the lenient build, yet a strict build must still refuse the bad files.
    assert build(settings).up_to_date
    with pytest.raises(KBError) as err:
        build(replace(settings, strict=True))
    assert "zz-bad/" in str(err.value)


def test_post_with_an_unquoted_colon_in_its_front_matter_is_kept_warned_and_refused_by_strict(data_copy):
    settings = load_settings(data_copy)
    (settings.corpus_dir / "posts" / "colon.md").write_text(
        "---\ntitle: Critic lag\ndescription: Why the value head trails: a note on PPO runs\n---\n"
        "# Critic lag\n\nThe value head trails the policy after each update.\n", encoding="utf-8")
    report = build(settings)
    assert [w for w in report.warnings if "colon.md" in w] == [
        "posts/colon.md: malformed front matter: mapping values are not allowed here at line 3; "
        "its key: value lines were read as plain text"]
    assert KnowledgeBase.load(data_copy).G.nodes["src:colon"]["label"] == "Critic lag"

    assert build(settings).up_to_date   # the cached parse keeps the problem, so strict still sees it
    with pytest.raises(KBError) as err:
        build(replace(settings, strict=True))
    assert str(err.value).startswith("posts/colon.md: malformed front matter: ")


def test_graph_json_schema(kb, tmp_path):
    from kb.graph import graph_to_json

    data = json.loads(graph_to_json(kb.G))
    assert "edges" in data and "links" not in data
    for node in data["nodes"]:
        assert node["id"] and node["kind"] and node["label"], node
        if node["kind"] in ("failure_mode", "mitigation"):
            assert node["description"]
        if node["kind"] == "paper" and node.get("episode"):
            assert node["arxiv"]
    for edge in data["edges"]:
        assert edge["kind"] and edge["quote"] and edge["source_id"] and edge["asserted_by"], edge
