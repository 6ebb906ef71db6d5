"""The SQLite result cache: keys, storage, the pipeline's use of it, and `stance run` re-runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REAL_ARTICLE, recorded

from stance.analyze import aanalyze, analyze_articles
from stance.backends.base import ExtractResult
from stance.cache import DEFAULT_CACHE_NAME, ResultCache, cache_key
from stance.cli import cli
from stance.errors import EndpointError
from stance.loaders import load_file, make_article
from stance.prompts import shipped_dir
from stance.schema import ArticleAnalysis, ArticleFailure, Extraction, Usage

FP = {"model": "m", "backend": "openai", "endpoint": "h:1", "prompt_hash": "p1",
      "output_mode": "json_schema", "params": {"temperature": 0.0}}  # fmt: skip


def write_corpus(folder: Path, n: int, start: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + n):
        p = folder / f"art-{i:03d}.txt"
        p.write_text(
            f"Story {i}\nMinister Ana Lopez said on Monday that the bridge plan number {i} "
            f"was \u201ca waste of public money\u201d. The council backed it.\n",
            encoding="utf-8",
        )
        paths.append(p)
    return paths


# --------------------------------------------------------------------------- keys


BASE = make_article("Some text.", id="a", title="T")


@pytest.mark.parametrize(
    ("article", "fingerprint", "chunk_tokens"),
    [
        (make_article("Other text.", id="a", title="T"), FP, 6000),  # content
        (make_article("Some text.", id="a", title="T2"), FP, 6000),  # metadata in the prompt
        (BASE, {**FP, "model": "m2"}, 6000),  # model
        (BASE, {**FP, "endpoint": "other:1"}, 6000),  # endpoint
        (BASE, {**FP, "prompt_hash": "p2"}, 6000),  # templates
        (BASE, {**FP, "output_mode": "json_object"}, 6000),
        (BASE, {**FP, "params": {"temperature": 0.7}}, 6000),  # generation parameters
        (BASE, FP, 3000),  # chunking
    ],
)
def test_key_changes_with_everything_that_changes_the_answer(article, fingerprint, chunk_tokens):
    base = cache_key(BASE, FP, chunk_tokens=6000)
    assert cache_key(BASE, dict(FP), chunk_tokens=6000) == base  # stable
    assert cache_key(article, fingerprint, chunk_tokens=chunk_tokens) != base


def test_key_covers_the_schema_version(monkeypatch):
    base = cache_key(BASE, FP, chunk_tokens=6000)
    monkeypatch.setattr("stance.cache.SCHEMA_VERSION", "999")
    assert cache_key(BASE, FP, chunk_tokens=6000) != base


def test_results_survive_reopening(tmp_path):
    result = ExtractResult(
        extraction=Extraction(summary="s", key_points=["k"], parties=[], positions=[]),
        usage=Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15),
        calls=2, attempts=3, latency_s=1.5, chunks=2, raw=['{"a": 1}', "x"], cues=None,
    )  # fmt: skip
    path = tmp_path / "c.sqlite"
    with ResultCache(path) as cache:
        cache.put("k1", BASE, "m", result)
        assert cache.get("nope") is None
    with ResultCache(path) as cache:
        assert cache.get("k1") == result
        assert (cache.hits, cache.misses) == (1, 0)
        assert len(cache) == 1
        assert cache._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_unreadable_row_is_a_miss(tmp_path):
    with ResultCache(tmp_path / "c.sqlite") as cache:
        cache._db.execute(
            "INSERT INTO results VALUES ('k', 'a', 'h', 'm', '{\"broken\": true}', 0)"
        )
        assert cache.get("k") is None


# --------------------------------------------------------------------------- pipeline


async def test_hit_regrounds_the_cached_extraction_without_a_call(
    tmp_path, fake_chat, llm_extractor
):
    fake_chat.enqueue(recorded("valid"))  # exactly one answer: a second call would fail
    cache = ResultCache(tmp_path / "c.sqlite")
    first = await aanalyze(REAL_ARTICLE, model=llm_extractor(), cache=cache)
    second = await aanalyze(REAL_ARTICLE, model=llm_extractor(), cache=cache)
    assert len(fake_chat.history) == 1
    assert first.provenance.cached is False and second.provenance.cached is True
    assert second.positions == first.positions  # same quotes, same spans and statuses
    assert second.summary == first.summary and second.parties == first.parties
    assert second.provenance.usage == first.provenance.usage  # what the answer cost once


async def test_failures_are_not_cached(tmp_path, fake_chat, llm_extractor):
    article = load_file(REAL_ARTICLE)[0]
    cache = ResultCache(tmp_path / "c.sqlite")
    fake_chat.enqueue(EndpointError("HTTP 503 from the endpoint after 5 attempt(s)"))
    outs = [o async for _, o, _ in analyze_articles([article], llm_extractor(), cache=cache)]
    assert isinstance(outs[0], ArticleFailure) and outs[0].error == "EndpointError"
    assert len(cache) == 0
    fake_chat.enqueue(recorded("valid"))
    outs = [o async for _, o, _ in analyze_articles([article], llm_extractor(), cache=cache)]
    assert isinstance(outs[0], ArticleAnalysis) and not outs[0].provenance.cached
    assert len(fake_chat.history) == 2 and len(cache) == 1


async def test_baseline_results_are_not_cached(tmp_path):
    from stance.backends.baseline import BaselineExtractor

    article = load_file(REAL_ARTICLE)[0]
    cache = ResultCache(tmp_path / "c.sqlite")
    async for _ in analyze_articles([article], BaselineExtractor(), cache=cache):
        pass
    assert len(cache) == 0 and cache.misses == 0


# --------------------------------------------------------------------------- stance run


def run_cli(corpus: Path, out: Path, base_url: str, *extra: str) -> dict:
    args = ["run", str(corpus), "-o", str(out), "-m", "fake-model", "--base-url", base_url]
    result = CliRunner().invoke(cli, [*args, *extra])
    assert result.exit_code == 0, result.output
    manifest: dict = json.loads((out / "run.json").read_text())
    return manifest


def test_rerun_of_an_unchanged_corpus_makes_no_calls(tmp_path, threaded_fake_server):
    server = threaded_fake_server()
    corpus, out = tmp_path / "in", tmp_path / "out"
    write_corpus(corpus, 5)
    first = run_cli(corpus, out, server.base_url)
    assert len(server.requests) == 5 and (out / DEFAULT_CACHE_NAME).is_file()
    before = {p.name: json.loads(p.read_text()) for p in out.glob("art-*.json")}

    second = run_cli(corpus, out, server.base_url)
    assert len(server.requests) == 5  # no new request reached the server
    assert second["counts"] == {**first["counts"], "cached": 5}
    assert second["calls"] == 0 and second["tokens"]["total_tokens"] == 0
    for name, old in before.items():
        new = json.loads((out / name).read_text())
        assert new["provenance"]["cached"] is True
        assert {k: new[k] for k in ("summary", "parties", "positions")} == {
            k: old[k] for k in ("summary", "parties", "positions")
        }


def test_only_new_or_changed_articles_are_called(tmp_path, threaded_fake_server):
    server = threaded_fake_server()
    corpus, out = tmp_path / "in", tmp_path / "out"
    paths = write_corpus(corpus, 4)
    run_cli(corpus, out, server.base_url)
    paths[0].write_text(paths[0].read_text() + "A late correction was added.\n")
    write_corpus(corpus, 1, start=10)
    manifest = run_cli(corpus, out, server.base_url)
    assert len(server.requests) == 4 + 2
    assert manifest["counts"]["cached"] == 3


def test_edited_prompt_template_calls_again(tmp_path, threaded_fake_server):
    server = threaded_fake_server()
    corpus, out = tmp_path / "in", tmp_path / "out"
    write_corpus(corpus, 3)
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    shipped = (shipped_dir() / "extract.j2").read_text(encoding="utf-8")
    (prompts / "extract.j2").write_text("Read carefully.\n" + shipped, encoding="utf-8")

    run_cli(corpus, out, server.base_url)
    manifest = run_cli(corpus, out, server.base_url, "--prompts", str(prompts))
    assert len(server.requests) == 6
    assert manifest["counts"]["cached"] == 0
    assert server.requests[-1]["body"]["messages"][1]["content"].startswith("Read carefully.")
    # and the edited templates are now cached too
    run_cli(corpus, out, server.base_url, "--prompts", str(prompts))
    assert len(server.requests) == 6


def test_changed_model_calls_again(tmp_path, threaded_fake_server):
    server = threaded_fake_server()
    corpus, out = tmp_path / "in", tmp_path / "out"
    write_corpus(corpus, 2)
    run_cli(corpus, out, server.base_url)
    run_cli(corpus, out, server.base_url, "-m", "another-model")  # the last -m wins
    assert [r["body"]["model"] for r in server.requests] == ["fake-model"] * 2 + [
        "another-model"
    ] * 2


def test_no_cache_calls_every_article_and_leaves_the_cache_alone(tmp_path, threaded_fake_server):
    server = threaded_fake_server()
    corpus, out = tmp_path / "in", tmp_path / "out"
    write_corpus(corpus, 3)
    run_cli(corpus, out, server.base_url)
    mtime = (out / DEFAULT_CACHE_NAME).stat().st_mtime_ns
    manifest = run_cli(corpus, out, server.base_url, "--no-cache")
    assert len(server.requests) == 6
    assert manifest["counts"]["cached"] == 0
    assert (out / DEFAULT_CACHE_NAME).stat().st_mtime_ns == mtime


def test_cache_option_puts_the_cache_elsewhere(tmp_path, threaded_fake_server):
    server = threaded_fake_server()
    corpus = tmp_path / "in"
    write_corpus(corpus, 2)
    shared = tmp_path / "cache" / "stance.sqlite"
    run_cli(corpus, tmp_path / "out1", server.base_url, "--cache", str(shared))
    manifest = run_cli(corpus, tmp_path / "out2", server.base_url, "--cache", str(shared))
    assert len(server.requests) == 2 and manifest["counts"]["cached"] == 2
    assert not (tmp_path / "out1" / DEFAULT_CACHE_NAME).exists()


def test_analyze_folder_caches_in_the_output_folder_by_default(tmp_path, fake_chat, llm_extractor):
    from stance.analyze import analyze_folder

    corpus = tmp_path / "in"
    corpus.mkdir()
    (corpus / "a.txt").write_text(REAL_ARTICLE.read_text(encoding="utf-8"), encoding="utf-8")
    fake_chat.enqueue(recorded("valid"))
    out = tmp_path / "out"
    first = list(analyze_folder(corpus, model=llm_extractor(), output=out))
    second = list(analyze_folder(corpus, model=llm_extractor(), output=out))
    assert len(fake_chat.history) == 1 and (out / DEFAULT_CACHE_NAME).is_file()
    assert isinstance(second[0], ArticleAnalysis) and second[0].provenance.cached
    assert second[0].positions == first[0].positions  # type: ignore[union-attr]
    fake_chat.enqueue(recorded("valid"))
    third = list(analyze_folder(corpus, model=llm_extractor(), output=out, cache=False))
    assert len(fake_chat.history) == 2 and not third[0].provenance.cached  # type: ignore[union-attr]
