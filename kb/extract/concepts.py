"""Concepts and their names: the curated concepts a build starts from, the phrases documents use for them (found
aliases, surface forms), new concepts' descriptions, and the alias indexes claims are matched against.

Which resolved phrases are names of their concept (`names_its_concept`) is decided here, once, for the aliases a
node lists and the indexes that link other sentences."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from ..models import Document
from ..taxonomy import Concept, Curation, Taxonomy
from ..text import normalize
from .aliases import MAX_OWN_WORDS, AliasHit, AliasIndex, BlockHits, HitMemo, Token, build_alias_index, tokens
from .clean import ClaimSentence, plain
from .cues import Cues
from .mentions import clean_phrase, setting_names, split_label
from .names import alias_shaped, content_stems
from .resolve import Resolution

DESCRIPTION_SENTENCES = 5   # a heading's new concept is described by one of its section's first sentences ...
DESCRIPTION_MIN_WORDS = 8   # ... preferably one that reads as prose


def curated_concepts(taxonomy: Taxonomy, curation: Curation) -> list[Concept]:
    """Taxonomy concepts, with curated nodes added or replacing them."""
    by_id = {c.id: c for c in taxonomy.concepts()}
    for node in curation.nodes:
        by_id[node.id] = Concept(id=node.id, label=node.label, description=node.description, aliases=node.aliases,
                                 mitigates=node.mitigates)
    return list(by_id.values())


def concept_kind(concept_id: str) -> str:
    """`mitigation` for mit: ids, else `failure_mode`."""
    return "mitigation" if concept_id.startswith("mit:") else "failure_mode"


def with_section_descriptions(concepts: list[Concept], resolutions: list[Resolution],
                              claims: dict[str, list[ClaimSentence]], cues: Cues) -> list[Concept]:
    """New concepts first named by a heading, described by a claim of that heading's section (the writer's own
    account of the failure or fix, without its Markdown) instead of by the heading again (`section_description`)."""
    first = first_mentions(resolutions)
    out = []
    for c in concepts:
        m = first[c.id].mention if c.id in first else None
        if m is not None and m.sentence is None and m.origin == "heading":
            heading = normalize(m.phrase)
            below = [plain(cl.sentence.text) for cl in claims.get(m.doc_id, [])
                     if cl.block.start > m.start and heading in normalize(cl.block.section)]
            description = section_description(c.label, below, cues)
            if description:
                c = c.model_copy(update={"description": description})
        out.append(c)
    return out


def section_description(label: str, sentences: list[str], cues: Cues) -> str | None:
    """Among the first DESCRIPTION_SENTENCES sentences of a section, the first that shares a word with the
    concept's name, else the first that reads as prose (DESCRIPTION_MIN_WORDS words, mostly not numbers: a
    measurement such as "Loss was 0.12" says nothing of what the concept is), else the first sentence."""
    candidates = sentences[:DESCRIPTION_SENTENCES]
    named = content_stems(label, cues)
    prose = [s for s in candidates if len(s.split()) >= DESCRIPTION_MIN_WORDS
             and sum(any(ch.isdigit() for ch in w) for w in s.split()) <= len(s.split()) // 6]
    sharing = [s for s in prose if named & content_stems(s, cues)]
    return next(iter(sharing or prose or candidates), None)


def alias_index(concepts: list[Concept], cues: Cues, memo: HitMemo | None = None) -> AliasIndex:
    """The alias index over concept labels (before any parenthesis), strong and weak aliases."""
    return build_alias_index(((c.id, [c.label.split(" (")[0], *c.aliases], c.weak_aliases) for c in concepts),
                             **_matching_words(cues), memo=memo)


def _matching_words(cues: Cues) -> dict:
    """The cue words alias matching reads (what may stand inside a name, what joins, negates or moves a
    setting), for every index extraction builds."""
    return dict(inserted_words=cues.inserted_words, joining_words=cues.connecting_words,
                predicate_words=cues.predicate_adjectives, direction_words=cues.up_words | cues.down_words,
                negation_words=cues.negation_words, own_words=MAX_OWN_WORDS, neutral_terms=cues.neutral_terms)


def found_aliases(concepts: list[Concept], resolutions: list[Resolution]) -> dict[str, list[str]]:
    """Concept id -> the phrases documents use for it that are not yet among its names, sorted."""
    found: dict[str, list[str]] = defaultdict(list)
    for r in resolutions:
        found[r.concept_id].append(r.mention.phrase)
    out = {}
    for c in concepts:
        known = {normalize(a.rstrip("*")) for a in [c.label, *c.aliases]}
        extra = []
        for phrase in found.get(c.id, []):
            if normalize(phrase) not in known:
                known.add(normalize(phrase))
                extra.append(phrase)
        if extra:
            out[c.id] = sorted(extra)
    return out


def with_found_aliases(concepts: list[Concept], resolutions: list[Resolution]) -> list[Concept]:
    """Concepts with the phrases documents use for them added as aliases (one phenomenon, one node)."""
    extra = found_aliases(concepts, resolutions)
    return [c.model_copy(update={"aliases": [*c.aliases, *extra[c.id]]}) if c.id in extra else c for c in concepts]


def found_names(curated: list[Concept], new_concepts: list[Concept],
                resolutions: list[Resolution]) -> list[tuple[str, list[str], list[str]]]:
    """(concept id, strong aliases, weak aliases) for what extraction added to the taxonomy: the phrases
    documents use for curated concepts, and the new concepts' names."""
    extra = found_aliases(curated, resolutions)
    named = [(c.id, extra[c.id], []) for c in curated if c.id in extra]
    return named + [(c.id, [c.label.split(" (")[0], *c.aliases], c.weak_aliases) for c in new_concepts]


