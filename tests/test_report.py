"""report.md, report.html (escaping, anchors, self-containment) and the run report files."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_compare import article, party, position

from stance.compare import compare, compare_light
from stance.errors import TemplateError
from stance.report import (
    ReportLimits,
    comparison_json,
    md,
    render_html,
    render_markdown,
    write_run_reports,
)
from stance.schema import ArticleAnalysis

T = "European troops monitoring a Ukraine ceasefire"
SCRIPT = "<script>window.__xss = 1; alert(1)</script>"
BREAKOUT = '"><img src=x onerror="window.__xss=2;alert(1)">'
MANIFEST: dict[str, Any] = {
    "model": "gpt-test-mini",
    "counts": {"articles": 3, "ok": 2, "failed": 1},
    "failures": [
        {
            "article_id": "broken",
            "path": "in/broken.html",
            "stage": "load",
            "message": "article has no text",
        }
    ],
}


def corpus() -> list[ArticleAnalysis]:
    return [
        article(
            "uk",
            [party("Helen Marsh", aliases=["Marsh"]), party("Turkey", "country")],
            [
                position("Marsh", T, "support", quote="Britain is ready to play its part"),
                position("Marsh", "Russian veto", "oppose", quote="no veto", status="not_found"),
            ],
            date="2024-12-27",
            outlet="The Meridian Post",
            title="Europe's force meets a refusal",
            summary="London backs a force; Moscow refuses.",
        ),
        article(
            "ru",
            [party("Moscow", "country")],
            [
                position(
                    "Moscow", T, "oppose", quote="unacceptable to us", attribution="reported_speech"
                )
            ],
            date="2024-12-26",
            outlet="Northern Ledger",
        ),
        article(
            "undated",
            [party("Helen Marsh")],
            [position("Helen Marsh", T, "oppose", quote="changed her mind")],
        ),
    ]


def hostile() -> list[ArticleAnalysis]:
    """Every article- and model-derived field carries a payload."""
    return [
        article(
            "evil",
            [party(SCRIPT, aliases=[BREAKOUT]), party(BREAKOUT, "group")],
            [
                position(SCRIPT, T + BREAKOUT, "support", quote=BREAKOUT + SCRIPT, text=SCRIPT),
                position(BREAKOUT, T + BREAKOUT, "oppose", quote=SCRIPT),
            ],
            title=SCRIPT,
            outlet=BREAKOUT,
            date=BREAKOUT,
            url="javascript:alert(1)",
            summary=SCRIPT + BREAKOUT,
            model=SCRIPT,
        ),
        article("ok", [party("Helen Marsh")], [position("Helen Marsh", T, "support")]),
    ]


def html_for(analyses: list[ArticleAnalysis], manifest: dict[str, Any] | None = None) -> str:
    return render_html(analyses, compare(analyses), manifest if manifest is not None else MANIFEST)


# --------------------------------------------------------------------------- markdown


def test_report_md_has_run_articles_and_comparison() -> None:
    analyses = corpus()
    text = render_markdown(analyses, compare(analyses), MANIFEST)
    # run summary, with the failure from the manifest
    assert text.startswith("# stance report")
    assert "Model **gpt-test-mini** · 3 articles · 4 positions (3 with grounded evidence)" in text
    assert "| broken | in/broken.html | load | article has no text |" in text
    # per-article summary and position table with grounding status
    assert "### Europe's force meets a refusal" in text
    assert "London backs a force; Moscow refuses." in text
    assert (
        "| Marsh (→ Helen Marsh) | European troops monitoring a Ukraine ceasefire | support "
        "| direct quote | “Britain is ready to play its part” | exact |"
    ) in text
    assert (
        "| Marsh (→ Helen Marsh) | Russian veto | oppose | direct quote | “no veto” | NOT FOUND |"
        in text
    )
    assert "| Moscow (→ Russia) |" in text and "reported speech" in text
    assert "unknown outlet · undated" in text
    # comparison sections, in order after the articles
    order = [
        text.index(h)
        for h in (
            "## Run",
            "## Articles",
            "## Comparison",
            "### Party × topic matrix",
            "### Conflicts",
            "### Agreements",
            "### Shifts",
            "### Voice gaps",
            "### Coverage by outlet",
            "### Merges",
        )
    ]
    assert order == sorted(order)
    assert "| Helen Marsh | M 2 |" in text
    assert "| Russia | O 1 |" in text
    assert "support: Helen Marsh" not in text  # her cell is mixed, so no side in the conflict
    assert (
        "**Helen Marsh** on **European troops monitoring a Ukraine ceasefire**: support → oppose"
        in text
    )
    assert "(order uncertain: a date is missing)" in text
    assert "| Turkey | European troops monitoring a Ukraine ceasefire |" in text  # voice gap
    assert "| Moscow | Russia | party | metonym | ru |" in text


def test_report_md_without_manifest_or_positions() -> None:
    analyses = [article("a", title=None, summary="Nothing said.")]
    text = render_markdown(analyses, compare(analyses), {})
    assert "Model **test-model**" in text
    assert "_No positions found._" in text
    assert "_No positions to compare._" in text
    assert "Failures" not in text


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a | b", r"a \| b"),
        ("line\nbreak", "line break"),
        ("<script>", r"\<script\>"),
        ("[link](javascript:x)", r"\[link\](javascript:x)"),
        ("`code`", r"\`code\`"),
        (None, ""),
    ],
)
def test_md_escape(raw: str | None, escaped: str) -> None:
    assert md(raw) == escaped


def test_report_md_escapes_hostile_text() -> None:
    analyses = hostile()
    text = render_markdown(
        analyses, compare(analyses), {"model": SCRIPT, "failures": [{"message": SCRIPT}]}
    )
    assert not re.search(r"(?<!\\)<(script|img)", text)
    assert r"\<script\>" in text


# --------------------------------------------------------------------------- HTML


def test_html_escapes_all_article_and_model_text() -> None:
    page = html_for(
        hostile(), {"model": SCRIPT, "failures": [{"article_id": SCRIPT, "message": BREAKOUT}]}
    )
    assert "<script>window.__xss" not in page
    assert "<script>alert" not in page
    assert "<img" not in page
    assert "onerror=" not in page.replace("onerror=&#34;", "").replace("onerror=&quot;", "")
    assert 'href="javascript:' not in page
    assert "&lt;script&gt;window.__xss = 1; alert(1)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=&#34;window.__xss=2;alert(1)&#34;&gt;" in page
    assert page.count("<script") == 1  # our own, and only ours
    assert "javascript:alert(1)" in page  # the URL is shown as text, not linked


def test_html_is_self_contained_and_only_its_own_script_may_run() -> None:
    page = html_for(corpus())
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page
    script = re.search(r"<script>(.*?)</script>", page, re.S)
    assert script is not None
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None
    assert f"script-src 'sha256-{digest}'" in csp.group(1)
    assert "default-src 'none'" in csp.group(1)


def test_html_matrix_cells_link_to_their_quotes() -> None:
    page = html_for(corpus())
    grid = page[
        page.index('id="matrix-grid"') : page.index("</table>", page.index('id="matrix-grid"'))
    ]
    cells = re.findall(
        r'<a class="cell s-(\w+)" href="#(c-\d+)"[^>]*>(\w)<span class="n">(\d+)</span>', grid
    )
    assert sorted((s, letter, n) for s, _, letter, n in cells) == [
        ("mixed", "M", "2"),
        ("oppose", "O", "1"),
        ("oppose", "O", "1"),
    ]
    for _, anchor, _, _ in cells:
        assert f'<article id="{anchor}">' in page
    # each cell's quotes name the article (linked), outlet and date
    assert "Northern Ledger, 2024-12-26" in page
    assert "unknown outlet, undated" in page
    assert re.search(
        r'<a href="#a-\d+">Europe&#39;s force meets a refusal</a>, The Meridian Post, 2024-12-27',
        page,
    )
    # a legend names every stance, so letters and borders carry the meaning without colour
    for stance, letter in [("support", "S"), ("oppose", "O"), ("mixed", "M"), ("neutral", "N")]:
        assert f'<span class="badge s-{stance}" title="{stance}">{letter}</span> {stance}' in page


def test_html_flags_ungrounded_evidence_and_lists_failures() -> None:
    page = html_for(corpus())
    assert '<span class="status-not_found">&#9888; NOT FOUND</span>' in page
    assert "article has no text" in page and "in/broken.html" in page


def test_html_survives_missing_dates_outlets_and_odd_manifests() -> None:
    analyses = [
        article(
            "a",
            [party("Helen Marsh")],
            [position("Helen Marsh", T)],
            date=None,
            outlet=None,
            title=None,
        ),
        article(
            "b",
            [party("Helen Marsh")],
            [position("Helen Marsh", T, "oppose")],
            date="not a date",
            outlet="  ",
        ),
    ]
    for manifest in (
        {},
        {"failures": "oops", "counts": [1, 2], "timings": None},
        {"failures": [None, 3]},
    ):
        page = html_for(analyses, manifest)
        assert "undated" in page and "unknown outlet" in page


# --------------------------------------------------------------------------- files


def test_write_run_reports_writes_every_file(tmp_path: Path) -> None:
    analyses = corpus()
    comparison = compare(analyses)
    out = tmp_path / "run"
    write_run_reports(out, analyses, comparison, MANIFEST)

    assert sorted(p.name for p in out.iterdir()) == [
        "comparison.json",
        "matrix.csv",
        "merge_log.jsonl",
        "report.html",
        "report.md",
    ]
    data = json.loads((out / "comparison.json").read_text(encoding="utf-8"))
    assert {
        "parties",
        "topics",
        "matrix",
        "agreements",
        "conflicts",
        "shifts",
        "voice_gaps",
    } <= set(data)

    rows = list(csv.DictReader(io.StringIO((out / "matrix.csv").read_text(encoding="utf-8"))))
    assert rows[0] == {
        "party": "Helen Marsh",
        "topic": T,
        "stance": "mixed",
        "n": "2",
        "support": "1",
        "oppose": "1",
        "mixed": "0",
        "neutral": "0",
        "articles": "uk;undated",
    }
    assert len(rows) == len(comparison.matrix)

    log = [
        json.loads(line)
        for line in (out / "merge_log.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert {(m["from"], m["to"], m["rule"]) for m in log} == {
        ("Marsh", "Helen Marsh", "alias"),
        ("Moscow", "Russia", "metonym"),
    }
    assert all(
        set(m) == {"from", "to", "kind", "rule", "source", "articles", "detail"} for m in log
    )


def test_matrix_csv_defuses_spreadsheet_formulas(tmp_path: Path) -> None:
    analyses = [article("a", [party("=HYPERLINK(1)")], [position("=HYPERLINK(1)", "@topic")])]
    write_run_reports(tmp_path, analyses, compare(analyses), {})
    row = next(csv.DictReader(io.StringIO((tmp_path / "matrix.csv").read_text(encoding="utf-8"))))
    assert row["party"] == "'=HYPERLINK(1)" and row["topic"] == "'@topic"


def test_user_templates_render_sandboxed(tmp_path: Path) -> None:
    analyses = corpus()
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "report.md.j2").write_text(
        "custom: {{ run.model }} / {{ comparison.matrix|length }}\n", encoding="utf-8"
    )
    out = tmp_path / "out"
    write_run_reports(out, analyses, compare(analyses), MANIFEST, templates_dir=templates)
    assert (out / "report.md").read_text(encoding="utf-8") == "custom: gpt-test-mini / 3\n"
    assert "Party &times; topic matrix" in (out / "report.html").read_text(
        encoding="utf-8"
    )  # shipped one


@pytest.mark.parametrize(
    "template",
    [
        "{{ no_such_variable }}",  # StrictUndefined: a typo fails loudly
        "{{ run.__class__.__mro__ }}",  # the sandbox refuses internals
        "{{ comparison.model_dump.__globals__ }}",
        "{% for x in %}",  # syntax error
    ],
)
def test_bad_user_templates_raise_template_error_and_write_nothing(
    tmp_path: Path, template: str
) -> None:
    templates = tmp_path / "t"
    templates.mkdir()
    (templates / "report.md.j2").write_text(template, encoding="utf-8")
    analyses = corpus()
    out = tmp_path / "out"
    with pytest.raises(TemplateError, match=r"report template report\.md\.j2"):
        write_run_reports(out, analyses, compare(analyses), MANIFEST, templates_dir=templates)
    assert not out.exists()


def test_report_md_matrix_is_a_list_when_there_are_many_topics() -> None:
    topics = (
        "tariffs sanctions grain energy shipping banking visas troops drones aid debt ports".split()
    )
    analyses = [
        article("a", [party("Helen Marsh")], [position("Helen Marsh", t, "oppose") for t in topics])
    ]
    text = render_markdown(analyses, compare(analyses), {})
    assert "- **Helen Marsh** — aid: O 1; banking: O 1; debt: O 1;" in text
    assert "| Party | aid |" not in text


# --------------------------------------------------------------------------- large corpora


def many(n: int, summary: str = "Summary of {aid}.") -> list[ArticleAnalysis]:
    """``n`` dated articles, each with its own quote, where Marsh flips and France and Russia
    disagree: every evidence list grows with ``n``."""
    return [
        article(
            aid,
            [party("Helen Marsh"), party("Paris", "country"), party("Moscow", "country")],
            [
                position("Helen Marsh", T, ("support", "oppose")[i % 2], quote=f"said {aid}"),
                position("Paris", T, "support", quote=f"Paris on {aid}"),
                position("Moscow", T, "oppose", quote=f"Moscow on {aid}"),
            ],
            date=f"2024-12-{i + 1:02d}",
            outlet=("Post", "Ledger")[i % 2],
            summary=summary.format(aid=aid),
        )
        for i, aid in enumerate([f"x{i}" for i in range(n - 1)] + ["report"])
    ]


class Rereadable:
    """Analyses read anew at each iteration, counting how many were read."""

    def __init__(self, analyses: list[ArticleAnalysis]) -> None:
        self.analyses = analyses
        self.reads = 0

    def __iter__(self) -> Iterator[ArticleAnalysis]:
        for a in self.analyses:
            self.reads += 1
            yield a


def test_large_corpus_report_shows_the_first_articles_and_links_the_rest() -> None:
    analyses = many(5)
    limits = ReportLimits(articles=2, evidence=1, rows=1)
    text = render_markdown(analyses, compare(analyses), {}, limits=limits)
    page = render_html(analyses, compare(analyses), {}, limits=limits)

    for report in (text, page):
        assert "shows the first 2 articles in full and lists the other 3" in report
        assert "Summary of x0." in report and "Summary of x1." in report
        assert "Summary of x2." not in report and "Summary of x3." not in report
        assert "+9 more in comparison.json" in report  # the conflict: 10 quotes, 1 shown
        assert "The first 1 of 4 shifts; all are in comparison.json." in report
    assert "### 3 more articles" in text
    assert "| Article x3 (x3) | Ledger | 2024-12-04 | 3 | [x3.json](x3.json) |" in text
    assert "[report-article.json](report-article.json)" in text  # a reserved id's file name
    # the rest keep their anchors, so quotes from them still link to their line
    row = '<tr id="a-4"><td>Article x3<br><span class="muted">id x3</span></td><td>Ledger</td>'
    assert row in page and '<a href="x3.json">x3.json</a>' in page
    assert page.count('<article class="art"') == 2
    assert page.count('<li class="muted">+4 more in comparison.json</li>') == 3  # each cell


@pytest.mark.parametrize("n", [3, 40])
def test_normal_corpus_report_is_complete_and_the_same_from_the_compact_comparison(
    tmp_path: Path, n: int
) -> None:
    analyses = many(n)
    full, light = tmp_path / "full", tmp_path / "light"
    write_run_reports(full, analyses, compare(analyses), MANIFEST)
    with compare_light(Rereadable(analyses), spill_after=0) as comparison:
        write_run_reports(light, Rereadable(analyses), comparison, MANIFEST)

    for name in ("report.md", "report.html", "comparison.json", "matrix.csv", "merge_log.jsonl"):
        assert (light / name).read_bytes() == (full / name).read_bytes(), name
    text = (full / "report.md").read_text(encoding="utf-8")
    assert "more in comparison.json" not in text and "more articles" not in text
    assert all(f"Summary of {a.article.id}." in text for a in analyses)
    assert all(f"Paris on {a.article.id}" in text for a in analyses)  # every conflict quote
    assert text.count("- **Helen Marsh** on **") == n - 1  # every shift


def test_reports_read_back_only_the_articles_they_show(tmp_path: Path) -> None:
    analyses = many(6)
    source = Rereadable(analyses)
    with compare_light(source) as comparison:
        source.reads = 0
        write_run_reports(
            tmp_path, source, comparison, {}, limits=ReportLimits(articles=2, evidence=5)
        )
    assert source.reads == 4  # two articles for each of report.md and report.html
    assert "6 articles · 18 positions" in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_comparison_json_is_streamed_as_the_model_would_write_it() -> None:
    analyses = many(4) + corpus()
    expected = compare(analyses).model_dump_json(indent=2) + "\n"
    assert "".join(comparison_json(compare(analyses))) == expected
    with compare_light(analyses, spill_after=0) as light:
        assert "".join(comparison_json(light)) == expected
