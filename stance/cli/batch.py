"""``stance batch``: run big corpora on a provider's batch engine or ``vllm run-batch``."""

from __future__ import annotations

import asyncio
import sys

import click

from ..backends import resolve_extractor, resolve_model_spec
from ..errors import ConfigError
from ..pricing import load_prices
from ..schema import ArticleFailure
from .run import echo_failure, output_mode_option, prompts_option


@click.group()
def batch() -> None:
    """Write OpenAI Batch API requests and collect their results into a run folder.

    \b
    Examples:
      stance batch prepare news/ -o requests.jsonl --model gpt-4o-mini
      # upload requests.jsonl to the Batch API, or on a GPU box:
      #   vllm run-batch -i requests.jsonl -o results.jsonl --model Qwen/Qwen2.5-7B-Instruct
      stance batch collect results.jsonl -o out
    """


@batch.command("prepare")
@click.argument("articles", nargs=-1, required=True, type=click.Path())
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Requests file to write (JSONL); the manifest goes beside it.",
)
@click.option("-m", "--model", help="Model name the batch engine serves. Default: $STANCE_MODEL.")
@output_mode_option
@prompts_option
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
def prepare(
    articles: tuple[str, ...],
    out: str,
    model: str | None,
    output_mode: str,
    prompts_dir: str | None,
    quiet: bool,
) -> None:
    """Write one Batch API request per article chunk to OUT (and OUT's .manifest.jsonl).

    The request bodies are exactly what `stance run` would send. Keep the
    manifest next to the results file for `stance batch collect`.
    """
    from ..batch import prepare_batch

    spec, _ = resolve_model_spec(model)
    if spec == "baseline" or spec == "local" or spec.startswith("local:"):
        raise ConfigError(
            f"batch requests are for an OpenAI-compatible batch engine; "
            f"name the model it serves (--model), not '{spec}'"
        )
    extractor = resolve_extractor(spec, prompts_dir=prompts_dir, output_mode=output_mode)
    try:
        summary = prepare_batch(articles, extractor, out)
    finally:
        asyncio.run(extractor.aclose())
    for f in summary.failures:
        echo_failure(f)
    if not quiet:
        click.echo(
            f"stance: {summary.requests} requests for {summary.articles} articles -> {out} "
            f"(manifest {summary.manifest_path})",
            err=True,
        )
    sys.exit(1 if summary.failures else 0)


@batch.command("collect")
@click.argument("results", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(file_okay=False),
    help="Run folder to write.",
)
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False),
    help="Manifest from `batch prepare` (default: the one *.manifest.jsonl beside RESULTS).",
)
@click.option(
    "--strict-grounding", is_flag=True, help="Drop evidence that cannot be found in the article."
)
@click.option(
    "--prices",
    "prices_file",
    type=click.Path(dir_okay=False, exists=True),
    help="YAML/JSON price table merged over the shipped one.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
def collect(
    results: str,
    out: str,
    manifest: str | None,
    strict_grounding: bool,
    prices_file: str | None,
    quiet: bool,
) -> None:
    """Validate and ground the answers in RESULTS and write the run folder OUT.

    Each failed request, invalid answer or missing result line becomes a
    failure record in OUT/run.json. Exit status 1 if any article failed.
    """
    from ..batch import collect_batch

    def report(outcome: object) -> None:
        if isinstance(outcome, ArticleFailure):
            echo_failure(outcome)

    manifest_data = collect_batch(
        results,
        out,
        manifest_path=manifest,
        strict_grounding=strict_grounding,
        prices=load_prices(prices_file),
        on_outcome=report,
    )
    counts = manifest_data["counts"]
    if not quiet:
        click.echo(
            f"stance: {counts['ok']} collected, {counts['failed']} failed, "
            f"{counts.get('positions', 0)} positions -> {out}/report.html",
            err=True,
        )
    sys.exit(1 if counts["failed"] else 0)
