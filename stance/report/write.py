"""Write a run's reports: report.md, report.html, comparison.json, matrix.csv, merge_log.jsonl.

Every file is streamed into a temporary file beside its target and renamed into place only
once all of them are complete, so a template error leaves the previous reports as they were,
and no report is ever held in memory whole (a 10k-article comparison.json is ~200 MB).
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..compare.light import FIELDS, LightRef
from ..compare.models import EvidenceRef
from ..schema import STANCES, ArticleAnalysis
from .context import AnyComparison, ReportLimits, build_context
from .render import stream_html, stream_markdown

MATRIX_COLUMNS = ["party", "topic", "stance", "n", *STANCES, "articles"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_EMPTY_EVIDENCE = '"evidence": []\n}'


def _cell(value: Any) -> Any:
    # A spreadsheet would run a party called "=HYPERLINK(...)" as a formula.
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _matrix_rows(comparison: AnyComparison) -> Iterator[list[Any]]:
    yield MATRIX_COLUMNS
    for c in comparison.matrix:
        yield [
            _cell(c.party),
            _cell(c.topic),
            c.stance,
            c.n,
            *(c.counts.get(s, 0) for s in STANCES),
            _cell(";".join(c.articles)),
        ]


def matrix_csv(comparison: AnyComparison) -> str:
    """The party × topic matrix, one row per non-empty cell (``matrix.csv``)."""
    return "".join(_csv_lines(comparison))


def merge_log(comparison: AnyComparison) -> str:
    """``merge_log.jsonl``: one object per merge (from, to, kind, rule, source, articles, why)."""
    return "".join(m.model_dump_json() + "\n" for m in comparison.merges)


def _json_list(items: Iterable[Iterable[str]], prefix: str) -> Iterator[str]:
    """A JSON array at indent ``prefix``; each item is given as pieces of its JSON text.

    JSON text has no raw newline inside a string, so each piece is indented by putting the
    prefix after its newlines: an item never has to be one string.
    """
    inner = "\n" + prefix + "  "
    first = True
    for pieces in items:
        yield ("[" if first else ",") + inner
        for piece in pieces:
            yield piece.replace("\n", inner)
        first = False
    yield "[]" if first else "\n" + prefix + "]"


def _ref_json(r: LightRef | EvidenceRef) -> str:
    model = r.model() if isinstance(r, LightRef) else r
    return model.model_dump_json(indent=2)


def _entry_json(item: Any) -> Iterator[str]:
    """One entry of a comparison list; a compact record's evidence one position at a time.

    A conflict in a large corpus carries thousands of positions: as one pydantic model and
    one string it would be the biggest thing in memory.
    """
    if isinstance(item, str):
        yield json.dumps(item, ensure_ascii=False)
    elif isinstance(item, BaseModel):
        yield item.model_dump_json(indent=2)
    elif not hasattr(item, "evidence"):
        yield item.model().model_dump_json(indent=2)
    else:
        head = item.model(with_evidence=False).model_dump_json(indent=2)
        if not head.endswith(_EMPTY_EVIDENCE):  # evidence is every finding's last field
            raise AssertionError(f"{type(item).__name__}: evidence is not the last field")
        yield head[: -len("[]\n}")]
        yield from _json_list(([_ref_json(r)] for r in item.evidence), "  ")
        yield "\n}"


def comparison_json(comparison: AnyComparison) -> Iterator[str]:
    """``comparison.json`` in pieces: the text of ``Comparison.model_dump_json(indent=2)``."""
    yield "{"
    for i, name in enumerate(FIELDS):
        yield ("\n" if i == 0 else ",\n") + f'  "{name}": '
        yield from _json_list((_entry_json(item) for item in getattr(comparison, name)), "  ")
    yield "\n}\n"


def _csv_lines(comparison: AnyComparison) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in _matrix_rows(comparison):
        writer.writerow(row)
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()


def write_run_reports(
    out_dir: Path,
    analyses: Iterable[ArticleAnalysis],
    comparison: AnyComparison,
    manifest: Mapping[str, Any],
    *,
    templates_dir: str | Path | None = None,
    limits: ReportLimits | None = None,
) -> None:
    """Write the reports of a run into ``out_dir``.

    Writes ``report.md``, ``report.html``, ``comparison.json``, ``matrix.csv`` and
    ``merge_log.jsonl``. Each is streamed to a temporary file and all are renamed into
    place together at the end, so a template error leaves the previous reports in place
    (and creates no folder).

    Args:
        out_dir: The run folder (created if missing).
        analyses: The articles compared, in the comparison's order: a list, or an object
            that reads them anew each time it is iterated (each report iterates it once and
            reads only the articles it shows in full). A one-shot iterator is made a list.
        comparison: Their comparison, from :func:`stance.compare.compare` or, for large
            corpora, :func:`stance.compare.compare_light`.
        manifest: The run manifest (``run.json`` contents); ``model``, ``counts`` and
            ``failures`` (dicts with article_id/path/message) are shown when present.
        templates_dir: A folder whose ``report.md.j2`` / ``report.html.j2`` / ``report.css``
            / ``report.js`` override the shipped ones (rendered in the sandbox).
        limits: When and how the reports are lightened for a large corpus
            (:class:`~stance.report.context.ReportLimits`; default: over 500 articles).

    Raises:
        TemplateError: A template fails to render.
        OSError: The folder cannot be written.
    """
    out_dir = Path(out_dir)
    if isinstance(analyses, Iterator):
        analyses = list(analyses)  # the two reports each iterate it
    meta: Mapping[str, Any] = manifest if isinstance(manifest, Mapping) else {}
    context = build_context(analyses, comparison, meta, limits=limits)
    writers: dict[str, Callable[[], Iterable[str]]] = {
        "report.md": lambda: stream_markdown(context, templates_dir=templates_dir),
        "report.html": lambda: stream_html(context, templates_dir=templates_dir),
        "comparison.json": lambda: comparison_json(comparison),
        "matrix.csv": lambda: _csv_lines(comparison),
        "merge_log.jsonl": lambda: (m.model_dump_json() + "\n" for m in comparison.merges),
    }
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    done: dict[str, str] = {}
    try:
        for name, pieces in writers.items():
            fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.", suffix=".tmp")
            done[name] = tmp
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                for piece in pieces():
                    fh.write(piece)
    except BaseException:
        for tmp in done.values():
            Path(tmp).unlink(missing_ok=True)
        if created:
            try:
                out_dir.rmdir()
            except OSError:
                pass  # something else was put there meanwhile: leave it
        raise
    for name, tmp in done.items():
        os.replace(tmp, out_dir / name)
