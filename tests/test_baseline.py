"""The rule-based ``baseline`` analyser: names, attribution, stance cues, grounding, robustness."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from stance.baseline import analyser, extract, extract_with_cues
from stance.baseline.cues import find_cues
from stance.baseline.topics import gerund, topic_key, trim_topic
from stance.baseline.words import QuoteMap, tokenize
from stance.loaders import Article, load_file, make_article
from stance.prepare import PreparedArticle, prepare, split_sentences
from stance.schema import ArticleRef, ExtractedPosition, Extraction
from stance.tokens import TokenCounter

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "examples" / "articles" / "ukraine-peacekeepers.txt"  # the real article, unchanged
COUNTER = TokenCounter(None)  # character estimate: no tokenizer needed for rules


@pytest.fixture(autouse=True)
def _strict(monkeypatch: pytest.MonkeyPatch) -> None:
    # In production a rule error skips one sentence; here it must fail the test.
    monkeypatch.setattr(analyser, "STRICT", True)


def doc_of(text: str, **meta: str) -> PreparedArticle:
    return prepare(make_article(text, id="t", **meta), COUNTER)


def run(text: str) -> Extraction:
    return extract(doc_of(text))


def position_of(ex: Extraction, party: str) -> ExtractedPosition:
    rows = [p for p in ex.positions if p.party == party]
    assert rows, f"no position for {party!r}: {[p.party for p in ex.positions]}"
    return rows[0]


def party_names(ex: Extraction) -> list[str]:
    return [p.name for p in ex.parties]


# --------------------------------------------------------------------------- names and roles


@pytest.mark.parametrize(
    ("text", "name", "role", "typ"),
    [
        (
            "Deputy Foreign Minister Sergey Ryabkov said the plan was unacceptable.",
            "Sergey Ryabkov",
            "Deputy Foreign Minister",
            "person",
        ),
        (
            "NATO Secretary General Mark Rutte said allies should back the mission.",
            "Mark Rutte",
            "NATO Secretary General",
            "person",
        ),
        (
            "Polish government spokesman Tomasz Wrona said Poland would not send soldiers.",
            "Tomasz Wrona",
            "Polish government spokesman",
            "person",
        ),
        (
            "Julien Arnaud, the armed forces ministry spokesman, said France backed the force.",
            "Julien Arnaud",
            "armed forces ministry spokesman",
            "person",
        ),
        (
            "Her colleague, Deputy Foreign Minister Sergey Ryabkov, said the bid was unacceptable.",
            "Sergey Ryabkov",
            "Deputy Foreign Minister",
            "person",
        ),
        ("The Kremlin said the deployment was unacceptable.", "Kremlin", None, "organisation"),
        (
            "Russia has repeatedly said that the expansion would be a threat to its security.",
            "Russia",
            None,
            "country",
        ),
        ("Moscow rejected the proposal outright.", "Moscow", None, "country"),
        (
            "A German government spokeswoman said Berlin opposed the cap.",
            "Germany",
            None,
            "country",
        ),
    ],
)
def test_party_name_role_and_type(text: str, name: str, role: str | None, typ: str) -> None:
    ex = run(text)
    party = next(p for p in ex.parties if p.name == name)
    assert party.role == role
    assert party.type == typ


def test_surname_maps_to_the_full_name_and_becomes_an_alias() -> None:
    ex = run(
        "Finance Minister Paul Sadler presented the budget on Monday. "
        "Sadler said he opposed a levy on sugary drinks."
    )
    assert party_names(ex) == ["Paul Sadler"]
    assert "Sadler" in ex.parties[0].aliases
    assert position_of(ex, "Paul Sadler").stance == "oppose"


def test_anonymous_sources_are_not_parties() -> None:
    ex = run("Officials said the talks had been difficult. Two diplomats told reporters little.")
    assert ex.parties == []
    assert ex.positions == []


def test_outlets_are_sourcing_not_parties() -> None:
    ex = run("Mayor Ines Carvalho supports the congestion charge, the Daily Ledger reported.")
    assert party_names(ex) == ["Ines Carvalho"]
    assert position_of(ex, "Ines Carvalho").via == "the Daily Ledger"


def test_a_mentioned_party_gets_no_row() -> None:
    ex = run("President Anna Berg met Chancellor Lena Vogt. Berg said she rejected the tariff.")
    assert party_names(ex) == ["Anna Berg"]


# --------------------------------------------------------------------------- attribution


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("“We reject the tariff,” said Foreign Minister Anna Berg.", "direct_quote"),
        ("“We reject the tariff,” Foreign Minister Anna Berg said.", "direct_quote"),
        ("Foreign Minister Anna Berg said: “We reject the tariff.”", "direct_quote"),
        ('"We reject the tariff," Anna Berg told reporters.', "direct_quote"),
        (
            "Foreign Minister Anna Berg said that her country rejected the tariff.",
            "reported_speech",
        ),
        ("Foreign Minister Anna Berg has proposed a tariff on steel.", "action"),
        ("Foreign Minister Anna Berg described the tariff as reckless.", "characterisation"),
    ],
)
def test_quote_before_or_after_the_verb_and_attribution_kind(text: str, kind: str) -> None:
    ex = run(text)
    assert party_names(ex) == ["Anna Berg"]
    pos = position_of(ex, "Anna Berg")
    assert pos.attribution == kind
    assert "tariff" in pos.topic


def test_according_to_an_anonymous_source_gives_the_row_to_the_named_party() -> None:
    ex = run(
        "President Donald Trump spoke to reporters on Friday. "
        "According to unnamed aides, however, Trump is not wedded to any particular plan."
    )
    assert party_names(ex) == ["Donald Trump"]
    pos = position_of(ex, "Donald Trump")
    assert pos.via == "unnamed aides"
    assert pos.stance == "neutral"
    assert pos.topic == "particular plan"


def test_nested_sourcing_becomes_via() -> None:
    ex = run(
        "Trade Minister Lena Vogt argued that the tariff was dangerous, the Journal reported, "
        "citing officials briefed on the meeting."
    )
    pos = position_of(ex, "Lena Vogt")
    assert pos.via == "the Journal, citing officials briefed on the meeting"
    assert pos.stance == "oppose"


@pytest.mark.parametrize(
    "text",
    [
        "Chancellor Lena Vogt spoke in Berlin on Monday. She said she opposed the cap.",
        "Chancellor Lena Vogt said the budget was fine. She added that she opposed the cap.",
    ],
)
def test_pronoun_carries_over_to_the_last_person(text: str) -> None:
    ex = run(text)
    assert party_names(ex) == ["Lena Vogt"]
    assert any(p.stance == "oppose" and "cap" in p.topic for p in ex.positions)


def test_pronoun_without_an_antecedent_is_dropped() -> None:
    assert run("He said he opposed the cap.").parties == []


def test_transcript_speaker_labels() -> None:
    ex = run(
        "[Transcript. Presented by Kate Ormsby.]\n"
        "ORMSBY: With me is Councillor Priya Nand. Is the zone working?\n"
        "NAND: It is working. I would support making the zone permanent.\n"
    )
    assert party_names(ex) == ["Priya Nand"]
    assert position_of(ex, "Priya Nand").stance == "support"


# --------------------------------------------------------------------------- stance cues


@pytest.mark.parametrize(
    ("clause", "stance"),
    [
        ("supports a cap on energy prices", "support"),
        ("rejected a cap on energy prices", "oppose"),
        ("did not rule out a cap on energy prices", "neutral"),
        ("has no objection to a cap on energy prices", "support"),
        ("does not support a cap on energy prices", "oppose"),
        ("refused to back a cap on energy prices", "oppose"),
        ("said she was open to a cap on energy prices", "neutral"),
        ("said she would consider a cap on energy prices", "neutral"),
        ("said a cap on energy prices was unacceptable", "oppose"),
        ("said a cap on energy prices was not a threat to growth", "support"),
        ("said a cap on energy prices was not realistic", "oppose"),
        ("said it was too early to say whether a cap on energy prices would work", "neutral"),
        ("backed a cap on energy prices but warned that it was dangerous", "mixed"),
        ("is not opposed in principle to a cap on energy prices", "mixed"),
        ("called for a cap on energy prices", "support"),
    ],
)
def test_negation_and_hedges(clause: str, stance: str) -> None:
    ex = run(f"Energy Minister Lena Vogt {clause}.")
    pos = position_of(ex, "Lena Vogt")
    assert pos.stance == stance
    assert "cap" in pos.topic


@pytest.mark.parametrize(
    ("text", "polarity", "cue"),
    [
        ("would not accept troops", "oppose", "would not accept"),
        ("is not a threat to Russia", "support", "not a threat"),
        ("has no objection to the plan", "support", "has no objection to"),
        ("did not rule out a price cap", "neutral", "did not rule out"),
        ("no US troops would be involved", "oppose", "no US troops would"),
        ("would not comment on the plan", "skip", "would not comment"),
    ],
)
def test_cue_lexicon(text: str, polarity: str, cue: str) -> None:
    hits = find_cues(text)
    assert (hits[0].polarity, hits[0].text) == (polarity, cue)


def test_cues_are_returned_per_position() -> None:
    ex, cues = extract_with_cues(doc_of("Energy Minister Lena Vogt rejected a cap on prices."))
    assert len(cues) == len(ex.positions) == 1
    assert cues[0] == "rejected"


@pytest.mark.parametrize(
    ("verb", "ing"),
    [
        ("send", "sending"),
        ("take", "taking"),
        ("be", "being"),
        ("put", "putting"),
        ("die", "dying"),
    ],
)
def test_gerund(verb: str, ing: str) -> None:
    assert gerund(verb) == ing


@pytest.mark.parametrize(
    ("raw", "topic"),
    [
        ("any such deployment for now", "deployment for now"),
        ("the Ukraine's NATO membership to remain the goal", "Ukraine's NATO membership"),
        ("“clear numbers and clear commitments”", "clear numbers and clear commitments"),
        ("it", None),  # pronouns point back; not a topic of their own
        ("the", None),
    ],
)
def test_trim_topic(raw: str, topic: str | None) -> None:
    out = trim_topic(raw)
    assert (out if out is None or not out.startswith("\x00") else None) == topic


def test_same_issue_reworded_shares_a_key() -> None:
    assert topic_key("European troops monitoring a ceasefire") == topic_key(
        "European troops monitor ceasefires"
    )


def test_one_row_per_party_and_topic() -> None:
    ex = run(
        "Energy Minister Lena Vogt rejected a cap on energy prices. "
        "Vogt said a cap on energy prices would be a mistake."
    )
    rows = [p for p in ex.positions if p.party == "Lena Vogt"]
    assert len(rows) == 1
    assert len(rows[0].evidence) == 2


# --------------------------------------------------------------------------- the real article


@pytest.fixture(scope="module")
def real() -> tuple[Article, Extraction, list[str | None]]:
    art = load_file(REAL)[0]
    ex, cues = extract_with_cues(prepare(art, COUNTER))
    return art, ex, cues


def test_real_article_position_holders(real: tuple[Article, Extraction, list[str | None]]) -> None:
    _, ex, _ = real
    holders = {p.party for p in ex.positions}
    assert {"Donald Trump", "Mark Rutte", "Sergey Ryabkov"} <= holders
    ryabkov = position_of(ex, "Sergey Ryabkov")
    assert ryabkov.stance == "oppose"
    assert "membership" in ryabkov.topic
    assert ryabkov.attribution == "direct_quote"
    roles = {p.name: p.role for p in ex.parties}
    assert roles["Mark Rutte"] == "NATO Secretary General"
    assert roles["Sergey Ryabkov"] == "Deputy Foreign Minister"
    assert "Trump" in next(p for p in ex.parties if p.name == "Donald Trump").aliases


def test_real_article_sourcing_and_stances(
    real: tuple[Article, Extraction, list[str | None]],
) -> None:
    _, ex, cues = real
    trump = [p for p in ex.positions if p.party == "Donald Trump"]
    assert any(p.stance == "oppose" and "US troops" in p.topic for p in trump)
    assert any(p.via and "Wall Street Journal" in p.via for p in trump)
    assert all(c for c in cues)  # every row came from a cue
    # the outlet and the anonymous officials are sources, not parties
    assert not {"Wall Street Journal", "Journal", "officials"} & set(party_names(ex))


def test_real_article_summary(real: tuple[Article, Extraction, list[str | None]]) -> None:
    art, ex, _ = real
    assert ex.summary.startswith("US President-elect Donald Trump has proposed")
    assert 2 <= len(split_sentences(ex.summary)) <= 3
    assert 3 <= len(ex.key_points) <= 5


def test_dateline_is_dropped_from_the_summary() -> None:
    ex = run(
        "BRUSSELS, Dec 19 (Continental Wire) - Ministers met in Brussels to discuss the cap.\n\n"
        "Energy Minister Lena Vogt rejected the cap on prices. Talks resume next week in Rome."
    )
    assert ex.summary.startswith("Ministers met in Brussels")


# --------------------------------------------------------------------------- grounding, determinism


def _corpus() -> list[Path]:
    paths = [REAL]
    for folder in (ROOT / "examples" / "articles", ROOT / "evals" / "articles"):
        if folder.is_dir():
            paths += sorted(p for p in folder.iterdir() if p.suffix in (".txt", ".md"))
    return paths


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name)
def test_evidence_is_an_exact_substring_and_output_is_deterministic(path: Path) -> None:
    art = load_file(path)[0]
    first, cues = extract_with_cues(prepare(art, COUNTER))
    for pos in first.positions:
        assert pos.evidence
        for quote in pos.evidence:
            assert quote in art.text
        assert pos.party in party_names(first)
        assert 0 < len(pos.topic.split()) <= 8
    assert len(cues) == len(first.positions)
    again = extract(prepare(load_file(path)[0], COUNTER))
    assert again.model_dump() == first.model_dump()


# --------------------------------------------------------------------------- hostile input


def _raw_doc(text: str) -> PreparedArticle:
    """Bypass make_article's checks: the analyser must cope even with what it rejects."""
    ref = ArticleRef(id="x", content_hash="0")
    return prepare(Article(ref=ref, text=text), COUNTER)


