"""The kb explorer: `streamlit run app.py [-- --data-dir DIR]` (or KB_DATA_DIR).

Presentation only: everything shown comes from `kb.KnowledgeBase`. Views are picked in the sidebar; a node
page opens from `?node=<id>` (plus `&claim=<id>` to highlight a passage in a source).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import streamlit as st

from kb.app_views import (
    DEFAULT_GRAPH_KINDS,
    KIND_LABELS,
    NODE_COLOURS,
    arxiv_url,
    badge,
    graph_elements,
    highlighted_source_html,
    kind_badge,
    md_escape,
    provenance_badge,
    scorecard_line,
)
from kb.config import load_settings
from kb.errors import KBError
from kb.models import EDGE_KINDS, NODE_KINDS

VIEWS = ("Failure modes", "Search", "Disagreements", "Graph", "Sources", "Papers", "Reproductions")
RUN_TIMEOUT = {"quick": 300, "full": 1800}


# --- loading ---------------------------------------------------------------------------------------

def data_dir_arg() -> str | None:
    """The `--data-dir` given after `--` on the streamlit command line, if any."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("--data-dir", default=None)
    known, _ = parser.parse_known_args(sys.argv[1:])
    return known.data_dir


@st.cache_resource(show_spinner="Loading the knowledge base…")
def load_kb(data_dir: str, stamp: float):
    """The KnowledgeBase of `data_dir`; `stamp` (the manifest's mtime) reloads it after a rebuild."""
    from kb.api import KnowledgeBase

    return KnowledgeBase.load(data_dir)


def open_kb():
    """The loaded KnowledgeBase, or None after showing an error that says which command fixes it."""
    settings = load_settings(data_dir_arg())
    manifest = settings.build_dir / "manifest.json"
    stamp = manifest.stat().st_mtime if manifest.is_file() else 0.0
    try:
        return load_kb(str(settings.data_dir), stamp)
    except KBError as exc:
        st.error(f"{exc}", icon="🛠️")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        st.error(f"The build in {settings.build_dir} is unreadable ({type(exc).__name__}: {exc}). "
                 f"Rebuild it: `kb build --data-dir {settings.data_dir}`", icon="🛠️")
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

def open_node(node_id: str, claim: str | None = None) -> None:
    """Callback: show the page of `node_id` (a source page scrolls to `claim`)."""
    st.query_params.clear()
    st.query_params["node"] = node_id
    if claim:
        st.query_params["claim"] = claim


def close_node() -> None:
    """Callback: leave the node page and go back to the chosen view."""
    st.query_params.clear()


def open_button(label: str, node_id: str, key: str, claim: str | None = None) -> None:
    """A small button that opens a node page."""
    st.button(label, key=key, on_click=open_node, args=(node_id, claim), help=node_id)


def passage_button(kb, statement: dict, key: str) -> None:
    """A button that opens the source of a claim at its passage (or the reproduction behind a run)."""
    sid = statement.get("source_id")
    if sid and f"src:{sid}" in kb.G:
        open_button("Open passage in source", f"src:{sid}", key, claim=statement["id"])
    elif sid and sid in kb.G:
        open_button(f"Open {KIND_LABELS.get(kb.G.nodes[sid]['kind'], 'node')}", sid, key)


def title_of(kb, node_id: str) -> str:
    """The label of a node, or its id when it is not in the graph."""
    return kb.G.nodes[node_id]["label"] if node_id in kb.G else node_id


# --- shared pieces ---------------------------------------------------------------------------------

def show_statement(kb, s: dict, key: str, *, edge: dict | None = None) -> None:
    """A claim/evidence with its quote, source, reliability and who asserted it (and the link's asserter)."""
    with st.container(border=True):
        head = [kind_badge(s["kind"]), provenance_badge(s.get("asserted_by"))]
        if s.get("reliability"):
            head.append(badge(s["reliability"], "gray"))
        if edge is not None:
            head.append(f"link {provenance_badge(edge.get('asserted_by'))}")
        st.markdown(" ".join(head))
        st.markdown(f"> {md_escape(s.get('quote') or s.get('text'))}")
        where = md_escape(s.get("source_title") or s.get("source_id") or "unknown source")
        section = f" — {md_escape(s['section'])}" if s.get("section") else ""
        date = f" ({md_escape(s['date'])})" if s.get("date") else ""
        st.caption(f"{where}{section}{date}")
        passage_button(kb, s, key=f"{key}-passage")


