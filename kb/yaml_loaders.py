"""The YAML loaders kb reads its inputs with: all safe; the data files' loader and the strict front-matter
loader refuse a mapping that repeats a key."""

from __future__ import annotations

import yaml


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping that repeats a key."""


class _UniqueKeys:
    """Refuses a mapping that repeats a key: plain YAML keeps the last one silently, so a curator who writes a
    second `weak_aliases:` line under a concept, or a writer who gives a post two `title:` lines, would lose the
    first without a word."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in seen:
                raise DuplicateKeyError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


# libyaml's parser where PyYAML was built with it (it is, on PyPI wheels): the taxonomy is large.
class YamlLoader(_UniqueKeys, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The loader of kb's data files (taxonomy, curation, glossary, cues)."""


class FrontMatterLoader(yaml.SafeLoader):
    """The loader of a document's front matter, keeping numbers as written so ids like `001` and arXiv ids like
    `2501.12340` survive; a repeated key keeps its last value, as YAML readers do."""


FrontMatterLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if not tag.endswith((":int", ":float"))]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class StrictFrontMatterLoader(_UniqueKeys, FrontMatterLoader):
    """The front-matter loader that refuses a repeated key, so the writer can be told."""


def yaml_problem(error: Exception, first_line: int = 1) -> str:
    """One line saying what is wrong in a YAML text and where ("duplicate key 'title' at line 3"); `first_line`
    is the file's line number of the text's first line."""
    problem = getattr(error, "problem", None)
    mark = getattr(error, "problem_mark", None)
    if not problem:
        lines = str(error).strip().splitlines()
        return lines[0] if lines else type(error).__name__
    return f"{problem} at line {mark.line + first_line}" if mark is not None else problem
