"""Every contradicts/qualifies edge, its two statements side by side."""

import streamlit as st

from kb.app.widgets import disagreement_key, open_kb, show_disagreement

kb = open_kb()
if kb is None:
    st.stop()
st.title("Disagreements")
kinds = st.multiselect("Kinds", ["contradicts", "qualifies"], default=["contradicts", "qualifies"], key="dis-kinds")
curated_only = st.toggle("Curated only", key="dis-curated")
items = [d for d in kb.disagreements() if d.kind in kinds and (not curated_only or d.edge.asserted_by == "curated")]
st.caption(f"{len(items)} disagreements")
for d in items:
    show_disagreement(d, key=disagreement_key(d))
