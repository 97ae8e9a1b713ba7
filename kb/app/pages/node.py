"""The page of one node, reached by `?node=<id>` (plus `&claim=<id>` to highlight a passage in a source)."""

import streamlit as st

from kb.app.startup import key_for, md_escape, open_button
from kb.app.views import highlighted_source_html, kind_badge, provenance_badge
from kb.app.widgets import (
    open_kb,
    show_disagreement,
    show_mitigations,
    show_neighbours,
    show_papers,
    show_reproduction,
    show_scorecard,
    show_statement,
)
from kb.errors import KBError
from kb.models import KIND_LABELS


def page_concept(kb, node_id: str) -> None:
    """A failure mode or mitigation: definition, scorecard, evidence, papers, mitigations, reproductions."""
    is_fm = kb.G.nodes[node_id]["kind"] == "failure_mode"
    card = kb.failure_mode_card(node_id) if is_fm else kb.mitigation_card(node_id)
    node = card.node
    st.title(node.label)
    st.markdown(f"{kind_badge(node.kind)} {provenance_badge(node.asserted_by)} `{node_id}`")
    st.markdown(md_escape(node.description))
    if node.aliases:
        st.caption("Also known as: " + md_escape(", ".join(node.aliases)))
    show_scorecard(card)
    tabs = st.tabs([f"Claims & evidence ({len(card.statements)})", f"Papers ({len(card.papers)})",
                    f"{'Mitigations' if is_fm else 'Mitigates'} ({len(card.mitigations)})",
                    f"Reproductions ({len(card.reproductions)})", f"Disagreements ({len(card.disagreements)})"])
    with tabs[0]:
        for s in card.statements:
            show_statement(s, key=key_for("st", s.id), edge=True)
    with tabs[1]:
        show_papers(kb, card.papers, key="card", bib_name=node_id.split(":", 1)[-1])
    with tabs[2]:
        show_mitigations(kb, card.mitigations, key="card")
    with tabs[3]:
        if not card.reproductions:
            st.caption("No reproduction registered for this yet.")
        for repro in card.reproductions:
            show_reproduction(kb, repro)
    with tabs[4]:
        for d in card.disagreements:
            show_disagreement(d, key=key_for("card-dis", d.kind, d.u.id, d.v.id))
        if not card.disagreements:
            st.caption("No open disagreements.")


def page_paper(kb, node_id: str) -> None:
    """A paper: bibliographic facts, arXiv link, BibTeX, the statements that cite it."""
    card = kb.paper_card(node_id)
    p = card.node
    st.title(p.label)
    st.markdown(f"{kind_badge('paper')} {provenance_badge(p.asserted_by)} `{node_id}`")
    st.markdown(" · ".join(md_escape(x) for x in (p.authors, p.venue, p.year, p.episode) if x))
    show_papers(kb, [p], key="paper", bib_name=p.key or "paper")
    st.markdown(md_escape(p.description))
    if card.failure_modes:
        st.subheader("Failure modes")
        for fm in card.failure_modes:
            open_button(fm.label, fm.id, key=key_for("paper-fm", fm.id))
    st.subheader(f"Cited by ({len(card.citing)})")
    for s in card.citing:
        show_statement(s, key=key_for("cite", s.id))
    if card.sources:
        st.subheader("Sources")
        for s in card.sources:
            open_button(s.label, s.id, key=key_for("paper-src", s.id))


def page_source(kb, node_id: str, claim: str | None) -> None:
    """A source document with its extracted claims highlighted; `claim` is marked and scrolled to."""
    view = kb.source_view(node_id)
    node = view.node
    st.title(node.label)
    facts = [md_escape(x) for x in (node.doc_kind, node.reliability, node.date, node.path) if x]
    st.markdown(f"{kind_badge('source')} " + " · ".join(facts))
    if node.url:
        st.markdown(f"[{md_escape(node.url)}]({node.url})")
    selected = next((c for c in view.claims if c.id == claim), None)
    if selected:
        st.info(f"Highlighted passage ({md_escape(selected.section or 'no section')}, characters "
                f"{selected.start}–{selected.end}): “{md_escape(selected.quote)}”")
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Document")
        st.caption(f"{len(view.claims)} extracted claims and evidence highlighted (blue: claim, orange: evidence).")
        st.html(highlighted_source_html(view.text, view.claims, selected=claim))
        if selected:
            scroll_to_selected()
    with right:
        st.subheader("Extracted")
        for c in view.claims:
            with st.container(border=True):
                st.markdown(f"{kind_badge(c.kind)} {provenance_badge(c.asserted_by)} {md_escape(c.quote)}")
                if c.about:
                    st.caption("About: " + md_escape(", ".join(r.label for r in c.about)))
                open_button("Open", c.id, key=key_for("src-claim", c.id))


def scroll_to_selected() -> None:
    """Scroll the parent page to the highlighted passage (the component iframe shares the app's origin)."""
    st.iframe("<script>setTimeout(function(){var el=window.parent.document.getElementById('kb-selected');"
              "if(el){el.scrollIntoView({block:'center'});}},300);</script>", height=1)


def page_statement(kb, node_id: str) -> None:
    """A claim or evidence node with its passage and every edge."""
    s = kb.statement(node_id)
    st.title(KIND_LABELS[s.kind].capitalize())
    show_statement(s, key="stmt")
    for label, kind in (("Failure modes", "failure_mode"), ("Mitigations", "mitigation")):
        refs = [r for r in s.about if r.kind == kind]
        if refs:
            st.subheader(label)
            for r in refs:
                open_button(r.label, r.id, key=key_for("stmt", r.id))
    st.subheader("Edges")
    show_neighbours(kb.node_detail(node_id).neighbours, key="stmt")


def page_reproduction(kb, node_id: str) -> None:
    """A reproduction with its run panel and edges."""
    repro = kb.reproduction(node_id)
    st.title(repro.label)
    show_reproduction(kb, repro)
    st.subheader("Edges")
    show_neighbours(kb.node_detail(node_id).neighbours, key="repro")


kb = open_kb()
if kb is None:
    st.stop()
if st.button("← Home", key="back"):
    st.switch_page("kb/app/pages/home.py")
try:
    node_id = kb.resolve(st.query_params.get("node") or "")
except KBError as exc:
    st.error(str(exc))
    st.stop()
kind = kb.G.nodes[node_id]["kind"]
if kind in ("failure_mode", "mitigation"):
    page_concept(kb, node_id)
elif kind == "paper":
    page_paper(kb, node_id)
elif kind == "source":
    page_source(kb, node_id, st.query_params.get("claim"))
elif kind == "reproduction":
    page_reproduction(kb, node_id)
else:
    page_statement(kb, node_id)
