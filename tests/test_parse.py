"""Tests for kb.parse: corpus walk, front matter, Markdown/text/HTML blocks, spans, repeats and bad input."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from kb.errors import CorpusError
from kb.models import Document
from kb.parse import PARSER_VERSION, parse_document, parse_text, read_corpus

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
if not SEEDS.is_dir():
    SEEDS = Path("/work/shared/seeds")


def assert_spans(doc: Document) -> None:
    """Every block's span indexes its text inside Document.text (exactly for single-line blocks)."""
    for block in doc.blocks:
        raw = doc.text[block.start : block.end]
        if "\n" not in block.text:
            assert raw == block.text, block
            continue
        lines = block.text.split("\n")
        assert raw.startswith(lines[0]) and raw.endswith(lines[-1]), block
        position = 0
        for line in lines:
            position = raw.index(line, position) + len(line)


def outline(doc: Document) -> list[tuple[str, str, str, int]]:
    return [(b.kind, b.text, b.section, b.level) for b in doc.blocks]


def write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


# ----------------------------------------------------------------------------------------------- markdown

MARKDOWN_DOC = """---
id: gao-overopt
kind: episode
title: Scaling laws for reward model overoptimization
author: Leo Gao
date: 2022-10-19
paper: "2210.10760"
failure_modes: [reward_hacking]
tags: [rlhf, goodhart]
published: 2022-10-19
year: 2022
---
# Overoptimization

Proxy reward keeps rising
while gold reward peaks.

## Findings

- Gold reward falls with **KL** distance.
- Larger reward models
  delay the peak.

> A quoted paragraph.

| n | gold |
|---|------|
| 1 | 0.3  |
"""


def test_markdown_with_front_matter_whole_output():
    doc = parse_text(MARKDOWN_DOC, path="episodes/gao.md", fmt="md")

    assert (doc.id, doc.kind, doc.path, doc.format) == ("gao-overopt", "episode", "episodes/gao.md", "md")
    assert doc.meta.model_dump() == {
        "title": "Scaling laws for reward model overoptimization",
        "authors": ["Leo Gao"],
        "date": "2022-10-19",
        "url": None,
        "episode": None,
        "paper": "2210.10760",
        "reliability": "secondary",
        "failure_modes": ["reward_hacking"],
        "extra": {"tags": ["rlhf", "goodhart"], "published": "2022-10-19", "year": "2022"},
        "front_matter_problem": None,
    }
    json.dumps(doc.meta.extra)
    assert doc.text.startswith("# Overoptimization\n")
    assert outline(doc) == [
        ("heading", "Overoptimization", "Overoptimization", 1),
        ("paragraph", "Proxy reward keeps rising\nwhile gold reward peaks.", "Overoptimization", 0),
        ("heading", "Findings", "Findings", 2),
        ("item", "Gold reward falls with **KL** distance.", "Findings", 0),
        ("item", "Larger reward models\ndelay the peak.", "Findings", 0),
        ("paragraph", "A quoted paragraph.", "Findings", 0),
        ("paragraph", "| n | gold |", "Findings", 0),
        ("paragraph", "| 1 | 0.3  |", "Findings", 0),
    ]
    assert_spans(doc)


def test_a_site_generators_own_title_field_names_the_document():
    text = "---\ntags: [rl]\npaper_title: Why rollouts stop exploring\nreview_authors: [ann]\n---\n\n" \
           "Intro line.\n\n### The key idea\n\nBody.\n"
    assert parse_text(text, path="notes.md", fmt="md").meta.title == "Why rollouts stop exploring"
    given = text.replace("tags: [rl]", "title: Given title")
    assert parse_text(given, path="notes.md", fmt="md").meta.title == "Given title"   # `title` comes first
    listed = text.replace("paper_title: Why rollouts stop exploring", "paper_title: [a, b]")
    assert parse_text(listed, path="notes.md", fmt="md").meta.title == "The key idea"   # only text names it


