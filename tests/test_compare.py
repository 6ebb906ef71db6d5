"""The comparison's findings (DESIGN.md §5) and `stance compare` (§10).

Analyses are built by hand with the small factory below (also used by test_canonical.py
and test_report.py), so every expectation is visible in the test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from stance.cli.compare import compare as compare_cmd
from stance.compare import Comparison, compare, compare_light, summarise
from stance.errors import InputError
from stance.schema import (
    ArticleAnalysis,
    ArticleRef,
    Attribution,
    Evidence,
    GroundingStatus,
    Party,
    PartyType,
    Position,
    Provenance,
    Stance,
    Summary,
)

# --------------------------------------------------------------------------- factory


def party(
    name: str, type: PartyType = "person", aliases: Sequence[str] = (), role: str | None = None
) -> Party:
    return Party(name=name, type=type, aliases=list(aliases), role=role)


def position(
    party: str,
    topic: str,
    stance: Stance = "support",
    *,
    quote: str | None = None,
    attribution: Attribution = "direct_quote",
    status: GroundingStatus = "exact",
    text: str | None = None,
) -> Position:
    quote = quote if quote is not None else f"{party} quote on {topic}"
    return Position(
        party=party,
        topic=topic,
        position=text or f"{party} takes a {stance} view of {topic}.",
        stance=stance,
        attribution=attribution,
        evidence=[Evidence(quote=quote, status=status, start=0, end=len(quote))],
    )


def article(
    aid: str,
    parties: Sequence[Party] = (),
    positions: Sequence[Position] = (),
    *,
    date: str | None = None,
    outlet: str | None = None,
    title: str | None = None,
    url: str | None = None,
    summary: str = "A summary.",
    model: str = "test-model",
) -> ArticleAnalysis:
    return ArticleAnalysis(
        article=ArticleRef(
            id=aid,
            title=title or f"Article {aid}",
            source=outlet,
            published=date,
            url=url,
            content_hash="0" * 64,
        ),
        summary=Summary(text=summary, key_points=["one point"]),
        parties=list(parties),
        positions=list(positions),
        provenance=Provenance(model=model, backend="baseline", stance_version="0.1.0"),
    )


T = "European troops monitoring a Ukraine ceasefire"
N = "Ukraine's NATO membership"


# --------------------------------------------------------------------------- matrix


@pytest.mark.parametrize(
    ("stances", "expected"),
    [
        (["support"], "support"),
        (["support", "support"], "support"),
        (["support", "neutral"], "support"),
        (["oppose", "neutral"], "oppose"),
        (["support", "oppose"], "mixed"),
        (["mixed"], "mixed"),
        (["support", "mixed"], "mixed"),
        (["neutral", "neutral"], "neutral"),
    ],
)
def test_summarise_stances(stances: list[Stance], expected: Stance) -> None:
    assert summarise(stances) == expected


def test_matrix_cell_counts_and_evidence() -> None:
    c = compare(
        [
            article(
                "a1",
                [party("Helen Marsh")],
                [position("Helen Marsh", T, "support")],
                date="2024-12-01",
            ),
            article(
                "a2",
                [party("Helen Marsh")],
                [position("Helen Marsh", T, "oppose")],
                date="2024-12-02",
            ),
            article(
                "a3",
                [party("Helen Marsh")],
                [position("Helen Marsh", T, "neutral")],
                date="2024-12-03",
            ),
        ]
    )
    cell = c.cell("Helen Marsh", T)
    assert cell is not None
    assert cell.stance == "mixed"
    assert cell.counts == {"support": 1, "oppose": 1, "mixed": 0, "neutral": 1}
    assert cell.n == 3
    assert cell.articles == ["a1", "a2", "a3"]
    assert [e.article_id for e in cell.evidence] == ["a1", "a2", "a3"]


# --------------------------------------------------------------------------- findings


def test_conflict_names_both_sides_with_evidence() -> None:
    c = compare(
        [
            article(
                "uk",
                [party("Helen Marsh")],
                [position("Helen Marsh", T, "support", quote="Britain is ready to play its part")],
                date="2024-12-27",
                outlet="The Meridian Post",
            ),
            article(
                "ru",
                [party("Maria Zakharova")],
                [position("Maria Zakharova", T, "oppose", quote="unacceptable to us")],
                date="2024-12-26",
                outlet="Northern Ledger",
            ),
            article("x", [party("Irene Solberg")], [position("Irene Solberg", T, "neutral")]),
        ]
    )
    assert len(c.conflicts) == 1
    conflict = c.conflicts[0]
    assert conflict.topic == T
    assert conflict.supporters == ["Helen Marsh"]
    assert conflict.opponents == ["Maria Zakharova"]
    assert "Irene Solberg" not in conflict.parties
    by_party = {e.party: e for e in conflict.evidence}
    assert by_party["Maria Zakharova"].model_dump(
        include={"article_id", "date", "outlet", "stance", "quote"}
    ) == {
        "article_id": "ru",
        "date": "2024-12-26",
        "outlet": "Northern Ledger",
        "stance": "oppose",
        "quote": "unacceptable to us",
    }
    assert by_party["Helen Marsh"].quote == "Britain is ready to play its part"


def test_no_conflict_when_everyone_agrees() -> None:
    c = compare(
        [
            article("a", [party("Helen Marsh")], [position("Helen Marsh", T, "support")]),
            article("b", [party("Julien Arnaud")], [position("Julien Arnaud", T, "support")]),
        ]
    )
    assert c.conflicts == []
    assert len(c.agreements) == 1
    agreement = c.agreements[0]
    assert (agreement.topic, agreement.stance) == (T, "support")
    assert agreement.parties == ["Helen Marsh", "Julien Arnaud"]
    assert {e.article_id for e in agreement.evidence} == {"a", "b"}


def test_agreement_needs_two_parties_with_the_same_clear_stance() -> None:
    c = compare(
        [
            article("a", [party("Helen Marsh")], [position("Helen Marsh", T, "neutral")]),
            article("b", [party("Julien Arnaud")], [position("Julien Arnaud", T, "neutral")]),
            article("c", [party("Irene Solberg")], [position("Irene Solberg", N, "oppose")]),
        ]
    )
    assert c.agreements == []


def test_shift_ordered_by_date_not_input_order() -> None:
    lavrov = [party("Sergey Lavrov")]
    c = compare(
        [
            article(
                "late",
                lavrov,
                [position("Sergey Lavrov", T, "oppose", quote="never")],
                date="2025-01-10",
                outlet="B",
            ),
            article(
                "early",
                lavrov,
                [position("Sergey Lavrov", T, "support", quote="perhaps")],
                date="2024-11-01",
                outlet="A",
            ),
            article(
                "mid",
                lavrov,
                [position("Sergey Lavrov", T, "support", quote="maybe")],
                date="2024-12-01",
                outlet="C",
            ),
        ]
    )
    assert len(c.shifts) == 1
    shift = c.shifts[0]
    assert (shift.party, shift.topic) == ("Sergey Lavrov", T)
    assert (shift.from_stance, shift.to_stance) == ("support", "oppose")
    assert (shift.before.article_id, shift.before.date, shift.before.outlet) == (
        "mid",
        "2024-12-01",
        "C",
    )
    assert (shift.after.article_id, shift.after.date, shift.after.quote) == (
        "late",
        "2025-01-10",
        "never",
    )
    assert shift.dated is True
    assert [e.article_id for e in shift.evidence] == ["mid", "late"]


def test_shift_back_and_forth_is_two_shifts() -> None:
    p = [party("Sergey Lavrov")]
    c = compare(
        [
            article("a", p, [position("Sergey Lavrov", T, "support")], date="2024-01-01"),
            article("b", p, [position("Sergey Lavrov", T, "oppose")], date="2024-02-01"),
            article("c", p, [position("Sergey Lavrov", T, "support")], date="2024-03-01"),
        ]
    )
    assert [(s.before.article_id, s.after.article_id) for s in c.shifts] == [("a", "b"), ("b", "c")]


def test_undated_article_goes_last_and_is_flagged() -> None:
    p = [party("Sergey Lavrov")]
    c = compare(
        [
            article("nodate", p, [position("Sergey Lavrov", T, "oppose")], date=None),
            article("garbled", p, [position("Sergey Lavrov", T, "oppose")], date="last Tuesday"),
            article("dated", p, [position("Sergey Lavrov", T, "support")], date="2024-12-01"),
        ]
    )
    assert len(c.shifts) == 1
    assert c.shifts[0].before.article_id == "dated"
    assert c.shifts[0].after.article_id == "garbled"
    assert c.shifts[0].dated is False


def test_same_stance_in_two_articles_is_not_a_shift() -> None:
    p = [party("Sergey Lavrov")]
    c = compare(
        [
            article("a", p, [position("Sergey Lavrov", T, "oppose")], date="2024-01-01"),
            article("b", p, [position("Sergey Lavrov", T, "oppose")], date="2024-02-01"),
        ]
    )
    assert c.shifts == []


def test_voice_gap_named_in_others_evidence() -> None:
    c = compare(
        [
            article(
                "a",
                [party("Maria Zakharova"), party("Helen Marsh")],
                [
                    position(
                        "Maria Zakharova",
                        T,
                        "oppose",
                        quote="Helen Marsh does not speak for Europe",
                    )
                ],
            ),
            article("b", [party("Helen Marsh")], [position("Helen Marsh", N, "support")]),
        ]
    )
    gaps = {(g.party, g.topic): g for g in c.voice_gaps}
    gap = gaps[("Helen Marsh", T)]
    assert "named_in_evidence" in gap.reasons
    assert gap.articles == ["a"]
    assert gap.evidence[0].party == "Maria Zakharova"
    assert ("Maria Zakharova", T) not in gaps  # she has her own voice on it


def test_voice_gap_listed_without_position_and_only_characterised() -> None:
    c = compare(
        [
            article(
                "a",
                [party("Maria Zakharova"), party("Turkey", "country"), party("Russia", "country")],
                [
                    position("Maria Zakharova", T, "oppose"),
                    position("Russia", N, "oppose", attribution="characterisation"),
                ],
            ),
        ]
    )
    gaps = {(g.party, g.topic): g for g in c.voice_gaps}
    assert gaps[("Turkey", T)].reasons == ["listed_without_position"]
    assert gaps[("Russia", N)].reasons == ["only_characterised"]
    assert ("Maria Zakharova", T) not in gaps
    assert "characterised" in gaps[("Russia", N)].detail


def test_party_quoted_elsewhere_on_the_topic_has_no_gap() -> None:
    c = compare(
        [
            article(
                "a",
                [party("Maria Zakharova"), party("Turkey", "country")],
                [position("Maria Zakharova", T, "oppose")],
            ),
            article("b", [party("Turkey", "country")], [position("Turkey", T, "neutral")]),
        ]
    )
    assert ("Turkey", T) not in {(g.party, g.topic) for g in c.voice_gaps}


def test_coverage_by_outlet_with_unknown_outlet_last() -> None:
    c = compare(
        [
            article("a", [party("Helen Marsh")], [position("Helen Marsh", T)], outlet="Post"),
            article(
                "b",
                [party("Helen Marsh")],
                [position("Helen Marsh", N, "oppose", status="not_found")],
                outlet="Post",
            ),
            article("c", [party("Julien Arnaud")], [position("Julien Arnaud", T)], outlet=None),
            article("d", [party("Julien Arnaud")], [position("Julien Arnaud", T)], outlet="Herald"),
        ]
    )
    assert [(o.outlet, o.known, o.articles) for o in c.coverage] == [
        ("Post", True, ["a", "b"]),
        ("Herald", True, ["d"]),
        ("unknown", False, ["c"]),
    ]
    post = c.coverage[0]
    assert post.n_positions == 2
    assert post.grounded == 1
    assert post.parties == {"Helen Marsh": 2}
    assert post.stances == {"support": 1, "oppose": 1, "mixed": 0, "neutral": 0}


def test_comparison_json_contract() -> None:
    c = compare(
        [
            article(
                "a",
                [party("Helen Marsh", aliases=["Marsh"])],
                [position("Marsh", T, "support")],
                date="2024-12-01",
                outlet="Post",
            ),
            article("b", [party("Maria Zakharova")], [position("Maria Zakharova", T, "oppose")]),
        ]
    )
    data = json.loads(c.model_dump_json())
    for key in (
        "parties",
        "topics",
        "matrix",
        "agreements",
        "conflicts",
        "shifts",
        "voice_gaps",
        "coverage",
        "merges",
    ):
        assert key in data
    marsh = next(p for p in data["parties"] if p["name"] == "Helen Marsh")
    assert {"name": "Marsh", "articles": ["a"]} in marsh["variants"]
    assert data["merges"][0]["from"] == "Marsh" and data["merges"][0]["to"] == "Helen Marsh"
    evidence = data["conflicts"][0]["evidence"][0]
    assert {"article_id", "date", "outlet", "stance", "quote", "party", "topic"} <= set(evidence)
    # and it round-trips
    assert Comparison.model_validate_json(c.model_dump_json()) == c


def test_duplicate_article_ids_keep_the_first() -> None:
    c = compare(
        [
            article("a", [party("Helen Marsh")], [position("Helen Marsh", T, "support")]),
            article("a", [party("Helen Marsh")], [position("Helen Marsh", T, "oppose")]),
        ]
    )
    assert c.matrix[0].counts["support"] == 1 and c.matrix[0].n == 1
    assert any("duplicate id" in w for w in c.warnings)


def test_empty_corpus_and_empty_names() -> None:
    assert compare([]).matrix == []
    c = compare([article("a", [party("  ")], [position("", T), position("Helen Marsh", " ")])])
    assert c.matrix == []
    assert any("without a party or topic" in w for w in c.warnings)


def _mixed_corpus() -> list[ArticleAnalysis]:
    """Aliases, a metonym, a surname, a duplicate id, conflicts, shifts and a voice gap."""
    return [
        article(
            "a",
            [party("Helen Marsh", aliases=["Marsh"]), party("Turkey", "country")],
            [
                position("Marsh", T, "support", quote="ready to play its part"),
                position("Helen Marsh", N, "oppose", quote="not now", status="not_found"),
            ],
            date="2024-12-01",
            outlet="Post",
        ),
        article(
            "b",
            [party("Moscow", "country"), party("Maria Zakharova")],
            [
                position("Moscow", T, "oppose", attribution="characterisation"),
                position("Maria Zakharova", N, "support", quote="Turkey agrees"),
            ],
            date="2024-12-02",
            outlet="Ledger",
        ),
        article("c", [party("Mrs Helen Marsh")], [position("Mrs Helen Marsh", T, "oppose")]),
        article("a", [party("Someone Else")], [position("Someone Else", T)]),
    ]


@pytest.mark.parametrize("spill_after", [0, 1, 20_000])
@pytest.mark.parametrize("source", ["list", "generator"])
def test_compare_reads_a_generator_and_spills_texts_with_the_same_result(
    source: str, spill_after: int
) -> None:
    analyses = _mixed_corpus()
    expected = compare(analyses)
    assert expected.conflicts and expected.shifts and expected.voice_gaps  # all exercised

    items = iter(analyses) if source == "generator" else analyses
    with compare_light(items, spill_after=spill_after) as light:
        assert light.to_model() == expected
        spilled = light.texts._file is not None
    assert spilled == (spill_after < 6)  # six positions read
    assert compare(a for a in analyses) == expected


def test_compare_reads_a_generator_once() -> None:
    reads = 0

    def stored() -> Iterator[ArticleAnalysis]:
        nonlocal reads
        for a in _mixed_corpus():
            reads += 1
            yield a

    c = compare(stored())
    assert reads == 4
    assert [a.id for a in c.articles] == ["a", "b", "c"]
    assert c.matrix[0].evidence[0].quote is not None


def test_compare_reads_a_reusable_source_twice_names_then_positions() -> None:
    class Source:
        def __init__(self) -> None:
            self.passes = 0

        def __iter__(self) -> Iterator[ArticleAnalysis]:
            self.passes += 1
            return iter(_mixed_corpus())

    source = Source()
    with compare_light(source) as light:
        assert light.to_model() == compare(_mixed_corpus())
    assert source.passes == 2


# --------------------------------------------------------------------------- CLI


def _write_run(
    folder: Path, analyses: Sequence[ArticleAnalysis], manifest: dict[str, object] | None
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for a in analyses:
        (folder / f"{a.article.id}.json").write_text(a.model_dump_json(indent=2), encoding="utf-8")
    if manifest is not None:
        (folder / "run.json").write_text(json.dumps(manifest), encoding="utf-8")


def test_cli_compare_rebuilds_reports_and_warns_on_bad_files(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _write_run(
        run,
        [
            article(
                "uk",
                [party("Helen Marsh")],
                [position("Helen Marsh", T, "support")],
                date="2024-12-27",
            ),
            article(
                "ru",
                [party("Moscow", "country")],
                [position("Moscow", T, "oppose")],
                date="2024-12-26",
            ),
        ],
        {
            "model": "gpt-test",
            "failures": [{"article_id": "bad", "path": "bad.txt", "message": "empty file"}],
        },
    )
    (run / "notes.json").write_text('{"hello": "world"}', encoding="utf-8")
    (run / "broken.json").write_text("{not json", encoding="utf-8")
    (run / "comparison.json").write_text("{}", encoding="utf-8")  # an old one: not an article

    result = CliRunner().invoke(compare_cmd, [str(run)])

    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 2
    assert any("notes.json" in w for w in warnings) and any("broken.json" in w for w in warnings)
    assert not any("comparison.json" in w or "run.json" in w for w in warnings)
    for name in ("report.md", "report.html", "comparison.json", "matrix.csv", "merge_log.jsonl"):
        assert (run / name).is_file(), name
    data = json.loads((run / "comparison.json").read_text(encoding="utf-8"))
    assert data["conflicts"][0]["supporters"] == ["Helen Marsh"]
    assert data["conflicts"][0]["opponents"] == ["Russia"]
    md = (run / "report.md").read_text(encoding="utf-8")
    assert "gpt-test" in md and "empty file" in md


def test_cli_compare_several_runs_output_and_aliases(tmp_path: Path) -> None:
    _write_run(
        tmp_path / "r1", [article("a", [party("Helen Marsh")], [position("Helen Marsh", T)])], None
    )
    _write_run(
        tmp_path / "r2",
        [
            article("b", [party("H. Marsh")], [position("H. Marsh", T, "oppose")]),
            article("a", [party("Someone Else")], [position("Someone Else", T)]),
        ],
        None,
    )
    aliases = tmp_path / "aliases.yml"
    aliases.write_text("parties:\n  Helen Marsh: [H. Marsh]\n", encoding="utf-8")
    out = tmp_path / "out"

    result = CliRunner().invoke(
        compare_cmd,
        [str(tmp_path / "r1"), str(tmp_path / "r2"), "-o", str(out), "--aliases", str(aliases)],
    )

    assert result.exit_code == 0, result.output
    assert "already read from" in result.stderr  # the second "a"
    data = json.loads((out / "comparison.json").read_text(encoding="utf-8"))
    assert [p["name"] for p in data["parties"]] == ["Helen Marsh"]
    assert data["matrix"][0]["stance"] == "mixed"
    assert data["matrix"][0]["articles"] == ["a", "b"]
    assert any(m["rule"] == "user_alias" for m in data["merges"])
    assert not (tmp_path / "r1" / "report.md").exists()


def test_cli_compare_without_analyses_fails(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(compare_cmd, [str(tmp_path / "empty")])
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError)


def test_cli_group_registers_compare(tmp_path: Path) -> None:
    from stance.cli import cli

    _write_run(
        tmp_path / "r", [article("a", [party("Helen Marsh")], [position("Helen Marsh", T)])], None
    )
    result = CliRunner().invoke(cli, ["compare", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r" / "report.html").is_file()
    empty = tmp_path / "e"
    empty.mkdir()
    result = CliRunner().invoke(cli, ["compare", str(empty)])
    assert result.exit_code == 1
    assert "no article analyses" in result.stderr
