"""A local fake OpenAI-compatible chat server for tests and benchmarks.

It answers ``POST /v1/chat/completions`` after a configurable latency with a valid stance
extraction for the article found between ``<article>`` tags in the last user message
(produced by the baseline analyser, so the answers are realistic and grounded), and can
inject faults at a configurable rate:

``429`` (with Retry-After), ``429_bare`` (without), ``500``, ``503``, ``timeout`` (sleeps
past any sane client timeout), ``drop`` (closes the connection), ``length`` (truncated
JSON, ``finish_reason="length"``), ``refusal``, ``invalid_json``, ``schema`` (valid JSON,
wrong shape), ``ungrounded`` (evidence not in the article), ``invented`` (adds a party the
article never names).

Run it standalone::

    python benchmarks/fake_server.py --port 8765 --latency 0.3 --fault-rate 0.3

A comparison's name-merge request (``stance.compare.llm_merge``) is answered with no merges
(``{"parties": [], "topics": []}``) and also counted as ``merge_requests``.

Every request is counted in ``stats`` (and ``GET /stats``), so tests can assert how many
calls a run made; ``server_time_s`` sums the time spent answering, latency sleeps excluded.

:func:`answer_body` is the answer logic on its own, and :func:`batch_results` applies it to
an OpenAI Batch API requests file (``stance batch prepare``) to write the results file a
batch engine would return, optionally with per-request faults::

    python benchmarks/fake_server.py --batch requests.jsonl results.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

ALL_FAULTS = (
    "429", "429_bare", "500", "503", "timeout", "drop", "length", "refusal",
    "invalid_json", "schema", "ungrounded", "invented",
)  # fmt: skip
_ARTICLE = re.compile(r"<article>\n?(.*?)\n?</article>", re.DOTALL)


@dataclass
class FakeConfig:
    latency: float = 0.0
    fault_rate: float = 0.0
    faults: tuple[str, ...] = ALL_FAULTS
    seed: int = 0
    retry_after: float = 0.05
    timeout_sleep: float = 30.0
    # per-article script: article marker substring -> list of faults for successive calls
    script: dict[str, list[str]] = field(default_factory=dict)


def _extraction_for(text: str) -> dict[str, Any]:
    """The answer for an article (a fresh copy: callers may modify it)."""
    return json.loads(_extraction_json(text))  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=50_000)
def _extraction_json(text: str) -> str:
    # Memoised: a real model's answer costs the client nothing but latency, and the baseline
    # run inside the server would otherwise make the server, not the client, the bottleneck.
    return json.dumps(_compute_extraction(text), ensure_ascii=False)


def prime(paths: list[str]) -> int:
    """Precompute the answers for every chunk of the articles under ``paths``.

    The chunk texts are cut exactly as ``stance run`` cuts them, so a benchmark's requests
    then find their answers ready. Returns the number of chunks.
    """
    from stance.analyze import DEFAULT_CHUNK_TOKENS
    from stance.loaders import Article, iter_articles
    from stance.prepare import prepare
    from stance.tokens import counter_for

    n = 0
    for art in iter_articles(paths):
        if isinstance(art, Article):
            doc = prepare(art, counter_for(None), chunk_tokens=DEFAULT_CHUNK_TOKENS)
            for chunk in doc.chunks:
                _extraction_json(art.text[chunk.start : chunk.end])
                n += 1
    return n


def _compute_extraction(text: str) -> dict[str, Any]:
    try:
        from stance.baseline import extract as baseline_extract
        from stance.loaders import make_article
        from stance.prepare import prepare
        from stance.tokens import counter_for

        doc = prepare(make_article(text, id="fake"), counter_for(None))
        return baseline_extract(doc).model_dump()
    except Exception:  # the fake must answer even if the analyser cannot
        first = text.strip().split("\n")[0][:200]
        return {"summary": first, "key_points": [first], "parties": [], "positions": []}


def _completion(content: str | None, *, finish: str = "stop", refusal: str | None = None,
                prompt_tokens: int = 100, model: str = "fake") -> dict[str, Any]:
    completion_tokens = max(1, len(content or "") // 4)
    return {
        "id": f"chatcmpl-{random.getrandbits(48):x}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": refusal},
            "finish_reason": finish,
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }  # fmt: skip


def article_text(body: dict[str, Any]) -> str:
    """The article inside a chat request: between ``<article>`` tags in the first user turn."""
    first_user = next((m["content"] for m in body["messages"] if m["role"] == "user"), "")
    m = _ARTICLE.search(first_user)
    return m.group(1) if m else first_user


MERGE_ANSWER = json.dumps({"parties": [], "topics": []})


def is_merge_request(body: dict[str, Any]) -> bool:
    """A comparison's one name-merge call rather than an article's extraction."""
    fmt = body.get("response_format") or {}
    if (fmt.get("json_schema") or {}).get("name") == "stance_merge":
        return True
    first_user = next((m["content"] for m in body["messages"] if m["role"] == "user"), "")
    return "<parties>" in first_user and not _ARTICLE.search(first_user)


def answer_body(body: dict[str, Any]) -> dict[str, Any]:
    """A successful chat.completion for a request body: the baseline's extraction of its article."""
    content = _extraction_json(article_text(body))
    prompt_tokens = sum(len(msg["content"]) for msg in body["messages"]) // 4
    return _completion(content, prompt_tokens=prompt_tokens, model=body.get("model", "fake"))


