"""One JSON answer of a given shape from a chat model: what every model call of stance shares.

The extraction, the comparison's name merge and the eval's key-fact judge all ask for a JSON
object that a pydantic model validates, send the same kind of ``response_format``, and give
the model one re-ask with the validation errors when the answer is unusable. Transport
retries are not here: they happen inside the chat model (:mod:`.openai_chat`), so the two
kinds of retry are never stacked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from ..chat import ChatModel, Completion, Message
from ..errors import ConfigError, InvalidOutput, ModelError, Refusal, TruncatedOutput
from ..schema import Usage

T = TypeVar("T")

_DROPPED_KEYS = ("$defs", "title", "default")


def inline_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema as structured-output servers accept it.

    ``$defs`` are inlined (several servers, llama.cpp among them, do not resolve ``$ref`` in
    their grammars), titles and defaults dropped, and every object made closed with all of
    its properties required (OpenAI's strict mode demands both).
    """
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(defs[node["$ref"].split("/")[-1]])
            out = {k: walk(v) for k, v in node.items() if k not in _DROPPED_KEYS}
            if out.get("type") == "object" and "properties" in out:
                out["required"] = list(out["properties"])
                out["additionalProperties"] = False
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    result: dict[str, Any] = walk(schema)
    return result


def response_format_for(mode: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    """The ``response_format`` request field for an output mode (DESIGN.md §3)."""
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": "stance_extraction", "schema": schema, "strict": True},
        }
    if mode == "json_object":
        return {"type": "json_object"}
    if mode == "prompt":
        return None
    raise ConfigError(f"unknown output mode '{mode}' (json_schema, json_object or prompt)")


class Tally(Protocol):
    """Where a call's cost is counted (an ``ExtractResult``, merge or judge statistics)."""

    calls: int  # completions received
    attempts: int  # requests sent, transport retries included
    usage: Usage


async def ask_json(
    chat: ChatModel,
    messages: list[Message],
    response_format: dict[str, Any] | None,
    parse: Callable[[Completion, int], T],
    reask: Callable[[ModelError], str],
    *,
    tally: Tally,
    raw: list[str] | None = None,
    reasks: int = 1,
) -> T:
    """Ask until ``parse`` accepts an answer, re-asking at most ``reasks`` times.

    Args:
        chat: the model.
        messages: the conversation so far (system prompt, then the data).
        response_format: the request's ``response_format`` (None in ``prompt`` mode).
        parse: ``parse(completion, attempts)`` returns the answer or raises
            :class:`~stance.errors.InvalidOutput`, :class:`~stance.errors.TruncatedOutput`
            or :class:`~stance.errors.Refusal` — which earn a re-ask.
        reask: the user message sent after an unusable answer, from its error.
        tally: counts calls, attempts and tokens, failures included.
        raw: collects every raw answer, in call order.
        reasks: re-asks allowed after the first answer.

    Raises:
        ModelError: the endpoint failed (after its transport retries), or the last answer
            was unusable; ``attempts`` and ``last_raw`` say how far it got.
    """
    last: ModelError | None = None
    for attempt in range(1 + reasks):
        try:
            completion = await chat.complete(messages, response_format)
        except ModelError as exc:
            tally.attempts += exc.attempts or 1
            raise
        tally.calls += 1
        tally.attempts += 1
        tally.usage = tally.usage + completion.usage
        if raw is not None and completion.content is not None:
            raw.append(completion.content)
        try:
            return parse(completion, tally.attempts)
        except (InvalidOutput, TruncatedOutput, Refusal) as exc:
            last = exc
            if attempt >= reasks:
                break
            messages = [
                *messages,
                Message("assistant", completion.content or ""),
                Message("user", reask(exc)),
            ]
    assert last is not None
    last.attempts = tally.attempts
    raise last


def reask_problem(exc: ModelError, *, truncated: str, refused: str) -> tuple[str, list[str]]:
    """What went wrong, and what to do about it, for a re-ask template.

    ``truncated`` and ``refused`` are the advice for a cut-off answer and a refusal; an
    invalid answer gets its validation errors.
    """
    if isinstance(exc, TruncatedOutput):
        return "it was cut off at the output token limit", [truncated]
    if isinstance(exc, Refusal):
        return "it was a refusal", [refused]
    return str(exc), exc.errors if isinstance(exc, InvalidOutput) else [str(exc)]


__all__ = ["Tally", "ask_json", "inline_schema", "reask_problem", "response_format_for"]
