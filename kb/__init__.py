"""kb: an offline knowledge base of how reinforcement learning on language models fails.

`from kb import KnowledgeBase` gives the Python API; the heavy modules load only when first used.
"""

__all__ = ["KnowledgeBase", "build", "load_settings"]


def __getattr__(name):
    if name == "KnowledgeBase":
        from .api import KnowledgeBase

        return KnowledgeBase
    if name == "build":
        from .build import build

        return build
    if name == "load_settings":
        from .config import load_settings

        return load_settings
    raise AttributeError(name)
