"""``stance eval --check``: the §6 eval-set format and every kind of label error."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from stance.cli.eval import eval_cmd
from stance.errors import InputError
from stance.evaluate import check_evalset, load_evalset

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "examples" / "articles" / "ukraine-peacekeepers.txt"
LABEL = Path(__file__).resolve().parent / "fixtures" / "eval" / "ukraine-peacekeepers.json"
ID = "ukraine-peacekeepers"


def make_set(root: Path) -> Path:
    (root / "articles").mkdir(parents=True)
    (root / "labels").mkdir()
    shutil.copy(ARTICLE, root / "articles" / f"{ID}.txt")
    shutil.copy(LABEL, root / "labels" / f"{ID}.json")
    return root


def edit_label(root: Path, change: Callable[[dict[str, Any]], None], stem: str = ID) -> None:
    path = root / "labels" / f"{stem}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def test_valid_set_passes(tmp_path: Path) -> None:
    res = check_evalset(make_set(tmp_path / "set"))
    assert res.ok, res.problems
    assert (res.articles, res.positions) == (1, 5)
    assert res.summary().endswith(
        "valid; 1 articles, 5 positions (support 2, oppose 3, mixed 0, neutral 0); origin: real 1"
    )
    es = load_evalset(tmp_path / "set")
    assert es.ids == [ID]
    assert es.items[0].article.text.startswith("US President-elect Donald Trump")  # title split off


def _set_path(d: dict[str, Any], dotted: str, value: Any) -> None:
    *head, last = dotted.split(".")
    for part in head:
        d = d[int(part)] if part.isdigit() else d[part]  # type: ignore[index]
    d[int(last) if last.isdigit() else last] = value  # type: ignore[index]


LABEL_PATH = f"labels/{ID}.json"

# (case, how to break the set, the file the problem must name, text it must contain)
CASES: list[tuple[str, Callable[[Path], None], str, str]] = [
    (
        "broken-json",
        lambda r: (r / LABEL_PATH).write_text('{"article": ', encoding="utf-8"),
        LABEL_PATH,
        "broken JSON at line 1",
    ),
    (
        "unknown-key",
        lambda r: edit_label(r, lambda d: _set_path(d, "positions.0.evidance", ["x"])),
        LABEL_PATH,
        "positions.0.evidance: Extra inputs are not permitted",
    ),
    (
        "missing-required",
        lambda r: edit_label(r, lambda d: d["positions"][1].pop("topic")),
        LABEL_PATH,
        "positions.1.topic: Field required",
    ),
    (
        "stance-not-in-enum",
        lambda r: edit_label(r, lambda d: _set_path(d, "positions.2.stance", "against")),
        LABEL_PATH,
        "positions.2.stance: Input should be 'support', 'oppose', 'mixed' or 'neutral'",
    ),
    (
        "article-id-mismatch",
        lambda r: edit_label(r, lambda d: _set_path(d, "article", "other-id")),
        LABEL_PATH,
        "\"article\" is 'other-id' but the file id is 'ukraine-peacekeepers'",
    ),
    (
        "evidence-not-verbatim",  # straight quotes where the article has curly ones
        lambda r: edit_label(
            r,
            lambda d: _set_path(
                d, "positions.0.evidence.0", 'Trump argued that "Europe" should play the main role'
            ),
        ),
        LABEL_PATH,
        "positions[0].evidence[0]: not verbatim in the article body",
    ),
    (
        "evidence-in-the-title-line",  # the .txt loader takes line 1 as the title, not body
        lambda r: edit_label(
            r,
            lambda d: _set_path(
                d, "positions.1.evidence.0", "would rule out US boots on the ground"
            ),
        ),
        LABEL_PATH,
        "positions[1].evidence[0]: not verbatim",
    ),
    (
        "empty-evidence",
        lambda r: edit_label(r, lambda d: _set_path(d, "positions.3.evidence", [])),
        LABEL_PATH,
        "positions[3]: no evidence quotes",
    ),
    (
        "party-not-listed",
        lambda r: edit_label(r, lambda d: _set_path(d, "positions.1.party", "Joe Biden")),
        LABEL_PATH,
        "positions[1]: party 'Joe Biden' is not among parties (name or alias)",
    ),
    (
        "mentioned-only-holds-a-position",
        lambda r: edit_label(r, lambda d: d["mentioned_only"].append("Moscow")),
        LABEL_PATH,
        "positions[4]: party 'Russia' is in mentioned_only but holds a position",
    ),
    (
        "label-without-article",
        lambda r: shutil.copy(LABEL, r / "labels" / "orphan.json"),
        "labels/orphan.json",
        "no article file articles/orphan.*",
    ),
    (
        "article-without-label",
        lambda r: shutil.copy(ARTICLE, r / "articles" / "extra.txt"),
        "articles/extra.txt",
        "no label file labels/extra.json",
    ),
    (
        "two-files-one-id",
        lambda r: shutil.copy(ARTICLE, r / "articles" / f"{ID}.md"),
        "articles",
        "id 'ukraine-peacekeepers' has several files",
    ),
    (
        "unreadable-article",
        lambda r: (r / "articles" / f"{ID}.txt").write_bytes(b""),
        f"articles/{ID}.txt",
        "file is empty",
    ),
]


@pytest.mark.parametrize(
    ("breaker", "where", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_check_catches(
    tmp_path: Path, breaker: Callable[[Path], None], where: str, expected: str
) -> None:
    root = make_set(tmp_path / "set")
    breaker(root)
    res = check_evalset(root)
    assert not res.ok
    hits = [p for p in res.problems if expected in p]
    assert hits, res.problems
    assert str(root / where) in hits[0]  # every problem names its file
    with pytest.raises(InputError, match="run `stance eval --check"):
        load_evalset(root)


def test_check_missing_folders(tmp_path: Path) -> None:
    res = check_evalset(tmp_path)
    assert f"{tmp_path / 'articles'}: missing folder" in res.problems
    assert not check_evalset(tmp_path / "nope").ok


def test_summary_counts_origins_and_front_matter_id(tmp_path: Path) -> None:
    root = make_set(tmp_path / "set")
    body = "Ana Ruiz said the levy was overdue. The council will vote next week."
    (root / "articles" / "levy.md").write_text(
        f"---\ntitle: Levy\nid: something-else\n---\n{body}\n", encoding="utf-8"
    )
    (root / "labels" / "levy.json").write_text(
        json.dumps(
            {
                "article": "levy",
                "parties": [{"name": "Ana Ruiz", "aliases": ["Ruiz"]}],
                "positions": [
                    {
                        "party": "Ruiz",
                        "topic": "the levy",
                        "stance": "support",
                        "evidence": ["Ana Ruiz said the levy was overdue"],
                    }
                ],
                "mentioned_only": ["the council"],
                "meta": {"origin": "written-for-set", "cases": ["alias"]},
            }
        ),
        encoding="utf-8",
    )
    res = check_evalset(root)
    assert res.ok, res.problems
    assert "2 articles, 6 positions (support 3, oppose 3, mixed 0, neutral 0)" in res.summary()
    assert "origin: real 1, written-for-set 1" in res.summary()
    assert sorted(load_evalset(root).ids) == ["levy", ID]  # the file name wins over front matter


def test_cli_check_exit_codes_and_lines(tmp_path: Path) -> None:
    root = make_set(tmp_path / "set")
    ok = CliRunner().invoke(eval_cmd, ["--check", str(root)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.strip().splitlines() == [check_evalset(root).summary()]

    edit_label(root, lambda d: _set_path(d, "positions.1.party", "Joe Biden"))
    edit_label(root, lambda d: _set_path(d, "positions.2.stance", "sort of"))
    bad = CliRunner().invoke(eval_cmd, ["--check", str(root)])
    assert bad.exit_code == 1
    lines = bad.output.strip().splitlines()
    assert len(lines) == 2  # the schema error stops that label; then the summary line
    assert "positions.2.stance" in lines[0]
    assert "INVALID (1 problems)" in lines[-1]