@pytest.mark.parametrize("fmt", ["md", "txt"])
def test_a_front_matter_summary_is_read_as_the_first_paragraph(fmt):
    text = ("---\ntitle: Notes on a run\ndescription: >-\n  Use when rewards stay flat or the policy\n"
            "  <br>collapses to one answer.\n---\n\nBody paragraph one.\n")
    doc = parse_text(text, path=f"notes.{fmt}", fmt=fmt)

    first = doc.blocks[0]
    assert (first.kind, first.text, first.section) == (
        "paragraph", "Use when rewards stay flat or the policy collapses to one answer.", "Notes on a run")
    assert doc.text.startswith(first.text + "\n\n") and "Body paragraph one." in [b.text for b in doc.blocks]
    assert doc.meta.title == "Notes on a run"
    assert_spans(doc)


@pytest.mark.parametrize(("field", "value", "body"), [
    ("summary", "Rewards stay flat for days.", "Rewards stay flat for days.\n\nMore."),   # the body already says it
    ("description", "Rewards stay flat for days and then…", "Rewards stay flat for days and then collapse.\n"),  # cut
    ("summary", "Too short", "Body.\n"),
    ("description", "[a, b, c]", "Body.\n"),   # a list, not prose
])
def test_a_summary_the_body_holds_or_that_is_not_prose_adds_no_paragraph(field, value, body):
    doc = parse_text(f"---\ntitle: T\n{field}: {value}\n---\n\n{body}", path="notes.md", fmt="md")

    assert doc.text.strip() == body.strip()
    assert_spans(doc)


def test_markdown_without_front_matter_infers_title_id_kind_and_section_before_first_heading():
    doc = parse_text("Intro line before any heading.\n\n## The Real Title\n\nBody.\n", path="My Notes_v2.md", fmt="md")

    assert (doc.id, doc.kind, doc.meta.title, doc.meta.reliability) == (
        "my-notes-v2",
        "post",
        "The Real Title",
        "opinion",
    )
    assert outline(doc)[0] == ("paragraph", "Intro line before any heading.", "The Real Title", 0)
    assert_spans(doc)


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        ("E026-deep-dive.md", "# Tokens\n\nBody.\n", ("episode", "E026", "secondary")),
        ("review.md", "Cites E001, E002 and E003 and E001 again.\n", ("topic", None, "secondary")),
        ("review2.md", "Cites E001 and E002 only.\n", ("post", None, "opinion")),
        ("notes.md", "---\nkind: concept\nepisode: E099\n---\nA glossary entry.\n", ("concept", "E099", "secondary")),
    ],
)
def test_kind_episode_and_reliability_inference(name, body, expected):
    doc = parse_text(body, path=name, fmt="md")
    assert (doc.kind, doc.meta.episode, doc.meta.reliability) == expected


def test_bibliography_keeps_papers_in_extra_and_may_have_no_body():
    text = "---\nkind: bibliography\ntitle: Papers\npapers:\n  - {key: gao2022, arxiv: 2210.10760, year: 2022}\n---\n"
    doc = parse_text(text, path="papers.md", fmt="md")

    assert (doc.kind, doc.meta.reliability, doc.blocks) == ("bibliography", "primary", [])
    assert doc.meta.extra == {"papers": [{"key": "gao2022", "arxiv": "2210.10760", "year": "2022"}]}


def test_repeated_body_parses_once():
    copy = (
        "# Reward hacking\n\nThe model games the grader.\n\n- Symptom one.\n- Symptom two.\n\n## Fixes\n\nUse KL.\n\n"
    )
    once = parse_text(copy, path="once.md", fmt="md")
    thrice = parse_text(copy * 3, path="thrice.md", fmt="md")

    assert outline(thrice) == outline(once)
    assert [(b.start, b.end) for b in thrice.blocks] == [(b.start, b.end) for b in once.blocks]
    assert_spans(thrice)


def test_repeated_heading_is_kept_when_its_text_is_new():
    doc = parse_text("# Notes\n\nFirst.\n\n# Notes\n\nSecond.\n", path="n.md", fmt="md")
    assert [b.text for b in doc.blocks] == ["Notes", "First.", "Notes", "Second."]


def test_rst_section_underlines_are_headings_not_code_fences():
    body = "Clipping\n~~~~~~~~\n\nRaise the upper bound.\n\nLength\n^^^^^^\n\nCap the budget.\n\n~~~\ncode\n~~~\n"
    doc = parse_text(body, path="page.rst.md", fmt="md")
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("heading", "Clipping"), ("paragraph", "Raise the upper bound."), ("heading", "Length"),
        ("paragraph", "Cap the budget.")]
    assert [doc.text[b.start:b.end] for b in doc.blocks] == [b.text for b in doc.blocks]


