"""A whole `stance run` over good and bad inputs against a faulty endpoint (DESIGN.md §9).

Ten good articles are mixed with every kind of bad input, and the fake endpoint fails 30 %
of requests with every fault it knows. The run must end with each good article analysed or
failed with its reason, each bad input reported once with its reason, exit code 1, and
nothing written outside the output folder. A second run against a healthy endpoint then
calls the model only for what failed.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from stance.cli import cli
from stance.loaders import Article, iter_articles

ROOT = Path(__file__).resolve().parents[1]
BAD = Path(__file__).resolve().parent / "fixtures" / "bad"
GOOD = sorted(p for p in (ROOT / "evals" / "articles").glob("*.md") if "injection" not in p.name)[
    :10
]

# relative path -> what its failure message must say
LOAD_FAILURES = {
    "bad/empty.txt": "file is empty",
    "bad/whitespace.txt": "article has no text",
    "bad/broken.json": "broken JSON at line 2",
    "bad/mixed.jsonl:2": "broken JSON at column",
    "bad/no-text.html": "no article text found in the HTML",
    "bad/notes.docx": "unsupported file type '.docx'",
    "huge.txt": "file is 52.4 MB, over the 5 MB limit",
    "binary.txt": "looks like a binary file",
    "utf16-nobom.txt": "UTF-16 text without a byte-order mark",
}


def build_corpus(folder: Path) -> None:
    """Ten good articles, the committed bad fixtures, and generated big/binary/encoded ones."""
    folder.mkdir()
    for p in GOOD:
        shutil.copy(p, folder / p.name)
    shutil.copytree(BAD, folder / "bad")
    with (folder / "huge.txt").open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)  # sparse: 50 MB on paper, nothing on disk
    (folder / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(4096))
    text = "Tram plan\nMayor Jo Park said the tram plan was \u201cfinally on track\u201d.\n"
    (folder / "utf16-bom.txt").write_bytes(text.encode("utf-16"))
    (folder / "utf16-nobom.txt").write_bytes(text.encode("utf-16-le"))
    latin = "Caf\u00e9 plan\nCaf\u00e9 owner L\u00e9a Roux said the plan was \u201cfair\u201d.\n"
    (folder / "latin1.txt").write_bytes(latin.encode("cp1252"))


def tree(root: Path, skip: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if skip not in (p, *p.parents)}


def fast_extractor(real: Any, spec: Any, **kw: Any) -> Any:
    """resolve_extractor with a short client timeout and millisecond back-off (tests only)."""
    ex = real(spec, timeout=0.3, **kw)
    if hasattr(ex, "chat"):  # not the baseline
        ex.chat.wait.fallback.initial, ex.chat.wait.fallback.max = 0.001, 0.002
    return ex


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    run_module = importlib.import_module("stance.cli.run")  # the module, not the command

    monkeypatch.setattr(
        run_module, "resolve_extractor", partial(fast_extractor, run_module.resolve_extractor)
    )
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_good_and_bad_inputs_against_a_faulty_endpoint(tmp_path, threaded_fake_server, run_cli):
    corpus, out = tmp_path / "in", tmp_path / "out"
    build_corpus(corpus)
    loadable = [a for a in iter_articles([corpus]) if isinstance(a, Article)]
    assert len(loadable) == 10 + 2 + 7 + 3 + 2  # good, jsonl, hostile ids, dups, encodings
    before = tree(tmp_path, out)
    server = threaded_fake_server(fault_rate=0.3, retry_after=0.01, timeout_sleep=1.0, seed=7)

    result = run_cli(
        "run", str(corpus), "-o", str(out), "-m", "fake-model", "--base-url", server.base_url,
        "-c", "4", "-q",
    )  # fmt: skip

    assert result.exit_code == 1, result.output
    run = json.loads((out / "run.json").read_text())
    failures = run["failures"]
    by_path = {f["path"]: f for f in failures}

    # every bad input: one record naming the file and the problem, one stderr line
    for rel, problem in LOAD_FAILURES.items():
        f = by_path[str(corpus / rel)]
        assert f["stage"] == "load" and problem in f["message"], f
        assert f"stance: failed: {corpus / rel}: {f['message']}" in result.stderr
    load_failures = [f for f in failures if f["stage"] == "load"]
    assert len(load_failures) == len(LOAD_FAILURES)

    # every loadable article: analysed, or failed at the model with its reason kept
    model_failures = {f["article_id"]: f for f in failures if f["stage"] != "load"}
    for f in model_failures.values():
        assert f["error"] in ("EndpointError", "InvalidOutput", "TruncatedOutput", "Refusal")
        assert f["message"] and f["attempts"] >= 1
        if f["stage"] == "validate":
            assert f["last_raw"] is not None or f["error"] == "Refusal"
    analysed = {p.stem for p in out.glob("*.json") if p.name != "run.json"} - {"comparison"}
    assert analysed | set(model_failures) == {a.id for a in loadable}
    assert not analysed & set(model_failures)
    assert run["counts"]["ok"] == len(analysed)
    assert run["counts"]["failed"] == len(failures) == len(load_failures) + len(model_failures)
    assert len(analysed) >= 12  # 30 % faults are mostly retried away (typically 20-24 of 24)
    stats = server.server.stats
    assert sum(v for k, v in stats.items() if k.startswith("fault_")) > 5  # faults did happen

    # hostile ids stayed inside the output folder, with safe names
    assert {"etc-passwd", "etc-shadow", "_CON", "run-2", "story", "story-2", "story-2-2"} <= {
        a.id for a in loadable
    }
    assert tree(tmp_path, out) == before  # nothing written outside OUT (cwd included)
    for p in out.rglob("*"):
        assert not p.is_symlink() and p.resolve().is_relative_to(out.resolve())

    # a re-run against a healthy endpoint calls the model only for what failed there
    server.server.config.fault_rate = 0.0
    calls_before, merges_before = stats["requests"], stats["merge_requests"]
    again = run_cli(
        "run", str(corpus), "-o", str(out), "-m", "fake-model", "--base-url", server.base_url,
        "-c", "4", "-q",
    )  # fmt: skip
    assert again.exit_code == 1  # the bad inputs are still bad
    # plus at most one name-merge call: the recovered articles may bring new names
    new_merges = stats["merge_requests"] - merges_before
    assert new_merges <= 1
    assert stats["requests"] - calls_before == len(model_failures) + new_merges
    rerun = json.loads((out / "run.json").read_text())
    assert rerun["counts"]["ok"] == len(loadable)
    assert rerun["counts"]["cached"] == len(analysed)
    assert {f["stage"] for f in rerun["failures"]} == {"load"}


def test_bad_inputs_offline_with_the_baseline(tmp_path, run_cli):
    """The same corpus with no endpoint at all: only the bad inputs fail, exit code 1."""
    corpus, out = tmp_path / "in", tmp_path / "out"
    build_corpus(corpus)
    result = run_cli("run", str(corpus), "-o", str(out), "-m", "baseline", "-q")
    assert result.exit_code == 1
    run = json.loads((out / "run.json").read_text())
    assert sorted(f["path"] for f in run["failures"]) == sorted(
        str(corpus / rel) for rel in LOAD_FAILURES
    )
    assert run["counts"]["ok"] == 24
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("stance: failed: ")]
    assert len(lines) == len(LOAD_FAILURES)


def test_all_good_inputs_exit_zero(tmp_path, run_cli):
    corpus, out = tmp_path / "in", tmp_path / "out"
    corpus.mkdir()
    for p in GOOD[:3]:
        shutil.copy(p, corpus / p.name)
    result = run_cli("run", str(corpus), "-o", str(out), "-m", "baseline", "-q")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "run.json").read_text())["failures"] == []
