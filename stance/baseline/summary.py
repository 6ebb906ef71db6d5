"""Lead-3 summary and key points.

News puts the gist first, so the first two or three real sentences are the summary —
after skipping what is not a sentence: a headline-like first line, a bracketed note,
a question, and a dateline such as ``BRUSSELS, Dec 19 (Wire) -``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..prepare import Sentence
from .words import DATELINE as _DATELINE

_SPEAKER_LABEL = re.compile(r"^[A-Z][A-Z .'-]{1,30}:\s+")
_ENDS_SENTENCE = re.compile(r"[.!…][\"'”’)\]]*$")
MAX_LEAD = 3
LEAD_WORDS = 70  # two long sentences are enough
KEY_POINT_WORDS = 25


def clean(text: str) -> str:
    """Strip a dateline or a transcript speaker label off the front of a sentence."""
    text = _DATELINE.sub("", text, count=1)
    return _SPEAKER_LABEL.sub("", text, count=1).strip()


def is_real_sentence(text: str, title: str | None = None) -> bool:
    """False for headlines, bracketed notes, questions and fragments."""
    t = text.strip()
    if not t or t.startswith(("[", "(", "#", "|")) or t.endswith("?"):
        return False
    if title and t.strip(" .").lower() == title.strip(" .").lower():
        return False
    n = len(t.split())
    if n < 6:
        return False
    return bool(_ENDS_SENTENCE.search(t)) or n >= 25


def lead(sentences: Sequence[Sentence], title: str | None = None) -> list[str]:
    """The first two or three real sentences, cleaned."""
    out: list[str] = []
    words = 0
    for s in sentences[:40]:
        if not is_real_sentence(s.text, title):
            continue
        text = clean(s.text)
        if not text:
            continue
        out.append(text)
        words += len(text.split())
        if len(out) >= MAX_LEAD or (len(out) >= 2 and words >= LEAD_WORDS):
            break
    return out


def shorten(text: str, limit: int = KEY_POINT_WORDS) -> str:
    """At most ``limit`` words, ending cleanly."""
    words = text.split()
    if len(words) <= limit:
        return text
    return " ".join(words[:limit]).rstrip(",;:") + "…"


def key_points(lead_sentences: Sequence[str], position_lines: Sequence[str]) -> list[str]:
    """3-5 short points: the opening sentence, then who holds which position."""
    points: list[str] = []
    if lead_sentences:
        points.append(shorten(lead_sentences[0]))
    for line in position_lines:
        if len(points) >= 5:
            break
        if line not in points:
            points.append(line)
    for s in lead_sentences[1:]:
        if len(points) >= 3:
            break
        short = shorten(s)
        if short not in points:
            points.append(short)
    return points
