"""`stance run` end to end against a fake OpenAI-compatible server over real HTTP."""

from __future__ import annotations

import csv
import json
import shutil

from click.testing import CliRunner
from conftest import REAL_ARTICLE

from stance.cli import cli


def test_run_against_an_endpoint_writes_the_whole_run_folder(tmp_path, threaded_fake_server):
    server = threaded_fake_server()
    src = tmp_path / "articles"
    src.mkdir()
    shutil.copy(REAL_ARTICLE, src / REAL_ARTICLE.name)
    out = tmp_path / "out"
    args = ["run", str(src), "-o", str(out), "--model", "some-model", "--base-url", server.base_url]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    for name in ("ukraine-peacekeepers.json", "positions.csv", "positions.jsonl", "report.md",
                 "report.html", "comparison.json", "matrix.csv", "run.json"):  # fmt: skip
        assert (out / name).is_file(), name
    analysis = json.loads((out / "ukraine-peacekeepers.json").read_text())
    assert analysis["positions"]
    for p in analysis["positions"]:
        for e in p["evidence"]:
            assert e["status"] in ("exact", "normalised", "fuzzy", "not_found")
            assert (e["start"] is None) == (e["status"] == "not_found")
    run = json.loads((out / "run.json").read_text())
    assert run["model"] == "some-model" and run["endpoint_host"].startswith("127.0.0.1:")
    assert run["calls"] == 1 and run["tokens"]["total_tokens"] > 0
    assert run["prompt_overhead_tokens"] > 0
    assert run["timings"]["wall_s"] > 0 and run["counts"] == {**run["counts"], "ok": 1, "failed": 0}
    with (out / "positions.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(analysis["positions"])
    # the request carried the article between delimiters after the static system prompt
    body = server.requests[0]["body"]
    assert body["messages"][0]["role"] == "system"
    assert "<article>" in body["messages"][1]["content"]


def test_no_model_configured_falls_back_to_baseline_with_one_hint(tmp_path):
    result = CliRunner().invoke(cli, ["run", str(REAL_ARTICLE), "-o", str(tmp_path / "o")])
    assert result.exit_code == 0
    hints = [ln for ln in result.output.splitlines() if "rule-based 'baseline'" in ln]
    assert len(hints) == 1 and "OPENAI_API_KEY" in hints[0]


def test_usage_error_exits_2(tmp_path):
    result = CliRunner().invoke(cli, ["run", str(REAL_ARTICLE)])
    assert result.exit_code == 2
