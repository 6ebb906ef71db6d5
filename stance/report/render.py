"""Render the run reports from Jinja templates in a sandbox.

Templates run in :class:`jinja2.sandbox.SandboxedEnvironment` with ``StrictUndefined`` (a
typo in a template fails loudly) so user-supplied templates cannot reach Python internals.
The HTML environment autoescapes everything; article- and model-derived text only ever
reaches the page as escaped text. The page also carries a Content-Security-Policy that lets
exactly one script run, the report's own (by hash), as a second line of defence.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
)
from jinja2 import (
    TemplateError as JinjaTemplateError,
)
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from ..compare.models import Comparison
from ..errors import TemplateError
from ..schema import ArticleAnalysis
from .context import build_context, when_where

_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|])")


def md(value: Any) -> str:
    """Text safe inside a Markdown table cell or list item: one line, markup escaped.

    Backslash escapes keep ``<script>`` from being read as HTML by Markdown renderers and
    ``|`` from breaking a table.
    """
    if value is None:
        return ""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def _loader(templates_dir: str | Path | None) -> BaseLoader:
    shipped = PackageLoader("stance.report", "templates")
    if templates_dir is None:
        return shipped
    return ChoiceLoader([FileSystemLoader(str(templates_dir)), shipped])


def environment(*, html: bool, templates_dir: str | Path | None = None) -> SandboxedEnvironment:
    """The sandboxed environment for HTML (autoescaped) or Markdown (``md`` filter) reports."""
    env = SandboxedEnvironment(
        loader=_loader(templates_dir),
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md
    env.globals["when_where"] = when_where
    return env


def _render(env: SandboxedEnvironment, name: str, context: Mapping[str, Any]) -> str:
    try:
        return env.get_template(name).render(**context)
    except JinjaTemplateError as exc:
        raise TemplateError(f"report template {name}: {exc}") from exc


def render_markdown(
    analyses: Sequence[ArticleAnalysis],
    comparison: Comparison,
    manifest: Mapping[str, Any],
    *,
    templates_dir: str | Path | None = None,
) -> str:
    """``report.md``: run summary, each article's summary and positions, then the comparison.

    Raises:
        TemplateError: A template is missing or fails to render.
    """
    context = build_context(analyses, comparison, manifest).as_dict()
    return _render(environment(html=False, templates_dir=templates_dir), "report.md.j2", context)


def render_html(
    analyses: Sequence[ArticleAnalysis],
    comparison: Comparison,
    manifest: Mapping[str, Any],
    *,
    templates_dir: str | Path | None = None,
) -> str:
    """``report.html``: one self-contained page (inline CSS and script, no network).

    Raises:
        TemplateError: A template is missing or fails to render.
    """
    env = environment(html=True, templates_dir=templates_dir)
    script = _render(env, "report.js", {})
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    context = build_context(analyses, comparison, manifest).as_dict()
    # The script is our own template file, not data: it is inserted verbatim and allowed to
    # run by its hash; nothing else on the page can.
    context["script"] = Markup(script)
    context["script_hash"] = f"sha256-{digest}"
    return _render(env, "report.html.j2", context)
