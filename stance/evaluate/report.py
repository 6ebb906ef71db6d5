"""The eval report (DESIGN.md §7, §10): its JSON model, comparison and rendering.

``report.json`` carries the §10 keys (``model``, ``evalset``, ``metrics``, ``ci95``,
``articles``, ``baseline``) plus extras (``confusion``, ``counts``, ``failures``,
``baseline_detail``, ``deltas`` ...). ``report.md`` and ``report.html`` are rendered from
the same object with sandboxed, autoescaped Jinja templates shipped in this package.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, Field, ValidationError

from .._version import __version__
from ..errors import InputError, TemplateError
from ..files import atomic_write_text
from ..schema import STANCES, ArticleFailure
from .metrics import LOWER_IS_BETTER, METRIC_NAMES, ArticleScore, Counts, Metrics

CI = tuple[float, float]

REGRESSION_RULE = (
    "A metric is flagged as a regression when it is worse than in the old report by more "
    "than half the width of the old report's 95% interval for that metric (for calls, tokens "
    "and latency per article worse means higher; for every other metric, lower). Without an "
    "old interval, any worsening is flagged."
)


class Confusion(BaseModel):
    labels: list[str] = Field(default_factory=lambda: [str(s) for s in STANCES])
    matrix: list[list[int]] = Field(description="Rows: gold stance; columns: predicted stance.")


class ModelScores(BaseModel):
    """Everything scored for one model on the set."""

    model: str
    metrics: Metrics
    ci95: dict[str, CI | None]
    counts: Counts
    confusion: Confusion
    articles: list[ArticleScore]
    failures: list[ArticleFailure] = Field(default_factory=list)


class Delta(BaseModel):
    old: float
    new: float
    delta: float
    half_width: float = Field(description="Half the width of the old 95% interval (0 if none).")
    regression: bool


class ScoringOptions(BaseModel):
    topic_threshold: float
    fact_threshold: float
    fact_judge: str = Field(
        description="'lexical' or the judge used (for an LLM judge: model and prompt hash)."
    )
    resamples: int
    seed: int


class JudgeFallback(BaseModel):
    """An article whose key facts were scored lexically because the LLM judge gave no verdict."""

    model: str = Field(description="Whose summary: the model's or the baseline's.")
    article: str
    reason: str


class JudgeInfo(BaseModel):
    """The LLM key-fact judge of this report (absent when coverage is lexical)."""

    name: str = Field(description="Same as options.fact_judge.")
    model: str
    endpoint: str | None = None
    prompt_hash: str
    output_mode: str
    judged: int = Field(description="Summaries (model and baseline) scored by the judge.")
    fallbacks: list[JudgeFallback] = Field(
        default_factory=list, description="Summaries scored lexically instead, with the reason."
    )
    calls: int = Field(description="Judge calls made for this report (0 when reusing verdicts).")
    tokens: int = Field(description="Tokens of those calls.")


class EvalReport(BaseModel):
    """What ``stance eval`` writes to ``report.json``."""

    model: str
    evalset: str
    metrics: Metrics
    ci95: dict[str, CI | None]
    articles: list[ArticleScore]
    baseline: Metrics | None = Field(
        description="The same metrics for the `baseline` model on the same set."
    )
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    stance_version: str = __version__
    options: ScoringOptions
    counts: Counts
    confusion: Confusion
    failures: list[ArticleFailure] = Field(default_factory=list)
    baseline_detail: ModelScores | None = None
    compared_to: str | None = None
    regression_rule: str = REGRESSION_RULE
    deltas: dict[str, Delta] | None = None
    judge: JudgeInfo | None = None
    notes: list[str] = Field(
        default_factory=list, description="Caveats on the comparison with the old report."
    )

    @property
    def regressions(self) -> list[str]:
        return [k for k, d in (self.deltas or {}).items() if d.regression]


def build_report(
    evalset: str,
    scores: ModelScores,
    baseline: ModelScores | None,
    options: ScoringOptions,
    *,
    compare_to: str | Path | None = None,
    judge: JudgeInfo | None = None,
) -> EvalReport:
    """Assemble the report, with deltas when ``compare_to`` names an old report.json.

    Key-fact coverage judged differently (lexical vs an LLM judge, or two LLM judges) is not
    compared: its delta is left out and ``notes`` says why.
    """
    report = EvalReport(
        model=scores.model,
        evalset=evalset,
        metrics=scores.metrics,
        ci95=scores.ci95,
        articles=scores.articles,
        baseline=baseline.metrics if baseline else None,
        options=options,
        counts=scores.counts,
        confusion=scores.confusion,
        failures=scores.failures,
        baseline_detail=baseline,
        judge=judge,
    )
    if compare_to is not None:
        old = _read_old(compare_to)
        old_metrics, old_ci = _metrics_and_ci(old)
        report.compared_to = str(compare_to)
        report.deltas = compute_deltas(scores.metrics, old_metrics, old_ci)
        old_options = old.get("options")
        old_judge = old_options.get("fact_judge") if isinstance(old_options, dict) else None
        old_judge = old_judge if isinstance(old_judge, str) else "lexical"
        if old_judge != options.fact_judge:
            report.deltas.pop("key_fact_coverage", None)
            report.notes.append(
                f"key_fact_coverage not compared: the old report scored key facts with "
                f"{old_judge}, this one with {options.fact_judge}"
            )
    return report


def read_old_report(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``metrics`` and ``ci95`` of a previous report.json."""
    return _metrics_and_ci(_read_old(path))