def found_index(curated: list[Concept], new_concepts: list[Concept], resolutions: list[Resolution],
                cues: Cues, memo: HitMemo | None = None) -> AliasIndex:
    """An alias index over what extraction added to the taxonomy (`found_names`). Claims are matched against
    it and the curated index separately, so a build matches every claim against the (large) curated index
    once."""
    return build_alias_index(found_names(curated, new_concepts, resolutions), **_matching_words(cues), memo=memo)


def phrase_documents(curated: list[Concept], resolutions: list[Resolution]) -> dict[tuple[str, str], frozenset[str]]:
    """(curated concept id, normalized one-word phrase) -> the documents that used the word for that concept."""
    curated_ids = {c.id for c in curated}
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in resolutions:
        if r.concept_id in curated_ids and len(r.mention.phrase.split()) == 1:
            out[(r.concept_id, normalize(r.mention.phrase))].add(r.mention.doc_id)
    return {key: frozenset(docs) for key, docs in out.items()}


@dataclass(frozen=True)
class DocumentAliases:
    """An alias index as one document reads it. A single word some document used for a curated concept names
    that concept only in the documents that used it: one word carries too little context to be trusted
    elsewhere, and a resolution that went wrong in one document ("collapses", "Adaptive", "Precision") does
    not spread to every other. Longer phrases and new concepts' names count everywhere."""

    index: AliasIndex
    used_in: dict[tuple[str, str], frozenset[str]]
    doc_id: str

    def find(self, text: str, toks: tuple[Token, ...] | None = None) -> list[AliasHit]:
        """The index's hits in `text` (its `tokens`, when already known) that hold in this document."""
        return [h for h in self.index.find(text, toks)
                if self.doc_id in self.used_in.get((h.concept_id, normalize(h.alias)), (self.doc_id,))]


def not_set_aside(text: str, hits: list[AliasHit], cues: Cues) -> list[AliasHit]:
    """The hits in `text` the writer does not set aside as what does not happen or is not done ("fails fast
    rather than silently dropping the reasoning"): a sentence is not about what it names only as the road not
    taken. On nine sets this untied an SFT page's borrowed failure and four incidental concepts of RL pages, and
    lost one annotated item, which hung on a wrong found name."""
    return [h for h in hits if not cues.sets_aside(text, h.start)]


_NEXT_WORD = re.compile(r"[ \t-]+([A-Za-z][\w-]*)")


class NameWords:
    """Concept id -> the stems of every word of its names (label, aliases, weak aliases), worked out on first use."""

    def __init__(self, concepts: list[Concept]):
        self._concepts = {c.id: c for c in concepts}
        self._stems: dict[str, frozenset[str]] = {}

    def __call__(self, concept_id: str) -> frozenset[str]:
        if concept_id not in self._stems:
            c = self._concepts.get(concept_id)
            names = [c.label, *c.aliases, *c.weak_aliases] if c else []
            self._stems[concept_id] = frozenset(t.stem for name in names for t in tokens(name))
        return self._stems[concept_id]


def not_modifying(text: str, hits: list[AliasHit], names: NameWords, cues: Cues, *,
                  found: bool = False) -> list[AliasHit]:
    """The hits in `text` but a one-word weak alias standing right before one of the field's own words that none of
    its concept's names holds ("deterministic rewards", "token-level KL", "off-policy RL"): there the word says
    which reward, KL or RL is meant, not that the concept is. Over realdev and twelve outside sets such hits were
    another sense in nearly every case read (token-level KL twelve times for token-level loss normalization). A
    one-word name a document gave a concept (`found`: "**Deterministic**" as a lead term) is read the same way."""
    def modifies(h: AliasHit) -> bool:
        if not (h.weak or found) or len(h.alias.split()) != 1:
            return False
        after = _NEXT_WORD.match(text, h.end)
        return bool(after and cues.patterns.domain.fullmatch(after.group(1))
                    and not {t.stem for t in tokens(after.group(1))} & names(h.concept_id))

    return [h for h in hits if not modifies(h)]


def names_its_concept(resolution: Resolution, cues: Cues) -> bool:
    """Whether a resolved mention is a name of its concept, to be listed among its aliases: a new concept's own
    name, a confident match or an instruction to apply the fix. A phrase only near a concept in meaning ties
    nothing and is no alias either: of forty such phrases read from four sets about six named their concept
    ("Base model" is no stronger base model, a table's "Loss Behavior" no training plateau), and even where the
    document names the concept outright elsewhere, most did not ("either reward" for partial credit)."""
    return resolution.how == "new" or resolution.confident or instructs(resolution, cues)


