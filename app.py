"""The kb explorer: `streamlit run app.py [-- --data-dir DIR]` (or KB_DATA_DIR).

A multipage app: one script per page under kb/app/pages, wired together here with `st.navigation`.
Presentation only: everything shown comes from `kb.KnowledgeBase`'s typed views. A node's page opens from
`?node=<id>` (plus `&claim=<id>` to highlight a passage in a source).
"""

from __future__ import annotations

import streamlit as st

PAGES = "kb/app/pages"

st.set_page_config(page_title="kb: how RL on LLMs fails", page_icon="🧭", layout="wide")
node_requested = "node" in st.query_params
page = st.navigation([
    st.Page(f"{PAGES}/home.py", title="Failure modes", icon="🧭", default=not node_requested, url_path="home"),
    st.Page(f"{PAGES}/search.py", title="Search", icon="🔎", url_path="search"),
    st.Page(f"{PAGES}/disagreements.py", title="Disagreements", icon="⚖️", url_path="disagreements"),
    st.Page(f"{PAGES}/graph.py", title="Graph", icon="🕸️", url_path="graph"),
    st.Page(f"{PAGES}/sources.py", title="Sources", icon="📄", url_path="sources"),
    st.Page(f"{PAGES}/papers.py", title="Papers", icon="📚", url_path="papers"),
    st.Page(f"{PAGES}/reproductions.py", title="Reproductions", icon="🧪", url_path="reproductions"),
    st.Page(f"{PAGES}/node.py", title="Node", default=node_requested, url_path="node", visibility="hidden"),
])
page.run()
