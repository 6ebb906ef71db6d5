"""stance: who said what in news articles, grounded in the text.

Public API (DESIGN.md §10)::

    import stance
    a = stance.analyze("article.txt", model="baseline")
    for result in stance.analyze_folder("articles/", output="out"):
        ...
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "ArticleAnalysis",
    "ArticleFailure",
    "StanceError",
    "__version__",
    "aanalyze",
    "analyze",
    "analyze_folder",
    "compare",
    "evaluate",
]

_LAZY = {
    "analyze": ("stance.analyze", "analyze"),
    "aanalyze": ("stance.analyze", "aanalyze"),
    "analyze_folder": ("stance.analyze", "analyze_folder"),
    "compare": ("stance.compare", "compare"),
    "evaluate": ("stance.evaluate", "evaluate"),
    "ArticleAnalysis": ("stance.schema", "ArticleAnalysis"),
    "ArticleFailure": ("stance.schema", "ArticleFailure"),
    "StanceError": ("stance.errors", "StanceError"),
}


def __getattr__(name: str) -> Any:
    # Lazy so that `import stance` (and the CLI's start-up) does not import the SDK.
    if name in _LAZY:
        import importlib

        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(mod), attr)
    raise AttributeError(f"module 'stance' has no attribute {name!r}")
