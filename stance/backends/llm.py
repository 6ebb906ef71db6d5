"""Extraction with an LLM: render prompts, call the model, validate, re-ask once, merge chunks."""

from __future__ import annotations

import time
from typing import Any

from ..chat import ChatModel, Message
from ..errors import ModelError
from ..parse import parse_completion
from ..prepare import Chunk, PreparedArticle
from ..prompts import ChunkInfo, PromptSet, output_schema
from ..schema import ExtractedParty, ExtractedPosition, Extraction, Usage
from .base import ExtractResult
from .structured import ask_json, inline_schema, reask_problem, response_format_for

MAX_KEY_POINTS = 6


class LLMExtractor:
    """An :class:`~stance.backends.base.Extractor` that asks a chat model.

    Args:
        chat: the model seam (:class:`~stance.backends.openai_chat.OpenAIChatModel` or a fake).
        model: the model name, for provenance and the cache key.
        prompts: the templates to render.
        output_mode: ``json_schema`` (default), ``json_object`` or ``prompt``.
        backend: ``openai`` or ``local``.
        reasks: validation re-asks allowed per chunk (DESIGN: one).
    """

    def __init__(
        self,
        chat: ChatModel,
        *,
        model: str,
        prompts: PromptSet | None = None,
        output_mode: str = "json_schema",
        backend: str = "openai",
        endpoint_host: str | None = None,
        reasks: int = 1,
        params: dict[str, Any] | None = None,
    ) -> None:
        self.chat = chat
        self.model = model
        self.backend = backend
        self.endpoint_host = endpoint_host
        self.prompts = prompts or PromptSet()
        self.output_mode = output_mode
        self.reasks = reasks
        self.params = dict(params or {})
        self.response_format = response_format_for(output_mode, inline_schema(output_schema()))
        self.system_prompt = self.prompts.system(output_mode)

    def fingerprint(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "backend": self.backend,
            "endpoint": self.endpoint_host,
            "prompt_hash": self.prompts.hash,
            "output_mode": self.output_mode,
            "params": self.params,
        }

    def messages_for(self, doc: PreparedArticle, chunk: Chunk) -> list[Message]:
        """System prompt first (static, cacheable by servers), then the delimited article."""
        text = doc.article.text[chunk.start : chunk.end]
        user = self.prompts.extract(
            article=doc.article.ref,
            text=text,
            chunk=ChunkInfo(number=chunk.index + 1, total=len(doc.chunks)),
        )
        return [Message("system", self.system_prompt), Message("user", user)]

    async def extract(self, doc: PreparedArticle) -> ExtractResult:
        result = ExtractResult(extraction=_empty(), chunks=len(doc.chunks))
        started = time.perf_counter()
        parts = [await self._extract_chunk(doc, chunk, result) for chunk in doc.chunks]
        result.extraction = merge_extractions(parts)
        result.latency_s = time.perf_counter() - started
        return result

    async def _extract_chunk(
        self, doc: PreparedArticle, chunk: Chunk, result: ExtractResult
    ) -> Extraction:
        return await ask_json(
            self.chat,
            self.messages_for(doc, chunk),
            self.response_format,
            lambda completion, attempts: parse_completion(completion, attempts=attempts),
            self._reask_text,
            tally=result,
            raw=result.raw,
            reasks=self.reasks,
        )

    def _reask_text(self, exc: ModelError) -> str:
        """The re-ask message: what was wrong, in words the model can act on."""
        problem, errors = reask_problem(
            exc,
            truncated="give a shorter answer: fewer key points, the shortest evidence quotes",
            refused="this is a neutral analysis of a published news article; please analyse it",
        )
        return self.prompts.reask(problem=problem, errors=errors)

    async def aclose(self) -> None:
        await self.chat.aclose()


def _empty() -> Extraction:
    return Extraction(summary="", key_points=[], parties=[], positions=[])


def merge_extractions(parts: list[Extraction]) -> Extraction:
    """Merge chunk results: the first chunk's summary, unioned parties and positions.

    Parties merge by case-folded name (aliases unioned); positions by (party, topic), with
    evidence unioned in order, so overlapping chunks do not duplicate rows.
    """
    if len(parts) == 1:
        return parts[0]
    parties: dict[str, ExtractedParty] = {}
    positions: dict[tuple[str, str], ExtractedPosition] = {}
    key_points: list[str] = []
    for part in parts:
        for p in part.parties:
            k = p.name.casefold()
            if k in parties:
                old = parties[k]
                aliases = list(dict.fromkeys([*old.aliases, *p.aliases]))
                parties[k] = old.model_copy(update={"aliases": aliases, "role": old.role or p.role})
            else:
                parties[k] = p
        for pos in part.positions:
            pk = (pos.party.casefold(), pos.topic.casefold())
            if pk in positions:
                old_pos = positions[pk]
                evidence = list(dict.fromkeys([*old_pos.evidence, *pos.evidence]))
                positions[pk] = old_pos.model_copy(update={"evidence": evidence})
            else:
                positions[pk] = pos
        for kp in part.key_points:
            if kp not in key_points:
                key_points.append(kp)
    return Extraction(
        summary=next((p.summary for p in parts if p.summary), ""),
        key_points=key_points[:MAX_KEY_POINTS],
        parties=list(parties.values()),
        positions=list(positions.values()),
    )


__all__ = ["LLMExtractor", "merge_extractions", "Usage"]
