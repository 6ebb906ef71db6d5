"""Write a run folder (DESIGN.md §4).

Each finished article is written at once as ``OUT/<id>.json`` (temp file + rename, so a
killed run never leaves half a file). Those files are the source of truth: ``finish()``
rebuilds ``positions.csv``, ``positions.jsonl``, the comparison and the reports from them,
one article at a time, and writes ``run.json`` last.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ._version import __version__
from .backends.base import Extractor, ExtractResult
from .errors import StanceError
from .files import atomic_write_text
from .loaders import RESERVED_IDS as RESERVED
from .pricing import PriceTable, load_prices
from .schema import ArticleAnalysis, ArticleFailure, Usage
from .tokens import counter_for

if TYPE_CHECKING:
    from .compare import LightComparison, NameMerger
    from .compare.llm_merge import MergeStats

CSV_COLUMNS = [
    "article_id", "title", "source", "published", "party", "topic", "stance", "attribution",
    "via", "position", "evidence", "evidence_status", "evidence_start", "evidence_end",
    "n_evidence", "cue",
]  # fmt: skip


def article_path(out_dir: Path, article_id: str) -> Path:
    """Where an article's JSON goes; refuses anything that would land outside ``out_dir``."""
    stem = article_id if article_id not in RESERVED else f"{article_id}-article"
    path = (out_dir / f"{stem}.json").resolve()
    if path.parent != out_dir.resolve() or stem.startswith("."):
        raise StanceError(f"article id {article_id!r} would be written outside {out_dir}")
    return path


class StoredAnalyses:
    """Stored article analyses, read from their files at each iteration.

    What the comparison and the reports get instead of a list: the comparison reads it
    twice (names, then positions), each report once and only as far as it shows articles
    in full, and none of them ever holds it whole.

    Args:
        files: ``(path, article id)`` pairs, read in this order; a file that is unreadable
            by then, or holds another article, is skipped. :meth:`of_run` builds them for a
            run folder.
    """

    def __init__(self, files: Iterable[tuple[Path, str]]) -> None:
        self.files = list(files)

    @classmethod
    def of_run(cls, out_dir: Path, ids: Iterable[str]) -> StoredAnalyses:
        """The articles ``ids`` of the run folder ``out_dir``, in file-name order."""
        names = {article_path(out_dir, aid).name: aid for aid in ids}
        return cls((out_dir / name, aid) for name, aid in sorted(names.items()))

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[ArticleAnalysis]:
        for path, aid in self.files:
            try:
                analysis = ArticleAnalysis.model_validate_json(path.read_bytes())
            except (ValidationError, ValueError, OSError):
                continue  # not readable any more: skipped
            if analysis.article.id == aid:  # else a stale file from another run
                yield analysis


def position_rows(a: ArticleAnalysis) -> Iterator[dict[str, Any]]:
    for p in a.positions:
        first = p.evidence[0] if p.evidence else None
        yield {
            "article_id": a.article.id,
            "title": a.article.title,
            "source": a.article.source,
            "published": a.article.published,
            "party": p.party,
            "topic": p.topic,
            "stance": p.stance,
            "attribution": p.attribution,
            "via": p.via,
            "position": p.position,
            "evidence": first.quote if first else None,
            "evidence_status": first.status if first else None,
            "evidence_start": first.start if first else None,
            "evidence_end": first.end if first else None,
            "n_evidence": len(p.evidence),
            "cue": p.cue,
        }


def prompt_overhead_tokens(extractor: Extractor) -> int | None:
    """Tokens every call spends before the article text: system prompt + user wrapper."""
    prompts = getattr(extractor, "prompts", None)
    system = getattr(extractor, "system_prompt", None)
    if prompts is None or system is None:
        return None
    from .loaders import make_article
    from .prompts import ChunkInfo

    dummy = make_article("x", id="x")
    wrapper = prompts.extract(article=dummy.ref, text="", chunk=ChunkInfo(1, 1))
    counter = counter_for(extractor.model)
    return counter.count(system) + counter.count(wrapper) + 8  # ~4 tokens/message framing