HOSTILE = {
    "empty": "",
    "whitespace": " \n\n\t ",
    "no capitals": "the minister said that the plan was unacceptable and he rejected it.",
    "all capitals": "THE MINISTER SAID THE PLAN WAS UNACCEPTABLE. HE REJECTED IT.",
    "full of said": "said " * 5000,
    "said with capitals": "Said Said said SAID, said “said” said. " * 300,
    "huge sentence": ("Minister Anna Berg said that " + "the plan and " * 20000) + "end.",
    "unbalanced quotes": '“We reject it, said Anna Berg. ” ” “ " Berg said “no',
    "only quotes": '“”“”""«»‘’',
    "cyrillic": "Министр Сергей Рябков заявил, что это неприемлемо. «Нет», — сказал он.",
    "chinese": "外交部发言人说，这是不可接受的。他说：“我们反对。”",
    "arabic": "قال المتحدث باسم الوزارة إن الخطة غير مقبولة.",
    "emoji": "🙂 said 🙂. “🙂,” said 🙂 Berg. According to 🙂, 🙂 rejects 🙂.",
    "dangling": "According to. Citing. said Mr. He she they. , said , . “",
    "labels": "A: B: C:\nQ: said A\nNAND: \nPRESENTER (): x",
    "long name run": " ".join(["Alpha"] * 2000) + " said the plan was good.",
    "punctuation": ".,;:!?()[]{}—–-" * 500,
    "control chars": "Minister\x0bAnna\x0cBerg said\u2028the plan\u200bwas bad.",
}


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
def test_malformed_input_does_not_raise(text: str) -> None:
    ex, cues = extract_with_cues(_raw_doc(text))
    assert len(cues) == len(ex.positions)
    for pos in ex.positions:
        assert all(q in text for q in pos.evidence)