def test_myst_target_lines_are_markup_not_blocks():
    body = "(kl-drift)=\n# KL drift\n\nThe policy wanders from the reference.\n\n(fix-notes)=\n\nAnchor the policy.\n"
    doc = parse_text(body, path="page.md", fmt="md")
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("heading", "KL drift"), ("paragraph", "The policy wanders from the reference."),
        ("paragraph", "Anchor the policy.")]
    assert all(doc.text[b.start:b.end] == b.text for b in doc.blocks)


def test_mkdocs_admonition_and_tab_bodies_are_prose_with_their_titles_as_headings():
    body = ('Intro.\n\n!!! note "Why it drifts"\n    The policy moves away from the reference.\n\n'
            '    ??? info\n        Nested detail.\n\n=== "Config"\n    Set the coefficient.\n\nAfter.\n\n'
            '    indented code stays code\n')
    doc = parse_text(body, path="page.md", fmt="md")
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("paragraph", "Intro."), ("heading", "Why it drifts"),
        ("paragraph", "The policy moves away from the reference."), ("paragraph", "Nested detail."),
        ("heading", "Config"), ("paragraph", "Set the coefficient."), ("paragraph", "After.")]
    assert all(doc.text[b.start:b.end] == b.text for b in doc.blocks)


def test_reading_notes_kept_in_a_fence_are_prose_but_code_and_example_prompts_stay_code():
    notes = ("Paper notes\n\n```\ntitle: Why rollouts stop exploring\nkey takeaway:\n"
             "- entropy drops within the first hundred steps of training\n"
             "- a higher sampling temperature delays the drop for a while\n"
             "- the authors also reset the reference model when the KL term dominates\n```\n")
    code = "```\n" + "for step in range(10):\n    loss = model(batch)  # one step of the usual training loop\n" * 3 + "```\n"
    prompt = ("```\nYou are a careful assistant who answers questions about the history of science.\n"
              "Please think step by step and then give the final answer in one short sentence.\n"
              "Always cite the source you relied on and say when you are not sure about a fact.\n```\n")
    doc = parse_text(notes + "\n" + code + "\n" + prompt, path="notes.md", fmt="md")
    texts = [b.text for b in doc.blocks]
    assert "entropy drops within the first hundred steps of training" in texts
    assert not any("loss = model" in t or "careful assistant" in t for t in texts)
    assert all(doc.text[b.start:b.end] == b.text for b in doc.blocks if "\n" not in b.text)


def test_notes_in_a_fence_may_carry_a_heading_but_a_commented_script_stays_code():
    notes = ("```\ntitle: Why rollouts stop exploring\n\n## Key points\n"
             "- entropy drops within the first hundred steps of training\n"
             "- a higher sampling temperature delays the drop for a while\n"
             "- the authors also reset the reference model when the KL term dominates\n```\n")
    script = ("```\n# Install the trainer\npip install -e . && export RUN=grpo-small\n"
              "# Launch training\npython train.py --config configs/grpo.yaml --lr 1e-6 --steps 500\n```\n")
    doc = parse_text(notes + "\n" + script, path="notes.md", fmt="md")
    assert ("heading", "Key points") in [(b.kind, b.text) for b in doc.blocks]
    assert "entropy drops within the first hundred steps of training" in [b.text for b in doc.blocks]
    assert not any("train.py" in b.text or "Install the trainer" in b.text for b in doc.blocks)
    assert all(doc.text[b.start:b.end] == b.text for b in doc.blocks)


def test_restructuredtext_pages_read_their_prose_and_admonitions_but_not_directives():
    body = ("Best practices\n==============\n\nSet the clip ratio with care.\n\n.. note::\n\n"
            "   The KL coefficient trades exploration for stability.\n\n.. math::\n\n   \\frac{a}{b} = c\n\n"
            ".. code-block:: python\n\n   trainer.fit(model)\n\nConfigure it as follows::\n\n   lr: 1e-6\n\n"
            ".. _label-target:\n\nAfter.\n")
    doc = parse_text(body, path="page.rst", fmt="md")
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("heading", "Best practices"), ("paragraph", "Set the clip ratio with care."),
        ("paragraph", "The KL coefficient trades exploration for stability."),
        ("paragraph", "Configure it as follows:"), ("paragraph", "After.")]
    assert all(doc.text[b.start:b.end] == b.text or b.text.endswith(":") for b in doc.blocks)


