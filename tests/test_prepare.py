"""Sentence splitting and chunking (stance.prepare)."""

from __future__ import annotations

import pytest

from stance.loaders import make_article
from stance.prepare import prepare, split_sentences
from stance.tokens import TokenCounter


def texts(text: str) -> list[str]:
    return [s.text for s in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # an initialism qualifying the next word stays inside its sentence
        (
            "U.S. Defense Secretary Pete Hegseth spoke. He left.",
            ["U.S. Defense Secretary Pete Hegseth spoke.", "He left."],
        ),
        (
            "The U.N. Security Council met on Monday. It voted.",
            ["The U.N. Security Council met on Monday.", "It voted."],
        ),
        # ...but ends one before a word that opens a sentence, or before a quotation
        (
            "He moved to the U.S. The next day he left.",
            ["He moved to the U.S.", "The next day he left."],
        ),
        (
            'Talks stalled in the E.U. "Nobody wants that," she said.',
            ["Talks stalled in the E.U.", '"Nobody wants that," she said.'],
        ),
        ("The U.S. officials left.", ["The U.S. officials left."]),
        # titles always precede a name; a month before a number is no sentence end
        (
            "Mr. Smith met Dr. Jones on Jan. 5 in Rome.",
            ["Mr. Smith met Dr. Jones on Jan. 5 in Rome."],
        ),
        ("John F. Kennedy spoke. Crowds cheered.", ["John F. Kennedy spoke.", "Crowds cheered."]),
        # a company suffix before a capitalised word ends the sentence
        ("He works at Acme Inc. Sales rose.", ["He works at Acme Inc.", "Sales rose."]),
        ("Headline\nBody text here.", ["Headline", "Body text here."]),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    assert texts(text) == expected


def test_spans_point_at_the_exact_characters() -> None:
    text = "  First one.  U.S. Senator Ann Lee said so!\n\nThird?  "
    for s in split_sentences(text):
        assert text[s.start : s.end] == s.text
        assert s.text == s.text.strip()
    assert [s.index for s in split_sentences(text)] == [1, 2, 3]


def test_chunks_overlap_by_one_sentence_and_cover_the_text() -> None:
    text = " ".join(f"Sentence number {i} says something about the bridge plan." for i in range(60))
    doc = prepare(make_article(text, id="long"), TokenCounter(None), chunk_tokens=120)
    assert len(doc.chunks) > 2
    assert doc.chunks[0].start == 0
    assert doc.chunks[-1].end == len(text.rstrip())
    for a, b in zip(doc.chunks, doc.chunks[1:], strict=False):
        assert a.sentences[-1] == b.sentences[0]  # one sentence of overlap
        assert b.start < a.end


def test_hostile_runs_without_spaces_or_endless_titles_split_correctly() -> None:
    """Text built to make the abbreviation check rescan the sentence at every full stop.

    (It used to search the whole sentence so far at each one: quadratic, about 30 s for
    the first text here. Memory and speed are measured in benchmarks, not here; this
    pins the result on inputs of that shape.)
    """
    run = "ab." * 40_000 + "- . Next."
    assert texts(run) == ["ab." * 40_000 + "- .", "Next."]
    titles = "Mr. a " * 20_000 + "end."
    assert texts(titles) == [titles]
    lone = "x" * 40_000 + " . Then U.S. Senator Ann Lee spoke."
    assert texts(lone) == ["x" * 40_000 + " .", "Then U.S. Senator Ann Lee spoke."]
