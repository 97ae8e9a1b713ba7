"""The `kb` command line, run as a real subprocess: outputs, --data-dir/KB_DATA_DIR, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from kb.api import KnowledgeBase
from kb.cli import cli


def run_kb(*args, data_dir=None, stdin: bytes | None = None, env_data_dir=None):
    env = {k: v for k, v in os.environ.items() if k != "KB_DATA_DIR"}
    if env_data_dir is not None:
        env["KB_DATA_DIR"] = str(env_data_dir)
    cmd = [sys.executable, "-m", "kb"]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    return subprocess.run([*cmd, *args], input=stdin if stdin is not None else b"", capture_output=True, timeout=120, env=env)


def test_stats_show_and_export_graph(built_data_dir, tmp_path):
    out = run_kb("stats", "--json", data_dir=built_data_dir)
    assert out.returncode == 0, out.stderr
    counts = json.loads(out.stdout)
    assert counts == KnowledgeBase.load(built_data_dir).stats()
    assert counts["nodes"]["failure_mode"] > 0 and counts["edges"]["mitigates"] > 0

    show = run_kb("show", "no-foothold", data_dir=built_data_dir)
    text = show.stdout.decode()
    assert show.returncode == 0
    assert text.startswith("No foothold (reward is always zero)\nfm:no-foothold  [failure_mode]")
    assert "There is nothing to reinforce and the reinforcement signal is always zero." in text
    # the same provenance labels the explorer and the site show
    assert "[curated]" in text and "[inferred: rule alias]" in text and "[rule:alias]" not in text
    assert "also called: " in text and "*" not in text.split("also called: ", 1)[1].splitlines()[0]

    episode = run_kb("show", "E026", "--json", data_dir=built_data_dir)
    node = json.loads(episode.stdout)["node"]
    assert node["id"] == "paper:e026" and node["arxiv"] == "2605.06241"

    target = tmp_path / "graph.json"
    exported = run_kb("export", "graph", str(target), env_data_dir=built_data_dir)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(target.read_text(encoding="utf-8"))
    assert len(data["nodes"]) == sum(counts["nodes"].values())
    assert len(data["edges"]) == sum(counts["edges"].values())


def test_query_json_schema(built_data_dir):
    out = run_kb("query", "model sabotages its own reinforcement learning", "--json", "--k", "5", data_dir=built_data_dir)
    assert out.returncode == 0, out.stderr
    hits = json.loads(out.stdout)
    assert len(hits) == 5
    keys = {"id", "kind", "text", "score", "source_id", "source_title", "quote", "episodes", "papers", "failure_modes", "mitigations"}
    for h in hits:
        assert keys <= set(h)
        for p in h["papers"]:
            assert {"key", "arxiv"} <= set(p)
    assert any("E007" in h["episodes"] for h in hits)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


def test_query_filters(built_data_dir):
    out = run_kb("query", "reward is always zero", "--json", "--kind", "claim", "--kind", "evidence",
                 "--failure-mode", "no-foothold", "--k", "4", data_dir=built_data_dir)
    hits = json.loads(out.stdout)
    assert len(hits) == 4
    assert all(h["kind"] in ("claim", "evidence") and "fm:no-foothold" in h["failure_modes"] for h in hits)
    src = json.loads(run_kb("query", "reward", "--json", "--source", "the-real-issue-isnt-rl", data_dir=built_data_dir).stdout)
    assert src and all(h["source_id"] == "the-real-issue-isnt-rl" for h in src)


def test_human_output_is_readable(built_data_dir):
    out = run_kb("query", "all rollouts get zero reward", "--k", "3", data_dir=built_data_dir)
    text = out.stdout.decode()
    assert text.startswith("1. [")
    assert "score" in text and "fm:no-foothold" in text


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (["query", ""], None, "error: empty query"),
        (["query", "x" * 100_000], None, "error: query is 100,000 characters"),
        (["query"], b"\xff\xfe bad", "error: query on stdin is not valid UTF-8"),
        (["query", "reward", "--k", "0"], None, "error: --k must be between 1 and"),
        (["query", "reward", "--kind", "banana"], None, "error: unknown kind 'banana'"),
        (["query", "reward", "--failure-mode", "nope"], None, "error: no failure mode 'nope'"),
        (["show", "fm:does-not-exist"], None, "error: no node 'fm:does-not-exist'"),
        (["repro", "run", "no-such-repro", "--quick"], None, "error: no reproduction named 'no-such-repro'"),
    ],
)
def test_bad_queries_give_one_line_errors(built_data_dir, args, stdin, message):
    out = run_kb(*args, data_dir=built_data_dir, stdin=stdin)
    err = out.stderr.decode()
    assert out.returncode != 0
    assert err.startswith(message), err
    assert "Traceback" not in err and err.count("\n") == 1


def test_no_build_yet(tmp_path):
    for args in (["query", "reward"], ["stats"], ["show", "fm:no-foothold"], ["export", "graph", str(tmp_path / "g.json")]):
        out = run_kb(*args, data_dir=tmp_path / "empty")
        err = out.stderr.decode()
        assert out.returncode == 1 and err.startswith("error: no knowledge base built in ") and "kb build" in err, err
        assert err.count("\n") == 1


def test_build_strict_exit_code(tmp_path):
    data = tmp_path / "data"
    (data / "corpus").mkdir(parents=True)
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    (data / "taxonomy.yaml").write_text((repo / "data" / "taxonomy.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (data / "corpus" / "bad.md").write_bytes(b"\x00\x00binary")
    out = run_kb("build", "--strict", data_dir=data)
    assert out.returncode == 1
    assert out.stderr.decode().startswith("error: bad.md: binary file, not text")
    assert not (data / "build").exists()


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, command in sorted(group.commands.items()):
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths += _command_paths(command, (*prefix, name))
    return paths


def test_commands_have_help(tmp_path):
    paths = _command_paths(cli)
    assert {("build",), ("show",), ("export", "site"), ("export", "mkdocs")} <= set(paths)
    runner = CliRunner()
    for path in [(), *paths]:
        result = runner.invoke(cli, ["--data-dir", str(tmp_path), *path, "--help"], prog_name="kb")
        assert result.exit_code == 0, (path, result.output)
        assert result.output.startswith(f"Usage: kb {' '.join(path)}".rstrip() + " "), (path, result.output[:200])
        summary = result.output.split("\n\n", 2)[1].strip()
        assert summary and not summary.startswith("Options:"), (path, "no description")


def test_export_shows_progress_only_on_a_terminal(built_data_dir, tmp_path):
    out = run_kb("export", "mkdocs", str(tmp_path / "docs"), data_dir=built_data_dir)
    assert out.returncode == 0, out.stderr
    assert out.stderr == b"" and out.stdout.decode().startswith("wrote ")
