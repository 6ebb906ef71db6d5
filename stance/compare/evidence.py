"""Positions as evidence: one :class:`EvidenceRef` per position, plus dates and stance sums."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..schema import ArticleAnalysis, Evidence, Position, Stance
from .models import EvidenceRef, Quote

_STATUS_RANK = {"exact": 0, "normalised": 1, "fuzzy": 2, "not_found": 3}
_ISO_PREFIX = re.compile(r"^\s*(\d{4}(?:-\d{2}(?:-\d{2})?)?)")


def parse_date(value: str | None) -> str | None:
    """The ISO date prefix of ``value`` (``2024``, ``2024-12`` or ``2024-12-27``), else None."""
    if not value:
        return None
    m = _ISO_PREFIX.match(value)
    return m.group(1) if m else None


def date_order(date: str | None, article_id: str) -> tuple[int, str, str]:
    """Sort key: dated articles by date, then undated ones; article id breaks ties."""
    parsed = parse_date(date)
    return (0, parsed, article_id) if parsed else (1, "", article_id)


def best_evidence(evidence: Iterable[Evidence]) -> Evidence | None:
    """The best-grounded quote (exact before normalised before fuzzy before not found)."""
    return min(evidence, key=lambda e: _STATUS_RANK.get(e.status, 9), default=None)


def summarise(stances: Iterable[Stance]) -> Stance:
    """One stance for several: the shared one; ``mixed`` if support and oppose (or mixed) occur.

    Neutral positions do not dilute a clear stance: support + neutral is support.
    """
    seen = set(stances)
    decided = seen - {"neutral"}
    if not decided:
        return "neutral"
    if len(decided) == 1:
        return decided.pop()
    return "mixed"


def evidence_ref(
    analysis: ArticleAnalysis, position: Position, party: str, topic: str
) -> EvidenceRef:
    """Describe one position with its article's date and outlet, under canonical names."""
    art = analysis.article
    best = best_evidence(position.evidence)
    return EvidenceRef(
        article_id=art.id,
        date=art.published or None,
        outlet=(art.source or "").strip() or None,
        title=art.title,
        party=party,
        party_as_written=position.party,
        topic=topic,
        topic_as_written=position.topic,
        stance=position.stance,
        attribution=position.attribution,
        position=position.position,
        via=position.via,
        quote=best.quote if best else None,
        grounding=best.status if best else None,
        quotes=[Quote(text=e.quote, status=e.status) for e in position.evidence],
    )