def test_no_sentences_at_all() -> None:
    doc = _raw_doc("x")
    doc.sentences = []
    ex = extract(doc)
    assert ex.summary == ""
    assert ex.positions == []


def test_shuffled_fragments_of_real_text_do_not_raise() -> None:
    words = load_file(REAL)[0].text.split()
    rng = random.Random(20241212)
    for _ in range(150):
        n = rng.randint(1, 120)
        text = " ".join(rng.choice(words) for _ in range(n))
        if rng.random() < 0.5:
            text = text.replace(" ", "\n", rng.randint(0, 5))
        ex, cues = extract_with_cues(_raw_doc(text))
        assert len(cues) == len(ex.positions)
        assert all(q in text for p in ex.positions for q in p.evidence)


def test_quote_map_resets_at_line_breaks() -> None:
    text = "“open quote never closed\nNext line said nothing."
    q = QuoteMap(text)
    assert q.inside(5)
    assert not q.inside(text.index("Next") + 1)


def test_tokenize_keeps_abbreviations_and_offsets() -> None:
    text = "U.S. Defense Secretary Pete Hegseth said, “no.”"
    toks = tokenize(text)
    assert [t.core for t in toks][:2] == ["U.S.", "Defense"]
    assert all(text[t.start : t.end] == t.core for t in toks)
    assert toks[0].acronym and toks[1].capitalised and not toks[1].acronym
