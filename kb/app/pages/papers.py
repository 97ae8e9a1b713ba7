"""Every paper, with arXiv links and a BibTeX download of all of them."""

import streamlit as st

from kb.app.widgets import open_kb, show_papers

kb = open_kb()
if kb is None:
    st.stop()
st.title("Papers")
show_papers(kb, kb.node_views("paper"), key="papers", bib_name="kb-papers")
