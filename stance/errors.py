"""One exception root with a few children that keep the evidence.

Every error a user can meet derives from :class:`StanceError`; the CLI prints ``str(err)``
as one line and exits non-zero. Model errors carry the attempt count and the last raw
output so a failed article can be diagnosed without re-running it.
"""

from __future__ import annotations

from typing import Any


class StanceError(Exception):
    """Root of all errors raised by stance."""


class ConfigError(StanceError):
    """Bad option, unknown model spec, missing optional dependency."""


class InputError(StanceError):
    """An article file that cannot be read or used; names the file and the problem."""

    def __init__(self, path: str | None, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path else problem)


class TemplateError(StanceError):
    """A prompt template is missing, fails to render, or uses an unknown variable."""


class ModelError(StanceError):
    """The model could not give a usable answer within the allowed attempts."""

    def __init__(
        self,
        message: str,
        *,
        attempts: int = 0,
        last_raw: str | None = None,
        original: BaseException | None = None,
    ) -> None:
        self.attempts = attempts
        self.last_raw = last_raw
        self.original = original
        super().__init__(message)


class EndpointError(ModelError):
    """Transport-level failure (HTTP status, timeout, connection) after retries."""


class TruncatedOutput(ModelError):
    """The model stopped at its token limit (``finish_reason == "length"``)."""


class Refusal(ModelError):
    """The model refused to answer."""


class InvalidOutput(ModelError):
    """The output is not valid JSON or does not match the schema, even after a re-ask."""

    def __init__(self, message: str, *, errors: list[str] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.errors = errors or [message]
