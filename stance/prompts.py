"""Prompt templates: find them, render them, hash them.

The shipped templates live in ``prompts/`` at the repository root and are packaged into the
wheel as ``stance/_prompts``. ``--prompts DIR`` overrides any of them by file name; a
template not present in DIR falls back to the shipped one. All templates render in a
sandboxed Jinja environment with ``StrictUndefined`` so a user template can neither reach
Python internals nor silently drop a variable; every template is compiled and test-rendered
when the :class:`PromptSet` is built, so a broken one fails once, at start-up, not once per
article.

Article text is untrusted (DESIGN.md §9). The article sits in a block delimited by
``<article>`` and ``</article>``; :func:`neutralise_delimiters` rewrites any such tag inside
the text (``</article>`` → ``＜/article>``, fullwidth ``<``) so an article cannot close the
block early and smuggle text outside it. Grounding folds the fullwidth bracket back, so a
model quoting the rewritten form still grounds. Metadata shown to the model (title, outlet,
date, id) is flattened to one line and neutralised the same way.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from .errors import TemplateError
from .schema import ArticleRef, Extraction

TEMPLATE_NAMES = ("system", "extract", "reask")  # the extraction's: their hash keys the cache
# Templates of the other model calls, each hashed on its own by the code that uses it.
OTHER_TEMPLATES = {
    "merge": "the comparison's one call to merge party and topic names",
    "judge": "the key-fact judge of `stance eval --judge`",
}
SUFFIX = ".j2"
MAX_META_CHARS = 300  # metadata lines in the prompt; longer is noise or an attack

# "<article>", "</article>", "< / ARTICLE attr>": any tag that could open or close the block.
_DELIMITER = re.compile(r"<(?=\s*/?\s*article\b)", re.IGNORECASE)
FULLWIDTH_LT = "\uff1c"


def neutralise_delimiters(text: str) -> str:
    """Make ``<article>``/``</article>`` tags inside article text inert.

    The ``<`` of each such tag becomes a fullwidth ``＜`` (one character for one, so
    lengths and offsets are unchanged); :mod:`stance.grounding` folds it back to ``<``
    when matching quotes.
    """
    return _DELIMITER.sub(FULLWIDTH_LT, text)


def _meta_line(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return neutralise_delimiters(" ".join(value.split()))[:MAX_META_CHARS]


def safe_ref(article: Any) -> Any:
    """A copy of an :class:`~stance.schema.ArticleRef` whose text fields are one neutralised
    line each, so a title cannot forge prompt lines or an ``</article>`` tag."""
    if not isinstance(article, ArticleRef):
        return article
    fields = ("id", "title", "source", "published", "url")
    return article.model_copy(update={f: _meta_line(getattr(article, f)) for f in fields})


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
        self.sources: dict[str, str] = {name: self.source(name) for name in TEMPLATE_NAMES}
        self.hash = hashlib.sha256(
            "\0".join(f"{n}\0{self.sources[n]}" for n in TEMPLATE_NAMES).encode()
        ).hexdigest()[:16]
        self._check()

    def _check(self) -> None:
        """Compile every template and render each once with sample values.

        A syntax error, an unknown variable or a sandbox violation in a user template then
        raises :class:`~stance.errors.TemplateError` here, once, instead of failing every
        article of a run.
        """
        sample = ArticleRef(id="sample", title="Sample", content_hash="0" * 64)
        for mode in ("json_schema", "prompt"):
            self.system(mode)
        self.extract(article=sample, text="Sample text.", chunk=ChunkInfo(1, 2))
        self.extract(article=sample, text="Sample text.", chunk=ChunkInfo(1, 1))
        self.reask(problem="sample problem", errors=["sample error"])

    def source(self, name: str) -> str:
        """The source of template ``name`` (an override if the folder has one)."""
        try:
            src, _, _ = self.env.loader.get_source(self.env, name + SUFFIX)  # type: ignore[union-attr]
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"prompt template '{name}{SUFFIX}' not found") from exc
        return str(src)

    def template_hash(self, name: str) -> str:
        """sha256 (16 hex) of one template's source: the identity of a call that uses it."""
        return hashlib.sha256(self.source(name).encode("utf-8")).hexdigest()[:16]

    def render(self, name: str, **context: Any) -> str:
        """Render one template; any Jinja problem becomes a one-line :class:`TemplateError`."""
        try:
            return self.env.get_template(name + SUFFIX).render(**context)
        except jinja2.TemplateError as exc:  # includes the sandbox's SecurityError
            raise TemplateError(f"prompt template '{name}{SUFFIX}': {exc}") from exc

    def system(self, output_mode: str) -> str:
        schema_json = json.dumps(output_schema(), separators=(",", ":"))
        return self.render("system", output_mode=output_mode, schema_json=schema_json)

    def extract(self, *, article: Any, text: str, chunk: ChunkInfo) -> str:
        """The user message: metadata, then the article text inside its delimited block.

        ``text`` and the metadata are neutralised first (:func:`neutralise_delimiters`).
        """
        return self.render(
            "extract", article=safe_ref(article), text=neutralise_delimiters(text), chunk=chunk
        )

    def reask(self, *, problem: str, errors: list[str]) -> str:
        return self.render("reask", problem=problem, errors=errors)