def show_edges(kb, node_id: str, key: str) -> None:
    """Every edge of a node with kind, other end, quote and a provenance badge."""
    edges = kb.edges(node_id)
    if not edges:
        st.caption("No edges.")
        return
    for i, e in enumerate(edges):
        other = e["v"] if e["u"] == node_id else e["u"]
        arrow = "→" if e["u"] == node_id else "←"
        cols = st.columns([5, 1])
        quote = f" — “{md_escape(e['quote'][:240])}”" if e.get("quote") else ""
        cols[0].markdown(f"{badge(e['kind'], 'gray')} {arrow} **{md_escape(title_of(kb, other))}** "
                         f"{provenance_badge(e.get('asserted_by'))}{quote}")
        if other in kb.G:
            with cols[1]:
                open_button("Open", other, key=f"{key}-edge-{i}")


def show_papers(kb, papers: list[dict], key: str, *, bib_name: str) -> None:
    """Papers with arXiv links, each openable, and one BibTeX download for the lot."""
    if not papers:
        st.caption("No papers linked yet.")
        return
    for i, p in enumerate(papers):
        cols = st.columns([5, 1])
        url = arxiv_url(p)
        title = md_escape(p["label"])
        link = f"[{title}]({url})" if url else title
        meta = ", ".join(md_escape(str(x)) for x in (p.get("episode"), p.get("year"), p.get("arxiv") and f"arXiv:{p['arxiv']}") if x)
        cols[0].markdown(f"{link}  \n{md_escape(p.get('authors') or '')} {('· ' + meta) if meta else ''}")
        with cols[1]:
            open_button("Open", p["id"], key=f"{key}-paper-{i}")
    st.download_button("Download BibTeX", kb.bibtex([p["id"] for p in papers]), file_name=f"{bib_name}.bib",
                       mime="application/x-bibtex", key=f"{key}-bibtex")


def show_scorecard(card: dict) -> None:
    """The scorecard of a failure mode or mitigation as metrics."""
    sc = card["scorecard"]
    items = [("Sources", sc["sources"]), ("Papers", sc["papers"]), ("Evidence", sc["evidence"]),
             ("Claims", sc["claims"]), ("Mitigations", sc["mitigations"]), ("Reproductions", sc["reproductions"]),
             ("Disagreements", sc["disagreements"])]
    for col, (label, value) in zip(st.columns(len(items)), items):
        col.metric(label, value)
    st.caption(f"Newest evidence: {sc['newest_evidence'] or 'no dated evidence'}")


# --- node pages ------------------------------------------------------------------------------------

def page_concept(kb, node_id: str) -> None:
    """A failure mode or mitigation: definition, scorecard, evidence, papers, mitigations, reproductions."""
    is_fm = kb.G.nodes[node_id]["kind"] == "failure_mode"
    card = kb.failure_mode_card(node_id) if is_fm else kb.mitigation_card(node_id)
    node = card["node"]
    st.title(node["label"])
    st.markdown(f"{kind_badge(node['kind'])} {provenance_badge(node.get('asserted_by'))} `{node_id}`")
    st.markdown(md_escape(node.get("description")))
    if node.get("aliases"):
        st.caption("Also known as: " + md_escape(", ".join(node["aliases"])))
    show_scorecard(card)
    tabs = st.tabs([f"Claims & evidence ({len(card['statements'])})", f"Papers ({len(card['papers'])})",
                    f"{'Mitigations' if is_fm else 'Mitigates'} ({len(card['mitigations'])})",
                    f"Reproductions ({len(card['reproductions'])})", f"Disagreements ({len(card['disagreements'])})"])
    with tabs[0]:
        for i, s in enumerate(card["statements"]):
            show_statement(kb, s, key=f"st-{i}", edge=s["link"])
    with tabs[1]:
        show_papers(kb, card["papers"], key="card", bib_name=node_id.split(":", 1)[-1])
    with tabs[2]:
        show_mitigations(kb, card["mitigations"])
    with tabs[3]:
        if not card["reproductions"]:
            st.caption("No reproduction registered for this yet.")
        for repro in card["reproductions"]:
            show_reproduction(kb, repro)
    with tabs[4]:
        for i, d in enumerate(card["disagreements"]):
            show_disagreement(kb, d, key=f"card-dis-{i}")
        if not card["disagreements"]:
            st.caption("No open disagreements.")


