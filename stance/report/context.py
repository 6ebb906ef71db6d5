"""What the report templates see: typed views over the analyses, comparison and manifest.

Templates get these objects, never pre-rendered HTML; escaping is the template engine's job.
Anchors are generated here (``a-3``, ``c-12``), never derived from article text, so ids and
links are always safe and unique.

The comparison may be the pydantic :class:`~stance.compare.Comparison` or the compact
:class:`~stance.compare.LightComparison` (same attribute names). Articles are turned into
views one at a time while a template renders, so a run folder's reports never hold every
analysis at once. A corpus larger than :attr:`ReportLimits.articles` gets a lighter report:
the first articles in full, the rest one line each (their details stay in ``<id>.json``), and
long evidence lists cut with a "+N more" note (everything stays in ``comparison.json``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from .._version import __version__
from ..compare.evidence import parse_date
from ..compare.light import LightArticle, LightCell, LightComparison, LightRef
from ..compare.models import ArticleInfo, Comparison, EvidenceRef, MatrixCell
from ..loaders import RESERVED_IDS
from ..schema import STANCES, ArticleAnalysis, Evidence, Position, Stance

T = TypeVar("T")
AnyComparison = Comparison | LightComparison

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
class ArticleLine:
    """An article past the report's limit: one line, linking to its ``<id>.json``."""

    id: str
    title: str | None
    outlet: str | None
    date: str | None
    n_positions: int
    anchor: str
    file: str  # file name of its analysis in the run folder, URL-quoted for a link


@dataclass(frozen=True)
class ReportLimits:
    """When a report is lightened for a large corpus, and how much it then shows.

    Attributes:
        articles: Corpora with more articles than this get the lighter report, which shows
            this many in full.
        evidence: Quotes shown per matrix cell or finding, and article ids per voice gap
            or merge, in the lighter report.
        rows: Shifts listed in the lighter report.
    """

    articles: int = 500
    evidence: int = 20
    rows: int = 500


@dataclass(frozen=True)
class Caps:
    """The limits a template applies: all ``None`` when the corpus is within the limits."""

    articles: int | None = None
    evidence: int | None = None
    rows: int | None = None


def capped(items: Sequence[T], limit: int | None) -> tuple[Sequence[T], int]:
    """The first ``limit`` items and how many were left out (all, 0 for no limit)."""
    if limit is None or len(items) <= limit:
        return items, 0
    return items[:limit], len(items) - limit


@dataclass(frozen=True)
class CellView:
    cell: MatrixCell | LightCell
    anchor: str
    letter: str
    symbol: str
    tooltip: str


@dataclass(frozen=True)
class GridRow:
    party: str
    cells: list[CellView | None]


class ArticleViews:
    """The articles shown in full, made into views one at a time as a template iterates.

    Iterating reads at most ``limit`` analyses from the source, so a source that loads them
    from disk on demand is never held whole. ``len()`` is the number shown in full.
    """

    def __init__(
        self,
        analyses: Iterable[ArticleAnalysis],
        limit: int,
        anchors: Mapping[str, str],
        comparison: AnyComparison,
        cell_anchor: Mapping[tuple[str, str], str],
    ) -> None:
        self._analyses = analyses
        self._limit = limit
        self._anchors = anchors
        self._comparison = comparison
        self._cell_anchor = cell_anchor
        self._names: tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]] | None = None

    def __len__(self) -> int:
        return self._limit

    def _canonical(self) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
        """(article, name as written) → canonical party, and the same for topics.

        Only for the articles shown in full: the map for a whole large corpus is big.
        """
        if self._names is None:
            shown = {a.id for a in self._comparison.articles[: self._limit]}
            party_of: dict[tuple[str, str], str] = {}
            for entry in self._comparison.parties:
                for variant in entry.variants:
                    for aid in variant.articles:
                        if aid in shown:
                            party_of[(aid, variant.name)] = entry.name
            topic_of: dict[tuple[str, str], str] = {}
            for t in self._comparison.topics:
                for variant in t.variants:
                    for aid in variant.articles:
                        if aid in shown:
                            topic_of[(aid, variant.name)] = t.name
            self._names = party_of, topic_of
        return self._names

    def __iter__(self) -> Iterator[ArticleView]:
        party_of, topic_of = self._canonical()
        used: set[str] = set()
        for i, a in enumerate(islice(self._analyses, self._limit)):  # not one read more
            aid = a.article.id
            anchor = self._anchors.get(aid)
            if anchor is None or anchor in used:  # a duplicate id: its own anchor
                anchor = f"a-{len(self._anchors) + i + 1}"
            used.add(anchor)
            rows: list[PositionRow] = []
            for p in a.positions:
                party = party_of.get((aid, " ".join(p.party.split())))
                topic = topic_of.get((aid, p.topic))
                cell = self._cell_anchor.get((party, topic)) if party and topic else None
                rows.append(
                    PositionRow(
                        position=p,
                        canonical_party=party if party != p.party else None,
                        canonical_topic=topic if topic != p.topic else None,
                        cell_anchor=cell,
                        quotes=list(p.evidence),
                    )
                )
            yield ArticleView(
                analysis=a,
                anchor=anchor,
                url=safe_url(a.article.url),
                date=a.article.published or None,
                rows=rows,
            )


@dataclass
class ReportContext:
    version: str
    run: RunSummary
    comparison: AnyComparison
    articles: ArticleViews
    more_articles: list[ArticleLine]  # past the limit: one line each
    caps: Caps
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


