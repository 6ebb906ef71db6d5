"""Prompt templates: find them, render them, hash them.

The shipped templates live in ``prompts/`` at the repository root and are packaged into the
wheel as ``stance/_prompts``. ``--prompts DIR`` overrides any of them by file name; a
template not present in DIR falls back to the shipped one. All templates render in a
sandboxed Jinja environment with ``StrictUndefined`` so a user template can neither reach
Python internals nor silently drop a variable.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from .errors import TemplateError
from .schema import Extraction

TEMPLATE_NAMES = ("system", "extract", "reask")
SUFFIX = ".j2"


def shipped_dir() -> Path:
    """The directory holding the shipped templates, installed or in a checkout."""
    installed = Path(__file__).resolve().parent / "_prompts"
    if installed.is_dir():
        return installed
    checkout = Path(__file__).resolve().parent.parent / "prompts"
    if checkout.is_dir():
        return checkout
    raise TemplateError("shipped prompt templates not found (broken installation?)")


def output_schema() -> dict[str, Any]:
    """The JSON schema the model must follow, generated from the one pydantic model."""
    return Extraction.model_json_schema()


@dataclass(frozen=True)
class ChunkInfo:
    number: int
    total: int


class PromptSet:
    """The three templates of one run, rendered in a sandbox."""

    def __init__(self, override_dir: str | Path | None = None) -> None:
        dirs = [shipped_dir()]
        if override_dir is not None:
            od = Path(override_dir)
            if not od.is_dir():
                raise TemplateError(f"{od}: --prompts must be a folder of .j2 templates")
            dirs.insert(0, od)
        self.env = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader([str(d) for d in dirs]),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            autoescape=False,  # prompts are plain text for a model, not HTML
        )
        self.sources: dict[str, str] = {}
        for name in TEMPLATE_NAMES:
            try:
                src, filename, _ = self.env.loader.get_source(self.env, name + SUFFIX)  # type: ignore[union-attr]
            except jinja2.TemplateNotFound as exc:
                raise TemplateError(f"prompt template '{name}{SUFFIX}' not found") from exc
            self.sources[name] = src
        self.hash = hashlib.sha256(
            "\0".join(f"{n}\0{self.sources[n]}" for n in TEMPLATE_NAMES).encode()
        ).hexdigest()[:16]

    def render(self, name: str, **context: Any) -> str:
        try:
            return self.env.get_template(name + SUFFIX).render(**context)
        except jinja2.TemplateError as exc:
            raise TemplateError(f"prompt template '{name}{SUFFIX}': {exc}") from exc

    def system(self, output_mode: str) -> str:
        schema_json = json.dumps(output_schema(), separators=(",", ":"))
        return self.render("system", output_mode=output_mode, schema_json=schema_json)

    def extract(self, *, article: Any, text: str, chunk: ChunkInfo) -> str:
        return self.render("extract", article=article, text=text, chunk=chunk)

    def reask(self, *, problem: str, errors: list[str]) -> str:
        return self.render("reask", problem=problem, errors=errors)
