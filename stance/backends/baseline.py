"""The ``baseline`` backend: the rule-based analyser behind the Extractor interface."""

from __future__ import annotations

import time
from typing import Any

from .._version import __version__
from ..prepare import PreparedArticle
from .base import ExtractResult


class BaselineExtractor:
    """Deterministic, no-LLM extraction (DESIGN.md §3): the eval floor and offline default."""

    model = "baseline"
    backend = "baseline"
    endpoint_host: str | None = None

    def fingerprint(self) -> dict[str, Any]:
        # The rules ship with the package, so the package version identifies them.
        return {"model": self.model, "backend": self.backend, "rules": __version__}

    async def extract(self, doc: PreparedArticle) -> ExtractResult:
        from ..baseline import extract_with_cues

        started = time.perf_counter()
        extraction, cues = extract_with_cues(doc)
        return ExtractResult(
            extraction=extraction,
            latency_s=time.perf_counter() - started,
            chunks=1,
            cues=cues,
        )

    async def aclose(self) -> None:
        return None
