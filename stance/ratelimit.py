"""Client-side rate limits: request and token budgets, and back-off when 429s cluster.

Three mechanisms, all shared by every request of a run:

* **Budgets** (``--rpm`` / ``--tpm``): async token buckets refilled continuously. A request
  reserves one request and its estimated tokens (prompt characters / 4 plus the mean
  completion so far) before every attempt; when the answer arrives the reservation is
  settled against the real usage, so the bucket may go into debt and later requests wait
  it off. The average rate therefore matches the budget however rough the estimate.
* **Retry-After** is honoured by the transport retry policy
  (:mod:`stance.backends.openai_chat`); this module only listens to it.
* **Adaptive back-off**: when ``cluster`` 429s arrive within ``window_s`` the whole run
  pauses (a shared cool-down, doubling on each further cluster) and the number of requests
  in flight is halved; it grows back by one after each run of successes as long as the
  concurrency limit (additive increase, multiplicative decrease).

The clock and sleep are injectable so the logic is tested without waiting.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from .chat import ChatModel, Completion, Message

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
CHARS_PER_TOKEN = 4  # the estimate only sizes a reservation; usage settles it exactly


class TokenBucket:
    """A bucket of ``per_minute`` units, refilled continuously, holding ``burst_s`` seconds' worth.

    The level may go negative (debt) when a reservation is settled with more than was
    reserved; callers then wait until it is paid back.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        burst_s: float = 10.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("a rate budget must be positive")
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self.level = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        self._lock: asyncio.Lock | None = None

    def _refill(self) -> None:
        now = self._clock()
        self.level = min(self.capacity, self.level + (now - self._stamp) * self.rate)
        self._stamp = now

    def wait_time(self, n: float) -> float:
        """Seconds until ``n`` units can be taken (0 if now).

        A request bigger than the whole bucket is let through once the bucket is full, so
        that it cannot wait forever; it leaves the bucket in debt.
        """
        self._refill()
        need = min(n, self.capacity)
        # the epsilon stops a float shortfall of 1e-15 from turning into endless tiny sleeps
        return 0.0 if self.level + 1e-9 >= need else (need - self.level) / self.rate

    def take(self, n: float) -> None:
        self._refill()
        self.level -= n

    def settle(self, delta: float) -> None:
        """Charge ``delta`` more units (negative: refund part of a reservation)."""
        self._refill()
        self.level = min(self.capacity, self.level - delta)

    async def acquire(self, n: float = 1.0) -> None:
        """Wait until ``n`` units are available and take them; waiters are served in order."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            while (wait := self.wait_time(n)) > 0:
                await self._sleep(wait)
            self.take(n)


@dataclass
class _Reservation:
    estimate: int
    reserved: int = 0


_current: contextvars.ContextVar[_Reservation | None] = contextvars.ContextVar(
    "stance_rate_reservation", default=None
)


class RateLimiter:
    """Budgets, a shared cool-down and an adaptive concurrency limit for one run.

    Args:
        rpm: requests per minute, or ``None`` for no request budget.
        tpm: tokens per minute (prompt + completion), or ``None``.
        max_concurrency: requests in flight at most (the run's ``--concurrency``).
        cluster: this many 429s within ``window_s`` trigger a cool-down.
        base_cooldown_s: the first cool-down; each further cluster doubles it, up to
            ``max_cooldown_s``, and a run of successes resets it.
    """

    def __init__(
        self,
        *,
        rpm: float | None = None,
        tpm: float | None = None,
        max_concurrency: int = 1024,
        cluster: int = 3,
        window_s: float = 10.0,
        base_cooldown_s: float = 1.0,
        max_cooldown_s: float = 60.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.requests = TokenBucket(rpm, clock=clock, sleep=sleep) if rpm else None
        self.tokens = TokenBucket(tpm, clock=clock, sleep=sleep) if tpm else None
        self.max_concurrency = max(1, max_concurrency)
        self.limit = self.max_concurrency
        self.in_flight = 0
        self.cluster = cluster
        self.window_s = window_s
        self.base_cooldown_s = base_cooldown_s
        self.max_cooldown_s = max_cooldown_s
        self.cooldown_until = 0.0
        self.rate_limited = 0  # 429s seen
        self.cooldowns = 0
        self._recent: deque[float] = deque()
        self._streak = 0
        self._successes = 0
        self._completion_mean = 0.0
        self._completions = 0
        self._clock = clock
        self._sleep = sleep
        self._cond: asyncio.Condition | None = None

    # -- budgets -------------------------------------------------------------------------

    def estimate(self, messages: list[Message]) -> int:
        """Tokens a request will probably use: its prompt plus the mean completion so far."""
        chars = sum(len(m.content) for m in messages)
        return chars // CHARS_PER_TOKEN + round(self._completion_mean)

    async def before_request(self, tokens: int) -> None:
        """Wait out any cool-down, then take one request and ``tokens`` from the budgets."""
        while (left := self.cooldown_until - self._clock()) > 0:
            await self._sleep(left)
        if self.requests is not None:
            await self.requests.acquire(1)
        if self.tokens is not None:
            await self.tokens.acquire(tokens)

    def settle(self, reserved: int, completion: Completion) -> None:
        """Correct the token budget with the usage the server reported."""
        used = completion.usage.total_tokens
        self._completions += 1
        self._completion_mean += (
            completion.usage.completion_tokens - self._completion_mean
        ) / self._completions
        if self.tokens is not None and used:
            self.tokens.settle(used - reserved)

    # -- adaptive back-off ---------------------------------------------------------------

    def on_rate_limited(self, retry_after: float | None = None) -> None:
        """Record a 429; a cluster of them starts a shared cool-down and halves the limit."""
        now = self._clock()
        self.rate_limited += 1
        self._successes = 0
        self._recent.append(now)
        while self._recent and now - self._recent[0] > self.window_s:
            self._recent.popleft()
        if len(self._recent) < self.cluster:
            return
        self._recent.clear()
        pause = min(self.max_cooldown_s, self.base_cooldown_s * 2**self._streak)
        pause = max(pause, retry_after or 0.0)
        self._streak += 1
        self.cooldowns += 1
        self.cooldown_until = max(self.cooldown_until, now + pause)
        self.limit = max(1, self.limit // 2)
        log.warning(
            "rate limited: %d 429s within %.0f s; pausing %.1f s, at most %d requests in flight",
            self.cluster, self.window_s, pause, self.limit,
        )  # fmt: skip

    def on_success(self) -> None:
        """A completed request: after ``limit`` successes in a row the limit grows by one."""
        self._successes += 1
        if self._successes >= self.limit:
            self._successes = 0
            self._streak = 0
            self.limit = min(self.max_concurrency, self.limit + 1)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the ``limit`` in-flight places for the duration of a call."""
        if self._cond is None:
            self._cond = asyncio.Condition()
        cond = self._cond
        async with cond:
            await cond.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1
        try:
            yield
        finally:
            async with cond:
                self.in_flight -= 1
                # the limit may have grown meanwhile: wake as many as there are free places
                cond.notify(max(1, self.limit - self.in_flight))

    def wrap_wait(self, wait: Callable[[Any], float]) -> Callable[[Any], float]:
        """Wrap a tenacity ``wait`` so that the 429s it sees feed :meth:`on_rate_limited`."""

        def observed(state: Any) -> float:
            delay = wait(state)
            exc = state.outcome.exception() if state.outcome is not None else None
            if getattr(exc, "status_code", None) == 429:
                self.on_rate_limited(delay)
            return delay

        return observed

    def stats(self) -> dict[str, Any]:
        """Budgets and what happened, for run.json."""
        return {
            "rpm": self.requests.rate * 60 if self.requests is not None else None,
            "tpm": self.tokens.rate * 60 if self.tokens is not None else None,
            "rate_limited_429": self.rate_limited,
            "cooldowns": self.cooldowns,
            "concurrency_limit": self.limit,
        }


class RateLimitedChat:
    """A :class:`~stance.chat.ChatModel` that applies a :class:`RateLimiter` to another.

    When the inner model has a ``before_request`` hook (as
    :class:`~stance.backends.openai_chat.OpenAIChatModel` does) the budgets are charged on
    every attempt, transport retries included, and its retry ``wait`` reports 429s here;
    otherwise they are charged once per call.
    """

    def __init__(self, inner: ChatModel, limiter: RateLimiter) -> None:
        self.inner = inner
        self.limiter = limiter
        self._per_attempt = hasattr(inner, "before_request")
        if self._per_attempt:
            previous = inner.before_request  # type: ignore[attr-defined]

            async def hook() -> None:
                if previous is not None:
                    await previous()
                await self._reserve()

            inner.before_request = hook  # type: ignore[attr-defined]
        wait = getattr(inner, "wait", None)
        if callable(wait):
            inner.wait = limiter.wrap_wait(wait)  # type: ignore[attr-defined]

    async def _reserve(self) -> None:
        res = _current.get()
        n = res.estimate if res is not None else 0
        await self.limiter.before_request(n)
        if res is not None:
            res.reserved += n

    async def complete(
        self, messages: list[Message], response_format: dict[str, Any] | None
    ) -> Completion:
        res = _Reservation(self.limiter.estimate(messages))
        token = _current.set(res)
        try:
            async with self.limiter.slot():
                if not self._per_attempt:
                    await self._reserve()
                completion = await self.inner.complete(messages, response_format)
                self.limiter.settle(res.reserved, completion)
                self.limiter.on_success()
        finally:
            _current.reset(token)
        return completion

    async def aclose(self) -> None:
        await self.inner.aclose()


def limit_extractor(
    extractor: Any,
    *,
    rpm: float | None = None,
    tpm: float | None = None,
    concurrency: int = 1024,
) -> RateLimiter | None:
    """Put a :class:`RateLimiter` between ``extractor`` and its chat model.

    Returns the limiter, or ``None`` for extractors without a chat model (the baseline).
    Adaptive back-off is always on; ``rpm``/``tpm`` add budgets.
    """
    chat = getattr(extractor, "chat", None)
    if chat is None:
        return None
    limiter = RateLimiter(rpm=rpm, tpm=tpm, max_concurrency=concurrency)
    extractor.chat = RateLimitedChat(chat, limiter)
    return limiter
