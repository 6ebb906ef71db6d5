"""Run a model over an eval set, store what it said, and score it (DESIGN.md §7).

``evaluate`` = load the set → analyse every article with the model (and with ``baseline``
for the floor row) → store each analysis and the raw model outputs under
``REPORT_DIR/raw/<model-slug>/`` → (with an LLM key-fact judge: judge every summary, store
the verdicts in ``REPORT_DIR/raw/judge.json``) → score → write the reports. ``rescore``
repeats only the scoring from what was stored, so labels or scoring rules can change without
new calls.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from ..analyze import analyze_articles
from ..backends import resolve_extractor, resolve_model_spec
from ..backends.base import Extractor
from ..errors import InputError, StanceError
from ..files import atomic_write_text
from ..loaders import safe_id
from ..schema import ArticleAnalysis, ArticleFailure
from .bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_ci
from .facts import DEFAULT_FACT_THRESHOLD, Judge
from .judge import (
    JUDGE_FILE,
    JudgeItem,
    JudgeStore,
    LLMJudge,
    StoredVerdicts,
    read_judge_store,
    resolve_judge,
)
from .labels import EvalSet, load_evalset
from .matching import DEFAULT_TOPIC_THRESHOLD
from .metrics import metrics_from_counts, pool, score_article, summary_text
from .report import (
    Confusion,
    EvalReport,
    JudgeFallback,
    JudgeInfo,
    ModelScores,
    ScoringOptions,
    build_report,
    write_report,
)

BASELINE = "baseline"
RAW_DIR = "raw"
MANIFEST = "manifest.json"
LEXICAL = "lexical"

JudgeArg = str | LLMJudge | Judge | None
"""How key facts are judged: ``None`` or ``"lexical"`` (the lexical test), a model spec or an
:class:`~stance.evaluate.judge.LLMJudge` (an LLM judge, see :mod:`.judge`), or any sync
:data:`~stance.evaluate.facts.Judge` callable."""


class StoredPrediction(BaseModel):
    """What one model produced for one article: enough to re-score without calling it."""

    id: str
    analysis: ArticleAnalysis | None = None
    failure: ArticleFailure | None = None
    raw: list[str] = Field(default_factory=list, description="Raw model outputs, in call order.")


class RawManifest(BaseModel):
    evalset: str
    model: str
    model_slug: str
    baseline: str | None = None
    baseline_slug: str | None = None


@dataclass(frozen=True)
class _Scoring:
    topic_threshold: float = DEFAULT_TOPIC_THRESHOLD
    fact_threshold: float = DEFAULT_FACT_THRESHOLD
    judge: Judge | None = None
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    judge_calls: int = 0  # LLM judge calls made for this report (0 when verdicts are reused)

    def options(self) -> ScoringOptions:
        judge_name = LEXICAL
        if self.judge is not None:
            judge_name = getattr(self.judge, "__name__", type(self.judge).__name__)
        return ScoringOptions(
            topic_threshold=self.topic_threshold,
            fact_threshold=self.fact_threshold,
            fact_judge=judge_name,
            resamples=self.resamples,
            seed=self.seed,
        )


def model_slug(model: str) -> str:
    """The folder name for a model's stored outputs (file-name-safe, stable)."""
    return safe_id(model)


# --------------------------------------------------------------------------- predicting


async def predict(
    evalset: EvalSet,
    extractor: Extractor,
    *,
    concurrency: int = 8,
    strict_grounding: bool = False,
) -> dict[str, StoredPrediction]:
    """Analyse every article of the set; failures become predictions with no analysis."""
    out: dict[str, StoredPrediction] = {}
    async for article, outcome, result in analyze_articles(
        (it.article for it in evalset.items),
        extractor,
        concurrency=concurrency,
        strict_grounding=strict_grounding,
    ):
        if isinstance(outcome, ArticleFailure):
            art_id = article.id if article is not None else (outcome.article_id or "?")
            raw = [outcome.last_raw] if outcome.last_raw else []
            out[art_id] = StoredPrediction(id=art_id, failure=outcome, raw=raw)
        else:
            art_id = article.id if article is not None else outcome.article.id
            raw = list(result.raw) if result is not None else []
            out[art_id] = StoredPrediction(id=art_id, analysis=outcome, raw=raw)
    return out