def test_rst_files_are_read_from_the_corpus(tmp_path):
    (tmp_path / "guide.rst").write_text("Guide\n=====\n\nEntropy collapse stalls training early on.\n", encoding="utf-8")
    docs = read_corpus(tmp_path).documents
    assert [b.text for b in docs[0].blocks] == ["Guide", "Entropy collapse stalls training early on."]


def test_prose_inside_raw_html_blocks_is_read_and_scripts_are_not():
    body = ("Intro.\n\n<details><summary>Abstract</summary>Long training runs plateau after thousands of steps "
            "unless exploration is widened.</details>\n\n<div><script>var words = 'one two three four five six seven "
            "eight';</script></div>\n\nAfter.\n")
    doc = parse_text(body, path="list.md", fmt="md")
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("paragraph", "Intro."), ("heading", "Abstract"),
        ("paragraph", "Long training runs plateau after thousands of steps unless exploration is widened."),
        ("paragraph", "After.")]
    assert all(doc.text[b.start:b.end] == b.text for b in doc.blocks)


def test_a_details_summary_and_an_html_heading_head_the_text_they_fold():
    body = ("# Notes\n\n<h2 align=\"center\"> Clipping notes </h2>\n\n1.  <details open>\n"
            "    <summary><i>Decoupled clipping.</i></summary>\n\n"
            "    The upper bound of the ratio is raised so rare tokens can still gain probability.\n"
            "    </details>\n\n<details><summary>See <b>table 2</b></summary>Unrelated.</details>\n")
    doc = parse_text(body, path="notes.md", fmt="md")
    headings = [(b.text, b.level) for b in doc.blocks if b.kind == "heading"]
    assert headings == [("Notes", 1), ("Clipping notes", 2), ("Decoupled clipping.", 6)]
    folded = next(b for b in doc.blocks if b.text.startswith("The upper bound"))
    assert folded.section == "Decoupled clipping."
    assert all(doc.text[b.start:b.end] == b.text for b in doc.blocks)


def test_notes_written_as_comments_in_a_code_fence_are_read_and_commented_code_is_not():
    notes = ("### Gotcha: reward hacking\n\n```python\n# The policy learns to exploit blind spots of the scorer\n\n"
             "# Solutions:\n# - Strong KL penalty (beta=0.1)\n# - Ensemble reward models\nbeta = 0.1\n```\n")
    config = ("```python\n# Core training parameters for the run\nlearning_rate: 5e-6\nnum_epochs: 1.0\n"
              "temperature: 0.7\nmax_grad_norm: 1.0\n# Batch configuration used by every worker\n"
              "per_device_train_batch_size: 4\n```\n")
    doc = parse_text(notes + "\n" + config, path="lecture.md", fmt="md")
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("heading", "Gotcha: reward hacking"),
        ("paragraph", "The policy learns to exploit blind spots of the scorer"), ("paragraph", "Solutions:"),
        ("item", "Strong KL penalty (beta=0.1)"), ("item", "Ensemble reward models")]
    assert all(doc.text[b.start:b.end] == b.text for b in doc.blocks)


def test_content_hash_covers_version_path_and_bytes():
    doc = parse_text("Body.\n", path="a.md", fmt="md")
    expected = hashlib.sha256(PARSER_VERSION.encode() + b"\0a.md\0Body.\n").hexdigest()

    assert doc.content_hash == expected
    assert parse_text("Body.\n", path="b.md", fmt="md").content_hash != expected
    assert parse_text("Body!\n", path="a.md", fmt="md").content_hash != expected


# ----------------------------------------------------------------------------------------------- plain text


