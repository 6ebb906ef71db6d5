"""A SQLite cache of extraction results, so re-runs and resumed runs make no repeat calls.

What is stored is the :class:`~stance.backends.base.ExtractResult` of one article — the
validated extraction, token usage, attempts and raw model outputs — keyed by a hash of
everything that can change it (:func:`cache_key`):

* the article: body hash plus the metadata the prompt shows the model (id, title, outlet,
  date, url);
* the extractor's :meth:`~stance.backends.base.Extractor.fingerprint` (model, endpoint,
  prompt-template hash, output mode, generation parameters);
* the output :data:`~stance.schema.SCHEMA_VERSION` and the chunk size.

The comparison's one model call (:mod:`stance.compare.llm_merge`) is stored here too, in its
own table, keyed by the model's fingerprint and the exact prompt (:meth:`ResultCache.get_merge`).

Grounding is not cached: the pipeline re-runs it on the cached extraction, so an analysis
rebuilt from the cache is exactly what a fresh run over the same answer would produce.
Failures are never stored, so a re-run retries only what failed.

One file, WAL mode, one commit per result: a run killed at any moment (``kill -9``
included) keeps every result committed before the kill, and two processes may share a file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .backends.base import ExtractResult
from .errors import ConfigError
from .loaders import Article
from .schema import SCHEMA_VERSION, Extraction, Usage

DEFAULT_CACHE_NAME = ".stance-cache.sqlite"
_FORMAT = 1  # bump when the stored row layout changes; old rows then simply miss

_DDL = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    article_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    model TEXT NOT NULL,
    result TEXT NOT NULL,
    created REAL NOT NULL
)
"""
_MERGES_DDL = """
CREATE TABLE IF NOT EXISTS merges (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    answer TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def cache_key(article: Article, fingerprint: dict[str, Any], *, chunk_tokens: int) -> str:
    """The cache key of one article under one extractor configuration.

    Args:
        article: the article; its content hash and the metadata rendered into the prompt
            are part of the key.
        fingerprint: :meth:`Extractor.fingerprint` of the extractor.
        chunk_tokens: the chunk size, which decides how many calls an article takes.
    """
    ref = article.ref
    material = {
        "format": _FORMAT,
        "schema": SCHEMA_VERSION,
        "content_hash": ref.content_hash,
        "meta": [ref.id, ref.title, ref.source, ref.published, ref.url],
        "fingerprint": fingerprint,
        "chunk_tokens": chunk_tokens,
    }
    blob = json.dumps(material, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _dump(result: ExtractResult) -> str:
    return json.dumps(
        {
            "extraction": result.extraction.model_dump(mode="json"),
            "usage": result.usage.model_dump(),
            "calls": result.calls,
            "attempts": result.attempts,
            "latency_s": result.latency_s,
            "chunks": result.chunks,
            "raw": result.raw,
            "cues": result.cues,
        },
        ensure_ascii=False,
    )


def _load(blob: str) -> ExtractResult:
    data = json.loads(blob)
    return ExtractResult(
        extraction=Extraction.model_validate(data["extraction"]),
        usage=Usage.model_validate(data["usage"]),
        calls=int(data["calls"]),
        attempts=int(data["attempts"]),
        latency_s=float(data["latency_s"]),
        chunks=int(data["chunks"]),
        raw=list(data["raw"]),
        cues=data["cues"],
    )


class ResultCache:
    """Extraction results in one SQLite file.

    Args:
        path: the database file; its folder is created if missing.

    Raises:
        ConfigError: the file cannot be opened as a cache.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.hits = 0
        self.misses = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: autocommit, so every put() is its own durable transaction.
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._db.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode survives a killed process (not a power cut) without an
            # fsync per commit, which would otherwise dominate the per-article overhead.
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute(_DDL)
            self._db.execute(_MERGES_DDL)
        except sqlite3.Error as exc:
            raise ConfigError(f"{self.path}: cannot open the result cache ({exc})") from exc

    def get(self, key: str) -> ExtractResult | None:
        """The stored result for ``key``, or ``None`` (unreadable rows count as misses)."""
        row = self._db.execute("SELECT result FROM results WHERE key = ?", (key,)).fetchone()
        if row is not None:
            try:
                result = _load(row[0])
            except (ValueError, KeyError, TypeError):
                result = None  # a row from an incompatible version: recompute and overwrite
            if result is not None:
                self.hits += 1
                return result
        self.misses += 1
        return None

    def put(self, key: str, article: Article, model: str, result: ExtractResult) -> None:
        """Store a successful result (committed before this returns)."""
        self._db.execute(
            "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?)",
            (key, article.id, article.ref.content_hash, model, _dump(result), time.time()),
        )

    def get_merge(self, key: str) -> dict[str, Any] | None:
        """A stored name-merge answer (a JSON object), or ``None``; unreadable rows miss."""
        row = self._db.execute("SELECT answer FROM merges WHERE key = ?", (key,)).fetchone()
        if row is not None:
            try:
                answer = json.loads(row[0])
            except ValueError:
                answer = None
            if isinstance(answer, dict):
                return answer
        return None

    def put_merge(self, key: str, model: str, answer: Mapping[str, Any]) -> None:
        """Store a name-merge answer (committed before this returns)."""
        self._db.execute(
            "INSERT OR REPLACE INTO merges VALUES (?, ?, ?, ?)",
            (key, model, json.dumps(dict(answer), ensure_ascii=False), time.time()),
        )

    def __len__(self) -> int:
        """The number of stored extraction results (name merges are not counted)."""
        return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_cache(cache: str | Path | ResultCache | None) -> tuple[ResultCache | None, bool]:
    """A cache from a path, an open cache or ``None``; the flag says whether we own it."""
    if cache is None:
        return None, False
    if isinstance(cache, ResultCache):
        return cache, False
    return ResultCache(cache), True


def is_cacheable(extractor: Any) -> bool:
    """Whether results of ``extractor`` go through the cache.

    The baseline is skipped: it is as fast as a cache lookup, and its fingerprint (the
    package version) would not notice rule changes made during development.
    """
    return bool(getattr(extractor, "cacheable", getattr(extractor, "backend", "") != "baseline"))
