"""Kill `stance run` with SIGKILL mid-run, run it again: nothing finished is lost or redone."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import ROOT

N = 16
MARKER = re.compile(r"resume-marker-(\d+)")

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")


def write_corpus(folder: Path) -> None:
    folder.mkdir()
    for i in range(N):
        (folder / f"story-{i:02d}.txt").write_text(
            f"Story {i}\nThe mayor, Jo Park, said the tram plan was \u201cfinally on track\u201d. "
            f"Reference resume-marker-{i}.\n",
            encoding="utf-8",
        )


def calls_per_article(server) -> Counter[int]:
    counts: Counter[int] = Counter()
    for r in list(server.requests):
        m = MARKER.search(r["body"]["messages"][-1]["content"])
        assert m is not None
        counts[int(m.group(1))] += 1
    return counts


def stance_run(corpus: Path, out: Path, base_url: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "stance", "run", str(corpus), "-o", str(out),
           "-m", "fake-model", "--base-url", base_url, "-c", "2", "-q"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finished(out: Path) -> list[Path]:
    return [p for p in out.glob("story-*.json")] if out.is_dir() else []


def test_sigkill_then_rerun_finishes_only_what_was_missing(tmp_path, threaded_fake_server):
    server = threaded_fake_server(latency=0.15)  # 16 articles, 2 at a time: about 1.2 s
    corpus, out = tmp_path / "in", tmp_path / "out"
    write_corpus(corpus)

    proc = stance_run(corpus, out, server.base_url)
    deadline = time.monotonic() + 60
    while not finished(out):  # poll until at least one article is on disk
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no article finished within 60 s"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL

    done_before = {int(p.stem.removeprefix("story-")) for p in finished(out)}
    assert 0 < len(done_before) < N, "the kill should land mid-run"
    assert not (out / "run.json").exists()
    snapshot = {p.name: p.read_text() for p in finished(out)}
    for text in snapshot.values():
        json.loads(text)  # every file on disk is whole

    proc = stance_run(corpus, out, server.base_url)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr.decode()

    calls = calls_per_article(server)
    for i in done_before:
        assert calls[i] == 1, f"article {i} finished before the kill but was called again"
    assert set(calls) == set(range(N))  # everything else was called (again, if in flight)
    assert sum(calls.values()) < 2 * N

    manifest = json.loads((out / "run.json").read_text())
    assert manifest["counts"]["ok"] == N and manifest["counts"]["failed"] == 0
    assert manifest["counts"]["cached"] >= len(done_before)
    after = {p.name: json.loads(p.read_text()) for p in finished(out)}
    assert len(after) == N
    for name, text in snapshot.items():
        old, new = json.loads(text), after[name]
        assert new["positions"] == old["positions"] and new["summary"] == old["summary"]
