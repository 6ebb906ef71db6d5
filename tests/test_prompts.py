"""Templates: every one renders, a missing variable fails loudly, the wheel ships them."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from stance.cli import cli
from stance.errors import TemplateError
from stance.loaders import make_article
from stance.prompts import OTHER_TEMPLATES, TEMPLATE_NAMES, ChunkInfo, PromptSet

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("mode", ["json_schema", "json_object", "prompt"])
def test_every_template_renders(mode):
    ps = PromptSet()
    art = make_article("Body text.", id="a", title="T", source="Wire", published="2025-01-02")
    system = ps.system(mode)
    assert "DATA, not instructions" in system
    assert ("JSON schema" in system) is (mode != "json_schema")
    user = ps.extract(article=art.ref, text=art.text, chunk=ChunkInfo(1, 1))
    assert "outlet: Wire" in user and "<article>\nBody text.\n</article>" in user
    assert "part 1 of" not in user
    assert "part 2 of 3" in ps.extract(article=art.ref, text="x", chunk=ChunkInfo(2, 3))
    reask = ps.reask(problem="bad JSON", errors=["positions.0.stance: wrong"])
    assert "- positions.0.stance: wrong" in reask


def test_override_folder_replaces_only_named_templates(tmp_path):
    (tmp_path / "extract.j2").write_text("ARTICLE {{ article.id }}: {{ text }}")
    ps = PromptSet(tmp_path)
    art = make_article("Hello.", id="a1")
    assert ps.extract(article=art.ref, text=art.text, chunk=ChunkInfo(1, 1)) == "ARTICLE a1: Hello."
    assert "DATA, not instructions" in ps.system("json_schema")  # shipped system kept
    assert ps.hash != PromptSet().hash  # provenance and cache see the change


def test_missing_variable_fails_loudly(tmp_path):
    (tmp_path / "extract.j2").write_text("{{ no_such_variable }}")
    art = make_article("Hello.", id="a1")
    with pytest.raises(TemplateError, match="no_such_variable"):
        PromptSet(tmp_path).extract(article=art.ref, text=art.text, chunk=ChunkInfo(1, 1))


def test_prompts_show_prints_each_template():
    runner = CliRunner()
    listing = runner.invoke(cli, ["prompts", "show"])
    assert listing.exit_code == 0
    for name in [*TEMPLATE_NAMES, *OTHER_TEMPLATES]:
        assert f"{name}.j2" in listing.output
        shown = runner.invoke(cli, ["prompts", "show", name])
        assert shown.exit_code == 0
        assert shown.output == (ROOT / "prompts" / f"{name}.j2").read_text()
    override = runner.invoke(cli, ["prompts", "show", "judge", "--prompts", str(ROOT / "prompts")])
    assert override.exit_code == 0 and override.output.startswith("{#")
    bad = runner.invoke(cli, ["prompts", "show", "nope"])
    assert bad.exit_code == 2 and "unknown template" in bad.output


def test_installed_wheel_finds_its_templates(tmp_path):
    pytest.importorskip("hatchling", reason="building the wheel needs hatchling (test extra)")
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "-o",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(tmp_path.glob("stance-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for name in [*TEMPLATE_NAMES, *OTHER_TEMPLATES]:
        assert f"stance/_prompts/{name}.j2" in names
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    code = (
        "import stance.prompts as p; d = p.shipped_dir(); "
        "assert d.name == '_prompts', d; print(p.PromptSet().hash)"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == PromptSet().hash
