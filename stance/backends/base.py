"""The one narrow interface between the pipeline and whatever produces an extraction.

An :class:`Extractor` turns one prepared article into an :class:`~stance.schema.Extraction`.
LLM backends do it by rendering prompts and calling a :class:`ChatModel`; the baseline
does it with rules. The pipeline (:mod:`stance.analyze`) sees only this protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..chat import ChatModel, Completion, Message
from ..prepare import PreparedArticle
from ..schema import Extraction, Usage

__all__ = ["ChatModel", "Completion", "ExtractResult", "Extractor", "Message"]


@dataclass
class ExtractResult:
    """An extraction and what it cost."""

    extraction: Extraction
    usage: Usage = field(default_factory=Usage)
    calls: int = 0
    attempts: int = 0
    latency_s: float = 0.0
    chunks: int = 1
    raw: list[str] = field(default_factory=list)  # raw model outputs, for re-scoring/debugging
    cues: list[str | None] | None = None  # per position: the rule cue behind the stance


@runtime_checkable
class Extractor(Protocol):
    model: str  # the model spec as the user gave it (e.g. "baseline", "gpt-4o-mini")
    backend: str  # "baseline" | "openai" | "local"
    endpoint_host: str | None

    def fingerprint(self) -> dict[str, Any]:
        """Everything that changes the output: used for provenance and the cache key."""
        ...

    async def extract(self, doc: PreparedArticle) -> ExtractResult: ...

    async def aclose(self) -> None: ...
