"""The `kb` command line: each command parses options, makes one library call and prints.

Heavy modules are imported inside the commands so that `kb query` starts fast.
"""

from __future__ import annotations

import json
import sys
import textwrap

import click

from .errors import KBError, QueryError

NODE_KINDS = ("source", "paper", "claim", "evidence", "failure_mode", "mitigation", "reproduction")


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
    kb = _load_kb(ctx)
    node = kb.node(node_id)
    edges = kb.edges(node["id"])
    if as_json:
        click.echo(json.dumps({"node": node, "edges": edges}, indent=1, sort_keys=True, default=str))
        return
    click.secho(f"{node['label']}", bold=True)
    click.echo(f"{node['id']}  [{node['kind']}]")
    for key in ("description", "text"):
        if node.get(key) and node[key] != node["label"]:
            click.echo(_wrap(node[key]))
            break
    for key in ("arxiv", "episode", "url", "date", "reliability"):
        if node.get(key):
            click.echo(f"  {key}: {node[key]}")
    if node.get("quote") and node["quote"] != node.get("text"):
        click.echo(f"  quote: “{node['quote']}” ({kb.source_title(node.get('source_id'))})")
    click.echo(f"\n{len(edges)} edge(s):")
    for e in edges:
        other = e["v"] if e["u"] == node["id"] else e["u"]
        arrow = "->" if e["u"] == node["id"] else "<-"
        label = kb.G.nodes[other]["label"]
        click.echo(f"  {arrow} {e['kind']:<12} {other}  {label[:70]}")
        click.echo(f"       [{e['asserted_by']}] “{_clip(e.get('quote') or '', 150)}” — {kb.source_title(e.get('source_id'))}")


# --- query ---------------------------------------------------------------------------------------------


@cli.command()
@click.argument("text", required=False)
@click.option("--k", "k", default=5, show_default=True, type=int, help="Number of hits.")
@click.option("--kind", "kinds", multiple=True, metavar="KIND", help=f"Only these node kinds (repeatable): {', '.join(NODE_KINDS)}.")
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
    kb = _load_kb(ctx)
    hits = kb.search(text, k=k, kinds=kinds, failure_mode=failure_mode, source=source, mode=mode)
    if as_json:
        click.echo(json.dumps([h.model_dump() for h in hits], indent=1, ensure_ascii=False))
        return
    if not hits:
        click.echo("no hits")
    for rank, h in enumerate(hits, 1):
        click.secho(f"{rank}. [{h.kind}] {h.label}", bold=True)
        click.echo(f"   id {h.id} · score {h.score:.4f} · {h.source_title or '-'}")
        if h.quote and h.quote != h.label:
            click.echo(_wrap(f"“{_clip(h.quote, 300)}”", indent="   "))
        links = [("failure modes", h.failure_modes), ("mitigations", h.mitigations),
                 ("papers", [f"{p.episode + ' ' if p.episode else ''}{p.key if not p.episode else ''}{' arXiv:' + p.arxiv if p.arxiv else ''}".strip() for p in h.papers])]
        for name, values in links:
            if values:
                click.echo(f"   {name}: {', '.join(values[:6])}{' …' if len(values) > 6 else ''}")


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


@export.command("site")
@click.argument("out", type=click.Path(file_okay=False))
@click.pass_context
def export_site_cmd(ctx, out):
    """Write a self-contained static site (works from file:// and any static host)."""
    from pathlib import Path

    from .site import export_site

    report = export_site(_load_kb(ctx), Path(out))
    click.echo(f"wrote {report['pages']} pages to {out} in {report['seconds']:.1f} s; open {out}/index.html")


@export.command("mkdocs")
@click.argument("out", type=click.Path(file_okay=False))
@click.pass_context
def export_mkdocs_cmd(ctx, out):
    """Write Markdown pages and mkdocs.yml for `mkdocs build --strict`."""
    from pathlib import Path

    from .mkdocs_export import export_mkdocs

    report = export_mkdocs(_load_kb(ctx), Path(out))
    click.echo(f"wrote {report['pages']} pages and mkdocs.yml to {out}")


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
@click.argument("name")
@click.option("--quick", is_flag=True, help="Tiny budget (seconds).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds before the run is killed.")
@click.pass_context
def repro_run(ctx, name, quick, device, seed, timeout):
    """Run reproduction NAME, stream its progress, save JSON + plot, and record it in the graph."""
    from .repro import run_reproduction
    from .repro_record import record_run

    settings = ctx.obj
    result = run_reproduction(name, settings.repro_dir, quick=quick, device=device, seed=seed, timeout=timeout,
                              on_line=lambda line: click.echo(f"  {line}"))
    verdict = "signature met" if result["signature_met"] else "signature NOT met"
    click.echo(f"{name}: {verdict} in {result['seconds']:.1f} s -> {settings.repro_dir / (name + '.json')}")
    click.echo(record_run(settings))


def _wrap(text: str, indent: str = "") -> str:
    return textwrap.fill(" ".join(text.split()), width=100, initial_indent=indent, subsequent_indent=indent)


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def main() -> None:
    """Console entry point."""
    cli(prog_name="kb")
