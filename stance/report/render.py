"""Render the run reports from Jinja templates in a sandbox.

Templates run in :class:`jinja2.sandbox.SandboxedEnvironment` with ``StrictUndefined`` (a
typo in a template fails loudly) so user-supplied templates cannot reach Python internals.
The HTML environment autoescapes everything; article- and model-derived text only ever
reaches the page as escaped text. The page also carries a Content-Security-Policy that lets
exactly one script run, the report's own (by hash), as a second line of defence.

Templates are rendered with ``generate()``: the ``stream_*`` functions hand the output over
piece by piece, so a large report is written to its file without ever being one string.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
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

from ..errors import TemplateError
from ..schema import ArticleAnalysis
from .context import AnyComparison, ReportContext, ReportLimits, build_context, capped, when_where

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
    env.globals["capped"] = capped
    return env


def _stream(env: SandboxedEnvironment, name: str, context: Mapping[str, Any]) -> Iterator[str]:
    """The rendered template in pieces, as the template produces them (never one big string).

    Raises:
        TemplateError: The template is missing or fails, whenever that shows up.
    """
    try:
        yield from env.get_template(name).generate(**context)
    except JinjaTemplateError as exc:
        raise TemplateError(f"report template {name}: {exc}") from exc


def _render(env: SandboxedEnvironment, name: str, context: Mapping[str, Any]) -> str:
    return "".join(_stream(env, name, context))


def stream_markdown(
    context: ReportContext, *, templates_dir: str | Path | None = None
) -> Iterator[str]:
    """``report.md`` in pieces, from a context made by :func:`build_context`."""
    env = environment(html=False, templates_dir=templates_dir)
    return _stream(env, "report.md.j2", context.as_dict())


def stream_html(
    context: ReportContext, *, templates_dir: str | Path | None = None
) -> Iterator[str]:
    """``report.html`` in pieces, from a context made by :func:`build_context`.

    Raises:
        TemplateError: A template is missing or fails to render.
    """
    env = environment(html=True, templates_dir=templates_dir)
    script = _render(env, "report.js", {})
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    values = context.as_dict()
    # The script is our own template file, not data: it is inserted verbatim and allowed to
    # run by its hash; nothing else on the page can.
    values["script"] = Markup(script)
    values["script_hash"] = f"sha256-{digest}"
    return _stream(env, "report.html.j2", values)


def render_markdown(
    analyses: Iterable[ArticleAnalysis],
    comparison: AnyComparison,
    manifest: Mapping[str, Any],
    *,
    templates_dir: str | Path | None = None,
    limits: ReportLimits | None = None,
) -> str:
    """``report.md``: run summary, each article's summary and positions, then the comparison.

    Raises:
        TemplateError: A template is missing or fails to render.
    """
    context = build_context(analyses, comparison, manifest, limits=limits)
    return "".join(stream_markdown(context, templates_dir=templates_dir))


def render_html(
    analyses: Iterable[ArticleAnalysis],
    comparison: AnyComparison,
    manifest: Mapping[str, Any],
    *,
    templates_dir: str | Path | None = None,
    limits: ReportLimits | None = None,
) -> str:
    """``report.html``: one self-contained page (inline CSS and script, no network).

    Raises:
        TemplateError: A template is missing or fails to render.
    """
    context = build_context(analyses, comparison, manifest, limits=limits)
    return "".join(stream_html(context, templates_dir=templates_dir))
