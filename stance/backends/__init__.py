"""Backends and how a ``--model`` spec resolves to one (DESIGN.md §3).

| spec                 | backend                                                  |
|----------------------|----------------------------------------------------------|
| ``baseline``         | rule-based analyser, no LLM                              |
| ``local``            | embedded llama.cpp with the bundled Gemma 3 270M (demo)  |
| ``local:PATH.gguf``  | embedded llama.cpp with your GGUF file                   |
| any other name       | an OpenAI-compatible chat endpoint                       |

With no spec: ``STANCE_MODEL``, then an endpoint if ``OPENAI_API_KEY`` or
``OPENAI_BASE_URL`` is set (model :data:`DEFAULT_ENDPOINT_MODEL`), else ``baseline``.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import ConfigError
from ..prompts import PromptSet
from .base import Extractor, ExtractResult

DEFAULT_ENDPOINT_MODEL = "gpt-4o-mini"
HOW_TO_USE_AN_LLM = (
    "stance: using the rule-based 'baseline' analyser (no LLM). For an LLM, set "
    "OPENAI_API_KEY (and OPENAI_BASE_URL for a local server) or pass --model NAME; "
    "--model local tries a tiny offline model."
)
OUTPUT_MODES = ("json_schema", "json_object", "prompt")

__all__ = ["ExtractResult", "Extractor", "resolve_extractor", "resolve_model_spec"]


def resolve_model_spec(spec: str | None) -> tuple[str, str | None]:
    """The model spec to use and, when falling back to baseline silently, a note for the user."""
    if spec:
        return spec, None
    env = os.environ.get("STANCE_MODEL")
    if env:
        return env, None
    if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        return DEFAULT_ENDPOINT_MODEL, None
    return "baseline", HOW_TO_USE_AN_LLM


def resolve_extractor(
    spec: str | None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    prompts_dir: str | None = None,
    output_mode: str = "json_schema",
    temperature: float | None = 0.0,
    max_tokens: int | None = 4096,
    timeout: float = 120.0,
    max_attempts: int = 5,
    client: Any = None,
    **extra: Any,
) -> Extractor:
    """Build the extractor for a model spec.

    Args:
        spec: see the module table; ``None`` applies the default resolution.
        base_url: OpenAI-compatible endpoint; defaults to ``OPENAI_BASE_URL``.
        api_key: defaults to ``OPENAI_API_KEY``; never written anywhere.
        prompts_dir: folder of templates overriding the shipped ones.
        output_mode: ``json_schema``, ``json_object`` or ``prompt``.
        client: an ``openai.AsyncOpenAI`` to use instead of building one (tests, proxies).
    """
    name, _ = resolve_model_spec(spec)
    if output_mode not in OUTPUT_MODES:
        raise ConfigError(f"unknown output mode '{output_mode}' (choose {', '.join(OUTPUT_MODES)})")
    if name == "baseline":
        from .baseline import BaselineExtractor

        return BaselineExtractor()
    params: dict[str, Any] = {}
    if temperature is not None:
        params["temperature"] = temperature
    if max_tokens is not None:
        params["max_tokens"] = max_tokens
    params.update(extra)
    prompts = PromptSet(prompts_dir)
    if name == "local" or name.startswith("local:"):
        from .local import local_extractor

        return local_extractor(
            name, prompts=prompts, output_mode=output_mode, params=params, timeout=timeout
        )
    from .llm import LLMExtractor
    from .openai_chat import OpenAIChatModel

    chat = OpenAIChatModel(
        name,
        client=client,
        base_url=base_url or os.environ.get("OPENAI_BASE_URL") or None,
        api_key=api_key or os.environ.get("OPENAI_API_KEY") or None,
        timeout=timeout,
        max_attempts=max_attempts,
        params=params,
    )
    return LLMExtractor(
        chat,
        model=name,
        prompts=prompts,
        output_mode=output_mode,
        backend="openai",
        endpoint_host=chat.endpoint_host,
        params=params,
    )
