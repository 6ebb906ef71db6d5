"""RunWriter.finish rebuilds everything from the stored articles without holding them all.

Memory itself is measured in benchmarks/ (DESIGN.md §8), never here: these tests pin down
the behaviour that keeps it flat — the stored articles are re-read in passes, the reports
read back only what they show in full — and that the result is what the in-memory path
gives.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
from pathlib import Path

import pytest
from test_compare import article, party, position

from stance.backends import resolve_extractor
from stance.compare import compare
from stance.report import ReportLimits, render_html, render_markdown
from stance.runfolder import RunWriter, StoredAnalyses
from stance.schema import ArticleAnalysis

T = "European troops monitoring a Ukraine ceasefire"
REPORT_FILES = ("comparison.json", "matrix.csv", "merge_log.jsonl", "report.md", "report.html")


def analyses(n: int) -> list[ArticleAnalysis]:
    ids = ["report", "b", "a", *(f"z{i}" for i in range(n - 3))]  # "report" is a reserved name
    return [
        article(
            aid,
            [party("Helen Marsh", aliases=["Marsh"]), party("Moscow", "country")],
            [
                position("Marsh", T, ("support", "oppose")[i % 2], quote=f"said in {aid}"),
                position("Moscow", T, "oppose", quote=f"Moscow in {aid}"),
            ],
            date=f"2024-12-{i + 1:02d}",
            outlet="Post",
            summary=f"Summary of {aid}.",
        )
        for i, aid in enumerate(ids)
    ]


def write_run(out: Path, items: list[ArticleAnalysis]) -> dict[str, object]:
    writer = RunWriter(out, resolve_extractor("baseline"))
    for a in items:
        writer.add(a, None)
    return writer.finish()


def in_file_order(items: list[ArticleAnalysis]) -> list[ArticleAnalysis]:
    name = {"report": "report-article"}
    return sorted(items, key=lambda a: name.get(a.article.id, a.article.id) + ".json")


def test_finish_writes_what_the_in_memory_path_writes(tmp_path: Path) -> None:
    items = analyses(6)
    manifest = write_run(tmp_path, items)
    ordered = in_file_order(items)
    comparison = compare(ordered)

    assert json.loads((tmp_path / "run.json").read_text(encoding="utf-8")) == manifest
    assert (tmp_path / "comparison.json").read_text(encoding="utf-8") == (
        comparison.model_dump_json(indent=2) + "\n"
    )
    assert (tmp_path / "report.md").read_text(encoding="utf-8") == render_markdown(
        ordered, comparison, manifest
    )
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == render_html(
        ordered, comparison, manifest
    )
    assert manifest["counts"]["positions"] == 12  # type: ignore[index]
    lines = (tmp_path / "positions.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["article_id"] for line in lines][:4] == ["a", "a", "b", "b"]


def test_stored_analyses_reread_the_run_folder_in_file_order(tmp_path: Path) -> None:
    items = analyses(4)
    write_run(tmp_path, items)
    # a stale file of another run and a broken one are not this run's articles
    (tmp_path / "old.json").write_text(items[1].model_dump_json(), encoding="utf-8")
    (tmp_path / "a.json").write_text("{broken", encoding="utf-8")

    stored = StoredAnalyses.of_run(tmp_path, [a.article.id for a in items])
    first = [a.article.id for a in stored]
    assert first == ["b", "report", "z0"]  # file order: b, report-article, z0; a is unreadable
    assert [a.article.id for a in stored] == first  # read anew each time
    assert len(stored) == 4


def test_a_large_run_lists_the_rest_with_links_to_files_that_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "stance.report.context.ReportLimits", functools.partial(ReportLimits, articles=2)
    )
    write_run(tmp_path, analyses(6))

    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "shows the first 2 articles in full and lists the other 4" in page
    assert "Summary of a." in page and "Summary of b." in page
    assert "Summary of report." not in page and "Summary of z0." not in page
    links = re.findall(r'<a href="([^"#]+\.json)">', page)
    assert links == ["report-article.json", "z0.json", "z1.json", "z2.json"]
    assert all((tmp_path / link).is_file() for link in links)
    assert "| Article z2 (z2) | Post | 2024-12-06 | 2 | [z2.json](z2.json) |" in text
    # the comparison keeps everything
    data = json.loads((tmp_path / "comparison.json").read_text(encoding="utf-8"))
    assert len(data["articles"]) == 6 and data["matrix"][0]["n"] == 6


def test_cli_compare_rereads_the_files_and_rebuilds_the_same_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`stance compare RUN_DIR` streams the stored articles like the run's own finish()."""
    from click.testing import CliRunner

    from stance.cli import cli

    cli_compare = importlib.import_module("stance.cli.compare")
    write_run(tmp_path, analyses(6))
    before = {n: (tmp_path / n).read_text("utf-8") for n in REPORT_FILES}
    for n in REPORT_FILES:
        (tmp_path / n).unlink()

    inputs: list[object] = []
    real = cli_compare.compare_light

    def spy(source: object, **kwargs: object) -> object:
        inputs.append(source)
        return real(source, **kwargs)

    monkeypatch.setattr(cli_compare, "compare_light", spy)
    result = CliRunner().invoke(cli, ["compare", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert len(inputs) == 1 and isinstance(inputs[0], StoredAnalyses)  # never a list
    assert {n: (tmp_path / n).read_text("utf-8") for n in REPORT_FILES} == before
