"""Prepare an article for a model: numbered sentences, token counts, chunks.

Offsets always refer to ``Article.text`` exactly as loaded; normalisation (quotes,
whitespace) is only ever applied to copies used for matching (see :mod:`stance.grounding`).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

from .loaders import Article
from .tokens import TokenCounter

# Abbreviations after which a full stop does not end a sentence.
_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sen", "rep", "gov", "gen", "col", "lt", "sgt", "capt",
    "st", "jr", "sr", "no", "vs", "etc", "inc", "ltd", "co", "corp", "dept", "univ", "u.s",
    "u.k", "u.n", "e.u", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec", "e.g", "i.e", "approx", "est", "fig", "mt", "ft", "rev", "hon",
}  # fmt: skip
# Titles that always precede a name: a full stop after them never ends a sentence.
_TITLES = {"mr", "mrs", "ms", "dr", "prof", "st", "gen", "gov", "sen", "rep"}
# Dotted initialisms ("U.S.", "U.N.") usually qualify the next word ("U.S. Defense Secretary")
# but can end a sentence; they end one only before a word that typically opens a sentence.
_SENTENCE_OPENERS = {
    "a", "after", "an", "and", "as", "at", "before", "but", "by", "during", "for", "he", "her",
    "his", "however", "i", "if", "in", "it", "its", "last", "meanwhile", "on", "one", "our",
    "she", "since", "so", "that", "the", "their", "then", "there", "these", "they", "this",
    "those", "though", "we", "what", "when", "while", "with", "yet", "you",
}  # fmt: skip
_WORD_AHEAD = re.compile(r"\s*([A-Za-z]+)")  # a quote mark after "U.S." opens a sentence
# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) then whitespace,
# or at a blank line / newline (headlines and paragraphs).
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)|\n\s*\n|\n")


@dataclass(frozen=True)
class Sentence:
    index: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Chunk:
    index: int
    start: int
    end: int
    sentences: list[Sentence]
    n_tokens: int


@dataclass
class PreparedArticle:
    article: Article
    sentences: list[Sentence]
    n_tokens: int
    chunks: list[Chunk] = field(default_factory=list)


_WORD_CHARS = frozenset(string.ascii_letters + ".")


def _word_before(text: str, start: int, stop: int) -> str:
    """The run of ASCII letters and dots that ends at ``stop`` (not before ``start``).

    A backward scan: regex searches over the whole sentence so far were quadratic on
    hostile text ("ab.ab.ab..." with no spaces, or thousands of "Mr. a"), because a
    full stop taken for an abbreviation does not move ``start`` on.
    """
    i = stop
    while i > start and text[i - 1] in _WORD_CHARS:
        i -= 1
    return text[i:stop]


def _initial_before(text: str, start: int, stop: int) -> bool:
    """Whether a lone capital letter ends at ``stop``, as in "John F. Kennedy"."""
    i = stop - 1
    return i >= start and "A" <= text[i] <= "Z" and (i == start or text[i - 1].isspace())


def split_sentences(text: str) -> list[Sentence]:
    """Split text into sentences with exact character spans into ``text``."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.end()
        if m.group(0).startswith("."):
            # "U.S." / "Mr." / "Jan." : keep going unless the next word starts a sentence
            abbrev = _word_before(text, start, m.start()).lower().rstrip(".")
            if abbrev in _ABBREV:
                nxt = text[end : end + 3].lstrip()
                if nxt[:1].islower() or nxt[:1].isdigit() or abbrev in _TITLES:
                    continue
                if "." in abbrev:  # "U.S. Defense Secretary", not "... in the U.S. The ..."
                    ahead = _WORD_AHEAD.match(text, end)
                    if ahead and ahead.group(1).lower() not in _SENTENCE_OPENERS:
                        continue
            # single capital initial: "John F. Kennedy"
            if _initial_before(text, start, m.start()):
                continue
        spans.append((start, end))
        start = end
    spans.append((start, len(text)))
    out: list[Sentence] = []
    for s, e in spans:
        seg = text[s:e]
        lead = len(seg) - len(seg.lstrip())
        trail = len(seg) - len(seg.rstrip())
        s2, e2 = s + lead, e - trail
        if e2 > s2:
            out.append(Sentence(index=len(out) + 1, start=s2, end=e2, text=text[s2:e2]))
    return out


def prepare(
    article: Article, counter: TokenCounter, *, chunk_tokens: int = 6000
) -> PreparedArticle:
    """Split into sentences, count tokens, and cut into chunks of at most ``chunk_tokens``.

    Chunks break only between sentences and overlap by one sentence, so a quote that
    spans a boundary can still be found whole in one of them.
    """
    sentences = split_sentences(article.text)
    counts = [counter.count(s.text) + 1 for s in sentences]
    total = sum(counts)
    chunks: list[Chunk] = []
    i = 0
    while i < len(sentences):
        j, budget = i, 0
        while j < len(sentences) and (j == i or budget + counts[j] <= chunk_tokens):
            budget += counts[j]
            j += 1
        group = sentences[i:j]
        chunks.append(
            Chunk(
                index=len(chunks),
                start=group[0].start,
                end=group[-1].end,
                sentences=group,
                n_tokens=budget,
            )
        )
        if j >= len(sentences):
            break
        i = j - 1 if j - 1 > i else j  # one sentence of overlap
    return PreparedArticle(article=article, sentences=sentences, n_tokens=total, chunks=chunks)
