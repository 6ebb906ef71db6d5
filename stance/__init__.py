"""stance: who said what in news articles, grounded in the text.

Public API (DESIGN.md §10)::

    import stance
    a = stance.analyze("article.txt", model="baseline")
    for result in stance.analyze_folder("articles/", output="out"):
        ...
"""

from __future__ import annotations

from ._version import __version__

__all__ = [
    "ArticleAnalysis",
    "ArticleFailure",
    "Comparison",
    "EvalReport",
    "StanceError",
    "__version__",
    "aanalyze",
    "analyze",
    "analyze_folder",
    "compare",
    "evaluate",
]

# Bound eagerly, after __version__ (the submodules import it): the function names equal
# their modules' names, and importing a submodule later must not rebind ``stance.analyze``
# from the function to the module. None of these import the openai SDK at import time.
from .analyze import aanalyze, analyze, analyze_folder  # noqa: E402
from .compare import Comparison, compare  # noqa: E402
from .errors import StanceError  # noqa: E402
from .evaluate import EvalReport, evaluate  # noqa: E402
from .schema import ArticleAnalysis, ArticleFailure  # noqa: E402
