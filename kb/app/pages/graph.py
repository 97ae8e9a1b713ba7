"""Interactive graph of a chosen subgraph; clicking a node opens its page."""

import streamlit as st
from streamlit_agraph import Config, Edge, Node, agraph

from kb.app.startup import NODE_PAGE
from kb.app.views import DEFAULT_GRAPH_KINDS, NODE_COLOURS, graph_elements
from kb.app.widgets import open_kb
from kb.kinds import NODE_KINDS
from kb.models import EDGE_KINDS, KIND_LABELS

kb = open_kb()
if kb is None:
    st.stop()
st.title("Graph")
cols = st.columns([2, 2, 2])
node_kinds = cols[0].multiselect("Node kinds", NODE_KINDS, default=list(DEFAULT_GRAPH_KINDS), key="graph-nodes",
                                 format_func=lambda k: KIND_LABELS[k])
edge_kinds = cols[1].multiselect("Edge kinds", EDGE_KINDS, default=list(EDGE_KINDS), key="graph-edges")
labels = {n["id"]: n["label"] for k in ("failure_mode", "mitigation") for n in kb.nodes(k)}
focus = cols[2].selectbox("Focus on", [None, *labels], key="graph-focus",
                          format_func=lambda x: "whole graph" if x is None else labels[x])
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
    st.switch_page(NODE_PAGE, query_params={"node": clicked})