def _merge_fact(merge: Any) -> str | None:
    """One line on the comparison's model call (``run.json`` ``llm_merge``), if it had one."""
    if not isinstance(merge, Mapping) or merge.get("status") in (None, "not_run"):
        return None
    status = str(merge.get("status"))
    merges = merge.get("merges")
    merges = merges if isinstance(merges, Mapping) else {}
    tokens = merge.get("tokens")
    tokens = tokens if isinstance(tokens, Mapping) else {}
    made = f"{merges.get('parties', 0)} party and {merges.get('topics', 0)} topic merges"
    if status == "ok":
        return f"{made}; {merge.get('calls', 0)} call(s), {tokens.get('total_tokens', 0)} tokens"
    if status == "cached":
        return f"{made}; answer from the cache, no call"
    if status == "failed":
        return f"failed, rules only: {merge.get('reason') or 'unknown error'}"
    return f"skipped: {merge.get('reason') or status}"


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
    add("Name merge by the model", _merge_fact(manifest.get("llm_merge")))
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


def _tooltip(cell: MatrixCell | LightCell) -> str:
    detail = ", ".join(f"{cell.counts.get(s, 0)} {s}" for s in STANCES if cell.counts.get(s, 0))
    noun = "position" if cell.n == 1 else "positions"
    return f"{cell.party} on {cell.topic}: {cell.stance} ({cell.n} {noun}: {detail})"


def article_file(article_id: str) -> str:
    """The file name of an article's analysis in a run folder.

    The rule :func:`stance.runfolder.article_path` writes by (that module sits above this one).
    """
    stem = article_id if article_id not in RESERVED_IDS else f"{article_id}-article"
    return f"{stem}.json"


def _stats(
    analyses: Iterable[ArticleAnalysis], comparison: AnyComparison
) -> tuple[int, int, int, list[str]]:
    """Articles, positions, positions with grounded evidence, and models, over every article."""
    if isinstance(comparison, LightComparison):
        s = comparison.stats  # counted while the comparison read them: no second pass
        return s.n_articles, s.n_positions, s.n_grounded, sorted(s.models)
    n_articles = n_positions = n_grounded = 0
    models: set[str] = set()
    for a in analyses:
        n_articles += 1
        n_positions += len(a.positions)
        n_grounded += sum(1 for p in a.positions if p.grounded)
        models.add(a.provenance.model)
    return n_articles, n_positions, n_grounded, sorted(models)


def build_context(
    analyses: Iterable[ArticleAnalysis],
    comparison: AnyComparison,
    manifest: Mapping[str, Any],
    *,
    limits: ReportLimits | None = None,
) -> ReportContext:
    """Assemble everything the report templates need.

    Args:
        analyses: The articles, in the comparison's order: a list, or an object that reads
            them anew each time it is iterated (templates iterate it once each).
        comparison: Their comparison, pydantic or compact.
        manifest: The run manifest.
        limits: When a report is lightened for a large corpus; default :class:`ReportLimits`.
    """
    limits = limits or ReportLimits()
    matrix: Sequence[MatrixCell | LightCell] = comparison.matrix
    cells = [
        CellView(
            cell=c,
            anchor=f"c-{i + 1}",
            letter=STANCE_LETTER[c.stance],
            symbol=STANCE_SYMBOL[c.stance],
            tooltip=_tooltip(c),
        )
        for i, c in enumerate(matrix)
    ]
    by_key = {(v.cell.party, v.cell.topic): v for v in cells}
    used_topics = {v.cell.topic for v in cells}
    topics = [t.name for t in comparison.topics if t.name in used_topics]
    parties: list[str] = []
    for v in cells:
        if v.cell.party not in parties:
            parties.append(v.cell.party)
    grid = [GridRow(p, [by_key.get((p, t)) for t in topics]) for p in parties]

    n_articles, n_positions, n_grounded, models = _stats(analyses, comparison)
    compared: Sequence[ArticleInfo | LightArticle] = comparison.articles
    anchors = {a.id: f"a-{i + 1}" for i, a in enumerate(compared)}
    large = n_articles > limits.articles
    caps = Caps(limits.articles, limits.evidence, limits.rows) if large else Caps()
    shown = limits.articles if large else n_articles
    more = [
        ArticleLine(
            id=a.id,
            title=a.title,
            outlet=a.outlet,
            date=a.date or None,
            n_positions=a.n_positions,
            anchor=anchors[a.id],
            file=quote(article_file(a.id)),
        )
        for a in compared[shown:]
    ]
    views = ArticleViews(
        analyses,
        min(shown, n_articles),
        anchors,
        comparison,
        {key: v.anchor for key, v in by_key.items()},
    )

    model = _scalar(manifest.get("model")) or (", ".join(models) if models else "unknown")
    run = RunSummary(
        model=model,
        facts=_facts(manifest),
        n_articles=n_articles,
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
        more_articles=more,
        caps=caps,
        topics=topics,
        grid=grid,
        cells=cells,
        article_anchor=anchors,
    )


def when_where(ref: EvidenceRef | LightRef) -> str:
    """'The Meridian Post, 2024-12-27' with placeholders for what is unknown."""
    date = parse_date(ref.date) or ref.date or "undated"
    return f"{ref.outlet or 'unknown outlet'}, {date}"