def _resolve(model: str | Extractor | None, options: Mapping[str, Any]) -> tuple[Extractor, bool]:
    """An extractor for ``model`` and whether we own it (and so must close it)."""
    if isinstance(model, Extractor):
        return model, False
    spec, _note = resolve_model_spec(model)
    return resolve_extractor(spec, **options), True


async def _run_model(
    evalset: EvalSet,
    model: str | Extractor | None,
    options: Mapping[str, Any],
    *,
    concurrency: int,
    strict_grounding: bool,
) -> tuple[str, dict[str, StoredPrediction]]:
    extractor, owned = _resolve(model, options)
    try:
        preds = await predict(
            evalset, extractor, concurrency=concurrency, strict_grounding=strict_grounding
        )
        return extractor.model, preds
    finally:
        if owned:
            await extractor.aclose()


# --------------------------------------------------------------------------- storing


def _raw_root(report_dir: Path) -> Path:
    return report_dir / RAW_DIR


def store_predictions(report_dir: Path, slug: str, preds: Iterable[StoredPrediction]) -> None:
    """Write one JSON per article under ``REPORT_DIR/raw/<slug>/``."""
    folder = _raw_root(report_dir) / slug
    for p in preds:
        path = folder / f"{safe_id(p.id)}.json"
        if path.resolve().parent != folder.resolve():  # ids are safe_id'd; belt and braces
            raise InputError(p.id, "article id would write outside the report folder")
        atomic_write_text(path, p.model_dump_json(indent=1) + "\n")


def load_predictions(report_dir: Path, slug: str) -> dict[str, StoredPrediction]:
    """Read the stored predictions of one model."""
    folder = _raw_root(report_dir) / slug
    if not folder.is_dir():
        raise InputError(str(folder), "no stored predictions to re-score")
    out: dict[str, StoredPrediction] = {}
    for f in sorted(folder.glob("*.json")):
        try:
            p = StoredPrediction.model_validate_json(f.read_text(encoding="utf-8"))
        except (OSError, ValidationError) as exc:
            raise InputError(str(f), f"not a stored prediction ({exc.__class__.__name__})") from exc
        out[p.id] = p
    return out


def read_manifest(report_dir: Path) -> RawManifest:
    path = _raw_root(report_dir) / MANIFEST
    try:
        return RawManifest.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(str(path), "no stored eval run here (missing raw/manifest.json)") from exc
    except ValidationError as exc:
        raise InputError(str(path), f"broken manifest ({exc.error_count()} errors)") from exc


# --------------------------------------------------------------------------- scoring


def score_model(
    evalset: EvalSet, model: str, preds: Mapping[str, StoredPrediction], scoring: _Scoring
) -> ModelScores:
    """Score one model's predictions against the set; a missing prediction counts as empty."""
    articles = []
    failures: list[ArticleFailure] = []
    for item in evalset.items:
        art_id = item.article.id
        pred = preds.get(art_id)
        failure: ArticleFailure | None
        if pred is None:
            failure = ArticleFailure(
                article_id=art_id,
                path=item.article.ref.path,
                stage="model",
                error="MissingPrediction",
                message="no stored prediction for this article",
            )
        else:
            failure = pred.failure
        analysis = pred.analysis if pred is not None else None
        if analysis is None and failure is None:
            failure = ArticleFailure(
                article_id=art_id,
                path=item.article.ref.path,
                stage="model",
                error="MissingPrediction",
                message="stored prediction has no analysis",
            )
        if failure is not None:
            failures.append(failure)
        articles.append(
            score_article(
                art_id,
                item.article.text,
                item.label,
                analysis,
                failure=f"{failure.error}: {failure.message}" if failure else None,
                failed_calls=failure.attempts if failure else 0,
                topic_threshold=scoring.topic_threshold,
                fact_threshold=scoring.fact_threshold,
                judge=scoring.judge,
            )
        )
    per_article = [a.counts for a in articles]
    total = pool(per_article)
    return ModelScores(
        model=model,
        metrics=metrics_from_counts(total),
        ci95=bootstrap_ci(per_article, resamples=scoring.resamples, seed=scoring.seed),
        counts=total,
        confusion=Confusion(matrix=total.confusion),
        articles=articles,
        failures=failures,
    )


