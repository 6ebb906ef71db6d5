"""The API key (and a password in the endpoint URL) never reach outputs, caches, logs or errors.

Each case runs the real CLI in a subprocess with ``OPENAI_API_KEY`` set to a marker, then
searches every byte it left behind — every file under the output folder (cache included),
stdout and stderr — for the marker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import REAL_ARTICLE, ROOT

KEY = "sk-MARKER-key-7f3a9c1e5b"
PASSWORD = "PWMARKER-9d8e7f"


class EchoingAuthServer:
    """An endpoint that rejects every request with 401 and echoes the credentials it got,
    as a careless proxy might: whatever stance prints of the error must not carry them."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("content-length", 0)))
                auth = self.headers.get("authorization", "")
                body = json.dumps(
                    {"error": {"message": f"Incorrect API key provided: {auth}",
                               "type": "invalid_request_error", "code": "invalid_api_key"}}
                ).encode()  # fmt: skip
                self.send_response(401)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


@pytest.fixture
def auth_server() -> Iterator[EchoingAuthServer]:
    server = EchoingAuthServer()
    yield server
    server.stop()


def stance(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "STANCE_"))}
    env.update(OPENAI_API_KEY=KEY, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "stance", *args], cwd=tmp_path, env=env, capture_output=True,
        timeout=120,
    )  # fmt: skip


def leaks(marker: str, out: Path, proc: subprocess.CompletedProcess[bytes]) -> list[str]:
    """Where ``marker`` appears: file paths under ``out``, or ``stdout``/``stderr``."""
    needle = marker.encode()
    found = [str(p) for p in out.rglob("*") if p.is_file() and needle in p.read_bytes()]
    found += [name for name in ("stdout", "stderr") if needle in getattr(proc, name)]
    return found


def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "story.txt").write_bytes(REAL_ARTICLE.read_bytes())
    (folder / "empty.txt").write_bytes(b"")  # one failure, so error paths run too
    return folder


def test_key_never_written_on_success(tmp_path, threaded_fake_server):
    server = threaded_fake_server()
    out = tmp_path / "out"  # --debug: the most verbose logs stance can write
    args = ["--debug", "run", str(corpus(tmp_path)), "-o", str(out), "-m", "fake-model"]
    proc = stance([*args, "--base-url", server.base_url], tmp_path)
    assert proc.returncode == 1, proc.stderr.decode()[-2000:]  # the empty file failed
    assert server.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"  # it was used
    assert (out / "story.json").is_file() and any(out.glob(".stance-cache*"))
    assert leaks(KEY, out, proc) == []
    run = json.loads((out / "run.json").read_text())
    assert run["endpoint_host"] == f"127.0.0.1:{server.server.port}"
    assert b"DEBUG" in proc.stderr  # the debug logs were really on


def test_key_never_printed_when_the_endpoint_rejects_it(tmp_path, auth_server):
    out = tmp_path / "out"
    base_url = f"http://127.0.0.1:{auth_server.port}/v1"
    args = ["--debug", "run", str(corpus(tmp_path)), "-o", str(out), "-m", "fake-model"]
    proc = stance([*args, "--base-url", base_url], tmp_path)
    assert proc.returncode == 1
    assert b"HTTP 401 from the endpoint" in proc.stderr
    assert leaks(KEY, out, proc) == []
    failures = json.loads((out / "run.json").read_text())["failures"]
    assert {f["error"] for f in failures} == {"EndpointError", "InputError"}


def test_password_in_the_endpoint_url_is_recorded_as_host_only(tmp_path, threaded_fake_server):
    server = threaded_fake_server()
    out = tmp_path / "out"
    base_url = f"http://user:{PASSWORD}@127.0.0.1:{server.server.port}/v1"
    proc = stance(
        ["run", str(corpus(tmp_path)), "-o", str(out), "-m", "fake-model", "--base-url", base_url],
        tmp_path,
    )
    assert proc.returncode == 1, proc.stderr.decode()[-2000:]
    assert leaks(PASSWORD, out, proc) == [] and leaks(KEY, out, proc) == []
    run = json.loads((out / "run.json").read_text())
    assert run["endpoint_host"] == f"127.0.0.1:{server.server.port}"
    story = json.loads((out / "story.json").read_text())
    assert story["provenance"]["endpoint_host"] == run["endpoint_host"]


def test_password_in_the_endpoint_url_stays_out_of_debug_logs(tmp_path, threaded_fake_server):
    server = threaded_fake_server()
    out = tmp_path / "out"
    base_url = f"http://user:{PASSWORD}@127.0.0.1:{server.server.port}/v1"
    args = ["--debug", "run", str(corpus(tmp_path)), "-o", str(out), "-m", "fake-model"]
    proc = stance([*args, "--base-url", base_url], tmp_path)
    assert leaks(PASSWORD, out, proc) == [] and leaks(KEY, out, proc) == []
