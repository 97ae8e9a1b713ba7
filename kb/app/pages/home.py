"""Home: a search box with results inline, then every failure mode with its scorecard, heaviest evidence first.

Drawn from `startup.home_data` (no graph load on a restart); the search loads the knowledge base on first use."""

import streamlit as st

from kb.app.startup import (
    HOME_FIRST,
    HOME_ORDERS,
    build_stamp,
    home_data,
    key_for,
    md_escape,
    open_button,
    order_rows,
)

data = home_data(*build_stamp())
if data is None:
    from kb.app.widgets import open_kb

    open_kb()  # shows what is wrong with the build and which command fixes it
    st.stop()
st.title("How RL on language models fails")
st.caption(data["counts"])
query = st.text_input("Symptom or question", key="home-q", placeholder="all rollouts get zero reward")
if query.strip():
    from kb.app.widgets import open_kb, search_results

    kb = open_kb()
    if kb is not None:
        search_results(kb, query)
else:
    st.caption("Type a symptom, e.g. “all rollouts get zero reward” or “reward keeps rising but quality falls”.")
st.subheader("Failure modes")
order = st.selectbox("Sort by", list(HOME_ORDERS), key="home-sort",
                     help="Weight of evidence = sources + papers + reproductions")
rows = order_rows(data["rows"], order)
if len(rows) > HOME_FIRST and not st.toggle(f"Show all {len(rows)} failure modes", key="home-all"):
    st.caption(f"The first {HOME_FIRST} of {len(rows)}, by {order}.")
    rows = rows[:HOME_FIRST]
for row in rows:
    # One markdown block and one button per failure mode: the list is most of what the first render draws.
    st.markdown(f"### {md_escape(row['label'])}\n{md_escape(row['description'])}\n\n:gray[{md_escape(row['line'])}]")
    open_button("Open", row["id"], key=key_for("home", row["id"]))
