"""Every source document."""

import streamlit as st

from kb.app.startup import key_for, md_escape, open_button
from kb.app.widgets import open_kb

kb = open_kb()
if kb is None:
    st.stop()
st.title("Sources")
for s in kb.node_views("source"):
    cols = st.columns([5, 1])
    facts = " · ".join(md_escape(x) for x in (s.doc_kind, s.reliability, s.date) if x)
    cols[0].markdown(f"**{md_escape(s.label)}** — {facts}")
    with cols[1]:
        open_button("Open", s.id, key=key_for("sources", s.id))
