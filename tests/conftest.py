"""Shared fixtures: a network guard, a clean environment, fake models and a fake server."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REAL_ARTICLE = ROOT / "examples" / "articles" / "ukraine-peacekeepers.txt"
sys.path.insert(0, str(ROOT / "benchmarks"))

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and (
        host.startswith("127.") or host in ("localhost", "::1") or self.family == socket.AF_UNIX
    ):
        return _real_connect(self, address)
    raise RuntimeError(f"unit tests must not touch the network (tried {address!r})")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("live") is None:
        monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "STANCE_MODEL", "OPENAI_ORG_ID"):
        monkeypatch.delenv(var, raising=False)


def recorded(name: str) -> dict[str, Any]:
    """A recorded chat.completion response body from tests/fixtures/responses."""
    data: dict[str, Any] = json.loads((FIXTURES / "responses" / f"{name}.json").read_text("utf-8"))
    return data


@pytest.fixture
def real_article_text() -> str:
    from stance.loaders import load_file

    return load_file(REAL_ARTICLE)[0].text


class FakeChat:
    """A ChatModel that replays queued completions and records what it was sent."""

    def __init__(self) -> None:
        from stance.chat import Completion

        self._queue: list[Completion | Exception] = []
        self.history: list[tuple[list[Any], dict[str, Any] | None]] = []
        self.Completion = Completion
        self.closed = False

    def enqueue(self, item: Any) -> FakeChat:
        """Queue a recorded response body (dict), a Completion, or an exception to raise."""
        if isinstance(item, dict):
            from openai.types.chat import ChatCompletion

            from stance.schema import Usage

            cc = ChatCompletion.model_validate(item)
            choice = cc.choices[0]
            item = self.Completion(
                content=choice.message.content,
                finish_reason=choice.finish_reason,
                refusal=choice.message.refusal,
                usage=Usage(
                    **cc.usage.model_dump(
                        include={"prompt_tokens", "completion_tokens", "total_tokens"}
                    )
                )
                if cc.usage
                else Usage(),
                model=cc.model,
            )
        self._queue.append(item)
        return self

    async def complete(self, messages: list[Any], response_format: dict[str, Any] | None) -> Any:
        self.history.append((list(messages), response_format))
        if not self._queue:
            raise AssertionError("FakeChat: no response queued for this call")
        item = self._queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    async def aclose(self) -> None:
        self.closed = True


@pytest.fixture
def fake_chat() -> FakeChat:
    return FakeChat()


@pytest.fixture
def llm_extractor(fake_chat: FakeChat) -> Callable[..., Any]:
    def make(**kw: Any) -> Any:
        from stance.backends.llm import LLMExtractor

        return LLMExtractor(fake_chat, model="gpt-4o-mini", **kw)

    return make


@pytest.fixture
async def fake_server() -> AsyncIterator[Any]:
    from fake_server import FakeServer

    server = FakeServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


class ThreadedFakeServer:
    """The fake OpenAI server on its own event loop in a thread, for sync callers (CLI tests)."""

    def __init__(self, **config: Any) -> None:
        import asyncio
        import threading

        from fake_server import FakeConfig, FakeServer

        self.server = FakeServer(FakeConfig(**config))
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.server.start())
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        if not started.wait(10):
            raise RuntimeError("fake server did not start")

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.server.requests

    def stop(self) -> None:
        import asyncio

        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def threaded_fake_server() -> Any:
    servers: list[ThreadedFakeServer] = []

    def start(**config: Any) -> ThreadedFakeServer:
        s = ThreadedFakeServer(**config)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()
