"""`stance batch prepare/collect`: Batch API requests out, a run folder back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT
from fake_server import batch_results

from stance.backends import resolve_extractor
from stance.batch import (
    BATCH_URL,
    collect_batch,
    completion_from_result,
    manifest_path_for,
    prepare_batch,
)
from stance.cli import cli
from stance.errors import EndpointError, InvalidOutput

EXAMPLES = ROOT / "examples" / "articles"


def prepare_cli(tmp_path: Path, *extra: str) -> Path:
    requests = tmp_path / "batch" / "requests.jsonl"
    result = CliRunner().invoke(
        cli, ["batch", "prepare", str(EXAMPLES), "-o", str(requests), "-m", "gpt-4o-mini", *extra]
    )
    assert result.exit_code == 0, result.output
    return requests


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_prepare_writes_one_batch_request_per_article_and_a_manifest(tmp_path):
    requests = prepare_cli(tmp_path)
    lines = read_jsonl(requests)
    n_articles = len(list(EXAMPLES.iterdir()))
    assert len(lines) == n_articles
    for line in lines:
        assert set(line) == {"custom_id", "method", "url", "body"}
        assert line["method"] == "POST" and line["url"] == BATCH_URL == "/v1/chat/completions"
        body = line["body"]
        assert body["model"] == "gpt-4o-mini"
        assert [m["role"] for m in body["messages"]] == ["system", "user"]
        assert body["response_format"]["type"] == "json_schema"
        assert line["custom_id"].endswith(":0")
    assert len({line["custom_id"] for line in lines}) == n_articles

    manifest = read_jsonl(manifest_path_for(requests))
    assert manifest_path_for(requests).name == "requests.manifest.jsonl"
    header, articles = manifest[0], manifest[1:]
    assert header["model"] == "gpt-4o-mini" and header["fingerprint"]["prompt_hash"]
    assert sorted(a["requests"][0] for a in articles) == sorted(x["custom_id"] for x in lines)


def test_batch_body_is_exactly_what_a_live_run_sends(tmp_path, threaded_fake_server):
    server = threaded_fake_server()
    article = EXAMPLES / "ukraine-peacekeepers.txt"
    result = CliRunner().invoke(
        cli,
        ["run", str(article), "-o", str(tmp_path / "live"), "-m", "gpt-4o-mini",
         "--base-url", server.base_url, "--no-cache"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    live_body = server.requests[0]["body"]
    prepared = read_jsonl(prepare_cli(tmp_path))
    batch_body = next(x["body"] for x in prepared if x["custom_id"] == "ukraine-peacekeepers:0")
    assert batch_body == live_body


def test_round_trip_matches_a_live_run_and_turns_bad_lines_into_failures(
    tmp_path, threaded_fake_server
):
    requests = prepare_cli(tmp_path)
    ids = sorted(x["custom_id"] for x in read_jsonl(requests))
    faults = {ids[0]: "error", ids[1]: "500", ids[2]: "invalid_json", ids[3]: "missing",
              ids[4]: "garbage"}  # fmt: skip
    results = tmp_path / "batch" / "results.jsonl"
    batch_results(requests, results, faults)

    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["batch", "collect", str(results), "-o", str(out)])
    assert result.exit_code == 1  # some articles failed
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["counts"]["ok"] == len(ids) - 5 and manifest["counts"]["failed"] == 5
    assert manifest["backend"] == "batch" and manifest["model"] == "gpt-4o-mini"
    assert manifest["tokens"]["total_tokens"] > 0 and manifest["cost_usd"] is not None
    failures = {f["article_id"]: f for f in manifest["failures"]}
    expected = {
        ids[0]: ("model", "the engine failed"),
        ids[1]: ("model", "HTTP 500"),
        ids[2]: ("validate", "not valid JSON"),
        ids[3]: ("model", "no result for request"),
        ids[4]: ("validate", "not valid JSON"),
    }
    for cid, (stage, text) in expected.items():
        f = failures[cid.split(":")[0]]
        assert f["stage"] == stage and text in f["message"], f
    assert failures[ids[2].split(":")[0]]["last_raw"] == "Sure! {summary: oops"

    # the articles that came back equal a live run over the same answers
    server = threaded_fake_server()
    live = tmp_path / "live"
    args = ["run", str(EXAMPLES), "-o", str(live), "-m", "gpt-4o-mini"]
    r = CliRunner().invoke(cli, [*args, "--base-url", server.base_url])
    assert r.exit_code == 0, r.output
    collected = sorted(p.name for p in out.glob("*.json") if p.stem not in ("run", "comparison"))
    assert len(collected) == len(ids) - 5
    for name in collected:
        a, b = json.loads((out / name).read_text()), json.loads((live / name).read_text())
        assert {k: a[k] for k in ("article", "summary", "parties", "positions", "warnings")} == {
            k: b[k] for k in ("article", "summary", "parties", "positions", "warnings")
        }
        assert a["provenance"]["backend"] == "batch"
        assert a["provenance"]["prompt_hash"] == b["provenance"]["prompt_hash"]


def test_long_articles_are_chunked_and_merged_back(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    sentences = [
        f"Delegate {name} said the treaty draft was \u201cnot ready to sign\u201d in round {i}."
        for i, name in enumerate(["Ana Lopez", "Ben Ode", "Cai Wu", "Dora Vik"] * 15)
    ]
    (folder / "long.txt").write_text("Treaty talks\n" + " ".join(sentences) + "\n", "utf-8")
    (folder / "short.txt").write_text("Short\nThe mayor said it was fine.\n", "utf-8")
    extractor = resolve_extractor("gpt-4o-mini")
    requests = tmp_path / "requests.jsonl"
    summary = prepare_batch([folder], extractor, requests, chunk_tokens=200)
    lines = read_jsonl(requests)
    long_ids = [x["custom_id"] for x in lines if x["custom_id"].startswith("long:")]
    assert len(long_ids) > 1 and summary.requests == len(lines) == len(long_ids) + 1
    assert "part 1 of" in lines[0]["body"]["messages"][1]["content"]

    results = tmp_path / "results.jsonl"
    batch_results(requests, results)
    collect_batch(results, tmp_path / "out", manifest_path=manifest_path_for(requests))
    data = json.loads((tmp_path / "out" / "long.json").read_text())
    assert data["provenance"]["chunks"] == len(long_ids)
    assert data["provenance"]["calls"] == len(long_ids)


def test_load_failures_from_prepare_reach_the_collected_run(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "ok.txt").write_text("Title\nThe mayor said it was fine.\n", "utf-8")
    (folder / "empty.txt").write_text("", "utf-8")
    requests = tmp_path / "requests.jsonl"
    summary = prepare_batch([folder], resolve_extractor("gpt-4o-mini"), requests)
    assert [f.article_id for f in summary.failures] == ["empty"]
    results = tmp_path / "results.jsonl"
    batch_results(requests, results)
    manifest = collect_batch(results, tmp_path / "out")  # finds the manifest beside it
    assert manifest["counts"]["ok"] == 1
    assert [(f["article_id"], f["stage"]) for f in manifest["failures"]] == [("empty", "load")]


def test_prepare_refuses_the_baseline(tmp_path):
    result = CliRunner().invoke(
        cli, ["batch", "prepare", str(EXAMPLES), "-o", str(tmp_path / "r.jsonl"), "-m", "baseline"]
    )
    assert result.exit_code == 2
    assert "name the model" in result.output
    assert not (tmp_path / "r.jsonl").exists()


def test_collect_without_a_manifest_says_so(tmp_path):
    results = tmp_path / "results.jsonl"
    results.write_text("")
    result = CliRunner().invoke(cli, ["batch", "collect", str(results), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--manifest" in result.output


@pytest.mark.parametrize(
    ("line", "error", "text"),
    [
        ({"custom_id": "a:0", "error": {"code": "x", "message": "boom"}}, EndpointError, "x: boom"),
        ({"custom_id": "a:0", "response": {"status_code": 429, "body": {}}}, EndpointError, "429"),
        ({"custom_id": "a:0", "response": {"status_code": 200, "body": {"choices": []}}},
         InvalidOutput, "malformed"),
        ({"custom_id": "a:0"}, InvalidOutput, "no 'response'"),
        ("just a string", InvalidOutput, "not a JSON object"),
    ],
)  # fmt: skip
def test_bad_result_lines_raise_specific_errors(line, error, text):
    with pytest.raises(error, match=text):
        completion_from_result(line)


def test_a_good_result_line_becomes_a_completion():
    choice = {"message": {"content": "{}", "refusal": None}, "finish_reason": "length"}
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    body = {"model": "m", "usage": usage, "choices": [choice]}
    line = {"custom_id": "a:0", "response": {"status_code": 200, "body": body}}
    c = completion_from_result(line)
    assert (c.content, c.finish_reason, c.usage.total_tokens) == ("{}", "length", 5)
