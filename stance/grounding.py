"""Locate evidence quotes in the article text.

Each quote gets a status and a character span in the original text:

* ``exact`` — the quote is a substring of the text;
* ``normalised`` — equal after folding quote marks, dashes, whitespace and case;
* ``fuzzy`` — a close match (rapidfuzz partial alignment at or above ``FUZZY_THRESHOLD``),
  e.g. a model that dropped a word or fixed a typo;
* ``not_found`` — nothing close enough: the quote is flagged, never silently kept as real.

Normalisation keeps a map from normalised to original offsets, so spans always point at the
article's own characters.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz import fuzz

from .schema import Evidence

FUZZY_THRESHOLD = 90.0
MIN_FUZZY_LEN = 12  # shorter quotes match anything somewhere; require them exact/normalised

_FOLD = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00ab": '"', "\u00bb": '"', "\u2013": "-", "\u2014": "-", "\u2212": "-",
        "\u2026": "...", "\u00a0": " ", "\u200b": "",
    }
)  # fmt: skip
_SPACE = re.compile(r"\s+")


class NormalisedText:
    """A folded copy of a text with a map back to original character offsets."""

    def __init__(self, text: str) -> None:
        chars: list[str] = []
        index: list[int] = []
        prev_space = True
        for i, ch in enumerate(text):
            folded = ch.translate(_FOLD).casefold()
            for f in folded:
                if f.isspace():
                    if prev_space:
                        continue
                    f, prev_space = " ", True
                else:
                    prev_space = False
                chars.append(f)
                index.append(i)
        self.text = "".join(chars)
        self.index = index
        self.original_len = len(text)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original span for the normalised span [start, end)."""
        return self.index[start], self.index[end - 1] + 1


def normalise(s: str) -> str:
    return _SPACE.sub(" ", s.translate(_FOLD).casefold()).strip()


@lru_cache(maxsize=64)
def _normalised(text: str) -> NormalisedText:
    return NormalisedText(text)


def _strip_outer(quote: str) -> str:
    """Models often wrap a quote in quote marks or ellipses that the article lacks."""
    q = quote.strip()
    for _ in range(2):
        q = q.strip("\"'\u201c\u201d\u2018\u2019\u00ab\u00bb ").strip()
        q = re.sub(r"^(\.\.\.|\u2026)\s*|\s*(\.\.\.|\u2026)$", "", q)
    return q


def ground(quote: str, text: str, *, fuzzy_threshold: float = FUZZY_THRESHOLD) -> Evidence:
    """Find ``quote`` in ``text`` and say how well it matched."""
    if not quote or not quote.strip():
        return Evidence(quote=quote, status="not_found")
    pos = text.find(quote)
    if pos >= 0:
        return Evidence(quote=quote, status="exact", start=pos, end=pos + len(quote))
    inner = _strip_outer(quote)
    if inner and inner != quote:
        pos = text.find(inner)
        if pos >= 0:
            return Evidence(quote=quote, status="normalised", start=pos, end=pos + len(inner))
    nt = _normalised(text)
    nq = normalise(inner or quote)
    if not nq:
        return Evidence(quote=quote, status="not_found")
    pos = nt.text.find(nq)
    if pos >= 0:
        s, e = nt.span(pos, pos + len(nq))
        return Evidence(quote=quote, status="normalised", start=s, end=e)
    if MIN_FUZZY_LEN <= len(nq) <= len(nt.text):
        al = fuzz.partial_ratio_alignment(nq, nt.text, score_cutoff=fuzzy_threshold)
        if al is not None and al.dest_end > al.dest_start:
            s, e = nt.span(al.dest_start, al.dest_end)
            return Evidence(
                quote=quote, status="fuzzy", start=s, end=e, score=round(al.score, 1)
            )
    return Evidence(quote=quote, status="not_found")
