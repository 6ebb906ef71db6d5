"""Dates and stance sums for the evidence behind the findings."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..schema import Stance

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