def instructs(resolution: Resolution, cues: Cues) -> bool:
    """Whether a lead term tells the reader to apply the fix it was resolved to ("**Inspect the generations**:
    ..." for monitoring): an instruction names its fix even when only its meaning is close. Other phrases
    only near a concept in meaning ("**Mean reward**", "**Alignment type**") were right in one read sample
    of four, so they tie nothing."""
    words = resolution.mention.phrase.split()
    return (resolution.mention.origin == "lead" and resolution.kind == "mitigation" and len(words) >= 2
            and normalize(words[0]) in cues.fix_verbs)


def surface_forms(documents: list[Document], claims: dict[str, list[ClaimSentence]],
                  hits: dict[str, list[list[AliasHit]]], blocks: Mapping[str, list[BlockHits]],
                  cues: Cues, vocabulary: Mapping[str, set[str]]) -> dict[str, list[tuple[str, str]]]:
    """Concept id -> (phrase, source) for each way a document wrote a strong alias differently from the alias
    itself ("KL penalties" for "KL penalty", "implementation details" for "implementation detail*"), in its
    claims and in its headings, table rows and short items (`blocks`), and a short heading that ends in one
    concept's alias, whole (`heading_name`: "Gradient underflow" for "underflow*")."""
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    generic = setting_stems(" ".join(cues.setting_words), cues)   # "max", "coef": said by any setting's name
    for doc in documents:
        written = [(claim.sentence.text, claim_hits) for claim, claim_hits in zip(claims[doc.id], hits[doc.id])]
        written += [(doc.text[block.start:block.end], block_hits) for _, block, block_hits in blocks.get(doc.id, [])]
        for text, text_hits in written:
            for h in text_hits:
                surface = text[h.start:h.end]
                if not h.weak and normalize(surface) != normalize(h.alias):
                    found[h.concept_id].add((surface, doc.id))
            named = {h.concept_id for h in text_hits if not h.weak}
            if len(named) == 1:   # a setting written beside the one concept the text names, in that concept's words
                concept_id = next(iter(named))
                found[concept_id].update((setting, doc.id) for setting in setting_names(text)
                                         if setting_stems(setting, cues) - generic & vocabulary.get(concept_id, set()))
        for rule, block, block_hits in blocks.get(doc.id, []):
            named = heading_name(doc.text[block.start:block.end], block_hits, cues) if rule == "rule:heading" else None
            if named is not None:
                found[named[0]].add((named[1], doc.id))
    return {c: sorted(v) for c, v in found.items()}


def setting_stems(setting: str, cues: Cues) -> frozenset[str]:
    """The content stems of a setting's name, its parts split at "." and "_" (`actor.entropy_coeff`)."""
    return content_stems(re.sub(r"[._]", " ", setting), cues)


def heading_name(text: str, hits: list[AliasHit], cues: Cues) -> tuple[str, str] | None:
    """(concept id, name) when a heading is the name of one concept in the writer's words: two to five words,
    shaped like an alias, ending in a strong alias of that concept and naming no other ("Gradient underflow"
    ends in "underflow*", "Overlong reward shaping" in "reward shaping")."""
    strong = {h.concept_id for h in hits if not h.weak}
    name = clean_phrase(split_label(text, cues)[1])
    words = normalize(name).split()
    if len(strong) != 1 or not 2 <= len(words) <= 5 or any(c.isdigit() for c in name) \
            or not alias_shaped(name, cues) or any(w in cues.connecting_words or w in cues.clause_words
                                                   or w in cues.negation_words for w in words):
        return None   # "Examples of reward hacking", "Missing gradient clipping": about the concept, not its name
    last = max((h for h in hits if not h.weak), key=lambda h: h.end)
    ending = normalize(text[last.start:last.end])
    return (strong.pop(), name) if normalize(name).endswith(ending) else None


def with_surface_forms(concepts: list[Concept], surfaces: dict[str, list[tuple[str, str]]]) -> list[Concept]:
    """Concepts with the surface forms documents wrote added as aliases."""
    out = []
    for c in concepts:
        known = {normalize(a.rstrip("*")) for a in [c.label, *c.aliases]}
        extra = sorted({p for p, _ in surfaces.get(c.id, []) if normalize(p) not in known},
                       key=lambda p: (normalize(p), p))   # ties by spelling, so every process keeps the same one
        unique = list({normalize(p): p for p in extra}.values())
        out.append(c.model_copy(update={"aliases": [*c.aliases, *unique]}) if unique else c)
    return out


def first_mentions(resolutions: list[Resolution]) -> dict[str, Resolution]:
    first: dict[str, Resolution] = {}
    for r in sorted(resolutions, key=lambda r: (r.mention.doc_id, r.mention.start)):
        if r.how == "new":
            first.setdefault(r.concept_id, r)
    return first
