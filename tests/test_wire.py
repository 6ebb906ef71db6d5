"""What goes over the wire: request bodies, retries and Retry-After, via httpx2.MockTransport."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai
import pytest
from conftest import REAL_ARTICLE, recorded

from stance.analyze import aanalyze
from stance.backends import resolve_extractor
from stance.backends.openai_chat import endpoint_host, retry_after_seconds
from stance.errors import EndpointError


def mock_client(handler: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key="sk-test-not-real",
        base_url="http://llm.test/v1",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
    )


class Script:
    """Answers requests from a list of (status, body, headers) and records each request."""

    def __init__(self, *steps: tuple[int, Any, dict[str, str]]) -> None:
        self.steps = list(steps)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        status, body, headers = self.steps.pop(0)
        return httpx2.Response(status, json=body, headers=headers)

    def body(self, i: int) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.requests[i].content)
        return data


def extractor(handler: Any, **kw: Any) -> Any:
    kw.setdefault("max_attempts", 3)
    ex = resolve_extractor("gpt-4o-mini", client=mock_client(handler), **kw)
    ex.chat.wait.fallback.initial = 0.001  # keep back-off tiny in tests
    ex.chat.wait.fallback.max = 0.002
    return ex


@pytest.mark.parametrize(
    ("mode", "expected_type"),
    [("json_schema", "json_schema"), ("json_object", "json_object"), ("prompt", None)],
)
async def test_request_body_per_output_mode(mode, expected_type):
    script = Script((200, recorded("valid"), {}))
    a = await aanalyze(REAL_ARTICLE, model=extractor(script, output_mode=mode))
    body = script.body(0)
    assert body["model"] == "gpt-4o-mini"
    assert body["temperature"] == 0.0
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body.get("response_format", {}).get("type") == expected_type
    if mode == "json_schema":
        schema = body["response_format"]["json_schema"]["schema"]
        assert schema["additionalProperties"] is False
        assert set(schema["required"]) == {"summary", "key_points", "parties", "positions"}
    else:  # the schema travels in the prompt instead
        assert '"positions"' in body["messages"][0]["content"]
    assert len(a.positions) == 3


async def test_429_with_retry_after_is_retried_then_succeeds(monkeypatch):
    waits: list[float] = []
    from stance.backends import openai_chat

    original = openai_chat._WaitRetryAfter.__call__

    def spy(self: Any, state: Any) -> float:
        w = original(self, state)
        waits.append(w)
        return 0.0  # do not really sleep; we check what would have been waited

    monkeypatch.setattr(openai_chat._WaitRetryAfter, "__call__", spy)
    script = Script(
        (429, {"error": {"message": "slow down"}}, {"retry-after": "7"}),
        (200, recorded("valid"), {}),
    )
    a = await aanalyze(REAL_ARTICLE, model=extractor(script))
    assert len(script.requests) == 2
    assert waits == [7.0]
    assert a.provenance.calls == 1  # one successful model call; transport retries are below it


async def test_persistent_5xx_gives_endpoint_error_after_bounded_attempts():
    script = Script(*[(503, {"error": {"message": "busy"}}, {})] * 3)
    with pytest.raises(EndpointError, match="HTTP 503") as err:
        await aanalyze(REAL_ARTICLE, model=extractor(script, max_attempts=3))
    assert len(script.requests) == 3
    assert err.value.attempts == 3


async def test_non_retryable_400_fails_at_once():
    script = Script((400, {"error": {"message": "bad schema"}}, {}))
    with pytest.raises(EndpointError, match="HTTP 400"):
        await aanalyze(REAL_ARTICLE, model=extractor(script))
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_parsing(headers, expected):
    req = httpx2.Request("POST", "http://x/v1/chat/completions")
    resp = httpx2.Response(429, headers=headers, request=req)
    exc = openai.RateLimitError("rate limited", response=resp, body=None)
    assert retry_after_seconds(exc) == expected


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://127.0.0.1:8080/v1", "127.0.0.1:8080"),
        ("https://user:secret@api.example.com/v1?key=abc", "api.example.com"),
        (None, None),
    ],
)
def test_endpoint_is_recorded_as_host_only(url, host):
    assert endpoint_host(url) == host
