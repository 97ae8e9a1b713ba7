"""Streamlit pieces the explorer's pages share: loading the knowledge base once per build, opening a node
page, and drawing the API's views (statements, edges, papers, scorecards, hits, disagreements, runs).

Every widget key is made from a node id (`key_for`), never from a list position, so a widget keeps its
state when the lists around it change."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import streamlit as st

from ..config import load_settings
from ..errors import KBError
from ..models import ConceptCard, Disagreement, Hit, MitigationLink, Neighbour, NodeView, ReproductionView, Statement
from .startup import build_stamp, key_for, md_escape, open_button
from .views import arxiv_url, badge, kind_badge, provenance_badge

RUN_TIMEOUT = {"quick": 300, "full": 1800}


# --- loading ---------------------------------------------------------------------------------------

@st.cache_resource(show_spinner="Loading the knowledge base…")
def load_kb(data_dir: str, stamp: float):
    """The KnowledgeBase of `data_dir`; `stamp` (the manifest's mtime) reloads it after a rebuild."""
    from ..api import KnowledgeBase

    return KnowledgeBase.load(data_dir)


@st.cache_resource(show_spinner=False)
def failure_mode_cards(data_dir: str, stamp: float) -> list[ConceptCard]:
    """Every failure mode's card for the home page, computed once per build."""
    return load_kb(data_dir, stamp).concept_cards("failure_mode", summary=True)


def open_kb():
    """The loaded KnowledgeBase, or None after showing an error that says which command fixes it."""
    data_dir, stamp = build_stamp()
    try:
        return load_kb(data_dir, stamp)
    except KBError as exc:
        st.error(f"{exc}", icon="🛠️")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        build_dir = load_settings(data_dir).build_dir
        st.error(f"The build in {build_dir} is unreadable ({type(exc).__name__}: {exc}). "
                 f"Rebuild it: `kb build --data-dir {data_dir}`", icon="🛠️")
    st.info("Build the knowledge base with `kb build` (add `--data-dir DIR` for another data directory), "
            "then reload this page.")
    return None


@st.cache_resource(show_spinner=False)
def cuda_available() -> bool:
    """Whether a CUDA GPU is usable, checked without importing torch into the app process."""
    if not shutil.which("nvidia-smi") and not Path("/proc/driver/nvidia").exists():
        return False
    probe = "import torch; print(torch.cuda.is_available())"
    try:
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.stdout.strip() == "True"


# --- navigation ------------------------------------------------------------------------------------

def passage_button(s: Statement, key: str) -> None:
    """A button that opens the source of a statement at its passage (or the node behind a pseudo-source)."""
    if s.source_page:
        open_button("Open passage in source", f"src:{s.source_id}", key, claim=s.id)


# --- views -----------------------------------------------------------------------------------------

def show_statement(s: Statement, key: str, *, edge: bool = False) -> None:
    """A claim/evidence with its quote, source, reliability and who asserted it (and the link's asserter)."""
    with st.container(border=True):
        head = [kind_badge(s.kind), provenance_badge(s.asserted_by)]
        if s.reliability:
            head.append(badge(s.reliability, "gray"))
        if edge and s.link is not None:
            head.append(f"link {provenance_badge(s.link.asserted_by)}")
        st.markdown(" ".join(head))
        st.markdown(f"> {md_escape(s.shown)}")
        where = md_escape(s.source_title or s.source_id or "unknown source")
        section = f" — {md_escape(s.section)}" if s.section else ""
        date = f" ({md_escape(s.date)})" if s.date else ""
        st.caption(f"{where}{section}{date}")
        passage_button(s, key=key_for(key, "passage"))


def show_neighbours(neighbours: list[Neighbour], key: str) -> None:
    """Every edge of a node with kind, other end, quote, a provenance badge and an Open button."""
    if not neighbours:
        st.caption("No edges.")
        return
    for n in neighbours:
        cols = st.columns([5, 1])
        quote = f" — “{md_escape(n.edge.quote[:240])}”" if n.edge.quote else ""
        arrow = "→" if n.outgoing else "←"
        cols[0].markdown(f"{badge(n.edge.kind, 'gray')} {arrow} **{md_escape(n.other.label)}** "
                         f"{provenance_badge(n.edge.asserted_by)}{quote}")
        with cols[1]:
            open_button("Open", n.other.id, key=key_for(key, "edge", n.edge.kind, n.other.id, n.edge.asserted_by or ""))


def show_papers(kb, papers: list[NodeView], key: str, *, bib_name: str) -> None:
    """Papers with arXiv links, each openable, and one BibTeX download for the lot."""
    if not papers:
        st.caption("No papers linked yet.")
        return
    for p in papers:
        cols = st.columns([5, 1])
        url = arxiv_url(p)
        title = md_escape(p.label)
        link = f"[{title}]({url})" if url else title
        meta = ", ".join(md_escape(x) for x in (p.episode, p.year, p.arxiv and f"arXiv:{p.arxiv}") if x)
        cols[0].markdown(f"{link}  \n{md_escape(p.authors or '')} {('· ' + meta) if meta else ''}")
        with cols[1]:
            open_button("Open", p.id, key=key_for(key, "paper", p.id))
    st.download_button("Download BibTeX", kb.bibtex(p.id for p in papers), file_name=f"{bib_name}.bib",
                       mime="application/x-bibtex", key=key_for(key, "bibtex"))


def show_scorecard(card: ConceptCard) -> None:
    """The scorecard of a failure mode or mitigation as metrics."""
    sc = card.scorecard
    items = [(name.capitalize(), value) for name, value in sc.items() if name != "newest evidence"]
    for col, (label, value) in zip(st.columns(len(items)), items):
        col.metric(label, value)
    st.caption(f"Newest evidence: {sc.newest_evidence or 'no dated evidence'}")


def show_mitigations(kb, mitigations: list[MitigationLink], key: str) -> None:
    """The other end of each `mitigates` edge, with every edge's quote and provenance."""
    if not mitigations:
        st.caption("None linked yet.")
    for m in mitigations:
        with st.container(border=True):
            cols = st.columns([5, 1])
            cols[0].markdown(f"**{md_escape(m.node.label)}** — {md_escape(m.node.description)}")
            with cols[1]:
                open_button("Open", m.node.id, key=key_for(key, "mit", m.node.id))
            for e in m.edges:
                src = md_escape(e.source_title or "")
                st.markdown(f"{provenance_badge(e.asserted_by)} “{md_escape(e.quote)}” — {src}")


def show_hit(h: Hit, titles: dict[str, str]) -> None:
    """One search hit: kind, label, score, quote, source, provenance, links and an Open button."""
    with st.container(border=True):
        cols = st.columns([5, 1])
        cols[0].markdown(f"{kind_badge(h.kind)} **{md_escape(h.label)}** {provenance_badge(h.asserted_by)} "
                         f"score {h.score:.3f}")
        with cols[1]:
            open_button("Open", h.id, key=key_for("hit", h.id))
        if h.quote and h.quote != h.label:
            st.markdown(f"> {md_escape(h.quote)}")
        links = [titles.get(x, x) for x in h.failure_modes + h.mitigations] + [p.title for p in h.papers]
        source = f"{md_escape(h.source_title)} · " if h.source_title else ""
        if links or source:
            st.caption(source + md_escape("; ".join(links)))


def search_box(kb, *, key: str, kinds: list[str] | None = None, failure_mode: str | None = None, k: int = 10) -> None:
    """A query box whose hits appear right below it."""
    query = st.text_input("Symptom or question", key=key, placeholder="all rollouts get zero reward")
    if not query.strip():
        st.caption("Type a symptom, e.g. “all rollouts get zero reward” or “reward keeps rising but quality falls”.")
        return
    search_results(kb, query, kinds=kinds, failure_mode=failure_mode, k=k)


def search_results(kb, query: str, *, kinds: list[str] | None = None, failure_mode: str | None = None,
                   k: int = 10) -> None:
    """The hits for `query`, each openable, or the query's one-line error."""
    try:
        with st.spinner("Searching…"):
            hits = kb.search(query, k=k, kinds=kinds, failure_mode=failure_mode)
    except KBError as exc:
        st.error(str(exc))
        return
    st.caption(f"{len(hits)} hits")
    titles = {n["id"]: n["label"] for kind in ("failure_mode", "mitigation") for n in kb.nodes(kind)}
    for h in hits:
        show_hit(h, titles)


def show_disagreement(d: Disagreement, key: str) -> None:
    """A contradicts/qualifies edge as the two statements side by side, with the note and who asserted it."""
    e = d.edge
    with st.container(border=True):
        st.markdown(f"{badge(d.kind, 'red' if d.kind == 'contradicts' else 'orange')} asserted by "
                    f"{provenance_badge(e.asserted_by)}")
        left, right = st.columns(2)
        for col, s, side in ((left, d.u, "u"), (right, d.v, "v")):
            with col:
                show_statement(s, key=key_for(key, side, s.id))
        if e.note:
            st.markdown(f"**Note:** {md_escape(e.note)}")
        if e.debate:
            st.markdown(f"**Debate:** {md_escape(str(e.debate))}")


def disagreement_key(d: Disagreement) -> str:
    """The widget key of a disagreement: its kind and both statement ids."""
    return key_for("dis", d.kind, d.u.id, d.v.id)


# --- reproductions ---------------------------------------------------------------------------------

def show_reproduction(kb, repro: ReproductionView) -> None:
    """A reproduction: signature, last recorded result, and a Run panel (quick/full, CPU/GPU)."""
    name = repro.name or repro.id.removeprefix("repro:")
    with st.container(border=True):
        st.markdown(f"**{md_escape(repro.label)}** {kind_badge('reproduction')} `{(repro.script or '').replace('`', '')}`")
        st.markdown(f"Signature: {md_escape(repro.description)}")
        cols = st.columns([2, 2, 1])
        budget = cols[0].radio("Budget", ["quick", "full"], horizontal=True, key=f"run-budget-{name}")
        devices = ["cpu", "cuda"] if cuda_available() else ["cpu"]
        device = cols[1].selectbox("Device", devices, key=f"run-device-{name}")
        with cols[2]:
            clicked = st.button("Run", key=f"run-{name}", type="primary")
        if clicked:
            run_reproduction_live(kb, name, budget == "quick", device)
        fresh = st.session_state.get(f"run-result-{name}")
        if fresh is not None:
            st.markdown("**This session's run**")
            show_result(fresh, plot_file(kb, fresh.get("plot")))
        elif repro.result:
            st.markdown("**Last recorded result**")
            show_result(repro.result, repro.plot_path)
        else:
            st.caption("No recorded run yet.")


def run_reproduction_live(kb, name: str, quick: bool, device: str) -> None:
    """Run one reproduction, streaming its progress, then record it in the graph."""
    from ..repro.runner import record_run, run_reproduction

    settings = kb.settings
    with st.status(f"Running {name} ({'quick' if quick else 'full'}, {device})…", expanded=True) as status:
        lines: list[str] = []
        box = st.empty()

        def on_line(line: str) -> None:
            lines.append(line.rstrip())
            box.code("\n".join(lines[-12:]), language=None)

        try:
            result = run_reproduction(name, settings.repro_dir, quick=quick, device=device, seed=0,
                                      timeout=RUN_TIMEOUT["quick" if quick else "full"], on_line=on_line)
        except KBError as exc:
            status.update(label=f"{name} failed: {exc}", state="error")
            st.error(str(exc))
            return
        try:
            note = record_run(settings)
        except KBError as exc:
            note = f"not recorded in the graph: {exc}"
        verdict = "signature shown" if result.get("signature_met") else "signature NOT shown"
        status.update(label=f"{name}: {verdict} in {result.get('seconds', 0):.1f} s; {note}", state="complete",
                      expanded=False)
    st.session_state[f"run-result-{name}"] = result


def plot_file(kb, plot: str | None) -> str | None:
    """A run's plot path; runs name it relative to the build's repro directory."""
    if not plot:
        return None
    path = Path(plot)
    return str(path if path.is_absolute() else kb.settings.repro_dir / path)


def show_result(result: dict, plot: str | None) -> None:
    """A run's verdict, metrics and plot."""
    met = result.get("signature_met")
    mode = "quick" if result.get("quick") else "full"
    head = badge("signature shown", "green") if met else badge("signature not shown", "red")
    when = md_escape(str(result.get("started_at") or ""))
    st.markdown(f"{head} {mode} · seed {result.get('seed')} · {result.get('device')} · "
                f"{float(result.get('seconds') or 0):.1f} s {when}")
    if result.get("stale"):
        st.warning("Stale: the script changed since this run, so these numbers may not describe it. Rerun it.")
    metrics = result.get("metrics") or {}
    if metrics:
        st.dataframe([{"metric": k, "value": str(v)} for k, v in metrics.items()], hide_index=True,
                     width="stretch")
    if plot and Path(plot).is_file():
        st.image(str(plot))

