"""Every registered reproduction with its Run panel."""

import streamlit as st

from kb.app.startup import md_escape
from kb.app.widgets import open_kb, show_reproduction

kb = open_kb()
if kb is None:
    st.stop()
st.title("Reproductions")
repros = kb.nodes("reproduction")
if not repros:
    st.info("No reproductions registered in this build.")
for r in repros:
    detail = kb.node_detail(r["id"])
    fms = [n.other.label for n in detail.neighbours if n.outgoing and n.edge.kind == "reproduces"]
    st.caption("Reproduces: " + md_escape(", ".join(fms)))
    show_reproduction(kb, kb.reproduction(r["id"]))