def _finish(
    evalset: EvalSet,
    manifest: RawManifest,
    model_preds: Mapping[str, StoredPrediction],
    baseline_preds: Mapping[str, StoredPrediction] | None,
    scoring: _Scoring,
    output: Path | None,
    compare_to: str | Path | None,
) -> EvalReport:
    scores = score_model(evalset, manifest.model, model_preds, scoring)
    base = None
    rows = [(manifest.model, model_preds)]
    if baseline_preds is not None and manifest.baseline is not None:
        base = score_model(evalset, manifest.baseline, baseline_preds, scoring)
        if manifest.baseline != manifest.model:
            rows.append((manifest.baseline, baseline_preds))
    report = build_report(
        str(evalset.path),
        scores,
        base,
        scoring.options(),
        compare_to=compare_to,
        judge=_judge_info(evalset, rows, scoring),
    )
    if output is not None:
        write_report(report, output)
    return report


# --------------------------------------------------------------------------- key-fact judge


def _judge_items(
    evalset: EvalSet, *all_preds: Mapping[str, StoredPrediction] | None
) -> Iterator[JudgeItem]:
    """Every summary to judge: each analysed article with key facts, of every model."""
    for preds in all_preds:
        for item in evalset.items:
            pred = (preds or {}).get(item.article.id)
            if pred is None or pred.analysis is None or not item.label.key_facts:
                continue
            s = pred.analysis.summary
            yield JudgeItem(s.text, tuple(s.key_points), tuple(item.label.key_facts))


def _judge_info(
    evalset: EvalSet, rows: list[tuple[str, Mapping[str, StoredPrediction]]], scoring: _Scoring
) -> JudgeInfo | None:
    """The report's account of the LLM judge: who, what it cost, where it fell back."""
    hook = scoring.judge
    if not isinstance(hook, StoredVerdicts):
        return None
    store = hook.store
    judged = 0
    fallbacks: list[JudgeFallback] = []
    for model, preds in rows:
        for item in evalset.items:
            pred = preds.get(item.article.id)
            if pred is None or pred.analysis is None or not item.label.key_facts:
                continue
            reason = store.fallback_reason(summary_text(pred.analysis), item.label.key_facts)
            if reason is None:
                judged += 1
            else:
                fallbacks.append(JudgeFallback(model=model, article=item.article.id, reason=reason))
    return JudgeInfo(
        name=store.judge,
        model=store.model,
        endpoint=store.endpoint,
        prompt_hash=store.prompt_hash,
        output_mode=store.output_mode,
        judged=judged,
        fallbacks=fallbacks,
        calls=scoring.judge_calls,
        tokens=store.tokens if scoring.judge_calls else 0,
    )


def _open_judge(
    judge: JudgeArg, options: Mapping[str, Any] | None, concurrency: int
) -> tuple[LLMJudge | None, bool]:
    """The LLM judge to call, if any, and whether we own it (and so must close it)."""
    if isinstance(judge, LLMJudge):
        return judge, False
    if isinstance(judge, str) and judge != LEXICAL:
        opts = {"concurrency": concurrency, **(options or {})}
        return resolve_judge(judge, **opts), True
    return None, False


def _sync_judge(judge: JudgeArg) -> Judge | None:
    """A plain callable judge, used as is; ``None`` for lexical and for LLM judges."""
    if judge is None or isinstance(judge, str | LLMJudge):
        return None
    return judge


async def _run_judge(
    judge: LLMJudge, owned: bool, items: Iterable[JudgeItem], previous: JudgeStore | None
) -> JudgeStore:
    try:
        return await judge.judge_all(items, previous=previous)
    finally:
        if owned:
            await judge.aclose()


