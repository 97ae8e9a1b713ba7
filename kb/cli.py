"""The `kb` command line: each command parses options, makes one library call and prints.

Heavy modules are imported inside the commands so that `kb query` starts fast.
"""

from __future__ import annotations

import json
import sys
import textwrap
from contextlib import contextmanager

import click

from .errors import KBError, QueryError
from .kinds import SEARCH_KINDS


class _Group(click.Group):
    """Turns expected errors into one line on stderr and a non-zero exit."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KBError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group)
@click.option("--data-dir", envvar="KB_DATA_DIR", default=None, metavar="DIR",
              help="Knowledge-base folder (corpus/, taxonomy.yaml, build/). Default: ./data or $KB_DATA_DIR.")
@click.version_option(package_name="kb")
@click.pass_context
def cli(ctx, data_dir):
    """kb: how RL on language models fails, the evidence, the fixes, and toy reproductions."""
    from .config import load_settings

    ctx.obj = load_settings(data_dir)


def _settings(ctx, **overrides):
    from dataclasses import replace

    return replace(ctx.obj, **overrides) if overrides else ctx.obj


def _load_kb(ctx):
    from .api import KnowledgeBase

    return KnowledgeBase.load(settings=ctx.obj)


# --- build and inspect -------------------------------------------------------------------------------


@cli.command()
@click.option("--strict", is_flag=True, help="Fail on the first bad corpus file instead of skipping it.")
@click.option("--force", is_flag=True, help="Rebuild even when nothing changed.")
@click.pass_context
def build(ctx, strict, force):
    """Build the knowledge base from DATA_DIR/corpus into DATA_DIR/build."""
    from .build import build as run_build

    settings = _settings(ctx, strict=strict)
    report = run_build(settings, force=force, log=lambda m: click.echo(m, err=m.startswith("warning")))
    if report.up_to_date:
        click.echo(f"up to date ({report.seconds:.2f} s): {settings.build_dir}")
    else:
        click.echo(f"built {settings.build_dir} in {report.seconds:.1f} s")
    click.echo("nodes: " + ", ".join(f"{k} {v}" for k, v in report.nodes.items()))
    click.echo("edges: " + ", ".join(f"{k} {v}" for k, v in report.edges.items()))
    if report.warnings:
        click.echo(f"{len(report.warnings)} warning(s); skipped files are listed above", err=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def stats(ctx, as_json):
    """Counts of nodes and edges by kind."""
    counts = _load_kb(ctx).stats()
    if as_json:
        click.echo(json.dumps(counts, indent=1, sort_keys=True))
        return
    for section in ("nodes", "edges"):
        click.echo(f"{section}:")
        for kind, n in counts[section].items():
            click.echo(f"  {kind:<14}{n:>6}")


@cli.command()
@click.argument("node_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show(ctx, node_id, as_json):
    """Show a node (id, slug such as no-foothold, or E026) with its neighbours and quotes."""
    detail = _load_kb(ctx).node_detail(node_id)
    if as_json:
        click.echo(detail.model_dump_json(indent=1))
        return
    node = detail.node
    click.secho(node.label, bold=True)
    click.echo(f"{node.id}  [{node.kind}]")
    body = node.description or (node.text if node.text != node.label else "")
    if body:
        click.echo(_wrap(body))
    for key in ("arxiv", "episode", "url", "date", "reliability"):
        if getattr(node, key):
            click.echo(f"  {key}: {getattr(node, key)}")
    if node.aliases:
        click.echo(f"  also called: {', '.join(node.aliases)}")
    if node.quote and node.quote != node.text:
        click.echo(f"  quote: “{node.quote}” ({node.source_title})")
    click.echo(f"\n{len(detail.neighbours)} edge(s):")
    for n in detail.neighbours:
        arrow = "->" if n.outgoing else "<-"
        click.echo(f"  {arrow} {n.edge.kind:<12} {n.other.id}  {n.other.label[:70]}")
        source = f" — {n.edge.source_title}" if n.edge.source_title else ""
        click.echo(f"       [{n.edge.attribution.label}] “{_clip(n.edge.quote or '', 150)}”{source}")


# --- query ---------------------------------------------------------------------------------------------


@cli.command()
@click.argument("text", required=False)
@click.option("--k", "k", default=5, show_default=True, type=int, help="Number of hits.")
@click.option("--kind", "kinds", multiple=True, metavar="KIND", help=f"Only these kinds (repeatable): {', '.join(SEARCH_KINDS)}.")
@click.option("--failure-mode", metavar="ID", help="Only nodes linked to this failure mode (e.g. no-foothold).")
@click.option("--source", metavar="ID", help="Only nodes from this source document.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "lexical"]), default="hybrid", show_default=True,
              help="Ranking: dense + lexical fused, or one side alone.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of hits (schema in the README).")
@click.pass_context
def query(ctx, text, k, kinds, failure_mode, source, mode, as_json):
    """Search the knowledge base for TEXT (or read it from stdin when TEXT is - or absent)."""
    if text is None or text == "-":
        text = _read_stdin_query()
    # The query path reads only the search index (no graph, no pydantic): see kb/query.py.
    from .query import Searcher

    hits = Searcher.load(ctx.obj, one_shot=True).search_records(text, k=k, kinds=kinds, failure_mode=failure_mode,
                                                                source=source, mode=mode)
    if as_json:
        click.echo(json.dumps(hits, indent=1, ensure_ascii=False))
        return
    if not hits:
        click.echo("no hits")
    for rank, h in enumerate(hits, 1):
        click.secho(f"{rank}. [{h['kind']}] {h['label']}", bold=True)
        click.echo(f"   id {h['id']} · score {h['score']:.4f} · {h['source_title'] or '-'}")
        if h["quote"] and h["quote"] != h["label"]:
            click.echo(_wrap(f"“{_clip(h['quote'], 300)}”", indent="   "))
        links = [("failure modes", h["failure_modes"]), ("mitigations", h["mitigations"]),
                 ("papers", [_paper_label(p) for p in h["papers"]])]
        for name, values in links:
            if values:
                click.echo(f"   {name}: {', '.join(values[:6])}{' …' if len(values) > 6 else ''}")


def _paper_label(p: dict) -> str:
    name = p["episode"] or p["key"]
    return f"{name}{' arXiv:' + p['arxiv'] if p['arxiv'] else ''}"


def _read_stdin_query() -> str:
    if sys.stdin is None or sys.stdin.isatty():
        raise QueryError("no query: give TEXT, e.g. kb query \"all rollouts get zero reward\"")
    raw = sys.stdin.buffer.read(1_000_001)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise QueryError(f"query on stdin is not valid UTF-8 (byte {exc.start})") from None


# --- export ---------------------------------------------------------------------------------------------


@cli.group()
def export():
    """Export the knowledge base (graph JSON, static site, MkDocs pages)."""


@export.command("graph")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@click.pass_context
def export_graph(ctx, path):
    """Write the graph as networkx node-link JSON (edges under `edges`)."""
    from pathlib import Path

    from .graph import graph_to_json
    from .store import write_text_atomic

    kb = _load_kb(ctx)
    write_text_atomic(Path(path), graph_to_json(kb.G))
    click.echo(f"wrote {path}: {kb.G.number_of_nodes()} nodes, {kb.G.number_of_edges()} edges")


def _exporter(name: str):
    """Register a `kb export NAME OUT` command (OUT: the folder it writes)."""
    def register(fn):
        return export.command(name)(click.argument("out", type=click.Path(file_okay=False))(click.pass_context(fn)))
    return register


@_exporter("site")
def export_site_cmd(ctx, out):
    """Write a self-contained static site (works from file:// and any static host)."""
    report = _export(ctx, "export_site", out)
    click.echo(f"wrote {report['pages']} pages to {out} in {report['seconds']:.1f} s; open {out}/index.html")


@_exporter("mkdocs")
def export_mkdocs_cmd(ctx, out):
    """Write Markdown pages and mkdocs.yml for `mkdocs build --strict`."""
    report = _export(ctx, "export_mkdocs", out)
    click.echo(f"wrote {report['pages']} pages and mkdocs.yml to {out}")


def _export(ctx, name: str, out: str) -> dict:
    """Run the exporter `kb.export.<name>` into `out` with a progress bar; its report."""
    from pathlib import Path

    from . import export

    with progress_bar("pages") as progress:
        return getattr(export, name)(_load_kb(ctx), Path(out), progress=progress)


@contextmanager
def progress_bar(unit: str):
    """Yield a `progress(done, total, what)` callback that draws a bar on stderr when it is a terminal (and
    nothing otherwise, so logs and pipes stay clean); for exports, and for builds that take a callback."""
    if not sys.stderr.isatty():
        yield lambda done, total, what: None
        return
    bar = None

    def progress(done: int, total: int, what: str) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=max(total, done), label=unit, file=sys.stderr, show_pos=True)
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        yield progress
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


