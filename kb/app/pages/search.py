"""Search with filters: node kinds, a failure mode, how many results."""

import streamlit as st

from kb.app.widgets import open_kb, search_box
from kb.kinds import NODE_KINDS
from kb.models import KIND_LABELS

kb = open_kb()
if kb is None:
    st.stop()
st.title("Search")
cols = st.columns([2, 2, 1])
kinds = cols[0].multiselect("Kinds", NODE_KINDS, key="search-kinds", format_func=lambda k: KIND_LABELS[k])
fms = {fm["id"]: fm["label"] for fm in kb.nodes("failure_mode")}
fm = cols[1].selectbox("Failure mode", [None, *fms], key="search-fm", format_func=lambda x: "any" if x is None else fms[x])
k = cols[2].number_input("Results", min_value=1, max_value=50, value=10, key="search-k")
search_box(kb, key="search-q", kinds=kinds, failure_mode=fm, k=int(k))