BATCH_FAULTS = ("error", "500", "invalid_json", "missing", "garbage")


def batch_results(
    requests_path: str | Path,
    results_path: str | Path,
    faults: dict[str, str] | None = None,
) -> int:
    """Answer every line of a Batch API requests file into a results file, as an engine would.

    ``faults`` maps a ``custom_id`` to one of :data:`BATCH_FAULTS`: ``error`` (the line
    carries an error object), ``500`` (an HTTP 500 response), ``invalid_json`` (the model
    answered prose), ``missing`` (no line at all), ``garbage`` (a line that is not JSON).
    Lines are written in reverse order, since engines do not keep the input order.
    Returns the number of lines written.
    """
    faults = faults or {}
    lines: list[str] = []
    with open(requests_path, encoding="utf-8") as fh:
        for n, raw in enumerate(fh):
            req = json.loads(raw)
            cid = req["custom_id"]
            fault = faults.get(cid)
            rec: dict[str, Any] = {"id": f"batch_req_{n}", "custom_id": cid, "error": None}
            if fault == "missing":
                continue
            if fault == "garbage":
                lines.append(f'{{"id": "batch_req_{n}", "custom_id": "{cid}", "respo')
                continue
            if fault == "error":
                rec["response"] = None
                rec["error"] = {"code": "server_error", "message": "the engine failed"}
            elif fault == "500":
                rec["response"] = {"status_code": 500, "request_id": f"req_{n}",
                                   "body": {"error": {"message": "internal error"}}}
            else:
                body = answer_body(req["body"])
                if fault == "invalid_json":
                    body["choices"][0]["message"]["content"] = "Sure! {summary: oops"
                rec["response"] = {"status_code": 200, "request_id": f"req_{n}", "body": body}
            lines.append(json.dumps(rec, ensure_ascii=False))
    with open(results_path, "w", encoding="utf-8") as out:
        for line in reversed(lines):
            out.write(line + "\n")
    return len(lines)


