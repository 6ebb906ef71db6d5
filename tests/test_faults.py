"""Faults from the endpoint: each is retried or re-asked within bounds, then reported.

Two layers, never stacked (see stance.backends.openai_chat): transport faults (429, 5xx,
timeouts, dropped connections) are retried by one tenacity policy up to ``max_attempts``
requests per model call; answers that parse but are unusable (broken JSON, schema
violations) get one validation re-ask. Truncated answers and refusals are reported at once.
Every case asserts the exact number of HTTP requests the server saw.
"""

from __future__ import annotations

from typing import Any

import httpx2
import openai
import pytest
from conftest import REAL_ARTICLE

from stance.analyze import analyze_one
from stance.backends import resolve_extractor
from stance.loaders import load_file, make_article
from stance.schema import ArticleAnalysis, ArticleFailure

ARTICLE_BODY = (
    "Mayor Jo Park said the tram plan was \u201cfinally on track\u201d on Monday. "
    "The council's finance chief, Ana Ruiz, said the budget \u201cwill not stretch that far\u201d."
)


def shrink_backoff(ex: Any) -> Any:
    ex.chat.wait.fallback.initial = 0.001  # exponential back-off without Retry-After
    ex.chat.wait.fallback.max = 0.002
    return ex


def server_extractor(server: Any, **kw: Any) -> Any:
    kw.setdefault("max_attempts", 3)
    kw.setdefault("timeout", 10.0)
    ex = resolve_extractor("fake-model", base_url=server.base_url, api_key="sk-test", **kw)
    return shrink_backoff(ex)


async def run_scripted(server: Any, faults: list[str | None], **kw: Any) -> tuple[Any, Any]:
    marker = "fault-case-marker"
    server.config.script = {marker: faults}
    server.config.retry_after = 0.01
    article = make_article(f"{ARTICLE_BODY} Ref {marker}.", id="scripted", path="scripted.txt")
    ex = server_extractor(server, **kw)
    try:
        outcome, _ = await analyze_one(article, ex)
    finally:
        await ex.aclose()
    return outcome, server.stats


# faults for successive requests -> (ok?, requests, error class, message part, model calls)
CASES = [
    pytest.param(["429"], True, 2, None, None, 1, id="429-retry-after"),
    pytest.param(["429_bare"], True, 2, None, None, 1, id="429-no-retry-after"),
    pytest.param(["500"], True, 2, None, None, 1, id="500"),
    pytest.param(["503", "503"], True, 3, None, None, 1, id="503-twice"),
    pytest.param(["drop"], True, 2, None, None, 1, id="dropped-connection"),
    pytest.param(["429", "500", "drop"], False, 3, "EndpointError", "after 3 attempt(s)", 0,
                 id="transport-exhausted"),
    pytest.param(["503"] * 3, False, 3, "EndpointError", "HTTP 503", 0, id="503-exhausted"),
    pytest.param(["drop"] * 3, False, 3, "EndpointError", "connection refused or dropped", 0,
                 id="drop-exhausted"),
    pytest.param(["invalid_json"], True, 2, None, None, 2, id="invalid-json-reasked"),
    pytest.param(["schema"], True, 2, None, None, 2, id="schema-reasked"),
    pytest.param(["invalid_json", "schema"], False, 2, "InvalidOutput",
                 "does not match the schema", 2, id="reask-exhausted"),
    pytest.param(["length"], True, 2, None, None, 2, id="truncated-reasked"),
    pytest.param(["refusal"], True, 2, None, None, 2, id="refusal-reasked"),
    pytest.param(["length", "length"], False, 2, "TruncatedOutput", "finish_reason=length", 2,
                 id="truncated-twice"),
    pytest.param(["refusal", "refusal"], False, 2, "Refusal", "refused", 2,
                 id="refusal-twice"),
    pytest.param(["429", "invalid_json", "500"], True, 4, None, None, 2,
                 id="retry-then-reask-then-retry"),
]  # fmt: skip


@pytest.mark.parametrize(("faults", "ok", "requests", "error", "message", "calls"), CASES)
async def test_scripted_fault(fake_server, faults, ok, requests, error, message, calls):
    outcome, stats = await run_scripted(fake_server, faults)
    assert stats["requests"] == requests
    if ok:
        assert isinstance(outcome, ArticleAnalysis), outcome
        assert outcome.provenance.calls == calls
        assert sorted(p.party for p in outcome.positions) == ["Ana Ruiz", "Jo Park"]
        return
    assert isinstance(outcome, ArticleFailure)
    assert outcome.error == error
    assert message in outcome.message
    assert outcome.article_id == "scripted" and outcome.path == "scripted.txt"
    assert outcome.attempts == requests if error == "EndpointError" else outcome.attempts >= 1
    if error == "EndpointError":
        assert outcome.stage == "model" and outcome.last_raw is None
    else:  # the last raw answer is kept for diagnosis
        assert outcome.stage == "validate"
        last = fake_server.requests[-1]
        assert last["body"]["messages"][0]["role"] == "system"
    if error == "InvalidOutput":
        assert outcome.last_raw == '{"summary": 42, "positions": "none"}'
    if error == "TruncatedOutput":
        assert outcome.last_raw and outcome.last_raw.startswith("{")
        assert not outcome.last_raw.rstrip().endswith("}")


async def test_timeout_is_retried(fake_server):
    fake_server.config.timeout_sleep = 1.0  # the server stalls past the client's 0.3 s
    outcome, stats = await run_scripted(fake_server, ["timeout"], timeout=0.3)
    assert isinstance(outcome, ArticleAnalysis)
    assert stats["requests"] == 2 and stats["fault_timeout"] == 1