def show_mitigations(kb, mitigations: list[dict]) -> None:
    """The other end of each `mitigates` edge, with every edge's quote and provenance."""
    if not mitigations:
        st.caption("None linked yet.")
    for i, m in enumerate(mitigations):
        with st.container(border=True):
            cols = st.columns([5, 1])
            cols[0].markdown(f"**{md_escape(m['node']['label'])}** — {md_escape(m['node'].get('description'))}")
            with cols[1]:
                open_button("Open", m["node"]["id"], key=f"mit-{i}")
            for e in m["edges"]:
                src = md_escape(kb.source_title(e.get("source_id")) or "")
                st.markdown(f"{provenance_badge(e.get('asserted_by'))} “{md_escape(e.get('quote'))}” — {src}")


def page_paper(kb, node_id: str) -> None:
    """A paper: bibliographic facts, arXiv link, BibTeX, the statements that cite it."""
    card = kb.paper_card(node_id)
    p = card["node"]
    st.title(p["label"])
    st.markdown(f"{kind_badge('paper')} {provenance_badge(p.get('asserted_by'))} `{node_id}`")
    facts = [md_escape(str(x)) for x in (p.get("authors"), p.get("venue"), p.get("year"), p.get("episode")) if x]
    st.markdown(" · ".join(facts))
    url = arxiv_url(p)
    if url:
        st.markdown(f"[{md_escape(url)}]({url})")
    st.markdown(md_escape(p.get("description")))
    st.download_button("Download BibTeX", kb.bibtex([node_id]), file_name=f"{p.get('key') or 'paper'}.bib",
                       mime="application/x-bibtex", key="paper-bibtex")
    if card["failure_modes"]:
        st.subheader("Failure modes")
        for i, fm in enumerate(card["failure_modes"]):
            open_button(title_of(kb, fm), fm, key=f"paper-fm-{i}")
    st.subheader(f"Cited by ({len(card['citing'])})")
    for i, s in enumerate(card["citing"]):
        show_statement(kb, s, key=f"cite-{i}")
    if card["sources"]:
        st.subheader("Sources")
        for i, s in enumerate(card["sources"]):
            open_button(s["label"], s["id"], key=f"paper-src-{i}")


def page_source(kb, node_id: str, claim: str | None) -> None:
    """A source document with its extracted claims highlighted; `claim` is marked and scrolled to."""
    view = kb.source_view(node_id)
    node = view["node"]
    st.title(node["label"])
    facts = [md_escape(str(x)) for x in (node.get("doc_kind"), node.get("reliability"), node.get("date"), node.get("path")) if x]
    st.markdown(f"{kind_badge('source')} " + " · ".join(facts))
    if node.get("url"):
        st.markdown(f"[{md_escape(node['url'])}]({node['url']})")
    selected = next((c for c in view["claims"] if c["id"] == claim), None)
    if selected:
        st.info(f"Highlighted passage ({md_escape(selected['section'] or 'no section')}, characters "
                f"{selected['start']}–{selected['end']}): “{md_escape(selected['quote'])}”")
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Document")
        st.caption(f"{len(view['claims'])} extracted claims and evidence highlighted (blue: claim, orange: evidence).")
        st.html(highlighted_source_html(view["text"], view["claims"], selected=claim))
        if selected:
            scroll_to_selected()
    with right:
        st.subheader("Extracted")
        for i, c in enumerate(view["claims"]):
            with st.container(border=True):
                st.markdown(f"{kind_badge(c['kind'])} {provenance_badge(c.get('asserted_by'))} {md_escape(c['quote'])}")
                links = [title_of(kb, x) for x in c["links"]["failure_modes"] + c["links"]["mitigations"]]
                if links:
                    st.caption("About: " + md_escape(", ".join(links)))
                open_button("Open", c["id"], key=f"src-claim-{i}")


