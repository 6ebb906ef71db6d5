"""Turn a model's completion into a validated :class:`~stance.schema.Extraction`.

``finish_reason`` and ``refusal`` are checked before any parsing, so a truncated answer is
reported as truncated rather than as broken JSON. Validation errors are returned as short
human-readable lines that the re-ask prompt feeds back to the model.

Model output is untrusted (an obeyed prompt injection writes it): nothing it says reaches an
error message except as one bounded line with control characters escaped, so it cannot
forge extra lines or terminal escape sequences on stderr. The full raw output is kept in
the error's ``last_raw`` for diagnosis.
"""

from __future__ import annotations

import json
import re
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from .chat import Completion
from .errors import InvalidOutput, Refusal, TruncatedOutput
from .schema import Extraction

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
MAX_ERRORS = 12
M = TypeVar("M", bound=BaseModel)
MAX_SNIPPET = 200


def one_line(text: str, limit: int = MAX_SNIPPET) -> str:
    """``text`` as one bounded, printable line: control, line-separator and bidi-override
    characters become ``\\xNN``/``\\uNNNN`` escapes (so a hostile string cannot forge lines
    or colour a terminal), and anything past ``limit`` characters becomes an ellipsis."""
    out = _UNPRINTABLE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)
    return out if len(out) <= limit else out[: limit - 1] + "\u2026"


def extract_json_text(content: str) -> str:
    """The JSON object inside ``content``: strips code fences and chatter around it."""
    m = _FENCE.match(content)
    if m:
        return m.group(1)
    start = content.find("{")
    end = content.rfind("}")
    if start > 0 and end > start:
        return content[start : end + 1]
    return content


def validation_errors(exc: ValidationError) -> list[str]:
    """Short ``location: message`` lines; keys the model invented are escaped and bounded."""
    lines = []
    for err in exc.errors()[:MAX_ERRORS]:
        loc = one_line(".".join(str(p) for p in err["loc"]), 80) or "(root)"
        lines.append(f"{loc}: {one_line(err['msg'])}")
    if exc.error_count() > MAX_ERRORS:
        lines.append(f"... and {exc.error_count() - MAX_ERRORS} more")
    return lines


def parse_json_answer(
    completion: Completion,
    model: type[M],
    *,
    attempts: int = 1,
    who: str = "model",
    length_hint: str = "",
) -> M:
    """Validate one completion against ``model`` or raise the error that explains why not.

    Args:
        completion: the model's answer.
        model: the pydantic model the JSON must match.
        attempts: requests made so far, recorded on the error.
        who: how messages name the answerer ("model", "judge").
        length_hint: advice appended to the truncation message.

    Raises:
        Refusal: a refusal, or an answer blocked by a content filter.
        TruncatedOutput: ``finish_reason == "length"``.
        InvalidOutput: empty, not JSON, or not the schema (``errors`` lists why).
    """
    raw = completion.content
    if completion.refusal:
        raise Refusal(
            f"{who} refused: {one_line(completion.refusal)}", attempts=attempts, last_raw=raw
        )
    if completion.finish_reason == "length":
        raise TruncatedOutput(
            f"{who} output was cut off at its token limit (finish_reason=length)" + length_hint,
            attempts=attempts,
            last_raw=raw,
        )
    if completion.finish_reason == "content_filter":
        raise Refusal(
            f"{who} output was blocked by a content filter", attempts=attempts, last_raw=raw
        )
    if not raw or not raw.strip():
        raise InvalidOutput(f"{who} returned an empty answer", attempts=attempts, last_raw=raw)
    try:
        data = json.loads(extract_json_text(raw))
    except json.JSONDecodeError as exc:
        raise InvalidOutput(
            f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
            attempts=attempts,
            last_raw=raw,
        ) from exc
    except (RecursionError, ValueError) as exc:  # nested too deep; a 5000-digit number
        raise InvalidOutput(
            f"not usable JSON ({exc.__class__.__name__})", attempts=attempts, last_raw=raw
        ) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = validation_errors(exc)
        raise InvalidOutput(
            "JSON does not match the schema: " + "; ".join(errors[:3]),
            errors=errors,
            attempts=attempts,
            last_raw=raw,
            original=exc,
        ) from exc


def parse_completion(completion: Completion, *, attempts: int = 1) -> Extraction:
    """Validate one extraction answer (see :func:`parse_json_answer`)."""
    return parse_json_answer(
        completion,
        Extraction,
        attempts=attempts,
        length_hint="; raise max_tokens or shorten the chunk size",
    )