# --- reproductions -----------------------------------------------------------------------------------------


@cli.group()
def repro():
    """Minimal reproductions of failure modes, each with a mitigation arm."""


@repro.command("list")
def repro_list():
    """List the registered reproductions."""
    from .repro import list_reproductions

    for r in list_reproductions():
        click.secho(r.name, bold=True)
        click.echo(f"  reproduces {', '.join(r.reproduces)}; fix: {', '.join(r.mitigations)}")
        click.echo(_wrap(r.signature, indent="  "))


@repro.command("run")
@click.argument("name", required=False)
@click.option("--all", "run_every", is_flag=True, help="Run every registered reproduction in turn.")
@click.option("--quick", is_flag=True, help="Same experiment, smaller budget (seconds).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds before a run is killed.")
@click.pass_context
def repro_run(ctx, name, run_every, quick, device, seed, timeout):
    """Run reproduction NAME (or --all), stream progress, save JSON + plot in data/runs, record it in the graph."""
    from .repro.runner import record_run, run_all, run_reproduction

    settings = ctx.obj
    if bool(name) == run_every:
        raise click.UsageError("give one reproduction NAME or --all")
    if run_every:
        outcomes = run_all(settings.repro_dir, quick=quick, device=device, seed=seed, timeout=timeout,
                           on_line=lambda n, line: click.echo(f"  [{n}] {line}"))
    else:
        outcomes = {name: run_reproduction(name, settings.repro_dir, quick=quick, device=device, seed=seed,
                                           timeout=timeout, on_line=lambda line: click.echo(f"  {line}"))}
    for run_name, out in outcomes.items():
        if isinstance(out, Exception):
            click.echo(f"{run_name}: FAILED: {out}")
        else:
            verdict = "signature met" if out["signature_met"] else "signature NOT met"
            click.echo(f"{run_name}: {verdict} in {out['seconds']:.1f} s -> {settings.repro_dir / (run_name + '.json')}")
    click.echo(record_run(settings))
    if any(isinstance(out, Exception) for out in outcomes.values()):
        ctx.exit(1)


def _wrap(text: str, indent: str = "") -> str:
    return textwrap.fill(" ".join(text.split()), width=100, initial_indent=indent, subsequent_indent=indent)


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def main() -> None:
    """Console entry point."""
    cli(prog_name="kb")