def scroll_to_selected() -> None:
    """Scroll the parent page to the highlighted passage (the component iframe shares the app's origin)."""
    import streamlit.components.v1 as components

    components.html("<script>setTimeout(function(){var el=window.parent.document.getElementById('kb-selected');"
                    "if(el){el.scrollIntoView({block:'center'});}},300);</script>", height=0)


def page_statement(kb, node_id: str) -> None:
    """A claim or evidence node with its passage and every edge."""
    s = kb.node(node_id)
    s["source_title"] = kb.source_title(s.get("source_id"))
    st.title(KIND_LABELS[s["kind"]].capitalize())
    show_statement(kb, s, key="stmt")
    links = kb.links(node_id)
    for label, ids in (("Failure modes", links["failure_modes"]), ("Mitigations", links["mitigations"])):
        if ids:
            st.subheader(label)
            for i, x in enumerate(ids):
                open_button(title_of(kb, x), x, key=f"stmt-{label}-{i}")
    st.subheader("Edges")
    show_edges(kb, node_id, key="stmt")


def page_reproduction(kb, node_id: str) -> None:
    """A reproduction with its run panel and edges."""
    repro = kb.reproduction(node_id)
    st.title(repro["label"])
    show_reproduction(kb, repro, expanded=True)
    st.subheader("Edges")
    show_edges(kb, node_id, key="repro")


def page_node(kb, node_id: str, claim: str | None) -> None:
    """Dispatch to the page of the node's kind."""
    st.button("← Back", key="back", on_click=close_node)
    try:
        node_id = kb.resolve(node_id)
    except KBError as exc:
        st.error(str(exc))
        return
    kind = kb.G.nodes[node_id]["kind"]
    if kind in ("failure_mode", "mitigation"):
        page_concept(kb, node_id)
    elif kind == "paper":
        page_paper(kb, node_id)
    elif kind == "source":
        page_source(kb, node_id, claim)
    elif kind == "reproduction":
        page_reproduction(kb, node_id)
    else:
        page_statement(kb, node_id)


# --- reproductions ---------------------------------------------------------------------------------

def show_reproduction(kb, repro: dict, *, expanded: bool = False) -> None:
    """A reproduction: signature, last recorded result, and a Run panel (quick/full, CPU/GPU)."""
    name = repro["name"]
    with st.container(border=True):
        st.markdown(f"**{md_escape(repro['label'])}** {kind_badge('reproduction')} `{(repro.get('script') or '').replace('`', '')}`")
        st.markdown(f"Signature: {md_escape(repro.get('description'))}")
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
        elif repro.get("result"):
            st.markdown("**Last recorded result**")
            show_result(repro["result"], repro.get("plot_path"))
        else:
            st.caption("No recorded run yet.")


def run_reproduction_live(kb, name: str, quick: bool, device: str) -> None:
    """Run one reproduction, streaming its progress, then record it in the graph."""
    from kb.repro import run_reproduction
    from kb.repro_record import record_run

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
    metrics = result.get("metrics") or {}
    if metrics:
        st.dataframe([{"metric": k, "value": str(v)} for k, v in metrics.items()], hide_index=True,
                     use_container_width=True)
    if plot and Path(plot).is_file():
        st.image(str(plot))


# --- views -----------------------------------------------------------------------------------------

def view_home(kb) -> None:
    """The failure modes with their scorecards."""
    st.title("How RL on language models fails")
    stats = kb.stats()["nodes"]
    st.caption(" · ".join(f"{v} {KIND_LABELS.get(k, k)}s" for k, v in stats.items()))
    for fm in kb.nodes("failure_mode"):
        card = kb.failure_mode_card(fm["id"])
        with st.container(border=True):
            cols = st.columns([5, 1])
            cols[0].markdown(f"### {md_escape(fm['label'])}")
            with cols[1]:
                open_button("Open", fm["id"], key=f"home-{fm['id'].replace(':', '-')}")
            st.markdown(md_escape(fm.get("description")))
            st.caption(scorecard_line(card["scorecard"]))


