"""What the report templates see: typed views over the analyses, comparison and manifest.

Templates get these objects, never pre-rendered HTML; escaping is the template engine's job.
Anchors are generated here (``a-3``, ``c-12``), never derived from article text, so ids and
links are always safe and unique.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .._version import __version__
from ..compare.evidence import parse_date
from ..compare.models import Comparison, EvidenceRef, MatrixCell
from ..schema import STANCES, ArticleAnalysis, Evidence, Position, Stance

STANCE_LETTER: dict[str, str] = {"support": "S", "oppose": "O", "mixed": "M", "neutral": "N"}
STANCE_SYMBOL: dict[str, str] = {"support": "+", "oppose": "−", "mixed": "±", "neutral": "○"}
GROUNDING_LABEL: dict[str, str] = {
    "exact": "exact",
    "normalised": "normalised",
    "fuzzy": "fuzzy",
    "not_found": "NOT FOUND",
}
GAP_LABEL: dict[str, str] = {
    "named_in_evidence": "named by others",
    "listed_without_position": "listed, no position",
    "only_characterised": "only characterised",
}
_SECRET_HINTS = ("key", "secret", "password", "authorization", "token_value")


@dataclass(frozen=True)
class Failure:
    article_id: str | None
    path: str | None
    stage: str | None
    message: str


@dataclass(frozen=True)
class RunSummary:
    model: str
    facts: list[tuple[str, str]]
    n_articles: int
    n_positions: int
    n_grounded: int
    n_parties: int
    n_topics: int
    failures: list[Failure]


@dataclass(frozen=True)
class PositionRow:
    position: Position
    canonical_party: str | None  # shown when it differs from the name as written
    canonical_topic: str | None
    cell_anchor: str | None
    quotes: list[Evidence]


@dataclass(frozen=True)
class ArticleView:
    analysis: ArticleAnalysis
    anchor: str
    url: str | None  # http(s) only; anything else is shown as text, never linked
    date: str | None
    rows: list[PositionRow]


@dataclass(frozen=True)
class CellView:
    cell: MatrixCell
    anchor: str
    letter: str
    symbol: str
    tooltip: str


@dataclass(frozen=True)
class GridRow:
    party: str
    cells: list[CellView | None]


@dataclass
class ReportContext:
    version: str
    run: RunSummary
    comparison: Comparison
    articles: list[ArticleView]
    topics: list[str]
    grid: list[GridRow]
    cells: list[CellView]
    article_anchor: dict[str, str] = field(default_factory=dict)
    stances: tuple[Stance, ...] = STANCES
    letters: dict[str, str] = field(default_factory=lambda: dict(STANCE_LETTER))
    symbols: dict[str, str] = field(default_factory=lambda: dict(STANCE_SYMBOL))
    grounding: dict[str, str] = field(default_factory=lambda: dict(GROUNDING_LABEL))
    gap_labels: dict[str, str] = field(default_factory=lambda: dict(GAP_LABEL))

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def safe_url(url: str | None) -> str | None:
    """The URL if it is plain http(s), else None (no ``javascript:``/``data:`` links)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return url.strip()
    return None


def _scalar(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value)
    return text if len(text) <= 200 else text[:197] + "…"


