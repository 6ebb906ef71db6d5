"""The ``stance`` command line: a click group whose subcommands each live in their own module.

Library errors (:class:`~stance.errors.StanceError`) become one line on stderr and exit 2
(usage/configuration) or 1; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Any

import click

from .._version import __version__
from ..errors import ConfigError, StanceError


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StanceError as exc:
            if ctx.find_root().params.get("debug"):
                raise
            click.echo(f"stance: error: {exc}", err=True)
            ctx.exit(2 if isinstance(exc, ConfigError) else 1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="stance")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
def cli(debug: bool) -> None:
    """Who said what: grounded position tables from news articles.

    \b
    Examples:
      stance run examples/articles -o out            # offline, rule-based baseline
      stance run news/ -o out --model gpt-4o-mini    # any OpenAI-compatible endpoint
      stance eval evals --model baseline -o report   # measure against the labelled set
      stance compare out -o out                      # rebuild the comparison, no model calls
      stance prompts show extract                    # print a shipped prompt template
    """
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactSecrets())


_URL_CREDENTIALS = re.compile(r"(?<=//)[^/@\s]+@")


class RedactSecrets(logging.Filter):
    """Keep the API key and URL credentials out of every log line, --debug included.

    Libraries below us (httpx2, the SDK) log request URLs and sometimes headers; the
    filter rewrites the formatted message before any handler writes it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = _URL_CREDENTIALS.sub("***@", msg)
        key = os.environ.get("OPENAI_API_KEY")
        if key and len(key) >= 8:
            clean = clean.replace(key, "***")
        if clean != msg:
            record.msg, record.args = clean, None
        return True


# --- subcommands --- (one import + add_command per module)
from .prompts import prompts  # noqa: E402

cli.add_command(prompts)
from .run import run  # noqa: E402

cli.add_command(run)
from .batch import batch  # noqa: E402

cli.add_command(batch)
from .eval import eval_cmd  # noqa: E402

cli.add_command(eval_cmd)
from .compare import compare  # noqa: E402

cli.add_command(compare)


def main() -> None:
    cli(prog_name="stance")