def view_search(kb) -> None:
    """Hybrid search with kind and failure-mode filters; each hit opens its node."""
    st.title("Search")
    query = st.text_input("Symptom or question", key="search-q", placeholder="all rollouts get zero reward")
    cols = st.columns([2, 2, 1])
    kinds = cols[0].multiselect("Kinds", NODE_KINDS, key="search-kinds", format_func=lambda k: KIND_LABELS[k])
    fms = {fm["id"]: fm["label"] for fm in kb.nodes("failure_mode")}
    fm = cols[1].selectbox("Failure mode", [None, *fms], key="search-fm", format_func=lambda x: "any" if x is None else fms[x])
    k = cols[2].number_input("Results", min_value=1, max_value=50, value=10, key="search-k")
    if not query.strip():
        st.caption("Type a symptom, e.g. “all rollouts get zero reward” or “reward keeps rising but quality falls”.")
        return
    try:
        with st.spinner("Searching…"):
            hits = kb.search(query, k=int(k), kinds=kinds, failure_mode=fm)
    except KBError as exc:
        st.error(str(exc))
        return
    st.caption(f"{len(hits)} hits")
    for i, h in enumerate(hits):
        show_hit(kb, h, i)


def show_hit(kb, h, i: int) -> None:
    """One search hit: kind, label, score, quote, source, provenance, links and an Open button."""
    with st.container(border=True):
        cols = st.columns([5, 1])
        cols[0].markdown(f"{kind_badge(h.kind)} **{md_escape(h.label)}** {provenance_badge(h.asserted_by)} "
                         f"score {h.score:.3f}")
        with cols[1]:
            open_button("Open", h.id, key=f"hit-{i}")
        if h.quote and h.quote != h.label:
            st.markdown(f"> {md_escape(h.quote)}")
        links = [title_of(kb, x) for x in h.failure_modes + h.mitigations] + [p.title for p in h.papers]
        source = f"{md_escape(h.source_title)} · " if h.source_title else ""
        if links or source:
            st.caption(source + md_escape("; ".join(links)))


def show_disagreement(kb, d: dict, key: str) -> None:
    """A contradicts/qualifies edge as the two statements side by side, with the note and who asserted it."""
    e = d["edge"]
    with st.container(border=True):
        st.markdown(f"{badge(d['kind'], 'red' if d['kind'] == 'contradicts' else 'orange')} asserted by "
                    f"{provenance_badge(e.get('asserted_by'))}")
        left, right = st.columns(2)
        for col, s, side in ((left, d["u"], "u"), (right, d["v"], "v")):
            with col:
                show_statement(kb, s, key=f"{key}-{side}")
        if e.get("note"):
            st.markdown(f"**Note:** {md_escape(e['note'])}")
        if e.get("debate"):
            st.markdown(f"**Debate:** {md_escape(str(e['debate']))}")


def view_disagreements(kb) -> None:
    """Every contradicts/qualifies edge."""
    st.title("Disagreements")
    items = kb.disagreements()
    kinds = st.multiselect("Kinds", ["contradicts", "qualifies"], default=["contradicts", "qualifies"], key="dis-kinds")
    curated_only = st.toggle("Curated only", key="dis-curated")
    items = [d for d in items if d["kind"] in kinds and (not curated_only or d["edge"].get("asserted_by") == "curated")]
    st.caption(f"{len(items)} disagreements")
    for i, d in enumerate(items):
        show_disagreement(kb, d, key=f"dis-{i}")