def _read_old(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(str(p), f"cannot read: {exc.strerror or exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(str(p), f"not a JSON report: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise InputError(str(p), "not a stance eval report (no 'metrics' object)")
    return data


def _metrics_and_ci(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    ci = data.get("ci95")
    return data["metrics"], ci if isinstance(ci, dict) else {}


def compute_deltas(new: Metrics, old: dict[str, Any], old_ci: dict[str, Any]) -> dict[str, Delta]:
    """Per-metric change against an old report, each judged by :data:`REGRESSION_RULE`."""
    out: dict[str, Delta] = {}
    current = new.model_dump()
    for name in METRIC_NAMES:
        n, o = current.get(name), old.get(name)
        if not isinstance(n, int | float) or not isinstance(o, int | float):
            continue
        half = 0.0
        ci = old_ci.get(name)
        if (
            isinstance(ci, list | tuple)
            and len(ci) == 2
            and all(isinstance(x, int | float) for x in ci)
        ):
            half = abs(float(ci[1]) - float(ci[0])) / 2
        worse = (n - o) if name in LOWER_IS_BETTER else (o - n)
        out[name] = Delta(
            old=float(o), new=float(n), delta=float(n) - float(o), half_width=half,
            regression=worse > half + 1e-12,
        )  # fmt: skip
    return out


# --------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class MetricRow:
    name: str
    value: float | None
    ci: CI | None
    baseline: float | None
    delta: Delta | None


def metric_rows(report: EvalReport) -> list[MetricRow]:
    """One row per metric: the model's value, its interval, the baseline's and the delta."""
    model = report.metrics.model_dump()
    base = report.baseline.model_dump() if report.baseline else {}
    deltas = report.deltas or {}
    return [
        MetricRow(
            name=name,
            value=model.get(name),
            ci=report.ci95.get(name),
            baseline=base.get(name),
            delta=deltas.get(name),
        )
        for name in METRIC_NAMES
    ]


def fmt(value: Any, digits: int = 3) -> str:
    """A number for people: ``-`` for not applicable, integers for counts-like values."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.{digits}f}"
    return str(value)


def fmt_ci(ci: Any, digits: int = 3) -> str:
    if not ci:
        return "-"
    return f"[{fmt(ci[0], digits)}, {fmt(ci[1], digits)}]"


def md_cell(value: Any) -> str:
    """Make text safe inside a Markdown table cell (and inert if the Markdown becomes HTML)."""
    text = str(value)
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|")):
        text = text.replace(a, b)
    return " ".join(text.split())


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=jinja2.PackageLoader("stance.evaluate", "templates"),
        # Markdown is escaped cell by cell with the `md` filter; anything else is HTML-escaped.
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html",), disabled_extensions=("md",), default=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = fmt
    env.filters["fmt_ci"] = fmt_ci
    env.filters["md"] = md_cell
    return env


def render(report: EvalReport, template: str) -> str:
    """Render ``report.md`` or ``report.html`` for a report."""
    try:
        tpl = _environment().get_template(template)
        return tpl.render(
            report=report,
            rows=metric_rows(report),
            stances=list(STANCES),
            baseline_by_id={a.id: a for a in report.baseline_detail.articles}
            if report.baseline_detail
            else {},
        )
    except jinja2.TemplateError as exc:
        raise TemplateError(f"eval report template {template}: {exc}") from exc


def write_report(report: EvalReport, out_dir: str | Path) -> list[Path]:
    """Write report.json, report.md and report.html into ``out_dir``; return their paths."""
    out = Path(out_dir)
    paths = [out / "report.json", out / "report.md", out / "report.html"]
    atomic_write_text(paths[0], report.model_dump_json(indent=2) + "\n")
    atomic_write_text(paths[1], render(report, "report.md"))
    atomic_write_text(paths[2], render(report, "report.html"))
    return paths


def load_report(path: str | Path) -> EvalReport:
    """Read a report.json written by this version of stance."""
    p = Path(path)
    try:
        return EvalReport.model_validate_json(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(str(p), f"cannot read: {exc.strerror or exc}") from exc
    except ValidationError as exc:
        raise InputError(str(p), f"not a stance eval report: {exc.error_count()} errors") from exc


def headline_table(report: EvalReport) -> str:
    """A small plain-text table of the metrics, model beside baseline, for stdout."""
    headers = ["metric", report.model, "95% CI", "baseline"]
    if report.deltas is not None:
        headers.append("delta vs old")
    lines = []
    for r in metric_rows(report):
        row = [r.name, fmt(r.value), fmt_ci(r.ci), fmt(r.baseline)]
        if report.deltas is not None:
            d = r.delta
            row.append(
                "-" if d is None else f"{d.delta:+.3f}" + (" REGRESSION" if d.regression else "")
            )
        lines.append(row)
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *lines, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(headers), line(["-" * w for w in widths])] + [line(r) for r in lines]
    return "\n".join(out)
