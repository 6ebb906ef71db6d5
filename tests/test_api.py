"""The public Python API of DESIGN.md §10, end to end with the baseline and the fake server."""

from __future__ import annotations

import json

import pytest
from conftest import REAL_ARTICLE

import stance
from stance.schema import ArticleAnalysis, ArticleFailure


def test_public_names_are_the_functions_even_after_submodule_imports():
    import stance.analyze
    import stance.compare
    import stance.evaluate  # noqa: F401

    for name in ("analyze", "aanalyze", "analyze_folder", "compare", "evaluate"):
        assert callable(getattr(stance, name)), name
        assert name in stance.__all__


def test_baseline_finds_the_three_position_holders_of_the_real_article():
    a = stance.analyze(REAL_ARTICLE, model="baseline")
    holders = {p.party for p in a.positions}
    assert {"Donald Trump", "Mark Rutte", "Sergey Ryabkov"} <= holders
    ryabkov = [p for p in a.positions if p.party == "Sergey Ryabkov"]
    assert ryabkov[0].stance == "oppose"
    for p in a.positions:
        assert p.evidence and all(e.status == "exact" for e in p.evidence)
        for e in p.evidence:
            assert e.start is not None and e.end is not None
    assert a.provenance.backend == "baseline" and a.provenance.calls == 0
    # the JSON round-trips through the one output model
    assert ArticleAnalysis.model_validate_json(a.model_dump_json()) == a


def test_analyze_accepts_raw_text_with_metadata():
    a = stance.analyze(
        "Mayor Ana Ruiz said the charge “will clean our air”. Shop owners rejected the plan.",
        model="baseline",
        title="Charge row",
        source="Wire",
        published="2025-01-02",
    )
    assert a.article.title == "Charge row" and a.article.source == "Wire"
    assert a.article.id.startswith("text-")


async def test_aanalyze_against_a_fake_openai_compatible_server(fake_server):
    a = await stance.aanalyze(REAL_ARTICLE, model="some-model", base_url=fake_server.base_url)
    assert a.provenance.backend == "openai"
    assert a.provenance.endpoint_host == f"127.0.0.1:{fake_server.port}"
    assert a.provenance.calls == 1 and a.provenance.usage.total_tokens > 0
    assert fake_server.stats["requests"] == 1
    assert {"Donald Trump", "Sergey Ryabkov"} <= {p.party for p in a.positions}


def test_analyze_folder_streams_results_and_writes_the_run_folder(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.txt").write_text(REAL_ARTICLE.read_text("utf-8"), "utf-8")
    (src / "empty.txt").write_text("", "utf-8")
    out = tmp_path / "out"
    results = list(stance.analyze_folder(src, model="baseline", output=out))
    assert sorted(type(r).__name__ for r in results) == ["ArticleAnalysis", "ArticleFailure"]
    failure = next(r for r in results if isinstance(r, ArticleFailure))
    assert "empty" in failure.message
    for name in ("a.json", "positions.csv", "positions.jsonl", "report.md", "report.html",
                 "comparison.json", "run.json"):  # fmt: skip
        assert (out / name).is_file(), name
    run = json.loads((out / "run.json").read_text())
    assert run["counts"]["ok"] == 1 and run["counts"]["failed"] == 1


def test_unknown_output_mode_is_a_clear_error():
    with pytest.raises(stance.StanceError, match="unknown output mode"):
        stance.analyze(REAL_ARTICLE, model="m", output_mode="yaml")


def test_the_baseline_path_does_not_load_the_openai_sdk() -> None:
    """`import stance` and an offline run must not pay for the SDK (~0.4 s, ~25 MB)."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys; import stance, stance.cli.run, stance.compare, stance.evaluate; "
        "from stance.backends import resolve_extractor; resolve_extractor('baseline'); "
        "print('openai' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
