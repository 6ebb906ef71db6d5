"""The reports people read: Markdown and a self-contained HTML page, plus the comparison files.

>>> from stance.compare import compare
>>> from stance.report import write_run_reports
>>> write_run_reports(out_dir, analyses, compare(analyses), manifest)

For a large corpus, pass :func:`stance.compare.compare_light`'s result and a source that
re-reads the analyses on demand: every file is streamed, and past
:attr:`ReportLimits.articles` articles the reports show the first ones in full and list the
rest (see :mod:`stance.report.context`).
"""

from __future__ import annotations

from .context import ReportLimits
from .render import md, render_html, render_markdown
from .write import comparison_json, matrix_csv, merge_log, write_run_reports

__all__ = [
    "ReportLimits",
    "comparison_json",
    "matrix_csv",
    "md",
    "merge_log",
    "render_html",
    "render_markdown",
    "write_run_reports",
]
