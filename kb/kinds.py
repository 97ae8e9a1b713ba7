"""The kinds of node in kb's graph, in one place. The models, the query path (which must not import pydantic)
and the evaluation scripts all read them from here."""

NODE_KINDS = ("source", "paper", "claim", "evidence", "failure_mode", "mitigation", "reproduction")
CONCEPT_KINDS = ("failure_mode", "mitigation")   # what extraction founds, names and links claims to
STATEMENT_KINDS = ("claim", "evidence")          # what a source states, sentence by sentence
SEARCH_KINDS = (*NODE_KINDS, "passage")          # what the search index ranks: every node, and passages
