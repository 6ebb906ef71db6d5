"""``stance compare``: rebuild the comparison and reports from stored results.

No model is called unless ``--model`` is given; then the one call of the comparison's name
merge is made (:mod:`stance.compare.llm_merge`), cached in OUT's result cache.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from ..backends import resolve_extractor
from ..cache import DEFAULT_CACHE_NAME, ResultCache
from ..compare import LightComparison, acompare_light, compare_light, merger_for
from ..errors import InputError
from ..loaders import RESERVED_IDS
from ..report import write_run_reports
from ..runfolder import StoredAnalyses
from ..schema import ArticleAnalysis
from .run import output_mode_option, prompts_option


def _warn(message: str) -> None:
    click.echo(f"stance: warning: {message}", err=True)


def scan_run_dir(run_dir: Path) -> tuple[list[tuple[Path, str]], dict[str, Any] | None]:
    """The article analyses stored in a run folder, as (file, article id), and its manifest.

    Each file is read and checked once, and only its name and id kept, so memory does not
    grow with the analyses; the comparison and the reports read them again one at a time.
    A ``*.json`` file that is not an article analysis gets one warning line and is skipped.
    """
    found: list[tuple[Path, str]] = []
    for path in sorted(run_dir.glob("*.json")):
        if path.stem in RESERVED_IDS or path.name.startswith("."):  # the run's own files
            continue
        try:
            analysis = ArticleAnalysis.model_validate_json(path.read_bytes())
        except ValidationError as exc:
            errors = exc.errors()
            where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
            what = errors[0]["msg"] if errors else "invalid"
            _warn(f"skipped {path}: not an article analysis ({where or 'document'}: {what})")
        except OSError as exc:
            _warn(f"skipped {path}: cannot read it ({exc.strerror or exc})")
        else:
            found.append((path, analysis.article.id))
    manifest: dict[str, Any] | None = None
    run_json = run_dir / "run.json"
    if run_json.is_file():
        try:
            loaded = json.loads(run_json.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            _warn(f"ignored {run_json}: not readable JSON ({exc})")
        else:
            if isinstance(loaded, dict):
                manifest = loaded
            else:
                _warn(f"ignored {run_json}: expected a JSON object")
    return found, manifest


@click.command()
@click.argument(
    "run_dirs",
    metavar="RUN_DIR...",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.option(
    "-o",
    "--output",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the comparison and reports. Default: the first RUN_DIR.",
)
@click.option(
    "--aliases",
    "aliases_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML/JSON alias file (parties:/topics: canonical -> [variants]); overrides the rules.",
)
@click.option(
    "-m",
    "--model",
    help="Also ask this LLM, in one call, which party and topic names the rules left are "
    "the same (an OpenAI-compatible model name, or local). Default: rules only, no call.",
)
@click.option("--base-url", help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL).")
@output_mode_option
@prompts_option
def compare(
    run_dirs: tuple[Path, ...],
    out: Path | None,
    aliases_file: Path | None,
    model: str | None,
    base_url: str | None,
    output_mode: str,
    prompts_dir: str | None,
) -> None:
    """Compare parties and topics across the articles in RUN_DIR(s).

    Reads every per-article JSON that `stance run` stored, merges party and topic names
    (rules plus the alias file), and writes comparison.json, matrix.csv, merge_log.jsonl,
    report.md and report.html to OUT. No model is called unless --model is given: then
    one call asks it about the names the rules could not merge (cached in
    OUT/.stance-cache.sqlite, so running it again makes no call).

    \b
    Examples:
      stance compare out                         # rebuild out/report.html in place
      stance compare run-a run-b -o both         # one comparison over two runs
      stance compare out --aliases aliases.yml   # merge names the rules missed
      stance compare out --model gpt-4o-mini     # and let a model merge the rest
    """
    files: list[tuple[Path, str]] = []
    manifest: dict[str, Any] = {}
    failures: list[Any] = []
    seen: dict[str, Path] = {}
    for run_dir in run_dirs:
        found, run_manifest = scan_run_dir(run_dir)
        for path, article_id in found:
            if article_id in seen:
                _warn(
                    f"skipped article {article_id!r} in {run_dir}: "
                    f"already read from {seen[article_id]}"
                )
                continue
            seen[article_id] = run_dir
            files.append((path, article_id))
        if run_manifest is not None:
            if not manifest:
                manifest = dict(run_manifest)
            run_failures = run_manifest.get("failures")
            if isinstance(run_failures, list):
                failures.extend(run_failures)
    if not files:
        raise InputError(", ".join(str(d) for d in run_dirs), "no article analyses (*.json) found")
    if manifest:
        manifest["failures"] = failures
    if len(run_dirs) > 1:
        manifest["sources"] = [str(d) for d in run_dirs]

    # Read from the files at each pass, never held whole: memory stays flat with corpus size.
    analyses = StoredAnalyses(files)
    target = out if out is not None else run_dirs[0]
    if model is None or model == "baseline":
        comparison = compare_light(analyses, aliases=aliases_file)
    else:
        comparison, merge = _compare_with_model(
            analyses, aliases_file, model, base_url, output_mode, prompts_dir, target
        )
        manifest["llm_merge"] = merge
        _echo_merge(merge)
    with comparison:
        write_run_reports(target, analyses, comparison, manifest)
        click.echo(
            f"compared {len(analyses)} articles: {len(comparison.parties)} parties, "
            f"{len(comparison.topics)} topics, {len(comparison.conflicts)} conflicts, "
            f"{len(comparison.shifts)} shifts -> {target / 'report.html'}",
            err=True,
        )


def _compare_with_model(
    analyses: StoredAnalyses,
    aliases_file: Path | None,
    model: str,
    base_url: str | None,
    output_mode: str,
    prompts_dir: str | None,
    target: Path,
) -> tuple[LightComparison, dict[str, Any]]:
    """The comparison with the model's one name-merge call, and what that call did."""
    extractor = resolve_extractor(
        model, base_url=base_url, prompts_dir=prompts_dir, output_mode=output_mode
    )
    target.mkdir(parents=True, exist_ok=True)
    with ResultCache(target / DEFAULT_CACHE_NAME) as cache:
        merger = merger_for(extractor, cache=cache)

        async def go() -> LightComparison:
            try:
                return await acompare_light(analyses, aliases=aliases_file, llm_merge=merger)
            finally:
                await extractor.aclose()

        comparison = asyncio.run(go())
    return comparison, merger.stats.as_dict() if merger is not None else {}


def _echo_merge(merge: dict[str, Any]) -> None:
    if not merge:
        return
    status = merge["status"]
    what = {
        "ok": f"{merge['calls']} call(s), {merge['tokens']['total_tokens']} tokens",
        "cached": "answer from the cache, no call",
        "failed": f"failed ({merge['reason']}); rules only",
        "skipped": f"no call ({merge['reason']})",
    }.get(status, status)
    merged = merge["merges"]["parties"] + merge["merges"]["topics"]
    tail = f", {merged} merge(s) suggested" if status in ("ok", "cached") else ""
    click.echo(f"stance: LLM name merge with {merge['model']}: {what}{tail}", err=True)
