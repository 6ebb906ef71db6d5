"""The one module that talks to the ``openai`` SDK.

Retry policy: the SDK's own retries are switched off (``max_retries=0``) and one tenacity
policy here handles transport failures — 408, 409, 429, 5xx, timeouts and dropped
connections — honouring ``Retry-After`` / ``retry-after-ms`` when the server sends them and
backing off exponentially with jitter when it does not. Validation re-asks are a different
thing and live in :mod:`stance.backends.llm`; the two are never stacked inside each other.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx2
import openai
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from ..chat import Completion, Message
from ..errors import ConfigError, EndpointError
from ..schema import Usage
from .structured import response_format_for

__all__ = ["OpenAIChatModel", "endpoint_host", "response_format_for", "retry_after_seconds"]

RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER_S = 120.0
DEFAULT_MAX_ATTEMPTS = 5


def endpoint_host(base_url: str | None) -> str | None:
    """Host (and port) of an endpoint URL; never the path, query or credentials."""
    if not base_url:
        return None
    parts = urlsplit(str(base_url))
    host = parts.hostname or ""
    return f"{host}:{parts.port}" if parts.port else host or None


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRY_STATUSES
    return False


def retry_after_seconds(exc: BaseException | None) -> float | None:
    """Seconds the server asked us to wait, from Retry-After or retry-after-ms."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # an HTTP date
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time())


class _WaitRetryAfter:
    """Wait what the server asks for; otherwise exponential back-off with jitter."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.fallback = wait_exponential_jitter(initial=initial, max=maximum)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after_seconds(exc)
        if asked is not None:
            return min(asked, MAX_RETRY_AFTER_S)
        return float(self.fallback(state))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code} from the endpoint"
    if isinstance(exc, openai.APITimeoutError):
        return "request timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "could not connect to the endpoint (connection refused or dropped)"
    return exc.__class__.__name__


def _loopback_client(base_url: str | None, timeout: float) -> httpx2.AsyncClient | None:
    """A client that ignores HTTP(S)_PROXY for a server on this machine, else None (SDK default).

    With a proxy set and no NO_PROXY, requests to 127.0.0.1 would go to the proxy and fail.
    """
    host = urlsplit(base_url or "").hostname or ""
    if host in ("localhost", "::1") or host.startswith("127."):
        return openai.DefaultAsyncHttpxClient(timeout=timeout, trust_env=False)
    return None


class OpenAIChatModel:
    """A :class:`~stance.chat.ChatModel` over any OpenAI-compatible chat endpoint."""

    def __init__(
        self,
        model: str,
        *,
        client: openai.AsyncOpenAI | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        params: dict[str, Any] | None = None,
        before_request: Callable[[], Any] | None = None,
    ) -> None:
        self.model = model
        if client is None:
            try:
                client = openai.AsyncOpenAI(
                    base_url=base_url,
                    api_key=api_key or "not-needed",  # local servers ignore it
                    timeout=timeout,
                    max_retries=0,
                    http_client=_loopback_client(base_url, timeout),
                )
            except openai.OpenAIError as exc:
                raise ConfigError(f"cannot configure the OpenAI client: {exc}") from exc
        self.client = client
        self.endpoint_host = endpoint_host(str(client.base_url))
        self.max_attempts = max_attempts
        self.wait = _WaitRetryAfter(backoff_initial, backoff_max)
        self.params = dict(params or {})
        self.before_request = before_request

    async def complete(
        self, messages: list[Message], response_format: dict[str, Any] | None
    ) -> Completion:
        kwargs: dict[str, Any] = dict(self.params)
        if response_format is not None:
            # Sent as-is through extra_body: the SDK would otherwise walk the whole JSON schema
            # with its type-driven transform on every call (~0.4 ms each, for no change).
            kwargs["extra_body"] = {"response_format": response_format}
        payload = [{"role": m.role, "content": m.content} for m in messages]
        retrying = AsyncRetrying(
            retry=retry_if_exception(_is_retryable),
            stop=stop_after_attempt(self.max_attempts),
            wait=self.wait,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if self.before_request is not None:
                        await self.before_request()
                    resp = await self.client.chat.completions.create(
                        model=self.model,
                        messages=payload,  # type: ignore[arg-type]
                        **kwargs,
                    )
        except openai.APIError as exc:
            n = retrying.statistics.get("attempt_number", 1)
            raise EndpointError(
                f"{_describe(exc)} after {n} attempt(s)", attempts=n, original=exc
            ) from exc
        except httpx2.HTTPError as exc:  # pragma: no cover - the SDK wraps these
            raise EndpointError(f"transport error: {exc.__class__.__name__}", original=exc) from exc
        if not resp.choices:
            return Completion(content=None, finish_reason="error", model=resp.model)
        choice = resp.choices[0]
        u = resp.usage
        usage = (
            Usage(
                prompt_tokens=u.prompt_tokens or 0,
                completion_tokens=u.completion_tokens or 0,
                total_tokens=u.total_tokens or 0,
            )
            if u
            else Usage()
        )
        return Completion(
            content=choice.message.content,
            finish_reason=choice.finish_reason,
            refusal=getattr(choice.message, "refusal", None),
            usage=usage,
            model=resp.model,
        )

    async def aclose(self) -> None:
        await self.client.close()
