"""``stance run``: analyse articles into a run folder."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from ..analyze import analyze_articles
from ..backends import OUTPUT_MODES, resolve_extractor, resolve_model_spec
from ..cache import DEFAULT_CACHE_NAME, ResultCache, is_cacheable
from ..compare import NameMerger, merger_for
from ..loaders import iter_articles
from ..parse import one_line
from ..pricing import load_prices
from ..progress import RunProgress, count_articles
from ..ratelimit import RateLimiter, limit_extractor
from ..runfolder import RunWriter
from ..schema import ArticleFailure

output_mode_option = click.option(
    "--output-mode",
    type=click.Choice(OUTPUT_MODES),
    default="json_schema",
    show_default=True,
    help="How structured output is requested from the server.",
)
prompts_option = click.option(
    "--prompts",
    "prompts_dir",
    type=click.Path(file_okay=False),
    help="Folder of .j2 templates overriding the shipped ones.",
)


def model_options(f: Any) -> Any:
    """Options shared by every command that calls a model."""
    options = [
        click.option(
            "-m",
            "--model",
            help="Model spec: baseline, local, local:PATH.gguf, or a model name for an "
            "OpenAI-compatible endpoint. Default: $STANCE_MODEL, else an endpoint if "
            "OPENAI_API_KEY/OPENAI_BASE_URL is set, else baseline.",
        ),
        click.option("--base-url", help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL)."),
        output_mode_option,
        prompts_option,
        click.option(
            "-c",
            "--concurrency",
            type=click.IntRange(1, 1024),
            default=8,
            show_default=True,
            help="Articles in flight at once.",
        ),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


def _merge_summary(merge: Any) -> str:
    """The model merge's part of the closing line: nothing when no call was due."""
    if not isinstance(merge, dict) or merge.get("status") in (None, "skipped"):
        return ""
    if merge["status"] == "cached":
        return ", name merge from cache"
    if merge["status"] == "failed":
        return ", name merge failed (rules only)"
    return f", name merge {merge['tokens']['total_tokens']} tokens"


def failure_line(f: ArticleFailure) -> str:
    """One printable line per failed article: file names and model text may hold newlines."""
    where = one_line(f.path or f.article_id or "?")
    return f"stance: failed: {where}: {one_line(f.message)}"


def echo_failure(f: ArticleFailure) -> None:
    click.echo(failure_line(f), err=True)


@click.command()
@click.argument("articles", nargs=-1, required=True, type=click.Path())
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(file_okay=False),
    help="Run folder to write.",
)
@model_options
@click.option(
    "--strict-grounding", is_flag=True, help="Drop evidence that cannot be found in the article."
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Call the model for every article, ignoring and not updating the result cache.",
)
@click.option(
    "--cache",
    "cache_path",
    type=click.Path(dir_okay=False),
    help=f"Result cache file (SQLite). Default: OUT/{DEFAULT_CACHE_NAME}.",
)
@click.option(
    "--rpm",
    type=click.FloatRange(min=0, min_open=True),
    help="Requests-per-minute budget for the endpoint.",
)
@click.option(
    "--tpm",
    type=click.FloatRange(min=0, min_open=True),
    help="Tokens-per-minute budget for the endpoint.",
)
@click.option(
    "--prices",
    "prices_file",
    type=click.Path(dir_okay=False, exists=True),
    help="YAML/JSON price table merged over the shipped one (default: $STANCE_PRICES).",
)
@click.option(
    "--no-llm-merge",
    is_flag=True,
    help="Compare by rules only: skip the comparison's one model call over the party and "
    "topic names.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr (no progress bar).")
