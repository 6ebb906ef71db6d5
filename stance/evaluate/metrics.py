"""Scores from matching results (DESIGN.md §7): small pure functions over counts.

Every metric is computed from :class:`Counts`, which add up across articles; corpus
metrics are *micro* averages (pooled counts), and the bootstrap resamples articles and
pools again. A metric whose denominator is empty is ``None`` ("not applicable"), except
precision/recall/F1, where 0/0 is 1.0 when both the prediction and gold are empty (nothing
to find, nothing claimed) and 0.0 otherwise (so an empty prediction scores low).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, Field

from ..schema import STANCES, ArticleAnalysis, Stance
from .facts import DEFAULT_FACT_THRESHOLD, Judge, fact_coverage
from .labels import Label
from .matching import DEFAULT_TOPIC_THRESHOLD, Decision, MatchedPair, MatchResult, match_article

# Metrics where a lower value is better; the regression rule flips for them.
LOWER_IS_BETTER = frozenset({"calls_per_article", "tokens_per_article", "latency_s_per_article"})


class Metrics(BaseModel):
    """The headline metrics. The first twelve are the §10 contract; the rest are extras."""

    party_precision: float | None = None
    party_recall: float | None = None
    party_f1: float | None = None
    position_precision: float | None = None
    position_recall: float | None = None
    position_f1: float | None = None
    stance_accuracy: float | None = None
    stance_macro_f1: float | None = None
    grounding_rate: float | None = None
    key_fact_coverage: float | None = None
    calls_per_article: float | None = None
    tokens_per_article: float | None = None
    evidence_exact_rate: float | None = Field(
        default=None, description="Share of predicted evidence found exactly (not normalised)."
    )
    span_overlap: float | None = Field(
        default=None, description="Mean best evidence overlap (chars / union) per matched pair."
    )
    latency_s_per_article: float | None = None


METRIC_NAMES: tuple[str, ...] = tuple(Metrics.model_fields)


class Counts(BaseModel):
    """Everything the metrics need, additive over articles."""

    articles: int = 0
    failed: int = 0
    party_tp: int = 0
    party_fp: int = 0
    party_fn: int = 0
    position_tp: int = 0
    position_fp: int = 0
    position_fn: int = 0
    confusion: list[list[int]] = Field(
        default_factory=lambda: [[0] * len(STANCES) for _ in STANCES],
        description="Rows: gold stance, columns: predicted stance, in STANCES order.",
    )
    evidence: int = 0
    evidence_grounded: int = 0
    evidence_exact: int = 0
    overlap_sum: float = 0.0
    facts: int = 0
    facts_covered: int = 0
    calls: int = 0
    tokens: int = 0
    latency_s: float = 0.0


_SCALARS: tuple[str, ...] = tuple(n for n in Counts.model_fields if n != "confusion")
_K = len(STANCES)


def to_vector(c: Counts) -> list[float]:
    """Counts as a flat vector (scalars, then the confusion matrix row by row)."""
    return [float(getattr(c, n)) for n in _SCALARS] + [float(v) for row in c.confusion for v in row]


def from_vector(v: Sequence[float]) -> Counts:
    """Inverse of :func:`to_vector`."""
    data: dict[str, object] = {}
    for i, name in enumerate(_SCALARS):
        ann = Counts.model_fields[name].annotation
        data[name] = int(round(v[i])) if ann is int else float(v[i])
    flat = v[len(_SCALARS) :]
    data["confusion"] = [[int(round(flat[r * _K + k])) for k in range(_K)] for r in range(_K)]
    return Counts.model_validate(data)


def pool(counts: Iterable[Counts]) -> Counts:
    """Add counts up (micro pooling)."""
    total = [0.0] * (len(_SCALARS) + _K * _K)
    for c in counts:
        total = [a + b for a, b in zip(total, to_vector(c), strict=True)]
    return from_vector(total)


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall and F1; 0/0 is 1.0 when nothing was predicted or expected, else 0."""
    empty = tp + fp == 0 and tp + fn == 0
    p = tp / (tp + fp) if tp + fp else (1.0 if empty else 0.0)
    r = tp / (tp + fn) if tp + fn else (1.0 if empty else 0.0)
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def confusion_matrix(pairs: Iterable[tuple[Stance, Stance]]) -> list[list[int]]:
    """4x4 counts of (gold, predicted) stances, rows gold, columns predicted."""
    idx = {s: i for i, s in enumerate(STANCES)}
    m = [[0] * len(STANCES) for _ in STANCES]
    for gold, pred in pairs:
        m[idx[gold]][idx[pred]] += 1
    return m