def view_graph(kb) -> None:
    """Interactive graph of a chosen subgraph; clicking a node opens it."""
    from streamlit_agraph import Config, Edge, Node, agraph

    st.title("Graph")
    cols = st.columns([2, 2, 2])
    node_kinds = cols[0].multiselect("Node kinds", NODE_KINDS, default=list(DEFAULT_GRAPH_KINDS), key="graph-nodes",
                                     format_func=lambda k: KIND_LABELS[k])
    edge_kinds = cols[1].multiselect("Edge kinds", EDGE_KINDS, default=list(EDGE_KINDS), key="graph-edges")
    focus_options = [None, *[n["id"] for k in ("failure_mode", "mitigation") for n in kb.nodes(k)]]
    focus = cols[2].selectbox("Focus on", focus_options, key="graph-focus",
                              format_func=lambda x: "whole graph" if x is None else title_of(kb, x))
    collapse = st.toggle("Link papers to what the claims citing them are about (dashed grey)", value=True,
                         key="graph-collapse")
    nodes, edges = graph_elements(kb.G, node_kinds, edge_kinds, focus=focus, collapse_claims=collapse)
    legend = " ".join(f'<span style="color:{c}">●</span> {KIND_LABELS[k]}' for k, c in NODE_COLOURS.items())
    st.html(f"<div>{legend} &nbsp;|&nbsp; edges: <span style='color:#2e7d32'>solid green = curated</span>, "
            "<span style='color:#ef6c00'>dashed orange = rule</span>, <span style='color:#8e24aa'>dashed violet = "
            "similarity</span>, <span style='color:#1565c0'>dashed blue = reproduction</span></div>")
    st.caption(f"{len(nodes)} nodes, {len(edges)} edges. Click a node to open it.")
    clicked = agraph(nodes=[Node(**{k: v for k, v in n.items() if k != "kind"}) for n in nodes],
                     edges=[Edge(e["source"], e["target"], **{k: v for k, v in e.items() if k not in ("source", "target")})
                            for e in edges],
                     config=Config(width=1100, height=700, directed=True, physics=True, solver="forceAtlas2Based",
                                   stabilization=True))
    if clicked and clicked != st.session_state.get("graph-last-click") and clicked in kb.G:
        st.session_state["graph-last-click"] = clicked
        open_node(clicked)
        st.rerun()


def view_sources(kb) -> None:
    """Every source document."""
    st.title("Sources")
    for i, s in enumerate(kb.nodes("source")):
        cols = st.columns([5, 1])
        facts = " · ".join(md_escape(str(x)) for x in (s.get("doc_kind"), s.get("reliability"), s.get("date")) if x)
        cols[0].markdown(f"**{md_escape(s['label'])}** — {facts}")
        with cols[1]:
            open_button("Open", s["id"], key=f"sources-{i}")


def view_papers(kb) -> None:
    """Every paper, with arXiv links and a BibTeX download of all of them."""
    st.title("Papers")
    show_papers(kb, kb.nodes("paper"), key="papers", bib_name="kb-papers")


def view_reproductions(kb) -> None:
    """Every registered reproduction with its Run panel."""
    st.title("Reproductions")
    repros = kb.nodes("reproduction")
    if not repros:
        st.info("No reproductions registered in this build.")
    for r in repros:
        repro = kb.reproduction(r["id"])
        fms = [title_of(kb, e["v"]) for e in kb.edges(r["id"], kind="reproduces", direction="out")]
        st.caption("Reproduces: " + md_escape(", ".join(fms)))
        show_reproduction(kb, repro)


def main() -> None:
    """Pick the view (sidebar) or the node page (`?node=`) and render it."""
    st.set_page_config(page_title="kb: how RL on LLMs fails", page_icon="🧭", layout="wide")
    kb = open_kb()
    if kb is None:
        return
    with st.sidebar:
        st.header("kb explorer")
        view = st.radio("View", VIEWS, key="view", on_change=close_node)
        st.caption(f"Data: {kb.settings.data_dir}")
    node_id = st.query_params.get("node")
    if node_id:
        page_node(kb, node_id, st.query_params.get("claim"))
        return
    {"Failure modes": view_home, "Search": view_search, "Disagreements": view_disagreements, "Graph": view_graph,
     "Sources": view_sources, "Papers": view_papers, "Reproductions": view_reproductions}[view](kb)


main()
