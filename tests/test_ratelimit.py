"""Rate limits: token buckets on an injected clock, cool-down on 429 clusters, the chat wrapper."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2
import openai
import pytest
from click.testing import CliRunner
from conftest import REAL_ARTICLE, recorded

from stance.analyze import aanalyze
from stance.backends import resolve_extractor
from stance.chat import Completion, Message
from stance.cli import cli
from stance.ratelimit import RateLimitedChat, RateLimiter, TokenBucket, limit_extractor
from stance.schema import Usage


class FakeClock:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(
    ("per_minute", "burst_s", "takes", "expected_wait"),
    [
        (60, 10, [1] * 10, 0.0),  # a full bucket of 10 goes at once
        (60, 10, [1] * 11, 1.0),  # the 11th waits one refill (1/s)
        (60, 10, [1] * 13, 3.0),
        (600, 1, [1] * 10 + [5], 0.5),  # 10/s: five more take half a second
        (6000, 1, [250, 1], 1.51),  # bigger than the bucket (100): goes when full, in debt
    ],
)
async def test_bucket_waits_exactly_as_long_as_the_rate_requires(
    per_minute, burst_s, takes, expected_wait
):
    clock = FakeClock()
    bucket = TokenBucket(per_minute, burst_s=burst_s, clock=clock, sleep=clock.sleep)
    for n in takes:
        await bucket.acquire(n)
    assert clock.now - 1000.0 == pytest.approx(expected_wait)


async def test_bucket_refills_with_time_but_not_beyond_capacity():
    clock = FakeClock()
    bucket = TokenBucket(60, burst_s=5, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        await bucket.acquire()
    clock.now += 3600  # an idle hour refills only the burst, not 3600 requests
    assert bucket.wait_time(5) == 0.0
    assert bucket.wait_time(6) == 0.0  # more than capacity: allowed once full...
    bucket.take(6)
    assert bucket.level == -1.0  # ...leaving a debt
    assert bucket.wait_time(1) == pytest.approx(2.0)


async def test_settle_charges_the_real_usage():
    clock = FakeClock()
    bucket = TokenBucket(6000, burst_s=1, clock=clock, sleep=clock.sleep)  # 100 tokens, 100/s
    await bucket.acquire(40)  # reserved 40 ...
    bucket.settle(100 - 40)  # ... used 100
    assert bucket.level == pytest.approx(0.0)
    bucket.settle(-1000)  # refunds never overfill
    assert bucket.level == 100


async def test_waiters_are_served_in_order():
    clock = FakeClock()
    bucket = TokenBucket(60, burst_s=1, clock=clock, sleep=clock.sleep)  # 1 request per second
    order: list[int] = []

    async def take(i: int) -> None:
        await bucket.acquire()
        order.append(i)

    await asyncio.gather(*(take(i) for i in range(5)))
    assert order == [0, 1, 2, 3, 4]
    assert clock.now - 1000.0 == pytest.approx(4.0)


def test_a_cluster_of_429s_starts_a_growing_cool_down_and_halves_concurrency():
    clock = FakeClock()
    lim = RateLimiter(max_concurrency=16, cluster=3, window_s=10, clock=clock, sleep=clock.sleep)
    lim.on_rate_limited()
    lim.on_rate_limited()
    assert lim.cooldown_until == 0.0 and lim.limit == 16  # two 429s are not a cluster
    lim.on_rate_limited()
    assert lim.cooldown_until == pytest.approx(clock.now + 1.0) and lim.limit == 8
    clock.now += 5
    for _ in range(3):
        lim.on_rate_limited()
    assert lim.cooldown_until == pytest.approx(clock.now + 2.0) and lim.limit == 4  # doubled
    clock.now += 5
    for _ in range(3):
        lim.on_rate_limited(retry_after=30)
    assert lim.cooldown_until == pytest.approx(clock.now + 30)  # the server asked for longer
    assert (lim.rate_limited, lim.cooldowns, lim.limit) == (9, 3, 2)


def test_429s_spread_out_in_time_are_not_a_cluster():
    clock = FakeClock()
    lim = RateLimiter(cluster=3, window_s=10, clock=clock, sleep=clock.sleep)
    for _ in range(6):
        lim.on_rate_limited()
        clock.now += 6
    assert lim.cooldowns == 0


def test_successes_grow_the_limit_back_one_at_a_time():
    lim = RateLimiter(max_concurrency=8)
    lim.limit = 2
    for _ in range(2):
        lim.on_success()
    assert lim.limit == 3
    for _ in range(3 + 4 + 5 + 6 + 7 + 8 + 9):
        lim.on_success()
    assert lim.limit == 8  # never beyond the run's concurrency


async def test_requests_wait_out_the_cool_down():
    clock = FakeClock()
    lim = RateLimiter(rpm=6000, clock=clock, sleep=clock.sleep)
    lim.cooldown_until = clock.now + 7.5
    await lim.before_request(10)
    assert clock.now == pytest.approx(1007.5)


class SlowChat:
    """A ChatModel that records how many calls overlap."""

    def __init__(self, usage: Usage, limiter: RateLimiter | None = None) -> None:
        self.usage = usage
        self.limiter = limiter
        self.active = 0
        self.peak = 0
        self.over_limit = 0

    async def complete(self, messages: list[Message], response_format: Any) -> Completion:
        self.active += 1
        self.peak = max(self.peak, self.active)
        if self.limiter is not None and self.active > self.limiter.limit:
            self.over_limit += 1
        for _ in range(3):
            await asyncio.sleep(0)
        self.active -= 1
        return Completion(content="{}", finish_reason="stop", usage=self.usage)

    async def aclose(self) -> None:
        pass


async def test_wrapper_bounds_calls_in_flight_by_the_adaptive_limit():
    lim = RateLimiter(max_concurrency=8)
    lim.limit = 2
    inner = SlowChat(Usage(), lim)
    chat = RateLimitedChat(inner, lim)
    msgs = [Message("user", "hi")]
    await asyncio.gather(*(chat.complete(msgs, None) for _ in range(40)))
    assert inner.over_limit == 0  # never more in flight than the limit of the moment
    assert inner.peak > 2  # and the limit grew back as calls succeeded
    assert lim.limit == 8


async def test_wrapper_reserves_an_estimate_and_settles_real_usage():
    clock = FakeClock()
    lim = RateLimiter(tpm=60_000, clock=clock, sleep=clock.sleep)  # 1000 tokens/s, 10000 burst
    chat = RateLimitedChat(SlowChat(Usage(prompt_tokens=300, completion_tokens=700,
                                          total_tokens=1000)), lim)  # fmt: skip
    msgs = [Message("user", "x" * 400)]  # estimated at 100 tokens
    assert lim.estimate(msgs) == 100
    await chat.complete(msgs, None)
    assert lim.tokens is not None
    assert lim.tokens.level == pytest.approx(10_000 - 1000)  # charged what was really used
    assert lim.estimate(msgs) == 100 + 700  # later estimates include the mean completion


def mock_extractor(handler: Any) -> Any:
    client = openai.AsyncOpenAI(
        api_key="sk-test-not-real",
        base_url="http://llm.test/v1",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
    )
    return resolve_extractor("gpt-4o-mini", client=client, max_attempts=5)


async def test_429s_seen_by_the_transport_retries_feed_the_limiter():
    steps = [(429, {"error": {"message": "slow down"}}, {"retry-after-ms": "1"})] * 3
    steps.append((200, recorded("valid"), {}))
    seen: list[int] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        status, body, headers = steps.pop(0)
        seen.append(status)
        return httpx2.Response(status, json=body, headers=headers)

    ex = mock_extractor(handler)
    lim = limit_extractor(ex, rpm=60, concurrency=4)  # a burst of 10
    assert lim is not None
    lim.base_cooldown_s = 0.001  # keep the test fast
    analysis = await aanalyze(REAL_ARTICLE, model=ex)
    assert seen == [429, 429, 429, 200]
    assert analysis.positions
    assert lim.rate_limited == 3 and lim.cooldowns == 1 and lim.limit in (2, 3)
    assert lim.requests is not None
    # every attempt took a request from the budget: 4 of the 10-request burst
    assert lim.requests.level == pytest.approx(6, abs=0.5)


def test_baseline_gets_no_limiter():
    assert limit_extractor(resolve_extractor("baseline"), rpm=10) is None


def test_run_json_records_budgets_and_429s(tmp_path, threaded_fake_server):
    server = threaded_fake_server(script={"Ryabkov": ["429", "429", "429"]}, retry_after=0.01)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["run", str(REAL_ARTICLE), "-o", str(out), "-m", "m", "--base-url", server.base_url,
         "--rpm", "6000", "--tpm", "1000000"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(server.requests) == 4  # three 429s, then the answer
    limits = json.loads((out / "run.json").read_text())["rate_limits"]
    assert limits["rpm"] == pytest.approx(6000) and limits["tpm"] == pytest.approx(1_000_000)
    assert limits["rate_limited_429"] == 3 and limits["cooldowns"] == 1
