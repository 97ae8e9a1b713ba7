"""Exports of a built knowledge base, rendered from the API's typed views through Jinja2 templates.

    from kb.export import export_site, export_mkdocs
    export_site(kb, Path("site"))          # self-contained HTML that works from file://
    export_mkdocs(kb, Path("kb-docs"))     # Markdown + mkdocs.yml for `mkdocs build --strict`

`common` holds what both share: the one slug function, the atomic output-folder writer, URL and JSON
helpers and the template environments (HTML autoescaped; Markdown escaped for both HTML and Markdown).
The exporters are imported on first use, so `kb.export.common` stays light for the explorer.
"""

from __future__ import annotations

from typing import Any

__all__ = ["export_mkdocs", "export_site"]


def __getattr__(name: str) -> Any:
    if name == "export_site":
        from .site import export_site

        return export_site
    if name == "export_mkdocs":
        from .mkdocs import export_mkdocs

        return export_mkdocs
    raise AttributeError(f"module 'kb.export' has no attribute {name!r}")
