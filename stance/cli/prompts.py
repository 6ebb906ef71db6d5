"""``stance prompts``: show the shipped templates so users can copy and edit them."""

from __future__ import annotations

import click

from ..errors import ConfigError
from ..prompts import OTHER_TEMPLATES, SUFFIX, TEMPLATE_NAMES, PromptSet, shipped_dir


@click.group()
def prompts() -> None:
    """Inspect the prompt templates."""


@prompts.command("show")
@click.argument("name", required=False)
@click.option("--prompts", "prompts_dir", type=click.Path(), help="Override folder to read.")
def show(name: str | None, prompts_dir: str | None) -> None:
    """Print template NAME, or list them all with their paths.

    NAME is one of the extraction's templates (system, extract, reask: their hash is part
    of the cache key) or of the other model calls (merge, judge).

    \b
    Copy them to start your own:
      mkdir my-prompts && stance prompts show extract > my-prompts/extract.j2
      stance run articles/ -o out --prompts my-prompts
    """
    ps = PromptSet(prompts_dir)
    if name is None:
        click.echo(f"# templates in {shipped_dir()} (extraction hash {ps.hash})")
        for n in TEMPLATE_NAMES:
            click.echo(f"{n}{SUFFIX}")
        for n, what in OTHER_TEMPLATES.items():
            click.echo(f"{n}{SUFFIX}  ({what})")
        return
    key = name.removesuffix(SUFFIX)
    if key not in TEMPLATE_NAMES and key not in OTHER_TEMPLATES:
        known = ", ".join([*TEMPLATE_NAMES, *OTHER_TEMPLATES])
        raise ConfigError(f"unknown template '{name}' (choose from {known})")
    click.echo(ps.source(key), nl=False)
