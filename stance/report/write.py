"""Write a run's reports: report.md, report.html, comparison.json, matrix.csv, merge_log.jsonl."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..compare.models import Comparison
from ..schema import STANCES, ArticleAnalysis
from .render import render_html, render_markdown

MATRIX_COLUMNS = ["party", "topic", "stance", "n", *STANCES, "articles"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _atomic_write(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cell(value: Any) -> Any:
    # A spreadsheet would run a party called "=HYPERLINK(...)" as a formula.
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def matrix_csv(comparison: Comparison) -> str:
    """The party × topic matrix, one row per non-empty cell (``matrix.csv``)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(MATRIX_COLUMNS)
    for c in comparison.matrix:
        writer.writerow(
            [
                _cell(c.party),
                _cell(c.topic),
                c.stance,
                c.n,
                *(c.counts.get(s, 0) for s in STANCES),
                _cell(";".join(c.articles)),
            ]
        )
    return buf.getvalue()


def merge_log(comparison: Comparison) -> str:
    """``merge_log.jsonl``: one object per merge (from, to, kind, rule, source, articles, why)."""
    return "".join(m.model_dump_json() + "\n" for m in comparison.merges)


def write_run_reports(
    out_dir: Path,
    analyses: list[ArticleAnalysis],
    comparison: Comparison,
    manifest: dict[str, Any],
    *,
    templates_dir: str | Path | None = None,
) -> None:
    """Write the reports of a run into ``out_dir``.

    Writes ``report.md``, ``report.html``, ``comparison.json``, ``matrix.csv`` and
    ``merge_log.jsonl``, each atomically. Everything is rendered before anything is written,
    so a template error leaves the previous reports in place.

    Args:
        out_dir: The run folder (created if missing).
        analyses: The articles compared.
        comparison: Their comparison, from :func:`stance.compare.compare`.
        manifest: The run manifest (``run.json`` contents); ``model``, ``counts`` and
            ``failures`` (dicts with article_id/path/message) are shown when present.
        templates_dir: A folder whose ``report.md.j2`` / ``report.html.j2`` / ``report.css``
            / ``report.js`` override the shipped ones (rendered in the sandbox).

    Raises:
        TemplateError: A template fails to render.
        OSError: The folder cannot be written.
    """
    out_dir = Path(out_dir)
    items: Sequence[ArticleAnalysis] = list(analyses)
    meta: Mapping[str, Any] = manifest if isinstance(manifest, Mapping) else {}
    files = {
        "report.md": render_markdown(items, comparison, meta, templates_dir=templates_dir),
        "report.html": render_html(items, comparison, meta, templates_dir=templates_dir),
        "comparison.json": comparison.model_dump_json(indent=2) + "\n",
        "matrix.csv": matrix_csv(comparison),
        "merge_log.jsonl": merge_log(comparison),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        _atomic_write(out_dir / name, text)
