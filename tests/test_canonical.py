"""Canonical parties and topics across articles, and the merge log that explains them."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_compare import article, party, position

from stance.compare import Comparison, compare, load_aliases, load_metonyms, name_key, topic_key
from stance.compare.names import stage_rule
from stance.compare.topics import stem
from stance.errors import ConfigError
from stance.schema import ArticleAnalysis

T = "European troops monitoring a Ukraine ceasefire"


def canonical(c: Comparison, aid: str, name: str) -> str | None:
    return c.canonical_party(aid, name)


def merge_for(c: Comparison, variant: str, kind: str = "party") -> list[tuple[str, str, str]]:
    return [(m.to, m.rule, m.source) for m in c.merges if m.from_ == variant and m.kind == kind]


# --------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("a", "b", "rule"),
    [
        ("Donald Trump", "Donald Trump", "exact"),
        ("NATO", "Nato", "case"),
        ("the Kremlin", "Kremlin", "case"),
        ("Élysée", "Elysee", "case"),
        ("President Emmanuel Macron", "Emmanuel Macron", "honorific"),
        ("Mr. Trump", "Trump", "honorific"),
        ("Vladimir V. Putin", "Vladimir Putin", "initials"),
        ("Jane Smith", "John Smith", ""),
        ("State Department", "Defense Department", ""),
    ],
)
def test_stage_rule(a: str, b: str, rule: str) -> None:
    assert stage_rule(a, b) == rule


def test_organisations_keep_their_title_like_words() -> None:
    assert name_key("State Department").key == "state department"
    assert name_key("Foreign Ministry", person_like=False).key == "foreign ministry"
    assert name_key("Foreign Minister Sergey Lavrov").key == "sergey lavrov"


@pytest.mark.parametrize(
    ("word", "stemmed"),
    [
        ("policies", "policy"),
        ("talks", "talk"),
        ("taxes", "tax"),
        ("us", "us"),
        ("crisis", "crisis"),
        ("troops", "troop"),
        ("guarantees", "guarantee"),
        ("gas", "gas"),
        ("status", "status"),
    ],
)
def test_stem(word: str, stemmed: str) -> None:
    assert stem(word) == stemmed


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Ukraine's NATO membership", "NATO membership for Ukraine", True),
        ("Sanctions on Russia", "sanctions on russia", True),
        ("security guarantees", "Security guarantee", True),
        ("NATO", "NATO membership", False),
        ("ceasefire in Gaza", "ceasefire in Ukraine", False),
    ],
)
def test_topic_key(a: str, b: str, same: bool) -> None:
    assert (topic_key(a) == topic_key(b)) is same


# --------------------------------------------------------------------------- party rules


def test_alias_seen_in_the_article() -> None:
    c = compare(
        [article("a", [party("Vladimir Putin", aliases=["Putin"])], [position("Putin", T)])]
    )
    assert canonical(c, "a", "Putin") == "Vladimir Putin"
    assert merge_for(c, "Putin") == [("Vladimir Putin", "alias", "rules")]
    assert [p.name for p in c.parties] == ["Vladimir Putin"]


def test_alias_claimed_by_two_parties_is_not_used() -> None:
    c = compare(
        [
            article(
                "a",
                [
                    party("Joe Biden", aliases=["the president"]),
                    party("Emmanuel Macron", aliases=["the president"]),
                ],
                [position("the president", T)],
            )
        ]
    )
    assert canonical(c, "a", "the president") == "the president"
    assert any("claimed by several parties" in w for w in c.warnings)


def test_honorific_and_case_across_articles() -> None:
    c = compare(
        [
            article("a", [party("Emmanuel Macron")], [position("Emmanuel Macron", T)]),
            article(
                "b",
                [party("President Emmanuel Macron")],
                [position("President Emmanuel Macron", T)],
            ),
            article("c", [party("EMMANUEL MACRON")], [position("EMMANUEL MACRON", T)]),
        ]
    )
    assert {
        canonical(c, a, n)
        for a, n in [
            ("a", "Emmanuel Macron"),
            ("b", "President Emmanuel Macron"),
            ("c", "EMMANUEL MACRON"),
        ]
    } == {"Emmanuel Macron"}
    assert merge_for(c, "President Emmanuel Macron") == [("Emmanuel Macron", "honorific", "rules")]
    assert merge_for(c, "EMMANUEL MACRON") == [("Emmanuel Macron", "case", "rules")]


def test_title_before_a_full_name() -> None:
    c = compare(
        [
            article("a", [party("Donald Trump")], [position("Donald Trump", T)]),
            article(
                "b",
                [party("US President-elect Donald Trump")],
                [position("US President-elect Donald Trump", T)],
            ),
        ]
    )
    assert canonical(c, "b", "US President-elect Donald Trump") == "Donald Trump"
    assert merge_for(c, "US President-elect Donald Trump") == [("Donald Trump", "title", "rules")]


@pytest.mark.parametrize("variant", ["Moscow", "the Kremlin", "Kremlin", "Russian Federation"])
def test_country_metonyms(variant: str) -> None:
    c = compare(
        [
            article("a", [party("Russia", "country")], [position("Russia", T, "oppose")]),
            article("b", [party(variant, "organisation")], [position(variant, T, "oppose")]),
        ]
    )
    assert canonical(c, "b", variant) == "Russia"
    assert merge_for(c, variant) == [("Russia", "metonym", "rules")]
    russia = next(p for p in c.parties if p.name == "Russia")
    assert russia.type == "country"


def test_metonym_names_the_country_even_when_no_article_does() -> None:
    c = compare([article("a", [party("Moscow", "country")], [position("Moscow", T, "oppose")])])
    assert [p.name for p in c.parties] == ["Russia"]
    assert merge_for(c, "Moscow") == [("Russia", "metonym", "rules")]


def test_a_person_is_never_a_metonym() -> None:
    c = compare([article("a", [party("Washington", "person")], [position("Washington", T)])])
    assert [p.name for p in c.parties] == ["Washington"]


def test_surname_within_an_article() -> None:
    c = compare(
        [
            article(
                "a",
                [party("Helen Marsh")],
                [position("Marsh", T), position("Ms Marsh", "Russian veto")],
            )
        ]
    )
    assert canonical(c, "a", "Marsh") == "Helen Marsh"
    assert canonical(c, "a", "Ms Marsh") == "Helen Marsh"
    assert merge_for(c, "Marsh") == [("Helen Marsh", "surname", "rules")]


def test_surname_across_articles_when_unambiguous() -> None:
    c = compare(
        [
            article("a", [party("Helen Marsh")], [position("Helen Marsh", T)]),
            article("b", [party("Marsh")], [position("Marsh", T, "oppose")]),
        ]
    )
    assert canonical(c, "b", "Marsh") == "Helen Marsh"
    (m,) = [m for m in c.merges if m.from_ == "Marsh"]
    assert (m.rule, m.articles) == ("surname", ["b"])
    assert "corpus" in m.detail


def test_two_people_sharing_a_surname_are_never_merged() -> None:
    c = compare(
        [
            article(
                "a",
                [party("John Smith")],
                [position("John Smith", T, "support"), position("Smith", "tariffs")],
            ),
            article(
                "b",
                [party("Jane Smith")],
                [position("Jane Smith", T, "oppose"), position("Smith", "tariffs")],
            ),
            article("c", [party("Smith")], [position("Smith", T, "mixed")]),
            article("d", [party("Smith")], [position("Smith", T, "mixed")]),
        ]
    )
    assert canonical(c, "a", "Smith") == "John Smith"
    assert canonical(c, "b", "Smith") == "Jane Smith"
    assert canonical(c, "c", "Smith") == "Smith"
    assert canonical(c, "d", "Smith") == "Smith"
    assert {p.name for p in c.parties} == {"John Smith", "Jane Smith", "Smith"}
    assert c.cell("John Smith", T) is not None and c.cell("Jane Smith", T) is not None
    assert any("several people share that surname" in w for w in c.warnings)
    assert not any(
        m.from_ == "Jane Smith" or m.to == "Smith" and m.from_ != "Smith" for m in c.merges
    )


def test_ambiguous_surname_within_one_article_is_left_alone() -> None:
    c = compare(
        [
            article(
                "a",
                [party("John Smith"), party("Jane Smith")],
                [
                    position("John Smith", T),
                    position("Jane Smith", T),
                    position("Smith", T, "oppose"),
                ],
            )
        ]
    )
    assert canonical(c, "a", "Smith") == "Smith"
    assert any("could be any of Jane Smith, John Smith" in w for w in c.warnings)


# ---------------------------------------------------------------- user aliases and the model


def test_user_aliases_override_the_rules(tmp_path: Path) -> None:
    f = tmp_path / "aliases.yml"
    f.write_text(
        "parties:\n"
        "  Russian government: [Kremlin]\n"
        "  Adam Smith: [Smith]\n"
        "topics:\n"
        "  European troops in Ukraine: [European peacekeepers, " + T + "]\n",
        encoding="utf-8",
    )
    analyses = [
        article(
            "a",
            [party("the Kremlin", "organisation"), party("Moscow", "country")],
            [
                position("the Kremlin", T, "oppose"),
                position("Moscow", "European peacekeepers", "oppose"),
            ],
        ),
        article("b", [party("John Smith")], [position("John Smith", T), position("Smith", T)]),
    ]
    c = compare(analyses, aliases=f)
    assert canonical(c, "a", "the Kremlin") == "Russian government"  # not Russia
    assert canonical(c, "a", "Moscow") == "Russia"  # the table still applies elsewhere
    assert canonical(c, "b", "Smith") == "Adam Smith"  # not John Smith
    assert merge_for(c, "the Kremlin") == [("Russian government", "user_alias", "user")]
    assert c.canonical_topic("a", "European peacekeepers") == "European troops in Ukraine"
    assert c.canonical_topic("b", T) == "European troops in Ukraine"
    assert ("European troops in Ukraine", "user_alias", "user") in merge_for(
        c, "European peacekeepers", "topic"
    )
    # the same table as a mapping gives the same result
    assert compare(analyses, aliases=load_aliases(f)) == c


def test_two_user_canonicals_never_merge() -> None:
    aliases: dict[str, dict[str, list[str]]] = {
        "parties": {"Donald Trump": [], "President Trump": []}
    }
    c = compare(
        [
            article(
                "a",
                [party("Donald Trump")],
                [position("Donald Trump", T), position("President Trump", T)],
            )
        ],
        aliases=aliases,
        llm_merge=lambda names, kind: {"President Trump": "Donald Trump"},
    )
    assert canonical(c, "a", "President Trump") == "President Trump"
    assert {p.name for p in c.parties} == {"Donald Trump", "President Trump"}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("- a list\n", "expected a mapping"),
        ("parties: [x]\n", "must be a mapping"),
        ("parties:\n  A: [x]\n  B: [X]\n", "listed under both"),
        ("parties:\n  A: [1]\n", "list of strings"),
        ("parties: {a: [b]\n", "not valid YAML"),
    ],
)
def test_bad_alias_files(tmp_path: Path, text: str, error: str) -> None:
    f = tmp_path / "aliases.yml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=error):
        load_aliases(f)


def test_flat_alias_file_applies_to_parties_and_topics(tmp_path: Path) -> None:
    f = tmp_path / "aliases.json"
    f.write_text('{"Russia": ["Moskva"], "troops": ["soldiers"]}', encoding="utf-8")
    aliases = load_aliases(f)
    assert aliases.parties == aliases.topics == {"Russia": ["Moskva"], "troops": ["soldiers"]}


def test_llm_merge_hook_is_called_once_per_kind_and_logged() -> None:
    calls: list[tuple[list[str], str]] = []

    def hook(names: list[str], kind: str) -> dict[str, str]:
        calls.append((names, kind))
        if kind == "party":
            return {"Zelenskyy": "Volodymyr Zelensky", "not a name": "x"}
        return {"peacekeepers": "a brand new name"}

    analyses = [
        article("a", [party("Volodymyr Zelensky")], [position("Volodymyr Zelensky", T)]),
        article("b", [party("Zelenskyy")], [position("Zelenskyy", "peacekeepers")]),
    ]
    rules_only = compare(analyses)
    assert canonical(rules_only, "b", "Zelenskyy") == "Zelenskyy"

    c = compare(analyses, llm_merge=hook)
    assert [kind for _, kind in calls] == ["party", "topic"]
    assert calls[0][0] == ["Volodymyr Zelensky", "Zelenskyy"]
    assert canonical(c, "b", "Zelenskyy") == "Volodymyr Zelensky"
    assert merge_for(c, "Zelenskyy") == [("Volodymyr Zelensky", "model", "model")]
    assert c.canonical_topic("b", "peacekeepers") == "a brand new name"
    assert merge_for(c, "peacekeepers", "topic") == [("a brand new name", "model", "model")]


def test_a_failing_hook_leaves_the_rules_result() -> None:
    def hook(names: list[str], kind: str) -> dict[str, str]:
        raise RuntimeError("endpoint down")

    analyses = [article("a", [party("Helen Marsh")], [position("Marsh", T)])]
    c = compare(analyses, llm_merge=hook)
    assert canonical(c, "a", "Marsh") == "Helen Marsh"
    assert any("endpoint down" in w for w in c.warnings)


# --------------------------------------------------------------------------- topics


def test_topic_near_duplicates_merge_by_similarity() -> None:
    c = compare(
        [
            article("a", [party("Helen Marsh")], [position("Helen Marsh", T)]),
            article("b", [party("Helen Marsh")], [position("Helen Marsh", T)]),
            article(
                "c",
                [party("Julien Arnaud")],
                [position("Julien Arnaud", "European troops to monitor a ceasefire in Ukraine")],
            ),
            article(
                "d",
                [party("Julien Arnaud")],
                [position("Julien Arnaud", "European troops monitoring a Gaza ceasefire")],
            ),
            article("e", [party("Julien Arnaud")], [position("Julien Arnaud", "NATO")]),
            article("f", [party("Julien Arnaud")], [position("Julien Arnaud", "NATO membership")]),
        ]
    )
    assert c.canonical_topic("c", "European troops to monitor a ceasefire in Ukraine") == T
    (m,) = [m for m in c.merges if m.kind == "topic"]
    assert (m.from_, m.to, m.rule, m.articles) == (
        "European troops to monitor a ceasefire in Ukraine",
        T,
        "similarity",
        ["c"],
    )
    assert (
        c.canonical_topic("d", "European troops monitoring a Gaza ceasefire") != T
    )  # proper noun differs
    assert c.canonical_topic("f", "NATO membership") == "NATO membership"
    assert len(c.topics) == 4


def test_topic_threshold_is_configurable() -> None:
    analyses = [
        article("a", [party("Helen Marsh")], [position("Helen Marsh", T)]),
        article(
            "b",
            [party("Helen Marsh")],
            [position("Helen Marsh", "European troops to monitor a ceasefire in Ukraine")],
        ),
    ]
    assert len(compare(analyses).topics) == 1
    assert len(compare(analyses, topic_threshold=99).topics) == 2


def test_most_common_phrasing_names_the_topic() -> None:
    c = compare(
        [
            article("a", [party("X Y")], [position("X Y", "Sanctions on Russia")]),
            article("b", [party("X Y")], [position("X Y", "sanctions on Russia")]),
            article("c", [party("X Y")], [position("X Y", "sanctions on Russia")]),
        ]
    )
    assert [t.name for t in c.topics] == ["sanctions on Russia"]
    assert [v.name for v in c.topics[0].variants] == ["Sanctions on Russia", "sanctions on Russia"]


# --------------------------------------------------------------------------- the merge log


def _corpus() -> list[ArticleAnalysis]:
    return [
        article(
            "a",
            [
                party("Vladimir Putin", aliases=["Putin"]),
                party("Moscow", "country"),
                party("Helen Marsh"),
            ],
            [
                position("Putin", T, "oppose"),
                position("Moscow", "Ukraine's NATO membership", "oppose"),
                position("Marsh", T),
            ],
            date="2024-12-01",
        ),
        article(
            "b",
            [
                party("President Vladimir Putin"),
                party("the Kremlin", "organisation"),
                party("Mr Marsh"),
            ],
            [
                position(
                    "President Vladimir Putin",
                    "European troops to monitor a ceasefire in Ukraine",
                    "oppose",
                ),
                position("the Kremlin", "NATO membership for Ukraine", "oppose"),
                position("Mr Marsh", T, "neutral"),
            ],
        ),
    ]


def test_merge_log_explains_every_merge() -> None:
    c = compare(_corpus())
    logged = {(m.kind, m.from_, m.to): m for m in c.merges}
    explained = 0
    for entry in c.parties:
        for v in entry.variants:
            if v.name != entry.name:
                m = logged[("party", v.name, entry.name)]
                assert set(v.articles) <= set(m.articles)
                explained += 1
    for topic in c.topics:
        for v in topic.variants:
            if v.name != topic.name:
                m = logged[("topic", v.name, topic.name)]
                assert set(v.articles) <= set(m.articles)
                explained += 1
    assert explained == len(c.merges) == 8
    for m in c.merges:
        assert m.rule and m.detail and m.articles and m.source == "rules"
    rules = {m.from_: m.rule for m in c.merges}
    assert rules == {
        "Putin": "alias",
        "President Vladimir Putin": "honorific",
        "Moscow": "metonym",
        "the Kremlin": "metonym",
        "Marsh": "surname",
        "Mr Marsh": "surname",
        "European troops to monitor a ceasefire in Ukraine": "similarity",
        "NATO membership for Ukraine": "normalise",
    }


def test_comparison_is_deterministic() -> None:
    assert compare(_corpus()).model_dump_json() == compare(_corpus()).model_dump_json()


def test_metonym_table_ships_with_the_package(tmp_path: Path) -> None:
    table = load_metonyms()
    assert table["moscow"] == table["kremlin"] == "Russia"
    assert table["us"] == "United States"
    custom = tmp_path / "m.yml"
    custom.write_text("Atlantis: [Poseidonia]\n", encoding="utf-8")
    assert load_metonyms(custom) == {"atlantis": "Atlantis", "poseidonia": "Atlantis"}
    c = compare(
        [article("a", [party("Poseidonia", "country")], [position("Poseidonia", T)])],
        metonyms=custom,
    )
    assert [p.name for p in c.parties] == ["Atlantis"]
    bad = tmp_path / "bad.yml"
    bad.write_text("Atlantis: Poseidonia\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_metonyms(bad)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "Western security guarantees and reconstruction aid for Ukraine after the ceasefire",
            "Western security guarantees and reconstruction aid for Georgia after the ceasefire",
        ),
        (
            "Deployment of European peacekeeping troops to monitor a ceasefire in Ukraine",
            "Deployment of European peacekeeping troops to monitor a ceasefire in Gaza",
        ),
    ],
)
def test_similar_topics_that_differ_in_a_proper_noun_stay_apart(a: str, b: str) -> None:
    c = compare(
        [
            article("a", [party("Helen Marsh")], [position("Helen Marsh", a)]),
            article("b", [party("Helen Marsh")], [position("Helen Marsh", b)]),
        ]
    )
    assert len(c.topics) == 2
    assert not [m for m in c.merges if m.kind == "topic"]


def test_a_proper_noun_only_added_does_not_block_a_merge() -> None:
    c = compare(
        [
            article(
                "a",
                [party("Helen Marsh")],
                [position("Helen Marsh", "European troops monitoring a ceasefire")],
            ),
            article(
                "b",
                [party("Helen Marsh")],
                [position("Helen Marsh", "European troops monitoring a Ukraine ceasefire")],
            ),
        ]
    )
    assert len(c.topics) == 1
