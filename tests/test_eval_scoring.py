"""Scorer unit tests (DESIGN.md §7): small hand-computed cases, table-driven where it fits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from stance.evaluate.bootstrap import bootstrap_ci, percentile
from stance.evaluate.facts import content_tokens, fact_coverage, lexical_coverage, stem
from stance.evaluate.labels import Label
from stance.evaluate.matching import interval_overlap, match_article, topic_similarity
from stance.evaluate.metrics import (
    Counts,
    Metrics,
    confusion_matrix,
    metrics_from_counts,
    pool,
    prf,
    score_article,
    stance_scores,
)
from stance.evaluate.names import GoldParty, match_party, normalise_name
from stance.evaluate.report import compute_deltas
from stance.schema import (
    ArticleAnalysis,
    ArticleRef,
    Evidence,
    Party,
    Position,
    Provenance,
    Summary,
    Usage,
)

TEXT = (
    "Alice Smith said the bridge plan was reckless. "
    "Bob Jones backed the bridge plan. "
    "Carol Diaz attended the meeting. "
    "Dan Wu said the school budget must grow."
)
Q_ALICE = "Alice Smith said the bridge plan was reckless"
Q_BOB = "Bob Jones backed the bridge plan"
Q_DAN = "Dan Wu said the school budget must grow"


def ev(quote: str, text: str = TEXT) -> Evidence:
    at = text.find(quote)
    if at < 0:
        return Evidence(quote=quote, status="not_found")
    return Evidence(quote=quote, status="exact", start=at, end=at + len(quote))


def pos(party: str, topic: str, stance: str, *quotes: str) -> Position:
    return Position(
        party=party,
        topic=topic,
        position=f"{party} on {topic}.",
        stance=stance,  # type: ignore[arg-type]
        evidence=[ev(q) for q in quotes],
    )


def analysis(
    positions: Sequence[Position],
    parties: Sequence[Party] = (),
    summary: str = "",
    key_points: Sequence[str] = (),
    tokens: int = 0,
    calls: int = 0,
) -> ArticleAnalysis:
    return ArticleAnalysis(
        article=ArticleRef(id="a", content_hash="x"),
        summary=Summary(text=summary, key_points=list(key_points)),
        parties=list(parties),
        positions=list(positions),
        provenance=Provenance(
            model="fake",
            backend="test",
            usage=Usage(total_tokens=tokens),
            calls=calls,
            stance_version="0",
        ),
    )


def gpos(party: str, topic: str, stance: str, *quotes: str) -> dict[str, Any]:
    return {"party": party, "topic": topic, "stance": stance, "evidence": list(quotes)}


def label(
    positions: Sequence[dict[str, Any]],
    parties: Sequence[dict[str, Any]] = (),
    mentioned_only: Sequence[str] = (),
    key_facts: Sequence[str] = (),
) -> Label:
    return Label.model_validate(
        {
            "article": "a",
            "parties": list(parties)
            or [{"name": n, "aliases": []} for n in dict.fromkeys(p["party"] for p in positions)],
            "positions": list(positions),
            "mentioned_only": list(mentioned_only),
            "key_facts": list(key_facts),
        }
    )


def score(a: ArticleAnalysis | None, lab: Label, **kw: Any) -> Any:
    return score_article("a", TEXT, lab, a, **kw)


def reasons(result: Any, level: str = "position") -> list[str]:
    return [d.reason for d in result.decisions if d.level == level]


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("US President-elect Donald Trump", "donald trump"),
        ("Trump\u2019s", "trump"),
        ("Trump's", "trump"),
        ("Deputy Foreign Minister Sergey Ryabkov", "sergey ryabkov"),
        ("French President Emmanuel Macron", "emmanuel macron"),
        ("Mr. Macron", "macron"),
        ("The Kremlin", "kremlin"),
        ("Defense Department", "defense department"),  # office word kept: two tokens only
        ("Finance Ministry", "finance ministry"),
        ("\u00c9lys\u00e9e Palace", "elysee palace"),
        ("  NATO ", "nato"),
    ],
)
def test_normalise_name(raw: str, expected: str) -> None:
    assert normalise_name(raw) == expected


TRUMP = GoldParty("Donald Trump", ("US President-elect",))
MELANIA = GoldParty("Melania Trump")
RYABKOV = GoldParty("Sergey Ryabkov", ("the deputy minister",))
RUSSIA = GoldParty("Russia", ("Moscow",))
RU_GOV = GoldParty("Russian government")
VOGT = GoldParty("Lena Vogt")


@pytest.mark.parametrize(
    ("name", "aliases", "gold", "expected"),
    [
        ("Donald Trump", [], [TRUMP], (0, "name")),
        ("US President-elect Donald Trump", [], [TRUMP], (0, "name")),
        ("US President-elect", [], [RUSSIA, TRUMP], (1, "alias")),
        ("the Deputy Minister", [], [RYABKOV], (0, "alias")),
        ("the Kremlin", ["Moscow"], [TRUMP, RUSSIA], (1, "aliases")),
        ("Trump", [], [RUSSIA, TRUMP], (1, "surname")),
        ("Chancellor Vogt", [], [VOGT], (0, "surname")),
        ("Trump", [], [TRUMP, MELANIA], None),  # surname ambiguous within the article
        ("British government", [], [RU_GOV], None),  # shared last word is not a surname
        ("Emmanuel Macron", [], [TRUMP, RUSSIA], None),
        ("", [], [TRUMP], None),
    ],
)
def test_match_party(
    name: str, aliases: list[str], gold: list[GoldParty], expected: tuple[int, str] | None
) -> None:
    m = match_party(name, aliases, gold)
    assert (None if m is None else (m.gold, m.kind)) == expected


# --------------------------------------------------------------------------- small maths


@pytest.mark.parametrize(
    ("tp", "fp", "fn", "expected"),
    [
        (0, 0, 0, (1.0, 1.0, 1.0)),  # nothing to find, nothing claimed
        (0, 0, 3, (0.0, 0.0, 0.0)),  # empty prediction scores low
        (0, 2, 0, (0.0, 0.0, 0.0)),  # claims where gold has none
        (2, 1, 1, (2 / 3, 2 / 3, 2 / 3)),
        (3, 1, 2, (0.75, 0.6, 2 / 3)),
        (1, 0, 0, (1.0, 1.0, 1.0)),
    ],
)
def test_prf(tp: int, fp: int, fn: int, expected: tuple[float, float, float]) -> None:
    assert prf(tp, fp, fn) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("pairs", "acc", "macro"),
    [
        ([], None, None),
        ([("support", "support")], 1.0, 1.0),
        # support: F1 1; oppose: tp 1, gold 2, pred 1 -> 2/3; neutral: predicted only -> 0
        ([("support", "support"), ("oppose", "neutral"), ("oppose", "oppose")], 2 / 3, 5 / 9),
        ([("mixed", "oppose"), ("neutral", "support")], 0.0, 0.0),
    ],
)
def test_stance_scores(
    pairs: list[tuple[Any, Any]], acc: float | None, macro: float | None
) -> None:
    got = stance_scores(confusion_matrix(pairs))
    assert got == (pytest.approx(acc) if acc is not None else None,
                   pytest.approx(macro) if macro is not None else None)  # fmt: skip


def test_confusion_matrix_rows_are_gold() -> None:
    m = confusion_matrix([("support", "oppose"), ("support", "oppose"), ("neutral", "neutral")])
    assert m == [[0, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [((0, 10), (5, 15), (5, 5 / 15)), ((0, 10), (10, 20), (0, 0.0)), ((2, 4), (0, 10), (2, 0.2))],
)
def test_interval_overlap(
    a: tuple[int, int], b: tuple[int, int], expected: tuple[int, float]
) -> None:
    assert interval_overlap(a, b) == (expected[0], pytest.approx(expected[1]))


def test_topic_similarity_ignores_case_punctuation_and_order() -> None:
    assert topic_similarity("The bridge plan", "bridge plan, the") == 100
    assert topic_similarity("school budget", "bridge plan") < 60


# --------------------------------------------------------------------------- matching


def test_perfect_prediction_scores_one() -> None:
    lab = label([gpos("Alice Smith", "bridge plan", "oppose", Q_ALICE)])
    r = score(analysis([pos("Alice Smith", "the bridge plan", "oppose", Q_ALICE)]), lab)
    m = r.metrics
    assert (m.party_f1, m.position_f1, m.stance_accuracy, m.grounding_rate) == (1, 1, 1, 1)
    assert m.span_overlap == 1.0
    assert reasons(r) == ["matched gold #0 by evidence overlap 1.00; stance oppose = gold"]


def test_partial_evidence_overlap_ratio_is_shared_over_union() -> None:
    part = "the bridge plan was reckless"
    lab = label([gpos("Alice Smith", "bridge plan", "oppose", Q_ALICE)])
    r = score(analysis([pos("Alice Smith", "something else entirely", "oppose", part)]), lab)
    ratio = len(part) / len(Q_ALICE)
    assert r.metrics.position_f1 == 1.0
    assert r.metrics.span_overlap == pytest.approx(ratio, abs=1e-4)
    assert reasons(r)[0].startswith(f"matched gold #0 by evidence overlap {ratio:.2f}")


def test_alias_match_with_honorific() -> None:
    lab = label(
        [gpos("Alice Smith", "bridge plan", "oppose", Q_ALICE)],
        parties=[{"name": "Alice Smith", "aliases": ["Smith", "the mayor"]}],
    )
    pred = analysis(
        [pos("The Mayor", "bridge plan", "oppose", Q_ALICE)],
        parties=[Party(name="The Mayor", aliases=["Ms. Smith"])],
    )
    r = score(pred, lab)
    assert r.metrics.party_f1 == 1.0 and r.metrics.position_f1 == 1.0
    assert reasons(r, "party") == ["matched gold party 'Alice Smith' by alias"]


def test_two_names_for_one_gold_party_count_once() -> None:
    lab = label([gpos("Alice Smith", "bridge plan", "oppose", Q_ALICE)])
    pred = analysis(
        [
            pos("Alice Smith", "bridge plan", "oppose", Q_ALICE),
            pos("Smith", "bridge plan", "oppose", Q_ALICE),
        ]
    )
    r = score(pred, lab)
    assert (r.counts.party_tp, r.counts.party_fp) == (1, 0)
    assert "counted once" in reasons(r, "party")[1]
    # the second position is a duplicate: the gold row is taken, so it is a false positive
    assert (r.counts.position_tp, r.counts.position_fp) == (1, 1)


def test_tie_goes_to_the_lower_predicted_index() -> None:
    lab = label([gpos("Alice Smith", "bridge plan", "oppose", Q_ALICE)])
    pred = analysis(
        [
            pos("Alice Smith", "bridge plan", "support", Q_ALICE),
            pos("Alice Smith", "bridge plan", "oppose", Q_ALICE),
        ]
    )
    r = score(pred, lab)
    assert [(p.pred, p.gold) for p in r.pairs] == [(0, 0)]
    assert (
        reasons(r)[1] == "false positive: its matching gold positions were taken by better matches"
    )
    assert r.metrics.stance_accuracy == 0.0  # the tie winner had the wrong stance


def test_tie_between_gold_rows_goes_to_the_lower_gold_index() -> None:
    lab = label(
        [
            gpos("Alice Smith", "bridge plan", "oppose", Q_ALICE),
            gpos("Alice Smith", "bridge plan", "oppose", Q_ALICE),
        ]
    )
    r = score(analysis([pos("Alice Smith", "bridge plan", "oppose", Q_ALICE)]), lab)
    assert [(p.pred, p.gold) for p in r.pairs] == [(0, 0)]
    assert r.metrics.position_recall == 0.5


def test_same_quote_two_topics_topic_breaks_the_evidence_tie() -> None:
    lab = label(
        [
            gpos("Dan Wu", "bridge plan", "neutral", Q_DAN),
            gpos("Dan Wu", "school budget", "support", Q_DAN),
        ]
    )
    r = score(analysis([pos("Dan Wu", "the school budget", "support", Q_DAN)]), lab)
    assert [(p.pred, p.gold) for p in r.pairs] == [(0, 1)]


def test_evidence_overlap_beats_topic_similarity() -> None:
    lab = label(
        [
            gpos("Alice Smith", "bridge plan", "oppose", "Carol Diaz attended the meeting"),
            gpos("Alice Smith", "reckless spending", "oppose", Q_ALICE),
        ],
        parties=[{"name": "Alice Smith", "aliases": []}],
    )
    r = score(analysis([pos("Alice Smith", "bridge plan", "oppose", Q_ALICE)]), lab)
    assert [(p.pred, p.gold, p.method) for p in r.pairs] == [(0, 1, "evidence")]


def test_topic_fallback_and_configurable_threshold() -> None:
    lab = label([gpos("Alice Smith", "the bridge plan", "oppose", Q_ALICE)])
    # fabricated quote: no span, so only the topic can match
    pred = analysis([pos("Alice Smith", "plan for a new bridge", "oppose", "a made-up quote")])
    sim = topic_similarity("plan for a new bridge", "the bridge plan")
    assert 60 <= sim < 100
    r = score(pred, lab)
    assert r.pairs[0].method == "topic"
    expected = f"matched gold #0 by topic similarity {sim:.0f} (no evidence overlap)"
    assert reasons(r)[0] == f"{expected}; stance oppose = gold"
    assert r.metrics.span_overlap == 0.0
    strict = score(pred, lab, topic_threshold=sim + 1)
    assert strict.pairs == []
    assert f"best topic similarity {sim:.0f} < {sim + 1:.0f}" in reasons(strict)[0]


def test_mentioned_only_party_given_a_position_is_a_false_positive() -> None:
    lab = label(
        [gpos("Alice Smith", "bridge plan", "oppose", Q_ALICE)],
        mentioned_only=["Carol Diaz"],
    )
    pred = analysis(
        [
            pos("Alice Smith", "bridge plan", "oppose", Q_ALICE),
            pos("Diaz", "the meeting", "support", "Carol Diaz attended the meeting"),
        ]
    )
    r = score(pred, lab)
    assert (r.counts.party_tp, r.counts.party_fp, r.counts.party_fn) == (1, 1, 0)
    assert r.metrics.party_precision == 0.5 and r.metrics.party_recall == 1.0
    assert (
        reasons(r, "party")[1] == "false positive: party 'Diaz' is mentioned_only in the gold label"
    )
    assert reasons(r)[1] == "false positive: party 'Diaz' is mentioned_only"
    assert r.metrics.position_precision == 0.5


def test_unknown_party_and_missed_gold_rows_are_explained() -> None:
    lab = label(
        [
            gpos("Alice Smith", "bridge plan", "oppose", Q_ALICE),
            gpos("Bob Jones", "bridge plan", "support", Q_BOB),
        ]
    )
    r = score(analysis([pos("Eve Stone", "bridge plan", "support", Q_BOB)]), lab)
    assert reasons(r, "party")[0] == "false positive: no gold party matches 'Eve Stone'"
    assert "missed: no predicted position for party 'Alice Smith'" in reasons(r)
    assert r.metrics.position_f1 == 0.0 and r.metrics.party_f1 == 0.0


def test_right_party_wrong_everything_scores_low() -> None:
    lab = label(
        [
            gpos("Alice Smith", "bridge plan", "oppose", Q_ALICE),
            gpos("Bob Jones", "bridge plan", "support", Q_BOB),
        ],
        key_facts=["Alice Smith called the bridge plan reckless", "Bob Jones backed it"],
    )
    pred = analysis(
        [
            pos("Alice Smith", "school budget", "support", "Dan Wu said the school budget"),
            pos("Bob Jones", "weather", "neutral", "it will rain tomorrow"),
        ],
        summary="A meeting happened.",
    )
    r = score(pred, lab)
    m = r.metrics
    assert m.party_f1 == 1.0  # the right people ...
    assert m.position_f1 == 0.0  # ... but none of what they said
    assert m.stance_accuracy is None
    assert m.grounding_rate == 0.5 and m.evidence_exact_rate == 0.5
    assert m.key_fact_coverage == 0.0


def test_empty_prediction_scores_zero() -> None:
    lab = label(
        [gpos("Alice Smith", "bridge plan", "oppose", Q_ALICE)],
        key_facts=["Alice Smith opposed the bridge plan"],
    )
    m = score(analysis([]), lab).metrics
    assert (m.party_precision, m.party_recall, m.party_f1) == (0, 0, 0)
    assert (m.position_precision, m.position_recall, m.position_f1) == (0, 0, 0)
    assert (m.stance_accuracy, m.grounding_rate, m.span_overlap) == (None, None, None)
    assert m.key_fact_coverage == 0.0


def test_empty_prediction_of_an_empty_label_is_perfect() -> None:
    m = score(analysis([]), label([], mentioned_only=["Carol Diaz"])).metrics
    assert (m.party_f1, m.position_f1) == (1.0, 1.0)


def test_failed_article_is_an_empty_prediction_with_the_reason() -> None:
    lab = label([gpos("Alice Smith", "bridge plan", "oppose", Q_ALICE)], key_facts=["x y z"])
    r = score(None, lab, failure="ModelError: boom", failed_calls=3)
    assert r.failed and r.metrics.position_f1 == 0.0
    assert r.counts.calls == 3 and r.counts.failed == 1
    assert reasons(r) == ["missed: no prediction (ModelError: boom)"]


def test_stance_confusion_over_matched_pairs() -> None:
    lab = label(
        [
            gpos("Alice Smith", "bridge plan", "support", Q_ALICE),
            gpos("Bob Jones", "bridge plan", "oppose", Q_BOB),
            gpos("Dan Wu", "school budget", "oppose", Q_DAN),
        ]
    )
    pred = analysis(
        [
            pos("Alice Smith", "bridge plan", "support", Q_ALICE),
            pos("Bob Jones", "bridge plan", "neutral", Q_BOB),
            pos("Dan Wu", "school budget", "oppose", Q_DAN),
        ]
    )
    r = score(pred, lab)
    assert r.counts.confusion == [[1, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert r.metrics.stance_accuracy == pytest.approx(2 / 3)
    assert r.metrics.stance_macro_f1 == pytest.approx(5 / 9)
    assert "stance neutral vs gold oppose" in reasons(r)[1]


def test_cost_comes_from_provenance() -> None:
    lab = label([])
    r = score(analysis([], tokens=1234, calls=2), lab)
    assert (r.metrics.tokens_per_article, r.metrics.calls_per_article) == (1234, 2)


def test_match_article_is_deterministic() -> None:
    lab = label([gpos("Alice Smith", "bridge plan", "oppose", Q_ALICE)] * 3)
    pred = analysis([pos("Alice Smith", "bridge plan", "oppose", Q_ALICE)] * 3)
    first = match_article(pred, lab, TEXT)
    again = match_article(pred, lab, TEXT)
    assert [(p.pred, p.gold) for p in first.pairs] == [(0, 0), (1, 1), (2, 2)]
    assert first.decisions == again.decisions


# --------------------------------------------------------------------------- key facts


@pytest.mark.parametrize(
    ("word", "expected"),
    [("monitoring", "monitor"), ("monitored", "monitor"), ("monitors", "monitor"),
     ("proposes", "propos"), ("propose", "propos"), ("countries", "country"), ("us", "us"),
     ("reckless", "reckless"), ("crisis", "crisis"), ("2024", "2024")],
)  # fmt: skip
def test_stem(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_content_tokens_drop_stopwords_and_possessives() -> None:
    assert content_tokens("The EU's plan was said to be reckless") == ["eu", "plan", "reckless"]


SUMMARY = "Trump proposed that EU countries send peacekeepers to monitor a ceasefire in Ukraine."


@pytest.mark.parametrize(
    ("fact", "threshold", "covered"),
    [
        ("Trump proposed that EU members send peacekeepers to Ukraine", 0.6, True),  # 6 of 7
        ("Trump proposed that EU members send peacekeepers to Ukraine", 0.9, False),
        ("No US troops would be involved in monitoring a ceasefire", 0.6, False),  # 2 of 5
        ("Russia considers Ukraine's NATO membership unacceptable", 0.6, False),  # 1 of 6
        ("Ceasefire monitoring", 0.6, True),
        ("the of and", 0.6, None),  # no content words: not scored
    ],
)
def test_lexical_coverage(fact: str, threshold: float, covered: bool | None) -> None:
    assert lexical_coverage(SUMMARY, [fact], threshold=threshold) == [covered]


def test_key_points_count_toward_coverage() -> None:
    lab = label([], key_facts=["No US troops would be involved in monitoring a ceasefire"])
    bare = score(analysis([], summary=SUMMARY), lab)
    with_points = score(analysis([], summary=SUMMARY, key_points=["No US troops involved."]), lab)
    assert bare.metrics.key_fact_coverage == 0.0
    assert with_points.metrics.key_fact_coverage == 1.0
    assert with_points.key_facts == [
        ("No US troops would be involved in monitoring a ceasefire", True)
    ]


def test_judge_hook_replaces_the_lexical_test() -> None:
    seen: list[tuple[str, list[str]]] = []

    def judge(summary: str, facts: list[str]) -> list[bool]:
        seen.append((summary, facts))
        return [True] * len(facts)

    lab = label([], key_facts=["Russia considers Ukraine's NATO membership unacceptable"])
    r = score(analysis([], summary="Nothing relevant.", key_points=["kp"]), lab, judge=judge)
    assert r.metrics.key_fact_coverage == 1.0
    assert seen == [
        ("Nothing relevant.\nkp", ["Russia considers Ukraine's NATO membership unacceptable"])
    ]
    with pytest.raises(ValueError, match="2 flags for 1 facts"):
        fact_coverage("s", ["f"], judge=lambda s, f: [True, False])


# --------------------------------------------------------------------------- corpus, CIs


def _counts(tp: int, fp: int, fn: int, tokens: int = 0) -> Counts:
    return Counts(articles=1, position_tp=tp, position_fp=fp, position_fn=fn, tokens=tokens)


def test_pool_is_a_micro_average() -> None:
    total = pool([_counts(1, 0, 0, 10), _counts(0, 3, 3, 30)])
    m = metrics_from_counts(total)
    assert m.position_precision == pytest.approx(1 / 4)  # not the mean of 1.0 and 0.0
    assert m.tokens_per_article == 20


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    per = [_counts(1, 0, 0), _counts(1, 1, 0), _counts(0, 1, 1), _counts(2, 0, 1)] * 3
    a = bootstrap_ci(per, resamples=300, seed=0)
    b = bootstrap_ci(per, resamples=300, seed=0)
    c = bootstrap_ci(per, resamples=300, seed=1)
    assert a == b and a != c
    point = metrics_from_counts(pool(per)).position_precision
    lo, hi = a["position_precision"]  # type: ignore[misc]
    assert lo < point < hi
    assert a["stance_accuracy"] is None  # no matched stances anywhere: undefined
    assert a["tokens_per_article"] == (0.0, 0.0)


def test_percentile_interpolates() -> None:
    assert percentile([0.0, 10.0], 0.25) == 2.5
    assert percentile([1.0, 2.0, 3.0], 0.5) == 2.0


@pytest.mark.parametrize(
    ("metric", "old", "ci", "new", "regression"),
    [
        ("position_f1", 0.70, [0.60, 0.80], 0.62, False),  # within half-width 0.10
        ("position_f1", 0.70, [0.60, 0.80], 0.55, True),  # dropped 0.15 > 0.10
        ("position_f1", 0.70, [0.60, 0.80], 0.90, False),  # improvement
        ("position_f1", 0.70, None, 0.69, True),  # no interval: any drop
        ("tokens_per_article", 1000.0, [900.0, 1100.0], 1200.0, True),  # cost went up
        ("tokens_per_article", 1000.0, [900.0, 1100.0], 500.0, False),
    ],
)
def test_regression_rule(
    metric: str, old: float, ci: list[float] | None, new: float, regression: bool
) -> None:
    deltas = compute_deltas(Metrics(**{metric: new}), {metric: old}, {metric: ci})
    assert deltas[metric].regression is regression
    assert deltas[metric].delta == pytest.approx(new - old)
    assert set(deltas) == {metric}  # metrics missing on either side are not compared
