"""``stance eval``: score a model against a labelled eval set (DESIGN.md §6, §7, §10)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..backends import resolve_model_spec
from ..errors import ConfigError, StanceError
from ..evaluate import check_evalset, evaluate, headline_table
from ..evaluate import rescore as do_rescore
from ..parse import one_line
from .run import failure_line, model_options


@click.command("eval")
@click.pass_context
@click.argument("evalset", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="REPORT_DIR for report.json, report.md, report.html and raw/ outputs.",
)
@click.option(
    "--compare-to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A previous report.json: adds per-metric deltas and flags regressions.",
)
@click.option(
    "--rescore",
    type=click.Path(file_okay=False, path_type=Path),
    help="Re-score the stored outputs (and stored --judge verdicts) in this REPORT_DIR; "
    "no model calls.",
)
@click.option("--check", is_flag=True, help="Only validate EVALSET; exit 1 if it has problems.")
@model_options
@click.option(
    "--topic-threshold",
    type=click.FloatRange(0, 100),
    default=60.0,
    show_default=True,
    help="Topic similarity needed to match without evidence overlap.",
)
@click.option(
    "--fact-threshold",
    type=click.FloatRange(0, 1),
    default=0.6,
    show_default=True,
    help="Share of a key fact's content words the summary must contain.",
)
@click.option(
    "--judge",
    metavar="MODEL",
    help="Judge key-fact coverage with this LLM instead of the lexical test (a model name for "
    "an OpenAI-compatible endpoint, or local:PATH.gguf; 'lexical' forces the lexical test). "
    "It judges the baseline's summaries too, with --output-mode and --prompts (judge.j2); "
    "verdicts go to REPORT_DIR/raw/judge.json. With --rescore it is called only for summaries "
    "it has not judged yet.",
)
@click.option(
    "--judge-base-url",
    metavar="URL",
    help="Endpoint for --judge (default: $OPENAI_BASE_URL; key: $OPENAI_API_KEY).",
)
@click.option(
    "--no-baseline", is_flag=True, help="Do not run the baseline model for the floor row."
)
@click.option("--strict-grounding", is_flag=True, help="Drop evidence not found in the article.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print report.json to stdout instead of a table."
)
def eval_cmd(
    ctx: click.Context,
    evalset: Path,
    output: Path | None,
    compare_to: Path | None,
    rescore: Path | None,
    check: bool,
    model: str | None,
    base_url: str | None,
    output_mode: str,
    prompts_dir: str | None,
    concurrency: int,
    topic_threshold: float,
    fact_threshold: float,
    judge: str | None,
    judge_base_url: str | None,
    no_baseline: bool,
    strict_grounding: bool,
    as_json: bool,
) -> None:
    """Score a model on EVALSET (articles/ + labels/) and write REPORT_DIR.

    \b
    REPORT_DIR gets report.json, report.md, report.html, and raw/ with every
    analysis and raw model output, so --rescore can recompute the metrics later.
    The baseline model is run too, for the floor row. Key facts are scored
    lexically unless --judge names an LLM to judge them.
    Exit status: 0 ok (or a valid set with --check), 1 some articles failed
    (or an invalid set with --check), 2 usage error.

    \b
    Examples:
      stance eval --check evals
      stance eval evals --model baseline -o report
      stance eval evals --model gpt-4o-mini -o report2 --compare-to report/report.json
      stance eval evals --model gpt-4o-mini -o report4 --judge gpt-4o
      stance eval evals --rescore report2 -o report3
    """
    try:
        if check:
            result = check_evalset(evalset)
            for problem in result.problems:
                click.echo(problem)
            click.echo(result.summary())
            ctx.exit(0 if result.ok else 1)
        if judge_base_url is not None and judge is None:
            raise ConfigError("--judge-base-url needs --judge MODEL")
        scoring: dict[str, Any] = {
            "topic_threshold": topic_threshold,
            "fact_threshold": fact_threshold,
            "judge": judge,
            "judge_options": {
                "base_url": judge_base_url,
                "output_mode": output_mode,
                "prompts_dir": prompts_dir,
            },
        }
        if rescore is not None:
            report = do_rescore(
                rescore,
                evalset=evalset,
                output=output or rescore,
                compare_to=compare_to,
                concurrency=concurrency,
                **scoring,
            )
            out = output or rescore
        else:
            if output is None:
                raise click.UsageError("missing -o/--output REPORT_DIR")
            spec, note = resolve_model_spec(model)
            if note:
                click.echo(note, err=True)
            report = evaluate(
                evalset,
                model=spec,
                output=output,
                compare_to=compare_to,
                concurrency=concurrency,
                baseline=None if no_baseline else "baseline",
                strict_grounding=strict_grounding,
                base_url=base_url,
                prompts_dir=prompts_dir,
                output_mode=output_mode,
                **scoring,
            )
            out = output
    except StanceError as exc:
        click.echo(f"stance: error: {exc}", err=True)
        ctx.exit(2 if isinstance(exc, ConfigError) else 1)
    if as_json:
        click.echo(report.model_dump_json(indent=2))
    else:
        click.echo(headline_table(report))
    for f in report.failures:
        click.echo(failure_line(f), err=True)
    if report.judge is not None:
        for fb in report.judge.fallbacks:
            where = one_line(f"{fb.model}/{fb.article}")
            click.echo(
                f"stance: judge fell back to lexical: {where}: {one_line(fb.reason)}", err=True
            )
    for note in report.notes:
        click.echo(f"stance: note: {one_line(note)}", err=True)
    if report.regressions:
        click.echo(f"stance: regressions: {', '.join(report.regressions)}", err=True)
    click.echo(f"stance: wrote {out / 'report.json'}, report.md, report.html", err=True)
    fell_back = len(report.judge.fallbacks) if report.judge is not None else 0
    judge_failed = report.judge is not None and fell_back > 0 and not report.judge.judged
    if judge_failed:  # an "llm:" report that is lexical throughout must not pass quietly
        click.echo(
            f"stance: error: the judge answered none of the {fell_back} "
            "summaries, so key-fact coverage is lexical; check --judge, --judge-base-url and "
            f"the key, then run: stance eval {evalset} --rescore {out} --judge MODEL",
            err=True,
        )
    ctx.exit(1 if report.failures or judge_failed else 0)