def test_txt_headings_items_and_sections():
    text = (
        "Why RL stalls\n"
        "Jane Doe\n"
        "May 30, 2025\n"
        "\n"
        "Sparse rewards\n"
        "If nothing ever succeeds, there is nothing to reinforce.\n"
        "  •  Pass rate near zero\n"
        "- Flat reward curves\n"
        "2) Entropy collapses\n"
        "A short line.\n"
        "Here is a list:\n"
        "Collapse\n"
        "Entropy falls to zero and every rollout looks the same.\n"
        "A revisionist consensus has formed about RL on . At the level, RL agrees.\n"
    )
    doc = parse_text(text, path="stall.txt", fmt="txt")

    assert doc.meta.title == "Why RL stalls"
    assert outline(doc) == [
        ("heading", "Why RL stalls", "Why RL stalls", 1),
        ("paragraph", "Jane Doe", "Why RL stalls", 0),
        ("paragraph", "May 30, 2025", "Why RL stalls", 0),
        ("heading", "Sparse rewards", "Sparse rewards", 2),
        ("paragraph", "If nothing ever succeeds, there is nothing to reinforce.", "Sparse rewards", 0),
        ("item", "Pass rate near zero", "Sparse rewards", 0),
        ("item", "Flat reward curves", "Sparse rewards", 0),
        ("item", "Entropy collapses", "Sparse rewards", 0),
        ("paragraph", "A short line.", "Sparse rewards", 0),
        ("paragraph", "Here is a list:", "Sparse rewards", 0),
        ("heading", "Collapse", "Collapse", 2),
        ("paragraph", "Entropy falls to zero and every rollout looks the same.", "Collapse", 0),
        ("paragraph", "A revisionist consensus has formed about RL on . At the level, RL agrees.", "Collapse", 0),
    ]
    assert_spans(doc)


def test_txt_front_matter_crlf_and_bom():
    raw = "\ufeff---\r\nid: x1\r\ntitle: Given\r\n---\r\nShort Head\r\nA longer line of body text follows here.\r\n"
    doc = parse_text(raw, path="x.txt", fmt="txt")

    assert (doc.id, doc.meta.title, doc.text) == (
        "x1",
        "Given",
        "Short Head\nA longer line of body text follows here.\n",
    )
    assert outline(doc)[0] == ("heading", "Short Head", "Short Head", 1)
    assert_spans(doc)


# ----------------------------------------------------------------------------------------------- real seeds


@pytest.fixture(scope="module")
def seeds() -> dict[str, Document]:
    read = read_corpus(SEEDS)
    assert read.warnings == []
    return {doc.path[:3]: doc for doc in read.documents}


def headings(doc: Document) -> list[str]:
    return [b.text for b in doc.blocks if b.kind == "heading"]


def test_seed_000(seeds):
    doc = seeds["000"]
    assert (doc.meta.title, doc.kind, doc.meta.reliability) == ("Obvious ways RL can fail", "post", "opinion")
    assert headings(doc) == ["Obvious ways RL can fail", "Reward is always zero", "Reward hacking", "Overfitting"]


def test_seed_001_repeated_body_is_parsed_once(seeds):
    doc = seeds["001"]
    assert doc.meta.title == "Introduction: The Real Issue isn’t RL"
    assert {"How we evaluate shapes what we see", "The Myth of Emergence"} <= set(headings(doc))
    assert "Tahmid" not in headings(doc) and "May 30, 2025" not in headings(doc)
    assert sum(b.text.startswith("There’s been a lot of chatter") for b in doc.blocks) == 1
    assert len(headings(doc)) == len(set(headings(doc)))
    assert len({b.text for b in doc.blocks}) == len(doc.blocks)


def test_seed_002_is_a_topic_and_keeps_lost_terms(seeds):
    doc = seeds["002"]
    assert (doc.kind, doc.meta.title) == ("topic", "Literature review · 6 episode(s)")
    assert "What RL actually does to a model" in headings(doc)
    assert any(b.text.startswith("A revisionist consensus has formed about RL on . At the level,") for b in doc.blocks)


def test_seed_spans(seeds):
    for doc in seeds.values():
        assert doc.blocks
        assert_spans(doc)


# ----------------------------------------------------------------------------------------------- html

ARTICLE = """<html><head><title>Saved page</title><meta name="author" content="Ann Lee">
<style>body {{ color: red }}</style></head><body>
<nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<article><h1>Reward hacking in practice</h1>
<p>The policy found a loophole in the grader and exploited it for thousands of steps.</p>
<ul><li>Proxy reward climbs.</li><li>Gold reward falls.</li></ul>
{extra}
<p>KL penalties and better graders are the usual mitigations.</p></article>
<footer>Copyright 2025</footer></body></html>"""


