"""Chat types shared by the model seam and the parser: a message, a completion, a model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from .schema import Usage


@dataclass
class Message:
    role: str
    content: str


@dataclass
class Completion:
    """One chat completion, reduced to what the pipeline needs."""

    content: str | None
    finish_reason: str | None
    refusal: str | None = None
    usage: Usage = field(default_factory=Usage)
    model: str | None = None


class ChatModel(Protocol):
    """What an LLM backend must provide: one method."""

    async def complete(
        self, messages: list[Message], response_format: dict[str, Any] | None
    ) -> Completion: ...

    async def aclose(self) -> None: ...