class RunWriter:
    """Collects a run's outcomes into a run folder.

    Args:
        out_dir: the run folder.
        extractor: what produced the outcomes (for the manifest).
        prices: the price table for the cost estimate; default :func:`stance.pricing.load_prices`.
        merger: a model merger for the comparison (:class:`~stance.compare.LlmMerger`);
            its one call is made by :meth:`afinish` (or :meth:`finish` outside an event
            loop) and what it cost goes into ``run.json`` as ``llm_merge``. ``None``: rules.
    """

    def __init__(
        self,
        out_dir: str | Path,
        extractor: Extractor,
        *,
        prices: PriceTable | None = None,
        merger: NameMerger | None = None,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.merger = merger
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.extractor = extractor
        self.prices = prices if prices is not None else load_prices()
        self.started = time.time()
        self.failures: list[ArticleFailure] = []
        self.ok_ids: list[str] = []
        self.usage = Usage()
        self.calls = 0
        self.attempts = 0
        self.latency = 0.0
        self.cached = 0
        self.extra: dict[str, Any] = {}  # more manifest keys from the caller (e.g. batch info)

    def add(self, outcome: ArticleAnalysis | ArticleFailure, result: ExtractResult | None) -> None:
        if isinstance(outcome, ArticleFailure):
            self.failures.append(outcome)
            return
        try:
            path = article_path(self.out_dir, outcome.article.id)
            # No fsync per article: it would block the event loop ~5 ms each (the largest
            # per-article cost). The rename keeps files whole if the process dies; after a
            # power cut, re-running rewrites every article from the result cache.
            atomic_write_text(path, outcome.model_dump_json(indent=2), fsync=False)
        except (StanceError, OSError) as exc:
            self.failures.append(
                ArticleFailure(
                    article_id=outcome.article.id,
                    path=outcome.article.path,
                    stage="write",
                    error=type(exc).__name__,
                    message=str(exc),
                )
            )
            return
        self.ok_ids.append(outcome.article.id)
        prov = outcome.provenance
        if prov.cached:
            self.cached += 1
        else:
            self.usage = self.usage + prov.usage
            self.calls += prov.calls
            self.attempts += prov.attempts
        self.latency += prov.latency_s

    def manifest(self) -> dict[str, Any]:
        fp = self.extractor.fingerprint()
        n_ok = len(self.ok_ids)
        cost = self.prices.cost(self.extractor.model, self.usage, backend=self.extractor.backend)
        price = self.prices.lookup(self.extractor.model)
        fresh = n_ok - self.cached  # articles whose tokens were spent in this run
        return {
            "stance_version": __version__,
            "model": self.extractor.model,
            "backend": self.extractor.backend,
            "endpoint_host": self.extractor.endpoint_host,
            "prompt_hash": fp.get("prompt_hash"),
            "parameters": fp.get("params", {}),
            "counts": {
                "articles": n_ok + len(self.failures),
                "ok": n_ok,
                "failed": len(self.failures),
                "cached": self.cached,
            },
            "tokens": self.usage.model_dump(),
            "tokens_per_article": round(self.usage.total_tokens / fresh, 1) if fresh else 0,
            "prompt_overhead_tokens": prompt_overhead_tokens(self.extractor),
            "calls": self.calls,
            "attempts": self.attempts,
            "cost_usd": cost,
            "cost_per_article_usd": round(cost / fresh, 6) if cost is not None and fresh else None,
            "prices": (
                {**vars(price), "sources": self.prices.sources} if price is not None else None
            ),
            "timings": {
                "started": datetime.fromtimestamp(self.started, UTC).isoformat(),
                "finished": datetime.now(UTC).isoformat(),
                "wall_s": round(time.time() - self.started, 3),
                "model_latency_s_total": round(self.latency, 3),
                "model_latency_s_mean": round(self.latency / n_ok, 4) if n_ok else 0,
            },
            "failures": [f.model_dump() for f in self.failures],
            **self.extra,
        }

    def finish(self) -> dict[str, Any]:
        """Write the aggregate files and reports, then ``run.json``; return the manifest.

        Everything is rebuilt from the stored articles, read back one at a time in a few
        passes (positions; names, then positions again, for the comparison; the articles
        the reports show in full): no step holds every analysis, so memory stays flat with
        corpus size (DESIGN.md §8). With a model merger, call :meth:`afinish` from async
        code: this method cannot make the merger's call inside a running event loop.
        """
        from .compare import compare_light

        manifest, stored = self._begin()
        with compare_light(stored, llm_merge=self.merger) as comparison:
            self._end(stored, comparison, manifest)
        return manifest

    async def afinish(self) -> dict[str, Any]:
        """:meth:`finish` from async code: the merger's one model call is awaited."""
        from .compare import acompare_light

        manifest, stored = self._begin()
        with await acompare_light(stored, llm_merge=self.merger) as comparison:
            self._end(stored, comparison, manifest)
        return manifest

    def _begin(self) -> tuple[dict[str, Any], StoredAnalyses]:
        manifest = self.manifest()
        stored = StoredAnalyses.of_run(self.out_dir, self.ok_ids)
        manifest["counts"].update(self._write_positions(stored))
        return manifest, stored

    def _end(
        self, stored: StoredAnalyses, comparison: LightComparison, manifest: dict[str, Any]
    ) -> None:
        from .report import write_run_reports

        merge = self.merge_manifest()
        if merge is not None:
            manifest["llm_merge"] = merge
        write_run_reports(self.out_dir, stored, comparison, manifest)
        atomic_write_text(self.out_dir / "run.json", json.dumps(manifest, indent=2))

    def merge_manifest(self) -> dict[str, Any] | None:
        """What the comparison's model merge did and cost, for ``run.json``; None without one."""
        stats: MergeStats | None = getattr(self.merger, "stats", None)
        if stats is None:
            return None
        out = stats.as_dict()
        out["cost_usd"] = (
            self.prices.cost(stats.model, stats.usage, backend=self.extractor.backend)
            if stats.calls
            else 0.0
        )
        return out

    def _write_positions(self, stored: Iterable[ArticleAnalysis]) -> Counter[str]:
        """``positions.csv`` and ``positions.jsonl``; returns position and evidence counts."""
        stats: Counter[str] = Counter()
        with (
            open(self.out_dir / ".positions.csv.tmp", "w", encoding="utf-8", newline="") as fcsv,
            open(self.out_dir / ".positions.jsonl.tmp", "w", encoding="utf-8") as fjl,
        ):
            w = csv.DictWriter(fcsv, fieldnames=CSV_COLUMNS)
            w.writeheader()
            for a in stored:
                for row in position_rows(a):
                    w.writerow(row)
                    fjl.write(json.dumps(row, ensure_ascii=False) + "\n")
                stats["positions"] += len(a.positions)
                for p in a.positions:
                    for e in p.evidence:
                        stats[f"evidence_{e.status}"] += 1
        os.replace(self.out_dir / ".positions.csv.tmp", self.out_dir / "positions.csv")
        os.replace(self.out_dir / ".positions.jsonl.tmp", self.out_dir / "positions.jsonl")
        return stats

    def close(self) -> None:
        for tmp in (".positions.csv.tmp", ".positions.jsonl.tmp"):
            (self.out_dir / tmp).unlink(missing_ok=True)
