"""The shared structured-answer loop (stance.backends.structured) and the generic parser."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from pydantic import BaseModel, ConfigDict

from stance.backends.structured import ask_json, inline_schema
from stance.chat import Completion
from stance.errors import EndpointError, InvalidOutput, Refusal, TruncatedOutput
from stance.parse import parse_json_answer
from stance.schema import Usage


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str
    tags: list[str] = []


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[Inner]
    note: str | None = None


@dataclass
class Tally:
    calls: int = 0
    attempts: int = 0
    usage: Usage = field(default_factory=Usage)


def answer(content: str | None, finish: str = "stop", tokens: int = 10) -> Completion:
    return Completion(
        content=content,
        finish_reason=finish,
        usage=Usage(total_tokens=tokens, prompt_tokens=tokens),
    )


def test_inline_schema_inlines_refs_and_closes_every_object() -> None:
    schema = inline_schema(Answer.model_json_schema())
    assert "$defs" not in str(schema) and "$ref" not in str(schema)
    assert "default" not in str(schema) and "title" not in schema
    assert schema["required"] == ["items", "note"]  # a defaulted field is required too
    inner = schema["properties"]["items"]["items"]
    assert inner["required"] == ["label", "tags"]
    assert inner["additionalProperties"] is False and schema["additionalProperties"] is False


@pytest.mark.parametrize(
    ("completion", "error", "text"),
    [
        (answer('{"items": []}', finish="length"), TruncatedOutput, "judge output was cut off"),
        (Completion(content=None, refusal="no", finish_reason="stop"), Refusal, "judge refused"),
        (answer("", finish="content_filter"), Refusal, "content filter"),
        (answer("   "), InvalidOutput, "judge returned an empty answer"),
        (answer("{not json"), InvalidOutput, "not valid JSON"),
        (answer('{"items": [{"label": 3}]}'), InvalidOutput, "does not match the schema"),
    ],
)
def test_parse_json_answer_says_why(completion, error, text) -> None:
    with pytest.raises(error, match=text) as info:
        parse_json_answer(completion, Answer, attempts=3, who="judge")
    assert info.value.attempts == 3


def test_parse_json_answer_accepts_fenced_json() -> None:
    got = parse_json_answer(answer('```json\n{"items": [{"label": "a"}]}\n```'), Answer)
    assert got.items[0].label == "a"


async def test_one_reask_then_success_counts_both_calls(fake_chat) -> None:
    fake_chat.enqueue(answer("{broken")).enqueue(answer('{"items": [{"label": "ok"}]}'))
    tally, raw = Tally(), []
    seen_errors = []

    def reask(exc):
        seen_errors.append(exc)
        return "fix it: " + str(exc)

    got = await ask_json(
        fake_chat,
        [],
        None,
        lambda c, n: parse_json_answer(c, Answer, attempts=n),
        reask,
        tally=tally,
        raw=raw,
    )
    assert got.items[0].label == "ok"
    assert (tally.calls, tally.attempts, tally.usage.total_tokens) == (2, 2, 20)
    assert raw == ["{broken", '{"items": [{"label": "ok"}]}']
    # the re-ask carries the bad answer and the error back to the model
    second_messages = fake_chat.history[1][0]
    assert [m.role for m in second_messages] == ["assistant", "user"]
    assert second_messages[0].content == "{broken"
    assert second_messages[1].content.startswith("fix it: not valid JSON")
    assert len(seen_errors) == 1


async def test_gives_up_after_the_allowed_reasks_with_the_last_raw(fake_chat) -> None:
    fake_chat.enqueue(answer("{a")).enqueue(answer("{b"))
    tally = Tally()
    with pytest.raises(InvalidOutput) as info:
        await ask_json(
            fake_chat,
            [],
            None,
            lambda c, n: parse_json_answer(c, Answer, attempts=n),
            lambda exc: "again",
            tally=tally,
        )
    assert info.value.attempts == 2 and info.value.last_raw == "{b"
    assert len(fake_chat.history) == 2


async def test_endpoint_errors_are_not_reasked_and_count_their_attempts(fake_chat) -> None:
    fake_chat.enqueue(EndpointError("HTTP 503 after 5 attempt(s)", attempts=5))
    tally = Tally()
    with pytest.raises(EndpointError):
        await ask_json(
            fake_chat,
            [],
            None,
            lambda c, n: parse_json_answer(c, Answer),
            lambda exc: "again",
            tally=tally,
        )
    assert (tally.calls, tally.attempts) == (0, 5)
    assert len(fake_chat.history) == 1