class FakeServer:
    def __init__(self, config: FakeConfig | None = None) -> None:
        self.config = config or FakeConfig()
        self.rng = random.Random(self.config.seed)
        self.stats: Counter[str] = Counter()
        self.requests: list[dict[str, Any]] = []
        self.script_pos: Counter[str] = Counter()
        self.keep_requests = True
        self._slept: dict[int, float] = {}
        self.app = web.Application()
        self.app.router.add_post("/v1/chat/completions", self.chat)
        self.app.router.add_get("/stats", self.get_stats)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self, port: int = 0) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port, backlog=1024)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def get_stats(self, request: web.Request) -> web.Response:
        return web.json_response({**self.stats, "process_cpu_s": time.process_time()})

    def _pick_fault(self, text: str) -> str | None:
        for marker, faults in self.config.script.items():
            if marker in text:
                i = self.script_pos[marker]
                self.script_pos[marker] += 1
                return faults[i] if i < len(faults) else None
        if self.config.fault_rate and self.rng.random() < self.config.fault_rate:
            return self.rng.choice(self.config.faults)
        return None

    async def chat(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await self._chat(request, started)
        finally:
            elapsed = time.perf_counter() - started
            self.stats["handler_time_s"] += elapsed
            self.stats["server_time_s"] += elapsed - self._slept.pop(id(request), 0.0)

    async def _chat(self, request: web.Request, started: float) -> web.StreamResponse:
        body = await request.json()
        self.stats["requests"] += 1
        if self.keep_requests:
            self.requests.append({"body": body, "headers": dict(request.headers)})
        text = article_text(body)
        merge = is_merge_request(body)
        if merge:
            self.stats["merge_requests"] += 1
        fault = self._pick_fault(text)
        if self.config.latency:
            t = time.perf_counter()
            await asyncio.sleep(self.config.latency)
            self._slept[id(request)] = time.perf_counter() - t
        prompt_tokens = sum(len(msg["content"]) for msg in body["messages"]) // 4
        model = body.get("model", "fake")
        if fault:
            self.stats[f"fault_{fault}"] += 1
        if fault in ("429", "429_bare"):
            headers = {"retry-after": str(self.config.retry_after)} if fault == "429" else {}
            return web.json_response(
                {"error": {"message": "rate limited", "type": "rate_limit"}},
                status=429, headers=headers,
            )
        if fault in ("500", "503"):
            return web.json_response({"error": {"message": "server error"}}, status=int(fault))
        if fault == "timeout":
            await asyncio.sleep(self.config.timeout_sleep)
        if fault == "drop":
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        content: str | None = MERGE_ANSWER if merge else _extraction_json(text)
        if merge and fault in ("ungrounded", "invented"):
            fault = None  # faults of an article's content; a merge answer has none
        extraction = _extraction_for(text) if fault in ("ungrounded", "invented") else {}
        finish, refusal = "stop", None
        if fault == "length":
            assert content is not None
            content, finish = content[: max(10, len(content) // 2)], "length"
        elif fault == "refusal":
            content, refusal = None, "I can't help with that."
        elif fault == "invalid_json":
            content = "Sure! Here is the analysis: {summary: oops"
        elif fault == "schema":
            content = json.dumps({"summary": 42, "positions": "none"})
        elif fault == "ungrounded":
            extraction["positions"].append({
                "party": extraction["parties"][0]["name"] if extraction["parties"] else "Nobody",
                "topic": "an invented topic", "position": "Made up.", "stance": "support",
                "attribution": "direct_quote", "via": None,
                "evidence": ["a sentence that appears nowhere in the article text at all"],
            })  # fmt: skip
            content = json.dumps(extraction)
        elif fault == "invented":
            extraction["parties"].append(
                {"name": "Acme Injected Corp", "type": "organisation", "role": None, "aliases": []}
            )
            extraction["positions"].append({
                "party": "Acme Injected Corp", "topic": "the bill", "position": "Supports it.",
                "stance": "support", "attribution": "direct_quote", "via": None,
                "evidence": ["Acme Injected Corp supports the bill"],
            })  # fmt: skip
            content = json.dumps(extraction)
        self.stats["answered"] += 1
        return web.json_response(
            _completion(content, finish=finish, refusal=refusal,
                        prompt_tokens=prompt_tokens, model=model)
        )  # fmt: skip


async def _serve(args: argparse.Namespace) -> None:
    server = FakeServer(
        FakeConfig(
            latency=args.latency,
            fault_rate=args.fault_rate,
            faults=tuple(args.faults.split(",")) if args.faults else ALL_FAULTS,
            seed=args.seed,
        )
    )
    server.keep_requests = False
    if args.prime:
        n = prime(args.prime)
        print(f"primed {n} answers", file=sys.stderr, flush=True)
    await server.start(args.port)
    print(f"fake OpenAI server on {server.base_url}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--fault-rate", type=float, default=0.0)
    p.add_argument(
        "--faults", default="", help="comma-separated subset of: " + ",".join(ALL_FAULTS)
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--prime", nargs="*", default=[], metavar="ARTICLES",
                   help="precompute the answers for these article files/folders before serving")
    p.add_argument("--batch", nargs=2, metavar=("REQUESTS", "RESULTS"),
                   help="answer a Batch API requests file into a results file, then exit")
    args = p.parse_args()
    if args.batch:
        n = batch_results(*args.batch)
        print(f"wrote {n} results to {args.batch[1]}")
        return
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