def stance_scores(confusion: Sequence[Sequence[int]]) -> tuple[float | None, float | None]:
    """Accuracy and macro-F1 over the labels present in gold or prediction.

    Returns ``(None, None)`` when there are no matched pairs.
    """
    n = sum(sum(row) for row in confusion)
    if n == 0:
        return None, None
    acc = sum(confusion[i][i] for i in range(len(confusion))) / n
    f1s = []
    for i in range(len(confusion)):
        gold_n = sum(confusion[i])
        pred_n = sum(row[i] for row in confusion)
        if gold_n == 0 and pred_n == 0:
            continue  # label absent from both sides: not part of the macro average
        tp = confusion[i][i]
        f1s.append(2 * tp / (gold_n + pred_n))
    return acc, sum(f1s) / len(f1s)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def metrics_from_counts(c: Counts) -> Metrics:
    """All metrics for pooled counts (one article or a corpus)."""
    pp, pr, pf = prf(c.party_tp, c.party_fp, c.party_fn)
    qp, qr, qf = prf(c.position_tp, c.position_fp, c.position_fn)
    acc, macro = stance_scores(c.confusion)
    return Metrics(
        party_precision=pp,
        party_recall=pr,
        party_f1=pf,
        position_precision=qp,
        position_recall=qr,
        position_f1=qf,
        stance_accuracy=acc,
        stance_macro_f1=macro,
        grounding_rate=_ratio(c.evidence_grounded, c.evidence),
        key_fact_coverage=_ratio(c.facts_covered, c.facts),
        calls_per_article=_ratio(c.calls, c.articles),
        tokens_per_article=_ratio(c.tokens, c.articles),
        evidence_exact_rate=_ratio(c.evidence_exact, c.evidence),
        span_overlap=_ratio(c.overlap_sum, c.position_tp),
        latency_s_per_article=_ratio(c.latency_s, c.articles),
    )


def summary_text(analysis: ArticleAnalysis) -> str:
    """Summary and key points as one text, the thing key facts are looked for in."""
    return "\n".join([analysis.summary.text, *analysis.summary.key_points])


def counts_for(
    analysis: ArticleAnalysis | None,
    label: Label,
    match: MatchResult,
    *,
    fact_threshold: float = DEFAULT_FACT_THRESHOLD,
    judge: Judge | None = None,
    failed_calls: int = 0,
) -> tuple[Counts, list[bool | None]]:
    """Counts for one article from its matching, prediction and label."""
    c = Counts(
        articles=1,
        failed=int(analysis is None),
        party_tp=match.party_tp,
        party_fp=match.party_fp,
        party_fn=match.party_fn,
        position_tp=len(match.pairs),
        position_fp=match.position_fp,
        position_fn=match.position_fn,
        confusion=confusion_matrix((p.gold_stance, p.pred_stance) for p in match.pairs),
        overlap_sum=sum(p.evidence_overlap for p in match.pairs),
    )
    flags: list[bool | None] = []
    if analysis is None:
        c.calls = failed_calls
        flags = [False] * len(label.key_facts)
    else:
        evidence = [e for p in analysis.positions for e in p.evidence]
        c.evidence = len(evidence)
        c.evidence_grounded = sum(e.status != "not_found" for e in evidence)
        c.evidence_exact = sum(e.status == "exact" for e in evidence)
        flags = fact_coverage(
            summary_text(analysis), label.key_facts, threshold=fact_threshold, judge=judge
        )
        prov = analysis.provenance
        c.calls, c.tokens, c.latency_s = prov.calls, prov.usage.total_tokens, prov.latency_s
    c.facts = sum(f is not None for f in flags)
    c.facts_covered = sum(f is True for f in flags)
    return c, flags


class ArticleScore(BaseModel):
    """One article's result: its metrics, counts and the matching audit trail."""

    id: str
    failed: bool = False
    failure: str | None = None
    metrics: Metrics
    counts: Counts
    pairs: list[MatchedPair] = Field(default_factory=list)
    key_facts: list[tuple[str, bool | None]] = Field(
        default_factory=list, description="Each gold key fact and whether it was covered."
    )
    decisions: list[Decision] = Field(default_factory=list)


def score_article(
    article_id: str,
    text: str,
    label: Label,
    analysis: ArticleAnalysis | None,
    *,
    failure: str | None = None,
    failed_calls: int = 0,
    topic_threshold: float = DEFAULT_TOPIC_THRESHOLD,
    fact_threshold: float = DEFAULT_FACT_THRESHOLD,
    judge: Judge | None = None,
) -> ArticleScore:
    """Match and score one article.

    Args:
        article_id: The eval id.
        text: The article body the spans refer to.
        label: Its gold label.
        analysis: The prediction, or ``None`` when the article failed (scored as empty).
        failure: One line saying why it failed.
        failed_calls: Model calls spent on a failed article (counted in the cost).
        topic_threshold: Topic similarity (0-100) needed to match without evidence overlap.
        fact_threshold: Share of a key fact's content words that must be in the summary.
        judge: Optional semantic key-fact judge replacing the lexical test.
    """
    match = match_article(analysis, label, text, topic_threshold=topic_threshold, failure=failure)
    counts, flags = counts_for(
        analysis,
        label,
        match,
        fact_threshold=fact_threshold,
        judge=judge,
        failed_calls=failed_calls,
    )
    return ArticleScore(
        id=article_id,
        failed=analysis is None,
        failure=failure,
        metrics=metrics_from_counts(counts),
        counts=counts,
        pairs=match.pairs,
        key_facts=list(zip(label.key_facts, flags, strict=True)),
        decisions=match.decisions,
    )
