"""The price table: lookups, cost arithmetic, user overrides, and cost in run.json."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import ROOT

from stance.cli import cli
from stance.errors import ConfigError
from stance.pricing import PRICES_ENV, Price, load_prices, parse_prices
from stance.schema import Usage

ARTICLE = ROOT / "examples" / "articles" / "ukraine-peacekeepers.txt"


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o-mini", Price(0.15, 0.60)),
        ("gpt-4o", Price(2.50, 10.00)),  # not confused with gpt-4o-mini
        ("gpt-4o-mini-2024-07-18", Price(0.15, 0.60)),  # dated snapshot of a listed model
        ("gpt-4o-mini-custom", None),  # a suffix that is not a date is another model
        ("qwen2.5:7b", None),
        ("my-finetune", None),
        ("", None),
        (None, None),
    ],
)
def test_lookup(model, expected):
    assert load_prices().lookup(model) == expected


@pytest.mark.parametrize(
    ("model", "backend", "usage", "expected"),
    [
        ("gpt-4o-mini", "openai", Usage(prompt_tokens=1_000_000, completion_tokens=0), 0.15),
        ("gpt-4o-mini", "openai", Usage(prompt_tokens=2000, completion_tokens=500), 0.0006),
        ("unknown-model", "openai", Usage(prompt_tokens=2000, completion_tokens=500), None),
        ("baseline", "baseline", Usage(), 0.0),
        ("local", "local", Usage(prompt_tokens=5000, completion_tokens=800), 0.0),
    ],
)
def test_cost(model, backend, usage, expected):
    assert load_prices().cost(model, usage, backend=backend) == expected


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_override_file_from_env_merges_over_the_shipped_table(tmp_path, monkeypatch, suffix):
    data = {"models": {"my-model": {"input_per_mtok": 1.0, "output_per_mtok": 2.0},
                       "gpt-4o-mini": {"input_per_mtok": 9.0, "output_per_mtok": 9.0}}}  # fmt: skip
    f = tmp_path / f"prices{suffix}"
    f.write_text(json.dumps(data))  # JSON is valid YAML too
    monkeypatch.setenv(PRICES_ENV, str(f))
    table = load_prices()
    assert table.lookup("my-model") == Price(1.0, 2.0)
    assert table.lookup("gpt-4o-mini") == Price(9.0, 9.0)  # the user's price wins
    assert table.lookup("gpt-4o") == Price(2.50, 10.00)  # the rest is kept
    assert str(f) in table.sources


def test_explicit_override_beats_the_env_var(tmp_path, monkeypatch):
    env_file = tmp_path / "env.yaml"
    env_file.write_text("my-model: {input_per_mtok: 1, output_per_mtok: 1}\n")
    opt_file = tmp_path / "opt.yaml"
    opt_file.write_text("my-model: {input_per_mtok: 3, output_per_mtok: 4}\n")
    monkeypatch.setenv(PRICES_ENV, str(env_file))
    assert load_prices(opt_file).lookup("my-model") == Price(3.0, 4.0)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([1, 2], "must be a mapping"),
        ({"models": {"m": {"input_per_mtok": 1}}}, "lacks output_per_mtok"),
        ({"models": {"m": {"input_per_mtok": "cheap", "output_per_mtok": 1}}}, "not a number"),
        ({"models": {"m": {"input_per_mtok": -1, "output_per_mtok": 1}}}, "negative"),
        ({"models": ["m"]}, "must be a mapping"),
    ],
)
def test_malformed_tables_are_config_errors(data, problem):
    with pytest.raises(ConfigError, match=problem):
        parse_prices(data, "prices.yaml")


def test_missing_override_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_prices(tmp_path / "nope.yaml")


@pytest.mark.parametrize(("model", "priced"), [("gpt-4o-mini", True), ("some-local-model", False)])
def test_run_json_has_tokens_and_a_cost_only_for_priced_models(
    tmp_path, threaded_fake_server, model, priced
):
    server = threaded_fake_server()
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["run", str(ARTICLE), "-o", str(out), "-m", model, "--base-url", server.base_url]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "run.json").read_text())
    tokens = manifest["tokens"]
    assert tokens["total_tokens"] > 0
    if priced:
        expected = round(
            (tokens["prompt_tokens"] * 0.15 + tokens["completion_tokens"] * 0.60) / 1e6, 6
        )
        assert manifest["cost_usd"] == expected
        assert manifest["prices"]["input_per_mtok"] == 0.15
    else:
        assert manifest["cost_usd"] is None
        assert manifest["prices"] is None


def _analysis(tokens: tuple[int, int], cached: bool = False):  # type: ignore[no-untyped-def]
    from stance.schema import ArticleAnalysis, ArticleRef, Provenance, Summary

    usage = Usage(prompt_tokens=tokens[0], completion_tokens=tokens[1], total_tokens=sum(tokens))
    return ArticleAnalysis(
        article=ArticleRef(id="a", content_hash="h"),
        summary=Summary(text="s"),
        provenance=Provenance(
            model="gpt-4o-mini", backend="openai", stance_version="0", usage=usage, cached=cached
        ),
    )


@pytest.mark.parametrize("terminal", [True, False])
def test_progress_counts_tokens_and_cost_and_stays_quiet_off_a_terminal(terminal):
    import io

    from rich.console import Console

    from stance.progress import RunProgress
    from stance.schema import ArticleFailure

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=terminal, width=200)
    progress = RunProgress(
        model="gpt-4o-mini", backend="openai", prices=load_prices(), console=console
    )
    progress.set_total(3)
    with progress:
        progress.add(_analysis((1_000_000, 0)))
        progress.add(_analysis((5, 5), cached=True))  # paid for in an earlier run
        progress.add(
            ArticleFailure(article_id="b", path=None, stage="load", error="E", message="m")
        )
    assert (progress.done, progress.failed, progress.cached) == (2, 1, 1)
    assert progress.usage.total_tokens == 1_000_000 and progress.cost() == 0.15
    shown = buf.getvalue()
    if terminal:
        assert "failed 1" in shown and "cached 1" in shown and "$0.1500" in shown
    else:
        assert shown == ""
