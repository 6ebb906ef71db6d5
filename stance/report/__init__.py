"""The reports people read: Markdown and a self-contained HTML page, plus the comparison files.

>>> from stance.compare import compare
>>> from stance.report import write_run_reports
>>> write_run_reports(out_dir, analyses, compare(analyses), manifest)
"""

from __future__ import annotations

from .render import md, render_html, render_markdown
from .write import matrix_csv, merge_log, write_run_reports

__all__ = ["matrix_csv", "md", "merge_log", "render_html", "render_markdown", "write_run_reports"]