def run(
    articles: tuple[str, ...],
    out: str,
    model: str | None,
    base_url: str | None,
    output_mode: str,
    prompts_dir: str | None,
    concurrency: int,
    strict_grounding: bool,
    no_cache: bool,
    cache_path: str | None,
    rpm: float | None,
    tpm: float | None,
    prices_file: str | None,
    no_llm_merge: bool,
    quiet: bool,
) -> None:
    """Analyse ARTICLES (files or folders) and write a run folder to OUT.

    \b
    OUT gets one <id>.json per article, positions.csv, positions.jsonl,
    report.md, report.html, comparison.json and run.json.
    Exit status: 0 all articles analysed, 1 some failed, 2 usage error.

    \b
    Results are cached in OUT/.stance-cache.sqlite: running the same command
    again (after a change, a crash or Ctrl-C) only calls the model for
    articles, prompts or settings it has not seen. --no-cache bypasses it.

    \b
    With an LLM model the comparison makes one more call, asking it which of
    the party and topic names the rules left are the same (one request for
    all names, cached like the articles). --no-llm-merge keeps to the rules.

    \b
    Examples:
      stance run examples/articles -o out
      stance run news/ -o out --model gpt-4o-mini
      stance run news/ -o out --model qwen2.5:7b --base-url http://localhost:11434/v1
    """
    spec, note = resolve_model_spec(model)
    if note and not quiet:
        click.echo(note, err=True)
    prices = load_prices(prices_file)
    extractor = resolve_extractor(
        spec, base_url=base_url, prompts_dir=prompts_dir, output_mode=output_mode
    )
    limiter = limit_extractor(extractor, rpm=rpm, tpm=tpm, concurrency=concurrency)
    cache = None
    if not no_cache and is_cacheable(extractor):
        cache = ResultCache(cache_path or Path(out) / DEFAULT_CACHE_NAME)
    # The same chat model (endpoint, rate limits, --prompts, cache) merges the names the
    # comparison's rules leave; the baseline has none and compares by rules only.
    merger = None if no_llm_merge else merger_for(extractor, cache=cache)
    progress = RunProgress(
        enabled=not quiet, model=extractor.model, backend=extractor.backend, prices=prices
    )
    if progress.enabled:  # only walk the folders twice when someone watches the bar
        progress.set_total(count_articles(articles))
    try:
        with progress:
            manifest = asyncio.run(
                _run(
                    extractor,
                    articles,
                    Path(out),
                    concurrency,
                    strict_grounding,
                    cache=cache,
                    progress=progress,
                    prices=prices,
                    limiter=limiter,
                    merger=merger,
                )
            )
    except KeyboardInterrupt:
        hint = " Run the same command again to do only what is missing."
        hint = hint if cache is not None else ""
        click.echo(f"stance: interrupted; finished articles are kept in {out}.{hint}", err=True)
        sys.exit(130)
    finally:
        if cache is not None:
            cache.close()
    counts = manifest["counts"]
    if not quiet:
        cost = manifest.get("cost_usd")
        click.echo(
            f"stance: {counts['ok']} analysed ({counts['cached']} from cache), "
            f"{counts['failed']} failed, {counts.get('positions', 0)} positions, "
            f"{manifest['tokens']['total_tokens']} tokens"
            + (f", ~${cost:.4f}" if cost else "")
            + _merge_summary(manifest.get("llm_merge"))
            + f" -> {out}/report.html",
            err=True,
        )
    sys.exit(1 if counts["failed"] else 0)


async def _run(
    extractor: Any,
    articles: tuple[str, ...],
    out: Path,
    concurrency: int,
    strict_grounding: bool,
    quiet: bool = False,
    *,
    cache: ResultCache | None = None,
    progress: RunProgress | None = None,
    prices: Any = None,
    limiter: RateLimiter | None = None,
    merger: NameMerger | None = None,
) -> dict[str, Any]:
    writer = RunWriter(out, extractor, prices=prices, merger=merger)
    try:
        async for _art, outcome, result in analyze_articles(
            iter_articles(articles),
            extractor,
            concurrency=concurrency,
            strict_grounding=strict_grounding,
            cache=cache,
        ):
            writer.add(outcome, result)
            if progress is not None:
                progress.add(outcome)
            if isinstance(outcome, ArticleFailure):
                if progress is not None:
                    progress.echo(failure_line(outcome))
                else:
                    echo_failure(outcome)
        if limiter is not None:
            writer.extra["rate_limits"] = limiter.stats()
        # Awaited on this loop: the merge's model call shares the run's client and limits.
        return await writer.afinish()
    finally:
        writer.close()
        await extractor.aclose()