def test_html_main_text_and_metadata():
    doc = parse_text(ARTICLE.format(extra=""), path="web/page.html", fmt="html")

    assert (doc.format, doc.id, doc.meta.title, doc.meta.authors) == (
        "html",
        "page",
        "Reward hacking in practice",
        ["Ann Lee"],
    )
    assert outline(doc) == [
        ("heading", "Reward hacking in practice", "Reward hacking in practice", 1),
        (
            "paragraph",
            "The policy found a loophole in the grader and exploited it for thousands of steps.",
            "Reward hacking in practice",
            0,
        ),
        ("item", "Proxy reward climbs.", "Reward hacking in practice", 0),
        ("item", "Gold reward falls.", "Reward hacking in practice", 0),
        ("paragraph", "KL penalties and better graders are the usual mitigations.", "Reward hacking in practice", 0),
    ]
    assert "Copyright" not in doc.text and "color" not in doc.text
    assert_spans(doc)


def test_an_html_pages_description_is_read_as_the_first_paragraph():
    described = ARTICLE.format(extra="").replace(
        "<title>Saved page</title>",
        '<title>Saved page</title><meta name="description" content="Why graders get gamed and what stops it.">')
    doc = parse_text(described, path="web/page.html", fmt="html")

    assert outline(doc)[:2] == [
        ("paragraph", "Why graders get gamed and what stops it.", "Reward hacking in practice", 0),
        ("heading", "Reward hacking in practice", "Reward hacking in practice", 1),
    ]
    assert_spans(doc)


def test_hostile_html_leaves_no_script_or_handlers(tmp_path):
    hostile = (
        "<script>alert(1)</script>"
        '<p>Click <a href="javascript:alert(2)">this link</a> then look. <img src="x" onerror="alert(3)"> after.</p>'
        '<p onclick="alert(4)">A paragraph with a handler on it.</p>'
        "<script>document.write('evil')</script>"
    )
    path = write(tmp_path, "hostile.htm", ARTICLE.format(extra=hostile))
    doc = parse_document(path, tmp_path)

    for bad in ("alert", "<script", "javascript:", "onerror", "onclick", "document.write", "evil"):
        assert bad not in doc.text
    assert "A paragraph with a handler on it." in [b.text for b in doc.blocks]
    assert_spans(doc)


# ----------------------------------------------------------------------------------------------- bad input