def _facts(manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Selected manifest entries as (label, value); unknown shapes are skipped, not fatal."""
    facts: list[tuple[str, str]] = []

    def add(label: str, value: Any) -> None:
        text = _scalar(value)
        if text is not None and text != "":
            facts.append((label, text))

    add("Backend", manifest.get("backend"))
    add("Endpoint", manifest.get("endpoint_host"))
    add("Prompt hash", manifest.get("prompt_hash"))
    add("stance version", manifest.get("stance_version"))
    counts = manifest.get("counts")
    if isinstance(counts, Mapping):
        for k, v in counts.items():
            if isinstance(k, str) and not any(h in k.lower() for h in _SECRET_HINTS):
                add(f"Count: {k.replace('_', ' ')}", v)
    tokens = manifest.get("tokens")
    if isinstance(tokens, Mapping):
        add("Tokens (total)", tokens.get("total_tokens"))
    add("Model calls", manifest.get("calls"))
    cost = manifest.get("cost_usd")
    if isinstance(cost, (int, float)):
        add("Cost estimate (USD)", f"{cost:.4f}")
    timings = manifest.get("timings")
    if isinstance(timings, Mapping):
        add("Started", timings.get("started"))
        add("Wall time (s)", timings.get("wall_s"))
    return facts


def _failures(manifest: Mapping[str, Any]) -> list[Failure]:
    raw = manifest.get("failures")
    if not isinstance(raw, list):
        return []
    out: list[Failure] = []
    for f in raw:
        if isinstance(f, Mapping):
            out.append(
                Failure(
                    article_id=_scalar(f.get("article_id")),
                    path=_scalar(f.get("path")),
                    stage=_scalar(f.get("stage")),
                    message=_scalar(f.get("message")) or _scalar(f.get("error")) or "unknown error",
                )
            )
        else:
            out.append(Failure(None, None, None, _scalar(f) or "unknown error"))
    return out


def _tooltip(cell: MatrixCell) -> str:
    detail = ", ".join(f"{cell.counts.get(s, 0)} {s}" for s in STANCES if cell.counts.get(s, 0))
    noun = "position" if cell.n == 1 else "positions"
    return f"{cell.party} on {cell.topic}: {cell.stance} ({cell.n} {noun}: {detail})"


def build_context(
    analyses: Sequence[ArticleAnalysis], comparison: Comparison, manifest: Mapping[str, Any]
) -> ReportContext:
    """Assemble everything the report templates need."""
    cells = [
        CellView(
            cell=c,
            anchor=f"c-{i + 1}",
            letter=STANCE_LETTER[c.stance],
            symbol=STANCE_SYMBOL[c.stance],
            tooltip=_tooltip(c),
        )
        for i, c in enumerate(comparison.matrix)
    ]
    by_key = {(v.cell.party, v.cell.topic): v for v in cells}
    topics = [t.name for t in comparison.topics if any(v.cell.topic == t.name for v in cells)]
    parties: list[str] = []
    for v in cells:
        if v.cell.party not in parties:
            parties.append(v.cell.party)
    grid = [GridRow(p, [by_key.get((p, t)) for t in topics]) for p in parties]

    party_of: dict[tuple[str, str], str] = {}
    for entry in comparison.parties:
        for variant in entry.variants:
            for aid in variant.articles:
                party_of[(aid, variant.name)] = entry.name
    topic_of: dict[tuple[str, str], str] = {}
    for t in comparison.topics:
        for variant in t.variants:
            for aid in variant.articles:
                topic_of[(aid, variant.name)] = t.name

    anchors = {a.article.id: f"a-{i + 1}" for i, a in enumerate(analyses)}
    views: list[ArticleView] = []
    for a in analyses:
        aid = a.article.id
        rows: list[PositionRow] = []
        for p in a.positions:
            party = party_of.get((aid, " ".join(p.party.split())))
            topic = topic_of.get((aid, p.topic))
            cell = by_key.get((party, topic)) if party and topic else None
            rows.append(
                PositionRow(
                    position=p,
                    canonical_party=party if party != p.party else None,
                    canonical_topic=topic if topic != p.topic else None,
                    cell_anchor=cell.anchor if cell else None,
                    quotes=list(p.evidence),
                )
            )
        views.append(
            ArticleView(
                analysis=a,
                anchor=anchors[aid],
                url=safe_url(a.article.url),
                date=a.article.published or None,
                rows=rows,
            )
        )

    models = sorted({a.provenance.model for a in analyses})
    model = _scalar(manifest.get("model")) or (", ".join(models) if models else "unknown")
    n_positions = sum(len(a.positions) for a in analyses)
    n_grounded = sum(1 for a in analyses for p in a.positions if p.grounded)
    run = RunSummary(
        model=model,
        facts=_facts(manifest),
        n_articles=len(analyses),
        n_positions=n_positions,
        n_grounded=n_grounded,
        n_parties=len(comparison.parties),
        n_topics=len(comparison.topics),
        failures=_failures(manifest),
    )
    return ReportContext(
        version=__version__,
        run=run,
        comparison=comparison,
        articles=views,
        topics=topics,
        grid=grid,
        cells=cells,
        article_anchor=anchors,
    )


def when_where(ref: EvidenceRef) -> str:
    """'The Meridian Post, 2024-12-27' with placeholders for what is unknown."""
    date = parse_date(ref.date) or ref.date or "undated"
    return f"{ref.outlet or 'unknown outlet'}, {date}"
