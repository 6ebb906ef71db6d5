"""Eval harness: score stance against a hand-labelled set (DESIGN.md §6, §7, §10).

* :func:`check_evalset` / :func:`load_evalset` — the §6 folder format, validated.
* :func:`evaluate` / :func:`aevaluate` — run a model (and ``baseline``) over the set,
  store raw outputs, score, write report.json/.md/.html.
* :func:`rescore` — recompute everything from stored outputs, no model calls.
* :mod:`~stance.evaluate.matching`, :mod:`~stance.evaluate.metrics`,
  :mod:`~stance.evaluate.facts` — the scorers, small pure functions.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from .facts import Judge, fact_coverage, lexical_coverage
from .labels import CheckResult, EvalItem, EvalSet, Label, check_evalset, load_evalset
from .matching import Decision, MatchedPair, match_article
from .metrics import ArticleScore, Counts, Metrics, metrics_from_counts, prf, score_article
from .names import match_party, normalise_name
from .report import REGRESSION_RULE, EvalReport, headline_table, load_report, write_report
from .runner import aevaluate, evaluate, rescore

__all__ = [
    "REGRESSION_RULE",
    "ArticleScore",
    "CheckResult",
    "Counts",
    "Decision",
    "EvalItem",
    "EvalReport",
    "EvalSet",
    "Judge",
    "Label",
    "MatchedPair",
    "Metrics",
    "aevaluate",
    "check_evalset",
    "evaluate",
    "fact_coverage",
    "headline_table",
    "lexical_coverage",
    "load_evalset",
    "load_report",
    "match_article",
    "match_party",
    "metrics_from_counts",
    "normalise_name",
    "prf",
    "rescore",
    "score_article",
    "write_report",
]


class _CallableModule(ModuleType):
    """Lets ``stance.evaluate(...)`` (DESIGN.md §10) work whatever was imported first.

    ``stance.evaluate`` names both this package and the public function. Importing the
    package (``from stance.evaluate import ...``, or anything that does) binds the *module*
    to ``stance.evaluate``, shadowing the lazily exported function; making the module
    callable keeps the documented call working either way.
    """

    def __call__(self, evalset: str | Path, **kwargs: Any) -> EvalReport:
        return evaluate(evalset, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