def _save_judge_store(out: Path, store: JudgeStore | None) -> None:
    """Write the verdicts, or remove stale ones so a later --rescore cannot pick them up."""
    if store is not None:
        store.write(_raw_root(out))
    else:
        (_raw_root(out) / JUDGE_FILE).unlink(missing_ok=True)


# --------------------------------------------------------------------------- entry points


async def aevaluate(
    evalset: str | Path,
    *,
    model: str | Extractor | None = None,
    output: str | Path | None = None,
    compare_to: str | Path | None = None,
    concurrency: int = 8,
    baseline: str | Extractor | None = BASELINE,
    strict_grounding: bool = False,
    topic_threshold: float = DEFAULT_TOPIC_THRESHOLD,
    fact_threshold: float = DEFAULT_FACT_THRESHOLD,
    judge: JudgeArg = None,
    judge_options: Mapping[str, Any] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    **options: Any,
) -> EvalReport:
    """Async :func:`evaluate`."""
    es = load_evalset(evalset)
    scoring = _Scoring(topic_threshold, fact_threshold, _sync_judge(judge), resamples, seed)
    # Resolved before the model runs, so a bad --judge fails before any call is paid for.
    llm_judge, owned_judge = _open_judge(judge, judge_options, concurrency)
    try:
        name, preds = await _run_model(
            es, model, options, concurrency=concurrency, strict_grounding=strict_grounding
        )
        base_name: str | None = None
        base_preds: dict[str, StoredPrediction] | None = None
        if baseline is not None:
            if name == BASELINE:
                base_name, base_preds = name, preds  # the model is the floor: no second run
            else:
                base_name, base_preds = await _run_model(
                    es, baseline, {}, concurrency=concurrency, strict_grounding=strict_grounding
                )
    except BaseException:
        if llm_judge is not None and owned_judge:
            await llm_judge.aclose()
        raise
    store: JudgeStore | None = None
    if llm_judge is not None:
        # The baseline's summaries are judged too, so the two rows stay comparable.
        store = await _run_judge(llm_judge, owned_judge, _judge_items(es, preds, base_preds), None)
        scoring = replace(scoring, judge=store.hook(fact_threshold), judge_calls=store.calls)
    manifest = RawManifest(
        evalset=str(es.path),
        model=name,
        model_slug=model_slug(name),
        baseline=base_name,
        baseline_slug=model_slug(base_name) if base_name else None,
    )
    out = Path(output) if output is not None else None
    if out is not None:
        if base_name not in (None, name) and manifest.baseline_slug == manifest.model_slug:
            raise StanceError(f"model {name!r} and the baseline would share a raw folder")
        store_predictions(out, manifest.model_slug, preds.values())
        if base_preds is not None and base_name != name and manifest.baseline_slug:
            store_predictions(out, manifest.baseline_slug, base_preds.values())
        atomic_write_text(_raw_root(out) / MANIFEST, manifest.model_dump_json(indent=2) + "\n")
        _save_judge_store(out, store)
    return _finish(es, manifest, preds, base_preds, scoring, out, compare_to)


def evaluate(
    evalset: str | Path,
    *,
    model: str | Extractor | None = None,
    output: str | Path | None = None,
    compare_to: str | Path | None = None,
    concurrency: int = 8,
    **options: Any,
) -> EvalReport:
    """Run a model over a labelled eval set and score it (DESIGN.md §7).

    Args:
        evalset: Folder with ``articles/`` and ``labels/`` (DESIGN.md §6).
        model: Model spec or :class:`~stance.backends.base.Extractor`; default as for runs.
        output: REPORT_DIR for report.json/.md/.html and the stored raw outputs.
        compare_to: A previous report.json; adds per-metric deltas and flags regressions.
        concurrency: Articles in flight at once.
        **options: ``baseline`` (spec or Extractor for the floor row; ``None`` skips it),
            ``strict_grounding``, ``topic_threshold`` (0-100, default 60),
            ``fact_threshold`` (0-1, default 0.6), ``judge`` (key facts: ``"lexical"`` (the
            default), a model spec or :class:`~stance.evaluate.judge.LLMJudge` for an LLM
            judge, or a sync callable), ``judge_options`` (for a judge spec: what
            :func:`stance.evaluate.judge.resolve_judge` takes: ``base_url``, ``api_key``,
            ``output_mode``, ``prompts_dir``...), ``resamples``/``seed`` (bootstrap), and
            anything :func:`stance.backends.resolve_extractor` takes (``base_url``,
            ``api_key``...). An LLM judge scores the baseline's summaries too; its verdicts
            and raw answers go to ``output/raw/judge.json``. Pass an ``LLMJudge`` to
            :func:`aevaluate` rather than here, so its client is used and closed on one
            event loop.

    Returns:
        The :class:`EvalReport` (also written to ``output`` when given).

    Raises:
        InputError: the eval set is invalid (see ``stance eval --check``).
    """
    return asyncio.run(
        aevaluate(
            evalset,
            model=model,
            output=output,
            compare_to=compare_to,
            concurrency=concurrency,
            **options,
        )
    )


