"""README and CLI stay in sync: the two commands at the top, the subcommands, the options."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from stance.cli import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text("utf-8")


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, re.DOTALL)


def test_ci_runs_the_readme_test_command_verbatim():
    first_two = _bash_blocks(README)[:2]
    assert len(first_two) == 2
    setup_and_run, setup_and_test = (b.strip() for b in first_two)
    assert "stance run examples/articles -o out" in setup_and_run
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert setup_and_test in ci.splitlines()


def test_every_subcommand_is_in_the_readme_and_in_help():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = re.findall(r"^  (\w+)\s", result.output.split("Commands:")[1], re.MULTILINE)
    assert {"run", "eval", "compare", "batch", "prompts"} <= set(listed)
    for name in listed:
        assert f"stance {name}" in README, f"README does not show `stance {name}`"


def test_run_options_named_in_the_readme_exist():
    help_text = CliRunner().invoke(cli, ["run", "--help"]).output
    for option in set(re.findall(r"stance run [^\n`]*", README)):
        for flag in re.findall(r"(--[a-z][a-z-]+)", option):
            assert flag in help_text, f"README uses `{flag}` which `stance run` lacks"
