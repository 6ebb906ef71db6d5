"""Key-fact coverage of a summary (DESIGN.md §7), lexical by default.

A key fact counts as covered when enough of its content words (lowercased, stopwords
removed, crudely stemmed) appear somewhere in the summary or its key points. The judge
hook lets a caller swap in a semantic judge with the same inputs; :mod:`.judge` builds one
from an LLM (``stance eval --judge MODEL``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

Judge = Callable[[str, list[str]], Sequence[bool | None]]
"""``judge(summary_text, key_facts) -> covered flags``, one per fact, in order.

A flag may be ``None`` ("not scored"), as :func:`lexical_coverage` gives for a fact with no
content words; a judge that falls back to the lexical test for some summaries passes those
through."""

DEFAULT_FACT_THRESHOLD = 0.6

_WORD = re.compile(r"\w+", re.UNICODE)
_APOS = re.compile(r"['\u2019]s\b")
STOPWORDS = frozenset(
    """
    a an the and or but if then than so of to in on at by for with from into onto about as
    is are was were be been being am do does did doing has have had having will would shall
    should can could may might must it its it's this that these those there here which who
    whom whose what when where why how not no nor also very just only own same such too any
    all both each few more most other some he she they them their his her him we our you
    your i me my mine s t said says say saying according over under again further once
    """.split()
)
_SUFFIXES = ("ingly", "edly", "ing", "ed", "es", "s")


def stem(word: str) -> str:
    """A deliberately small suffix stripper: "monitoring"/"monitors"/"monitored" -> "monitor"."""
    if word.isdigit() or len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    for suf in _SUFFIXES:
        if suf == "s" and word.endswith(("ss", "us", "is")):
            break  # "reckless", "status", "crisis" are not plurals
        if word.endswith(suf) and len(word) - len(suf) >= 3:
            word = word[: -len(suf)]
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def content_tokens(text: str) -> list[str]:
    """Lowercased, stemmed words of ``text`` without stopwords, in order."""
    words = _WORD.findall(_APOS.sub("", text.casefold()))
    return [stem(w) for w in words if w not in STOPWORDS and w != "_"]


def lexical_coverage(
    summary: str, facts: Sequence[str], *, threshold: float = DEFAULT_FACT_THRESHOLD
) -> list[bool | None]:
    """Whether each fact is covered by ``summary``.

    Args:
        summary: Summary text and key points, joined.
        facts: The gold key facts.
        threshold: Share of a fact's content tokens that must appear in the summary.

    Returns:
        One flag per fact; ``None`` for a fact with no content words (it is not scored).
    """
    have = set(content_tokens(summary))
    out: list[bool | None] = []
    for fact in facts:
        need = set(content_tokens(fact))
        out.append(None if not need else len(need & have) / len(need) >= threshold)
    return out


def fact_coverage(
    summary: str,
    facts: Sequence[str],
    *,
    threshold: float = DEFAULT_FACT_THRESHOLD,
    judge: Judge | None = None,
) -> list[bool | None]:
    """Covered flags per fact, from ``judge`` when given, else :func:`lexical_coverage`.

    Raises:
        ValueError: the judge returned a different number of flags than there are facts.
    """
    if judge is None:
        return lexical_coverage(summary, facts, threshold=threshold)
    flags = judge(summary, list(facts))
    if len(flags) != len(facts):
        raise ValueError(f"judge returned {len(flags)} flags for {len(facts)} facts")
    return [None if f is None else bool(f) for f in flags]
