"""``stance run``: analyse articles into a run folder."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click

from ..analyze import analyze_articles
from ..backends import resolve_extractor, resolve_model_spec
from ..loaders import iter_articles
from ..runfolder import RunWriter
from ..schema import ArticleFailure


def model_options(f: Any) -> Any:
    """Options shared by every command that calls a model."""
    for opt in reversed(
        [
            click.option("-m", "--model", help="Model spec: baseline, local, local:PATH.gguf, or a model name for an OpenAI-compatible endpoint. Default: $STANCE_MODEL, else an endpoint if OPENAI_API_KEY/OPENAI_BASE_URL is set, else baseline."),
            click.option("--base-url", help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL)."),
            click.option("--output-mode", type=click.Choice(["json_schema", "json_object", "prompt"]), default="json_schema", show_default=True, help="How structured output is requested from the server."),
            click.option("--prompts", "prompts_dir", type=click.Path(file_okay=False), help="Folder of .j2 templates overriding the shipped ones."),
            click.option("-c", "--concurrency", type=click.IntRange(1, 1024), default=8, show_default=True, help="Articles in flight at once."),
        ]
    ):  # fmt: skip
        f = opt(f)
    return f


def echo_failure(f: ArticleFailure) -> None:
    where = f.path or f.article_id or "?"
    click.echo(f"stance: failed: {where}: {f.message}", err=True)


@click.command()
@click.argument("articles", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", "out", required=True, type=click.Path(file_okay=False), help="Run folder to write.")
@model_options
@click.option("--strict-grounding", is_flag=True, help="Drop evidence that cannot be found in the article.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
def run(
    articles: tuple[str, ...],
    out: str,
    model: str | None,
    base_url: str | None,
    output_mode: str,
    prompts_dir: str | None,
    concurrency: int,
    strict_grounding: bool,
    quiet: bool,
) -> None:
    """Analyse ARTICLES (files or folders) and write a run folder to OUT.

    \b
    OUT gets one <id>.json per article, positions.csv, positions.jsonl,
    report.md, report.html, comparison.json and run.json.
    Exit status: 0 all articles analysed, 1 some failed, 2 usage error.

    \b
    Examples:
      stance run examples/articles -o out
      stance run news/ -o out --model gpt-4o-mini
      stance run news/ -o out --model qwen2.5:7b --base-url http://localhost:11434/v1
    """
    spec, note = resolve_model_spec(model)
    if note and not quiet:
        click.echo(note, err=True)
    extractor = resolve_extractor(
        spec, base_url=base_url, prompts_dir=prompts_dir, output_mode=output_mode
    )
    manifest = asyncio.run(
        _run(extractor, articles, Path(out), concurrency, strict_grounding, quiet)
    )
    counts = manifest["counts"]
    if not quiet:
        click.echo(
            f"stance: {counts['ok']} analysed, {counts['failed']} failed, "
            f"{counts.get('positions', 0)} positions, {manifest['tokens']['total_tokens']} tokens "
            f"-> {out}/report.html",
            err=True,
        )
    sys.exit(1 if counts["failed"] else 0)


async def _run(
    extractor: Any,
    articles: tuple[str, ...],
    out: Path,
    concurrency: int,
    strict_grounding: bool,
    quiet: bool,
) -> dict[str, Any]:
    writer = RunWriter(out, extractor)
    try:
        async for _art, outcome, result in analyze_articles(
            iter_articles(articles),
            extractor,
            concurrency=concurrency,
            strict_grounding=strict_grounding,
        ):
            writer.add(outcome, result)
            if isinstance(outcome, ArticleFailure):
                echo_failure(outcome)
        return writer.finish()
    finally:
        writer.close()
        await extractor.aclose()
