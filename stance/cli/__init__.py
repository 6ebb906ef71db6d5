"""The ``stance`` command line: a click group whose subcommands each live in their own module.

Library errors (:class:`~stance.errors.StanceError`) become one line on stderr and exit 2
(usage/configuration) or 1; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from .. import __version__
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


# --- subcommands --- (one import + add_command per module)
from .prompts import prompts  # noqa: E402

cli.add_command(prompts)
from .run import run  # noqa: E402

cli.add_command(run)


def main() -> None:
    cli(prog_name="stance")
