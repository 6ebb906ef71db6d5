"""Whitespace tokens with their offsets, and where quotations sit in a text.

The rules work on tokens of a single sentence (so punctuation stuck to a word is kept
apart from its core) and ask of a position whether it lies inside quotation marks.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

_TOKEN = re.compile(r"\S+")
# Punctuation that may stick to the front or the back of a word.
_LEAD = "“‘\"'([{«„‚—–-"
_TRAIL = ",.;:!?”’\"')]}»—–…"
_ABBREV_DOTS = re.compile(r"^(?:[A-Za-z]\.){2,}$|^[A-Z]\.$")
_NON_LETTERS = re.compile(r"[\W\d_]+")
_NEXT_CAPITAL = re.compile(r"[ \t]+[A-Z]")
_POSSESSIVE = re.compile(r"[’']s?$")
_QUOTE_MARKS = re.compile(r"[“”\"«»\n]")
# "BRUSSELS, Dec 19 (Wire) - " or "ROME — " at the start of a story.
DATELINE = re.compile(
    r"^[A-Z][A-Z .'/-]{2,40}(?:,\s*[A-Z][a-z]{2,9}\.?\s+\d{1,2})?\s*(?:\([^)]{1,60}\))?"
    r"\s*[-—–]+\s*"
)


@dataclass(frozen=True, slots=True)
class Tok:
    """One whitespace-separated token: its core word and the punctuation around it."""

    core: str
    low: str
    start: int  # offset of the core within the sentence text
    end: int
    lead: str
    trail: str
    capitalised: bool = False
    acronym: bool = False  # "NATO", "U.S."
    possessive: bool = False  # "Ukraine’s"


def make_tok(core: str, start: int, end: int, lead: str, trail: str) -> Tok:
    """A token with its shape flags worked out once."""
    capitalised = core[:1].isupper()
    acronym = False
    if capitalised:
        letters = _NON_LETTERS.sub("", core)
        acronym = len(letters) >= 2 and letters.isupper()
    return Tok(
        core,
        core.lower(),
        start,
        end,
        lead,
        trail,
        capitalised,
        acronym,
        len(core) > 2 and core[-2:] in ("’s", "'s"),
    )


def tokenize(text: str) -> list[Tok]:
    """Split ``text`` at whitespace; strip surrounding punctuation off each core word."""
    out: list[Tok] = []
    pending_lead = ""
    for m in _TOKEN.finditer(text):
        raw = m.group(0)
        if not pending_lead and raw[0] not in _LEAD and raw[-1] not in _TRAIL:
            out.append(make_tok(raw, m.start(), m.end(), "", ""))  # the common case
            continue
        i, j = 0, len(raw)
        while i < j and raw[i] in _LEAD:
            i += 1
        # Keep the dots of "U.S." and "Mr." but drop a sentence-final full stop.
        while j > i and raw[j - 1] in _TRAIL:
            if raw[j - 1] == "." and _ABBREV_DOTS.match(raw[i:j]):
                break
            if (
                raw[j - 1] in "’'"
                and j == len(raw)
                and j - 2 >= i
                and raw[j - 2] in "sS"
                and _NEXT_CAPITAL.match(text, m.end())
            ):
                break  # plural possessive before a name: "Motorists’ Europe"
            j -= 1
        core = raw[i:j]
        if not core:
            # A bare dash or quote separates the words on either side of it.
            if out:
                prev = out[-1]
                out[-1] = make_tok(prev.core, prev.start, prev.end, prev.lead, prev.trail + raw)
            pending_lead += raw
            continue
        out.append(make_tok(core, m.start() + i, m.start() + j, pending_lead + raw[:i], raw[j:]))
        pending_lead = ""
    return out


def strip_possessive(word: str) -> str:
    """``"Ukraine’s"`` -> ``"Ukraine"``."""
    return _POSSESSIVE.sub("", word) if len(word) > 2 else word


class QuoteMap:
    """Spans of text inside quotation marks, for one article.

    Curly quotes pair as open/close, straight double quotes toggle, and a line break
    closes whatever is open, so one unbalanced quote cannot swallow the rest of the text.
    """

    def __init__(self, text: str) -> None:
        spans: list[tuple[int, int]] = []
        open_at: int | None = None
        for m in _QUOTE_MARKS.finditer(text):
            ch, pos = m.group(0), m.start()
            if ch == "\n":
                if open_at is not None:
                    spans.append((open_at, pos))
                    open_at = None
            elif ch in "“«":
                if open_at is not None:  # a second opener: the first was never closed
                    spans.append((open_at, pos))
                open_at = pos
            elif ch in "”»":
                if open_at is not None:
                    spans.append((open_at, pos + 1))
                    open_at = None
            elif open_at is None:  # straight quote opening
                open_at = pos
            else:
                spans.append((open_at, pos + 1))
                open_at = None
        if open_at is not None:
            spans.append((open_at, len(text)))
        self.spans = spans
        self._starts = [s for s, _ in spans]

    def inside(self, pos: int) -> bool:
        """Whether offset ``pos`` lies strictly inside a quotation."""
        i = bisect_right(self._starts, pos) - 1
        return i >= 0 and self.spans[i][0] < pos < self.spans[i][1] - 1

    def ending_near(self, pos: int, slack: int = 4) -> tuple[int, int] | None:
        """The quotation that closes within ``slack`` characters before ``pos``, if any."""
        i = bisect_right(self._starts, pos) - 1
        while i >= 0:
            s, e = self.spans[i]
            if e <= pos and pos - e <= slack:
                return s, e
            if e < pos - slack:
                return None
            i -= 1
        return None

    def overlapping(self, start: int, end: int) -> list[tuple[int, int]]:
        """Quotations that overlap ``[start, end)``."""
        i = max(0, bisect_right(self._starts, start) - 1)
        out = []
        while i < len(self.spans) and self.spans[i][0] < end:
            s, e = self.spans[i]
            if e > start:
                out.append((s, e))
            i += 1
        return out
