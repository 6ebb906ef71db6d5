"""``stance prompts``: show the shipped templates so users can copy and edit them."""

from __future__ import annotations

import click

from ..errors import ConfigError
from ..prompts import SUFFIX, TEMPLATE_NAMES, PromptSet, shipped_dir


@click.group()
def prompts() -> None:
    """Inspect the prompt templates."""


@prompts.command("show")
@click.argument("name", required=False)
@click.option("--prompts", "prompts_dir", type=click.Path(), help="Override folder to read.")
def show(name: str | None, prompts_dir: str | None) -> None:
    """Print template NAME (system, extract, reask), or list them all with their paths.

    \b
    Copy them to start your own:
      mkdir my-prompts && stance prompts show extract > my-prompts/extract.j2
      stance run articles/ -o out --prompts my-prompts
    """
    ps = PromptSet(prompts_dir)
    if name is None:
        click.echo(f"# templates in {shipped_dir()} (hash {ps.hash})")
        for n in TEMPLATE_NAMES:
            click.echo(f"{n}{SUFFIX}")
        return
    key = name.removesuffix(SUFFIX)
    if key not in ps.sources:
        raise ConfigError(f"unknown template '{name}' (choose from {', '.join(TEMPLATE_NAMES)})")
    click.echo(ps.sources[key], nl=False)