def _sparse(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        handle.truncate(size)


BAD_INPUTS = [
    ("empty.md", b"", "empty file"),
    ("blank.txt", b"  \n\t\n  ", "empty file"),
    ("blob.md", b"# Title\n\x00\x01\x02 binary", "binary file, not text"),
    ("latin.txt", "caf\u00e9 au lait".encode("latin-1"), "not valid UTF-8 (byte 3); save it as UTF-8"),
    ("fm_yaml.md", b"---\ntitle: [unclosed\n---\nBody.\n", "malformed front matter: "),
    ("fm_list.md", b"---\n- a\n- b\n---\nBody.\n", "malformed front matter: expected key: value pairs, got a list"),
    ("fm_open.md", b"---\ntitle: x\nBody.\n", "malformed front matter: no closing '---' line"),
    (
        "fm_kind.md",
        b"---\nkind: essay\n---\nBody.\n",
        "malformed front matter: kind 'essay' is not one of post, episode, topic, concept, bibliography",
    ),
    (
        "fm_rel.txt",
        b"---\nreliability: gospel\n---\nBody.\n",
        "malformed front matter: reliability 'gospel' is not one of primary, secondary, opinion",
    ),
    (
        "nothing.html",
        b"<html><head><title>x</title><script>a()</script></head><body><div></div></body></html>",
        "no readable text in HTML page",
    ),
]


def _strict_build_refuses_what_was_warned(root, read) -> None:
    """A strict read of the same corpus fails with the first warning the lenient read gave, word for word."""
    with pytest.raises(CorpusError) as raised:
        read_corpus(root, strict=True)
    assert str(raised.value) == read.warnings[0]


@pytest.mark.parametrize(("name", "content", "reason"), BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_warns_and_strict_raises(tmp_path, name, content, reason):
    write(tmp_path, name, content)
    write(tmp_path, "zz_good.md", "# Good\n\nFine.\n")

    read = read_corpus(tmp_path)
    assert [doc.path for doc in read.documents] == ["zz_good.md"]
    assert len(read.warnings) == 1
    assert read.warnings[0].startswith(f"{name}: {reason}")
    assert "\n" not in read.warnings[0]
    _strict_build_refuses_what_was_warned(tmp_path, read)


def test_unquoted_colon_in_front_matter_is_read_as_plain_text_and_warned(tmp_path):
    write(tmp_path, "post.md", "---\nlayout: post\ntitle: \"Value heads: a field guide\"\n"
                               "description: A tour of value heads: why they drift and how to pin them down\n"
                               "tags:\n- rl\n- ppo\ntoc:\n  sidebar: left\n---\n# Value heads\n\nThe critic lags.\n")
    read = read_corpus(tmp_path)
    [doc] = read.documents
    assert doc.meta.title == "Value heads: a field guide"
    assert doc.meta.extra["tags"] == ["rl", "ppo"] and doc.meta.extra["toc"] == {"sidebar": "left"}
    assert doc.text.startswith("A tour of value heads: why they drift and how to pin them down\n\n")
    assert read.warnings == ["post.md: malformed front matter: mapping values are not allowed here at line 4; "
                             "its key: value lines were read as plain text"]
    _strict_build_refuses_what_was_warned(tmp_path, read)


def test_front_matter_repeating_a_key_is_warned_with_its_line(tmp_path):
    write(tmp_path, "post.md", "---\ntitle: Draft name\nauthor: kb\ntitle: Value heads drift\n---\nThe critic lags.\n")
    read = read_corpus(tmp_path)
    [doc] = read.documents
    assert doc.meta.title == "Value heads drift"   # as YAML readers do, the last one stands
    assert doc.meta.authors == ["kb"]
    assert read.warnings == ["post.md: malformed front matter: duplicate key 'title' at line 4; "
                             "the last value was kept"]
    _strict_build_refuses_what_was_warned(tmp_path, read)


def test_front_matter_repeating_a_key_beside_nested_values_keeps_the_document(tmp_path):
    # a Hugo page: nested menus and lists, one flag written twice; plain key: value reading could not hold it
    write(tmp_path, "page.md", "---\ntitle: Critic lag\nmenu:\n  main:\n    weight: 2\ntags: [rl, ppo]\n"
                               "draft: false\ndraft: true\n---\nThe critic lags behind the policy.\n")
    read = read_corpus(tmp_path)
    [doc] = read.documents
    assert doc.meta.title == "Critic lag" and doc.meta.extra["menu"] == {"main": {"weight": "2"}}
    assert doc.meta.extra["draft"] is True
    assert read.warnings == ["page.md: malformed front matter: duplicate key 'draft' at line 8; the last value was kept"]


@pytest.mark.parametrize("front", [
    "title: [unclosed: yes",          # opens a YAML structure it never closes
    "title: 'quoted: but open",
    "title: Notes\n  nested: a: b",  # the unquoted colon sits in a nested value
    "just a line: of text\nno key here",
])
def test_front_matter_broken_beyond_an_unquoted_colon_is_refused(tmp_path, front):
    write(tmp_path, "post.md", f"---\n{front}\n---\nBody.\n")
    read = read_corpus(tmp_path)
    assert read.documents == []
    assert read.warnings[0].startswith("post.md: malformed front matter: ")
    assert "plain text" not in read.warnings[0]


def test_yaml_error_reason_is_specific(tmp_path):
    write(tmp_path, "fm.md", "---\ntitle: [unclosed\n---\nBody.\n")
    with pytest.raises(CorpusError) as raised:
        parse_document(tmp_path / "fm.md", tmp_path)
    assert raised.value.reason.startswith("malformed front matter: ")
    assert raised.value.reason != "malformed front matter: "


def test_too_large_is_refused_before_reading(tmp_path):
    _sparse(tmp_path / "huge.md", 20 * 1024 * 1024)
    write(tmp_path, "ok.txt", "Fine text here.\n")

    read = read_corpus(tmp_path)
    assert read.warnings == ["huge.md: file too large (20.0 MB; limit 5.0 MB)"]
    assert [doc.path for doc in read.documents] == ["ok.txt"]
    with pytest.raises(CorpusError, match=r"^huge.md: file too large"):
        read_corpus(tmp_path, strict=True)
    assert read_corpus(tmp_path, max_bytes=10).warnings[-1] == "ok.txt: file too large (0.0 MB; limit 0.0 MB)"


def test_bom_is_stripped_and_invalid_byte_offset_counts_it(tmp_path):
    write(tmp_path, "bom.md", b"\xef\xbb\xbf# Title\n\nBody.\n")
    write(tmp_path, "bad.md", b"\xef\xbb\xbfok \xff")
    read = read_corpus(tmp_path)

    assert read.documents[0].text == "# Title\n\nBody.\n"
    assert read.warnings == ["bad.md: not valid UTF-8 (byte 6); save it as UTF-8"]


# ----------------------------------------------------------------------------------------------- corpus walk


def test_walk_order_skips_hidden_and_other_files_and_uses_posix_paths(tmp_path):
    write(tmp_path, "b/z.markdown", "# Z\n\nz.\n")
    write(tmp_path, "a.txt", "A line.\n")
    write(tmp_path, "b/bee.md", "# Bee\n\nb.\n")
    write(tmp_path, ".hidden/x.md", "# X\n\nx.\n")
    write(tmp_path, ".secret.md", "# S\n\ns.\n")
    write(tmp_path, "notes.pdf", b"%PDF")
    write(tmp_path, "data.json", "{}")

    read = read_corpus(tmp_path)
    assert read.warnings == []
    assert [(doc.path, doc.id, doc.format) for doc in read.documents] == [
        ("a.txt", "a", "txt"),
        ("b/bee.md", "bee", "md"),
        ("b/z.markdown", "z", "md"),
    ]


def test_files_sharing_a_name_take_their_paths_as_ids(tmp_path):
    write(tmp_path, "trl/README.md", "# TRL\n\nOne project's readme.\n")
    write(tmp_path, "verl/README.md", "# verl\n\nAnother project's readme.\n")
    write(tmp_path, "notes.md", "# Notes\n\nThe markdown notes.\n")
    write(tmp_path, "notes.html", "<html><body><h1>Notes</h1><p>The saved page of the notes.</p></body></html>")
    write(tmp_path, "solo.md", "# Solo\n\nNothing shares this name.\n")

    read = read_corpus(tmp_path)
    assert read.warnings == []
    assert sorted((doc.path, doc.id) for doc in read.documents) == [
        ("notes.html", "notes-html"), ("notes.md", "notes-md"), ("solo.md", "solo"),
        ("trl/README.md", "trl-readme"), ("verl/README.md", "verl-readme")]


def test_an_id_set_in_front_matter_stays_and_only_equal_set_ids_are_duplicates(tmp_path):
    write(tmp_path, "a/notes.md", "# First\n\none.\n")
    write(tmp_path, "b/notes.txt", "Second\nA body line that is long.\n")
    write(tmp_path, "c.md", "---\nid: notes\n---\nThird.\n")
    write(tmp_path, "d.md", "---\nid: notes\n---\nFourth.\n")

    read = read_corpus(tmp_path)
    assert [(doc.path, doc.id) for doc in read.documents] == [
        ("a/notes.md", "a-notes"), ("b/notes.txt", "b-notes"), ("c.md", "notes")]
    assert read.warnings == ["d.md: duplicate id 'notes' (already used by c.md); rename one id"]
    with pytest.raises(CorpusError, match=r"^d.md: duplicate id 'notes'"):
        read_corpus(tmp_path, strict=True)


@pytest.mark.timeout(30)
def test_symlink_loops_are_skipped_with_warnings(tmp_path):
    write(tmp_path, "sub/doc.md", "# Doc\n\nText.\n")
    write(tmp_path, "target.md", "# Target\n\nLinked text.\n")
    os.symlink("..", tmp_path / "sub" / "up")
    os.symlink("self.md", tmp_path / "self.md")
    os.symlink("target.md", tmp_path / "alias.md")
    os.symlink("sub", tmp_path / "sub2")

    read = read_corpus(tmp_path)
    assert [(doc.path, doc.id) for doc in read.documents] == [
        ("alias.md", "alias"),
        ("sub/doc.md", "doc"),
        ("target.md", "target"),
    ]
    assert read.warnings == [
        "self.md: symlink loop; skipped",
        "sub/up: symlink loop (links to a directory above it); skipped",
        "sub2: directory already read through another path; skipped",
    ]
    with pytest.raises(CorpusError, match=r"^self.md: symlink loop"):
        read_corpus(tmp_path, strict=True)