def rescore(
    report_dir: str | Path,
    *,
    evalset: str | Path | None = None,
    output: str | Path | None = None,
    compare_to: str | Path | None = None,
    topic_threshold: float = DEFAULT_TOPIC_THRESHOLD,
    fact_threshold: float = DEFAULT_FACT_THRESHOLD,
    judge: JudgeArg = None,
    judge_options: Mapping[str, Any] | None = None,
    concurrency: int = 8,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> EvalReport:
    """Recompute every metric from a previous eval run's stored outputs; no model calls.

    Args:
        report_dir: The REPORT_DIR of an earlier ``evaluate`` (with ``raw/``).
        evalset: The labels to score against; default: the set that run used.
        output: Where to write the new reports; default ``report_dir``. The stored
            outputs are copied along so the new folder can be re-scored in turn.
        judge: ``None`` (default): the LLM judge verdicts stored in ``report_dir``, if
            any, else lexical; a summary without a stored verdict (changed labels) is
            scored lexically and listed. ``"lexical"``: the lexical test. A model spec or
            :class:`~stance.evaluate.judge.LLMJudge`: that judge, reusing the stored
            verdicts when they are its own and calling it only for what they lack (the
            one case where this function makes calls). A sync callable: used as is.
        judge_options, concurrency: for a judge spec, as in :func:`evaluate`.
        compare_to, topic_threshold, fact_threshold, resamples, seed: as in
            :func:`evaluate`.
    """
    src = Path(report_dir)
    manifest = read_manifest(src)
    es = load_evalset(evalset if evalset is not None else manifest.evalset)
    manifest = manifest.model_copy(update={"evalset": str(es.path)})
    preds = load_predictions(src, manifest.model_slug)
    base_preds = None
    if manifest.baseline_slug is not None:
        base_preds = (
            preds
            if manifest.baseline_slug == manifest.model_slug
            else load_predictions(src, manifest.baseline_slug)
        )
    scoring = _Scoring(topic_threshold, fact_threshold, _sync_judge(judge), resamples, seed)
    stored = read_judge_store(_raw_root(src))
    store: JudgeStore | None = None
    if judge is None and stored is not None:
        store = stored
        scoring = replace(scoring, judge=stored.hook(fact_threshold))
    else:
        llm_judge, owned = _open_judge(judge, judge_options, concurrency)
        if llm_judge is not None:
            items = list(_judge_items(es, preds, base_preds))
            store = asyncio.run(_run_judge(llm_judge, owned, items, stored))
            scoring = replace(scoring, judge=store.hook(fact_threshold), judge_calls=store.calls)
    out = Path(output) if output is not None else src
    if out.resolve() != src.resolve():
        shutil.copytree(_raw_root(src), _raw_root(out), dirs_exist_ok=True)
        atomic_write_text(_raw_root(out) / MANIFEST, manifest.model_dump_json(indent=2) + "\n")
        _save_judge_store(out, store)
    elif store is not None and store is not stored:
        _save_judge_store(out, store)
    return _finish(es, manifest, preds, base_preds, scoring, out, compare_to)
