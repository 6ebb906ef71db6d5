"""The pipeline: article → prepare → extract → validate → ground → ArticleAnalysis.

Public entry points (re-exported from :mod:`stance`): :func:`analyze`, :func:`aanalyze`,
:func:`analyze_folder`; :func:`analyze_articles` is the streaming async core that the CLI,
the batch collector and the eval runner share.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._version import __version__
from .backends import resolve_extractor, resolve_model_spec
from .backends.base import Extractor, ExtractResult
from .cache import DEFAULT_CACHE_NAME, ResultCache, cache_key, is_cacheable, open_cache
from .errors import InputError, ModelError, StanceError
from .grounding import ground, normalise, screen_extraction
from .loaders import Article, iter_articles, load_file, make_article
from .prepare import PreparedArticle, prepare
from .schema import (
    ArticleAnalysis,
    ArticleFailure,
    Party,
    Position,
    Provenance,
    Summary,
)
from .tokens import counter_for

log = logging.getLogger(__name__)

DEFAULT_CHUNK_TOKENS = 6000
Outcome = ArticleAnalysis | ArticleFailure


def _named_in(name: str, text_norm: str) -> bool:
    n = normalise(name)
    return bool(n) and n in text_norm


def build_analysis(
    article: Article,
    result: ExtractResult,
    extractor: Extractor,
    *,
    strict_grounding: bool = False,
) -> ArticleAnalysis:
    """Validate an extraction against the article and ground every quote.

    * Every evidence quote is located in the text (:func:`stance.grounding.ground`).
      Unfound quotes are kept and flagged, or dropped with ``strict_grounding``; a position
      left without evidence is then dropped too.
    * A party whose name and aliases appear nowhere in the article is an invention (a model
      hallucination or an obeyed prompt injection): it and its positions are dropped.
    * A position whose party is not listed gets a party entry if the name is in the text.
    Everything dropped is named in ``warnings``.
    """
    # parties/quotes taken only from instruction-like passages of the article go first
    ex, screened = screen_extraction(
        result.extraction, article.text, instructions=getattr(extractor, "system_prompt", None)
    )
    text = article.text
    text_norm = normalise(text)
    warnings: list[str] = list(screened)

    parties: dict[str, Party] = {}
    lookup: dict[str, str] = {}
    rejected: set[str] = set()
    for p in ex.parties:
        names = [p.name, *p.aliases]
        if not any(_named_in(n, text_norm) for n in names):
            warnings.append(f"dropped party '{p.name}': not named in the article")
            rejected.add(normalise(p.name))
            continue
        key = normalise(p.name)
        if key in parties:
            continue
        aliases = [a for a in dict.fromkeys(p.aliases) if a and normalise(a) != key]
        parties[key] = Party(name=p.name, type=p.type, role=p.role, aliases=aliases)
        for n in names:
            lookup.setdefault(normalise(n), key)

    positions: list[Position] = []
    cues = result.cues or []
    for i, pos in enumerate(ex.positions):
        pkey = lookup.get(normalise(pos.party))
        if pkey is None:
            if normalise(pos.party) in rejected or not _named_in(pos.party, text_norm):
                warnings.append(
                    f"dropped position of '{pos.party}' on '{pos.topic}': party not in the article"
                )
                continue
            pkey = normalise(pos.party)
            parties[pkey] = Party(name=pos.party)
            lookup[pkey] = pkey
        evidence = [ground(q, text) for q in dict.fromkeys(pos.evidence) if q.strip()]
        missing = [e for e in evidence if e.status == "not_found"]
        if missing:
            if strict_grounding:
                evidence = [e for e in evidence if e.status != "not_found"]
                warnings.append(
                    f"dropped {len(missing)} ungrounded quote(s) of '{pos.party}' on '{pos.topic}'"
                )
            else:
                warnings.append(
                    f"{len(missing)} quote(s) of '{pos.party}' on '{pos.topic}' "
                    "not found in the text"
                )
        if strict_grounding and not evidence:
            warnings.append(
                f"dropped position of '{pos.party}' on '{pos.topic}': no grounded evidence"
            )
            continue
        positions.append(
            Position(
                party=parties[pkey].name,
                topic=pos.topic.strip(),
                position=pos.position.strip(),
                stance=pos.stance,
                attribution=pos.attribution,
                via=pos.via,
                evidence=evidence,
                cue=cues[i] if i < len(cues) else None,
            )
        )

    fingerprint = extractor.fingerprint()
    provenance = Provenance(
        model=extractor.model,
        backend=extractor.backend,
        endpoint_host=extractor.endpoint_host,
        prompt_hash=fingerprint.get("prompt_hash"),
        parameters=fingerprint.get("params", {}),
        usage=result.usage,
        calls=result.calls,
        attempts=result.attempts,
        chunks=result.chunks,
        latency_s=round(result.latency_s, 4),
        stance_version=__version__,
    )
    return ArticleAnalysis(
        article=article.ref,
        summary=Summary(text=ex.summary.strip(), key_points=ex.key_points),
        parties=list(parties.values()),
        positions=positions,
        provenance=provenance,
        warnings=warnings,
    )


def failure_from(article: Article, exc: BaseException) -> ArticleFailure:
    """The error record for an article whose analysis failed."""
    if isinstance(exc, ModelError):
        stage = "model"
        if type(exc).__name__ in ("InvalidOutput", "TruncatedOutput", "Refusal"):
            stage = "validate"
        return ArticleFailure(
            article_id=article.id,
            path=article.ref.path,
            stage=stage,  # type: ignore[arg-type]
            error=type(exc).__name__,
            message=str(exc),
            attempts=exc.attempts,
            last_raw=exc.last_raw,
        )
    return ArticleFailure(
        article_id=article.id,
        path=article.ref.path,
        stage="prepare",
        error=type(exc).__name__,
        message=str(exc) or type(exc).__name__,
    )


@dataclass
class _Job:
    """An article on its way through the pipeline: the cache key and the prepared text."""

    article: Article
    key: str | None
    doc: PreparedArticle


def _plan(
    article: Article,
    extractor: Extractor,
    *,
    strict_grounding: bool,
    chunk_tokens: int | None,
    cache: ResultCache | None,
) -> _Job | tuple[ArticleAnalysis, ExtractResult]:
    """Before the model: a cached answer re-grounded, or the prepared article to send."""
    if chunk_tokens is None:
        # an engine with a small context (the local one) says how much it can take
        chunk_tokens = int(getattr(extractor, "chunk_tokens", DEFAULT_CHUNK_TOKENS))
    key = None
    if cache is not None and is_cacheable(extractor):
        key = cache_key(article, extractor.fingerprint(), chunk_tokens=chunk_tokens)
        hit = cache.get(key)
        if hit is not None:
            analysis = build_analysis(article, hit, extractor, strict_grounding=strict_grounding)
            analysis.provenance.cached = True
            return analysis, hit
    doc = prepare(article, counter_for(extractor.model), chunk_tokens=chunk_tokens)
    return _Job(article, key, doc)


def _finish(
    job: _Job,
    result: ExtractResult,
    extractor: Extractor,
    *,
    strict_grounding: bool,
    cache: ResultCache | None,
) -> ArticleAnalysis:
    """After the model: validate and ground, then store the answer."""
    analysis = build_analysis(job.article, result, extractor, strict_grounding=strict_grounding)
    if job.key is not None and cache is not None:
        cache.put(job.key, job.article, extractor.model, result)
    return analysis


async def _analyze(
    article: Article,
    extractor: Extractor,
    *,
    strict_grounding: bool,
    chunk_tokens: int | None,
    cache: ResultCache | None,
) -> tuple[ArticleAnalysis, ExtractResult]:
    planned = _plan(
        article,
        extractor,
        strict_grounding=strict_grounding,
        chunk_tokens=chunk_tokens,
        cache=cache,
    )
    if not isinstance(planned, _Job):
        return planned
    result = await extractor.extract(planned.doc)
    analysis = _finish(planned, result, extractor, strict_grounding=strict_grounding, cache=cache)
    return analysis, result


def _failure(article: Article, exc: BaseException) -> ArticleFailure:
    if not isinstance(exc, StanceError):
        # a bug must cost one article, not the run; keep the evidence
        log.error("unexpected error on article %s", article.id, exc_info=exc)
    return failure_from(article, exc)


async def analyze_one(
    article: Article,
    extractor: Extractor,
    *,
    strict_grounding: bool = False,
    chunk_tokens: int | None = None,
    cache: ResultCache | None = None,
) -> tuple[Outcome, ExtractResult | None]:
    """Analyse one article; every error becomes a failure record, never an exception.

    With a ``cache``, a stored extraction for the same article and configuration is
    re-grounded instead of calling the model (``provenance.cached`` is then true), and a
    new successful one is stored. Failures are not stored.
    """
    try:
        return await _analyze(
            article,
            extractor,
            strict_grounding=strict_grounding,
            chunk_tokens=chunk_tokens,
            cache=cache,
        )
    except Exception as exc:
        return _failure(article, exc), None


Result = tuple[Article | None, Outcome, ExtractResult | None]


def _first_error(group: BaseExceptionGroup) -> BaseException:
    first = group.exceptions[0]
    return _first_error(first) if isinstance(first, BaseExceptionGroup) else first


async def analyze_articles(
    articles: Iterable[Article | ArticleFailure],
    extractor: Extractor,
    *,
    concurrency: int = 8,
    strict_grounding: bool = False,
    chunk_tokens: int | None = None,
    cache: ResultCache | None = None,
) -> AsyncIterator[Result]:
    """Analyse a stream of articles with at most ``concurrency`` model calls in flight.

    Results are yielded as they complete (not in input order). The input is pulled lazily
    and only a few articles per slot wait in memory, so memory stays flat however long the
    stream is. Load failures in the input are passed through unchanged. See
    :func:`analyze_one` for ``cache``; every per-article error becomes a failure record.

    The work is split into stages so that a model slot that comes free is refilled at once:
    a feeder prepares the next articles (and answers cache hits) ahead of time, the slots
    only send requests, and validation, grounding, the cache write and the caller's own
    handling of each result run behind them, one article per event-loop turn, so that
    they never hold back a burst of answers that all arrived together.
    """
    if concurrency < 1:
        raise StanceError("concurrency must be at least 1")
    source = iter(articles)
    opts: dict[str, Any] = {"strict_grounding": strict_grounding, "cache": cache}
    out: asyncio.Queue[Result | None] = asyncio.Queue(maxsize=2 * concurrency)
    ready: asyncio.Queue[_Job | None] = asyncio.Queue(maxsize=concurrency)
    answered: asyncio.Queue[tuple[_Job, ExtractResult | BaseException] | None] = asyncio.Queue(
        maxsize=concurrency
    )

    async def feed() -> None:
        for item in source:  # one event loop thread: next() is never called concurrently
            if isinstance(item, ArticleFailure):
                await out.put((None, item, None))
                continue
            try:
                planned = _plan(item, extractor, chunk_tokens=chunk_tokens, **opts)
            except Exception as exc:
                await out.put((item, _failure(item, exc), None))
                continue
            if isinstance(planned, _Job):
                await ready.put(planned)
            else:
                await out.put((item, *planned))
            await asyncio.sleep(0)  # let answers that arrived meanwhile go first
        for _ in range(concurrency):
            await ready.put(None)

    async def slot() -> None:
        while (job := await ready.get()) is not None:
            try:
                got: ExtractResult | BaseException = await extractor.extract(job.doc)
            except Exception as exc:
                got = exc
            await answered.put((job, got))

    async def check() -> None:
        while (item := await answered.get()) is not None:
            job, got = item
            if isinstance(got, BaseException):
                await out.put((job.article, _failure(job.article, got), None))
            else:
                try:
                    analysis = _finish(job, got, extractor, **opts)
                except Exception as exc:
                    await out.put((job.article, _failure(job.article, exc), None))
                else:
                    await out.put((job.article, analysis, got))
            await asyncio.sleep(0)

    async def produce() -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(feed())
            for _ in range(concurrency):
                tg.create_task(slot())
        await answered.put(None)

    async def run_stages() -> None:
        # On cancellation nobody reads ``out`` any more, so the end mark is only sent when
        # the stages finish or one of them crashes.
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(produce())
                tg.create_task(check())
        except BaseExceptionGroup as group:  # a stage crashed: raise what crashed it
            await out.put(None)
            raise _first_error(group) from None
        await out.put(None)

    runner = asyncio.create_task(run_stages())
    try:
        while True:
            got = await out.get()
            if got is None:
                break
            yield got
            await asyncio.sleep(0)  # the caller's handling of one result per turn, too
        await runner  # re-raise a stage crash (e.g. the input iterator failed)
    finally:
        if not runner.done():
            runner.cancel()
            try:
                await runner
            except (asyncio.CancelledError, Exception):
                pass


def _to_article(text_or_path: str | Path, **meta: Any) -> Article:
    if isinstance(text_or_path, Path) or (
        isinstance(text_or_path, str)
        and "\n" not in text_or_path
        and len(text_or_path) < 4096
        and Path(text_or_path).is_file()
    ):
        arts = load_file(text_or_path)
        if len(arts) != 1:
            raise InputError(str(text_or_path), f"holds {len(arts)} articles; use analyze_folder")
        return arts[0]
    from .loaders import content_hash

    text = str(text_or_path)
    art_id = meta.pop("id", None) or "text-" + content_hash(text)[:12]
    return make_article(text, id=art_id, **meta)


async def aanalyze(
    text_or_path: str | Path,
    *,
    model: str | Extractor | None = None,
    strict_grounding: bool = False,
    title: str | None = None,
    source: str | None = None,
    published: str | None = None,
    url: str | None = None,
    cache: str | Path | ResultCache | None = None,
    **options: Any,
) -> ArticleAnalysis:
    """Analyse one article (text or a file path) and return its :class:`ArticleAnalysis`.

    Args:
        text_or_path: article text, or the path of a .txt/.md/.json/.html file.
        model: a model spec (``"baseline"``, ``"gpt-4o-mini"``, ``"local"``...) or an
            :class:`~stance.backends.base.Extractor`. Default: see :mod:`stance.backends`.
        strict_grounding: drop evidence that cannot be found in the text.
        title, source, published, url: metadata when passing raw text.
        cache: a SQLite result cache (path or :class:`~stance.cache.ResultCache`); a
            repeated call with the same article and configuration then makes no model call.
        **options: passed to :func:`stance.backends.resolve_extractor` (``base_url``,
            ``api_key``, ``prompts_dir``, ``output_mode``, ``temperature``...).

    Raises:
        InputError: the article is unusable. ModelError: the model gave no usable answer.
    """
    article = _to_article(text_or_path, title=title, source=source, published=published, url=url)
    owned = not isinstance(model, Extractor)
    if isinstance(model, Extractor):
        extractor = model
    else:
        spec, note = resolve_model_spec(model)
        if note:
            log.info(note)
        extractor = resolve_extractor(spec, **options)
    store, own_store = open_cache(cache)
    try:
        analysis, _ = await _analyze(
            article,
            extractor,
            strict_grounding=strict_grounding,
            chunk_tokens=None,
            cache=store,
        )
        return analysis
    finally:
        if own_store and store is not None:
            store.close()
        if owned:
            await extractor.aclose()


def analyze(
    text_or_path: str | Path, *, model: str | Extractor | None = None, **options: Any
) -> ArticleAnalysis:
    """Synchronous :func:`aanalyze`. Do not call from inside a running event loop."""
    return asyncio.run(aanalyze(text_or_path, model=model, **options))


def _cache_location(
    cache: str | Path | ResultCache | bool | None, output: str | Path | None
) -> str | Path | ResultCache | None:
    if cache is True:
        return Path(output) / DEFAULT_CACHE_NAME if output is not None else None
    if cache is False:
        return None
    return cache


def analyze_folder(
    path: str | Path | Iterable[str | Path],
    *,
    model: str | Extractor | None = None,
    output: str | Path | None = None,
    concurrency: int = 8,
    strict_grounding: bool = False,
    cache: str | Path | ResultCache | bool | None = True,
    llm_merge: bool = True,
    **options: Any,
) -> Iterator[Outcome]:
    """Analyse every article under ``path``, yielding results as they complete.

    With ``output``, the run folder (DESIGN.md §4) is written as results arrive and the
    reports when the iteration ends. Failed articles are yielded as
    :class:`~stance.schema.ArticleFailure` records; nothing is raised for one bad article.

    ``cache``: ``True`` (default) keeps a result cache in ``output/.stance-cache.sqlite``
    when ``output`` is given, so an interrupted or repeated run only calls the model for
    what is missing; a path (or :class:`~stance.cache.ResultCache`) uses that cache;
    ``False``/``None`` disables it.

    ``llm_merge``: with ``output`` and an LLM model, the comparison asks the same model once
    about the party and topic names its rules could not merge (cached like the articles;
    see :mod:`stance.compare.llm_merge`); ``False`` keeps it to the rules. The baseline
    always compares by rules only.
    """
    from .compare import merger_for
    from .runfolder import RunWriter

    paths = [path] if isinstance(path, str | Path) else list(path)
    q: queue.Queue[Outcome | BaseException | None] = queue.Queue(maxsize=2 * concurrency)

    async def produce() -> None:
        if isinstance(model, Extractor):
            extractor, owned = model, False
        else:
            spec, note = resolve_model_spec(model)
            if note:
                log.info(note)
            extractor, owned = resolve_extractor(spec, **options), True
        store: ResultCache | None = None
        own_store = False
        writer: RunWriter | None = None
        try:
            store, own_store = open_cache(_cache_location(cache, output))
            if output is not None:
                merger = merger_for(extractor, cache=store) if llm_merge else None
                writer = RunWriter(output, extractor, merger=merger)
            async for _art, outcome, result in analyze_articles(
                iter_articles(paths),
                extractor,
                concurrency=concurrency,
                strict_grounding=strict_grounding,
                cache=store,
            ):
                if writer is not None:
                    writer.add(outcome, result)
                await asyncio.to_thread(q.put, outcome)
            if writer is not None:
                await writer.afinish()  # on this loop: the merge shares the model's client
        finally:
            if writer is not None:
                writer.close()
            if own_store and store is not None:
                store.close()
            if owned:
                await extractor.aclose()

    def runner() -> None:
        try:
            asyncio.run(produce())
        except BaseException as exc:  # handed to the consumer thread and re-raised there
            q.put(exc)
            return
        q.put(None)

    thread = threading.Thread(target=runner, name="stance-analyze", daemon=True)
    thread.start()
    while True:
        item = q.get()
        if item is None:
            break
        if isinstance(item, BaseException):
            raise item
        yield item
    thread.join()
