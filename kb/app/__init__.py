"""The Streamlit explorer: `startup` (what the home page needs, without pydantic, networkx or numpy),
`views` (badges, highlighted text, graph elements; they draw nothing), `widgets` (shared Streamlit pieces)
and `pages/` (one script per page, wired together by `app.py` with `st.navigation`)."""
