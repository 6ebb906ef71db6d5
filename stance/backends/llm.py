"""Extraction with an LLM: render prompts, call the model, validate, re-ask once, merge chunks."""

from __future__ import annotations

import time
from typing import Any

from ..chat import ChatModel, Message
from ..errors import InvalidOutput, ModelError, Refusal, TruncatedOutput
from ..parse import parse_completion
from ..prepare import Chunk, PreparedArticle
from ..prompts import ChunkInfo, PromptSet, output_schema
from ..schema import ExtractedParty, ExtractedPosition, Extraction, Usage
from .base import ExtractResult

MAX_KEY_POINTS = 6


def _strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Inline $defs: several servers (llama.cpp among them) do not resolve $ref in grammars."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(defs[node["$ref"].split("/")[-1]])
            return {k: walk(v) for k, v in node.items() if k not in ("$defs", "title")}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out = walk(schema)
    assert isinstance(out, dict)
    return out


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
        from .openai_chat import response_format_for

        self.chat = chat
        self.model = model
        self.backend = backend
        self.endpoint_host = endpoint_host
        self.prompts = prompts or PromptSet()
        self.output_mode = output_mode
        self.reasks = reasks
        self.params = dict(params or {})
        self.response_format = response_format_for(output_mode, _strict_schema(output_schema()))
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
        messages = self.messages_for(doc, chunk)
        last: ModelError | None = None
        for attempt in range(1 + self.reasks):
            try:
                completion = await self.chat.complete(messages, self.response_format)
            except ModelError as exc:
                result.attempts += exc.attempts or 1
                raise
            result.calls += 1
            result.attempts += 1
            result.usage = result.usage + completion.usage
            if completion.content is not None:
                result.raw.append(completion.content)
            try:
                return parse_completion(completion, attempts=result.attempts)
            except (InvalidOutput, TruncatedOutput, Refusal) as exc:
                last = exc
                if attempt >= self.reasks:
                    break
                messages = [
                    *messages,
                    Message("assistant", completion.content or ""),
                    Message("user", self._reask_text(exc)),
                ]
        assert last is not None
        last.attempts = result.attempts
        raise last

    def _reask_text(self, exc: ModelError) -> str:
        """The re-ask message: what was wrong, in words the model can act on."""
        if isinstance(exc, TruncatedOutput):
            problem = "it was cut off at the output token limit"
            errors = ["give a shorter answer: fewer key points, the shortest evidence quotes"]
        elif isinstance(exc, Refusal):
            problem = "it was a refusal"
            errors = ["this is a neutral analysis of a published news article; please analyse it"]
        else:
            problem = str(exc)
            errors = exc.errors if isinstance(exc, InvalidOutput) else [str(exc)]
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
