"""The staged pipeline of ``analyze_articles``: slot refill order, bounded input, crashes."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterator
from typing import Any

import pytest

from stance.analyze import analyze_articles
from stance.backends.base import ExtractResult
from stance.loaders import Article, make_article
from stance.prepare import PreparedArticle
from stance.schema import ArticleAnalysis, ArticleFailure, Extraction

# the module, not the function that stance/__init__.py binds to the same name
analyze_mod = importlib.import_module("stance.analyze")

TEXT = "Mayor Ada Lane said the bridge plan is a good idea. Critics disagreed with her."


def articles(n: int) -> list[Article]:
    return [make_article(f"{TEXT} Story {i}.", id=f"a{i}") for i in range(n)]


class GatedExtractor:
    """An extractor whose calls finish only when the test opens their gate."""

    model = "gated"
    backend = "openai"
    endpoint_host = None
    cacheable = False

    def __init__(self, events: list[str], fail: set[str] | None = None) -> None:
        self.events = events
        self.gates: dict[str, asyncio.Future[None]] = {}
        self.started = asyncio.Event()
        self.fail = fail or set()

    def fingerprint(self) -> dict[str, Any]:
        return {"model": self.model}

    async def extract(self, doc: PreparedArticle) -> ExtractResult:
        aid = doc.article.id
        self.events.append(f"send {aid}")
        gate = self.gates[aid] = asyncio.get_running_loop().create_future()
        self.started.set()
        await gate
        if aid in self.fail:
            raise ZeroDivisionError("a bug in an extractor")
        empty = Extraction(summary="A summary.", key_points=[], parties=[], positions=[])
        return ExtractResult(extraction=empty, calls=1, attempts=1)

    async def wait_for(self, *ids: str) -> None:
        while not all(i in self.gates for i in ids):
            self.started.clear()
            await self.started.wait()

    def open(self, *ids: str) -> None:
        for i in ids:
            self.gates[i].set_result(None)

    async def aclose(self) -> None:
        pass


async def test_a_freed_slot_is_refilled_before_answers_are_checked(monkeypatch):
    """Answers that arrive together must not hold back the next requests.

    Two slots; both answers arrive in the same turn. Both follow-up requests go out before
    any answer is validated and grounded, and before the caller sees any result.
    """
    events: list[str] = []
    real_build = analyze_mod.build_analysis

    def recording_build(article: Article, *args: Any, **kwargs: Any) -> ArticleAnalysis:
        events.append(f"check {article.id}")
        return real_build(article, *args, **kwargs)

    monkeypatch.setattr(analyze_mod, "build_analysis", recording_build)
    ex = GatedExtractor(events)
    stream = analyze_articles(articles(4), ex, concurrency=2)
    first = asyncio.ensure_future(anext(stream))
    await ex.wait_for("a0", "a1")
    ex.open("a0", "a1")
    art, outcome, _ = await first
    events.append(f"caller {art.id}")
    await ex.wait_for("a2", "a3")
    ex.open("a2", "a3")
    rest = [item async for item in stream]

    assert events.index("send a2") < events.index("check a0")
    assert events.index("send a3") < events.index("check a0")
    assert events.index("send a3") < events.index(f"caller {art.id}")
    assert isinstance(outcome, ArticleAnalysis)
    assert sorted([art.id] + [a.id for a, _, _ in rest]) == ["a0", "a1", "a2", "a3"]


async def test_input_is_pulled_only_a_few_articles_ahead_of_the_slots():
    pulled: list[str] = []

    def source() -> Iterator[Article]:
        for art in articles(100):
            pulled.append(art.id)
            yield art

    ex = GatedExtractor([])
    stream = analyze_articles(source(), ex, concurrency=3)
    first = asyncio.ensure_future(anext(stream))
    await ex.wait_for("a0", "a1", "a2")
    for _ in range(20):  # give the feeder every chance to run ahead
        await asyncio.sleep(0)
    # three in the slots, three prepared and waiting, one in the feeder's hands
    assert len(pulled) <= 3 + 3 + 1
    first.cancel()  # the caller gives up: every stage is cancelled with it
    with pytest.raises(asyncio.CancelledError):
        await first
    await stream.aclose()


async def test_an_unexpected_extractor_error_costs_only_its_article():
    ex = GatedExtractor([], fail={"a1"})
    stream = analyze_articles(articles(3), ex, concurrency=3)
    first = asyncio.ensure_future(anext(stream))
    await ex.wait_for("a0", "a1", "a2")
    ex.open("a0", "a1", "a2")
    got = [await first] + [item async for item in stream]
    outcomes = {a.id: o for a, o, _ in got}
    assert isinstance(outcomes["a1"], ArticleFailure)
    assert outcomes["a1"].error == "ZeroDivisionError"
    assert isinstance(outcomes["a0"], ArticleAnalysis)
    assert isinstance(outcomes["a2"], ArticleAnalysis)


async def test_a_broken_input_iterator_raises_its_own_error_after_the_results_so_far():
    def source() -> Iterator[Article | ArticleFailure]:
        yield from articles(2)
        raise OSError("the disk went away")

    from stance.backends.baseline import BaselineExtractor

    seen: list[str] = []
    with pytest.raises(OSError, match="the disk went away"):
        async for art, _outcome, _ in analyze_articles(source(), BaselineExtractor()):
            seen.append(art.id)
    assert set(seen) <= {"a0", "a1"}


async def test_load_failures_pass_through_unchanged():
    from stance.backends.baseline import BaselineExtractor

    bad = ArticleFailure(
        article_id="x", path="x.txt", stage="load", error="InputError", message="empty"
    )
    got = [o async for _, o, _ in analyze_articles([bad, *articles(1)], BaselineExtractor())]
    assert bad in got
    assert len(got) == 2