async def test_timeouts_exhaust_attempts(fake_server):
    fake_server.config.timeout_sleep = 1.0
    outcome, stats = await run_scripted(fake_server, ["timeout"] * 2, timeout=0.3, max_attempts=2)
    assert isinstance(outcome, ArticleFailure)
    assert outcome.error == "EndpointError" and "timed out after 2 attempt(s)" in outcome.message
    assert stats["requests"] == 2


async def test_ungrounded_evidence_is_flagged_not_fatal(fake_server):
    outcome, stats = await run_scripted(fake_server, ["ungrounded"])
    assert stats["requests"] == 1
    assert isinstance(outcome, ArticleAnalysis)
    invented = [p for p in outcome.positions if p.topic == "an invented topic"]
    assert [e.status for e in invented[0].evidence] == ["not_found"]
    assert any("not found in the text" in w for w in outcome.warnings)


async def test_invented_party_is_dropped(fake_server):
    outcome, stats = await run_scripted(fake_server, ["invented"])
    assert stats["requests"] == 1
    assert isinstance(outcome, ArticleAnalysis)
    assert "Acme Injected Corp" not in {p.name for p in outcome.parties}
    assert "Acme Injected Corp" not in {p.party for p in outcome.positions}
    assert any("Acme Injected Corp" in w and "not named" in w for w in outcome.warnings)


# ----------------------------------------------------------------- wire level (MockTransport)


def mock_extractor(handler: Any, **kw: Any) -> Any:
    client = openai.AsyncOpenAI(
        api_key="sk-test-not-real",
        base_url="http://llm.test/v1",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
    )
    kw.setdefault("max_attempts", 3)
    return shrink_backoff(resolve_extractor("gpt-4o-mini", client=client, **kw))


def ok_body(request: httpx2.Request) -> dict[str, Any]:
    import json

    from fake_server import answer_body

    return answer_body(json.loads(request.content))


@pytest.mark.parametrize(
    ("exc", "described"),
    [
        (httpx2.ReadTimeout("slow"), "request timed out"),
        (httpx2.ConnectError("refused"), "could not connect"),
        (httpx2.RemoteProtocolError("peer closed connection"), "could not connect"),
    ],
)
async def test_transport_exceptions_retry_then_fail(exc, described):
    calls: list[httpx2.Request] = []

    def always_fail(request: httpx2.Request) -> httpx2.Response:
        calls.append(request)
        raise exc

    article = load_file(REAL_ARTICLE)[0]
    outcome, _ = await analyze_one(article, mock_extractor(always_fail))
    assert isinstance(outcome, ArticleFailure)
    assert len(calls) == 3
    assert described in outcome.message and outcome.attempts == 3


async def test_transport_exception_then_success():
    calls: list[httpx2.Request] = []

    def flaky(request: httpx2.Request) -> httpx2.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx2.RemoteProtocolError("server disconnected without sending a response")
        return httpx2.Response(200, json=ok_body(request))

    outcome, _ = await analyze_one(load_file(REAL_ARTICLE)[0], mock_extractor(flaky))
    assert isinstance(outcome, ArticleAnalysis) and outcome.positions
    assert len(calls) == 2


async def test_429_without_retry_after_backs_off_exponentially(monkeypatch):
    from stance.backends import openai_chat

    waits: list[float] = []
    original = openai_chat._WaitRetryAfter.__call__

    def spy(self: Any, state: Any) -> float:
        waits.append(original(self, state))
        return 0.0

    monkeypatch.setattr(openai_chat._WaitRetryAfter, "__call__", spy)
    statuses = iter([429, 429, 200])

    def handler(request: httpx2.Request) -> httpx2.Response:
        status = next(statuses)
        if status == 429:
            return httpx2.Response(429, json={"error": {"message": "slow down"}})
        return httpx2.Response(200, json=ok_body(request))

    ex = mock_extractor(handler)
    ex.chat.wait.fallback.initial, ex.chat.wait.fallback.max = 1.0, 30.0
    outcome, _ = await analyze_one(load_file(REAL_ARTICLE)[0], ex)
    assert isinstance(outcome, ArticleAnalysis)
    assert len(waits) == 2
    assert 1.0 <= waits[0] <= 2.0 and 2.0 <= waits[1] <= 3.0  # 1 s, 2 s, plus up to 1 s jitter


async def test_retry_after_is_capped(monkeypatch):
    from stance.backends import openai_chat

    waits: list[float] = []
    original = openai_chat._WaitRetryAfter.__call__
    monkeypatch.setattr(
        openai_chat._WaitRetryAfter,
        "__call__",
        lambda self, state: waits.append(original(self, state)) or 0.0,
    )
    answers = iter(
        [httpx2.Response(429, json={"error": {}}, headers={"retry-after": "86400"}), None]
    )

    def handler(request: httpx2.Request) -> httpx2.Response:
        return next(answers) or httpx2.Response(200, json=ok_body(request))

    outcome, _ = await analyze_one(load_file(REAL_ARTICLE)[0], mock_extractor(handler))
    assert isinstance(outcome, ArticleAnalysis)
    assert waits == [openai_chat.MAX_RETRY_AFTER_S]


async def test_refusal_text_cannot_forge_stderr_lines():
    def handler(request: httpx2.Request) -> httpx2.Response:
        body = ok_body(request)
        body["choices"][0]["message"].update(
            content=None, refusal="No.\nstance: 0 failed\x1b[2K\x1b[32m all good"
        )
        return httpx2.Response(200, json=body)

    outcome, _ = await analyze_one(load_file(REAL_ARTICLE)[0], mock_extractor(handler))
    assert isinstance(outcome, ArticleFailure) and outcome.error == "Refusal"
    assert "\n" not in outcome.message and "\x1b" not in outcome.message
    assert "\\n" in outcome.message and "\\x1b" in outcome.message
