"""The eval-set format (DESIGN.md §6): loading it, and checking it (``stance eval --check``).

An eval set is a folder with ``articles/<id>.txt|.md|.html|.json`` (read with the same
loader as ``stance run``) and ``labels/<id>.json``. :func:`check_evalset` reports every
problem it can find, one line each, naming the file and the position; :func:`load_evalset`
refuses a set with problems, because scores against broken labels would mislead.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InputError
from ..loaders import Article, load_file
from ..schema import STANCES, Stance
from .names import GoldParty, match_party, normalise_name

ARTICLE_SUFFIXES = (".txt", ".md", ".html", ".json")


class _LabelModel(BaseModel):
    # A misspelt key ("evidance") would otherwise vanish silently and skew the scores.
    model_config = ConfigDict(extra="forbid")


class LabelParty(_LabelModel):
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)


class LabelPosition(_LabelModel):
    party: str = Field(min_length=1)
    topic: str = Field(min_length=1)
    stance: Stance
    position: str = ""
    evidence: list[str] = Field(default_factory=list)


class Label(_LabelModel):
    """The gold annotation of one article."""

    article: str
    key_facts: list[str] = Field(default_factory=list)
    parties: list[LabelParty] = Field(default_factory=list)
    positions: list[LabelPosition] = Field(default_factory=list)
    mentioned_only: list[str] = Field(default_factory=list)
    meta: dict[str, Any] | None = None

    def gold_parties(self) -> list[GoldParty]:
        """Listed parties, then any position party the list lacks, then mentioned-only ones."""
        out = [GoldParty(p.name, tuple(p.aliases)) for p in self.parties]
        for pos in self.positions:
            if match_party(pos.party, (), out) is None:
                out.append(GoldParty(pos.party))
        out.extend(GoldParty(m, (), mentioned_only=True) for m in self.mentioned_only)
        return out

    @property
    def origin(self) -> str:
        value = (self.meta or {}).get("origin")
        return value if isinstance(value, str) and value else "unknown"


@dataclass(frozen=True)
class EvalItem:
    """One labelled article."""

    article: Article
    label: Label


@dataclass
class EvalSet:
    path: Path
    items: list[EvalItem]

    @property
    def ids(self) -> list[str]:
        return [it.article.id for it in self.items]


@dataclass
class CheckResult:
    """What ``--check`` found: problems (one line each) and counts for the summary."""

    path: Path
    problems: list[str] = field(default_factory=list)
    articles: int = 0
    positions: int = 0
    stances: Counter[str] = field(default_factory=Counter)
    origins: Counter[str] = field(default_factory=Counter)
    items: list[EvalItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        stances = ", ".join(f"{s} {self.stances.get(s, 0)}" for s in STANCES)
        origins = ", ".join(f"{k} {v}" for k, v in sorted(self.origins.items())) or "none"
        verdict = "valid" if self.ok else f"INVALID ({len(self.problems)} problems)"
        return (
            f"{self.path}: {verdict}; {self.articles} articles, {self.positions} positions "
            f"({stances}); origin: {origins}"
        )


def _collect_files(folder: Path, suffixes: tuple[str, ...]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    if not folder.is_dir():
        return out
    for f in sorted(folder.iterdir()):
        if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in suffixes:
            out.setdefault(f.stem, []).append(f)
    return out


def _load_label(path: Path, problems: list[str]) -> Label | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: cannot read: {exc.__class__.__name__}")
        return None
    except json.JSONDecodeError as exc:
        problems.append(f"{path}: broken JSON at line {exc.lineno}: {exc.msg}")
        return None
    try:
        return Label.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            problems.append(f"{path}: {loc}: {err['msg']}")
        return None


def _check_label(label: Label, stem: str, article: Article | None, where: str) -> list[str]:
    problems: list[str] = []
    if label.article != stem:
        problems.append(f'{where}: "article" is {label.article!r} but the file id is {stem!r}')
    listed = [GoldParty(p.name, tuple(p.aliases)) for p in label.parties]
    mentioned = [GoldParty(m) for m in label.mentioned_only]
    listed_keys = {k: p.name for p in listed for k in p.keys}
    for m in label.mentioned_only:
        if normalise_name(m) in listed_keys:
            problems.append(
                f"{where}: mentioned_only {m!r} is also listed in parties "
                f"as {listed_keys[normalise_name(m)]!r}"
            )
    for i, pos in enumerate(label.positions):
        at = f"{where}: positions[{i}]"
        key = normalise_name(pos.party)
        holder = next((p for p in listed if key in p.keys), None)
        if holder is None:
            problems.append(f"{at}: party {pos.party!r} is not among parties (name or alias)")
        # Any name of the holder (its aliases too) found in mentioned_only is a contradiction.
        holder_keys = holder.keys if holder is not None else frozenset({key})
        if any(m.keys & holder_keys for m in mentioned):
            problems.append(f"{at}: party {pos.party!r} is in mentioned_only but holds a position")
        if not pos.evidence:
            problems.append(f"{at}: no evidence quotes")
        for j, quote in enumerate(pos.evidence):
            if not quote.strip():
                problems.append(f"{at}.evidence[{j}]: empty quote")
            elif article is not None and quote not in article.text:
                problems.append(
                    f"{at}.evidence[{j}]: not verbatim in the article body: {_clip(quote)!r}"
                )
    return problems


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def _load_article(stem: str, path: Path, problems: list[str]) -> Article | None:
    try:
        loaded = load_file(path)
    except InputError as exc:
        problems.append(str(exc))
        return None
    if len(loaded) != 1:
        problems.append(f"{path}: holds {len(loaded)} articles; an eval article file holds one")
        return None
    art = loaded[0]
    # The file name is the id that labels and reports use, whatever the front matter says.
    return Article(ref=art.ref.model_copy(update={"id": stem}), text=art.text)


def check_evalset(path: str | Path) -> CheckResult:
    """Validate an eval set folder; never raises for problems in the set itself.

    Args:
        path: The EVALSET folder holding ``articles/`` and ``labels/``.

    Returns:
        A :class:`CheckResult`; ``ok`` is true when no problem was found.
    """
    root = Path(path)
    result = CheckResult(path=root)
    if not root.is_dir():
        result.problems.append(f"{root}: no such eval set folder")
        return result
    for sub in ("articles", "labels"):
        if not (root / sub).is_dir():
            result.problems.append(f"{root / sub}: missing folder")
    articles = _collect_files(root / "articles", ARTICLE_SUFFIXES)
    labels = _collect_files(root / "labels", (".json",))
    for stem, files in sorted(articles.items()):
        if len(files) > 1:
            names = ", ".join(f.name for f in files)
            result.problems.append(f"{root / 'articles'}: id {stem!r} has several files: {names}")
    for stem in sorted(set(articles) - set(labels)):
        result.problems.append(f"{articles[stem][0]}: no label file labels/{stem}.json")
    for stem in sorted(set(labels) - set(articles)):
        result.problems.append(f"{labels[stem][0]}: no article file articles/{stem}.*")
    for stem in sorted(set(articles) & set(labels)):
        label_path = labels[stem][0]
        article = _load_article(stem, articles[stem][0], result.problems)
        label = _load_label(label_path, result.problems)
        if label is None:
            continue
        result.problems.extend(_check_label(label, stem, article, str(label_path)))
        result.articles += 1
        result.positions += len(label.positions)
        result.stances.update(p.stance for p in label.positions)
        result.origins[label.origin] += 1
        if article is not None:
            result.items.append(EvalItem(article=article, label=label))
    if not articles and not labels and not result.problems:
        result.problems.append(f"{root}: eval set has no articles")
    return result


def load_evalset(path: str | Path) -> EvalSet:
    """Load an eval set, refusing it if :func:`check_evalset` finds any problem.

    Raises:
        InputError: naming the first problem and how many there are.
    """
    result = check_evalset(path)
    if not result.ok:
        more = f" (and {len(result.problems) - 1} more)" if len(result.problems) > 1 else ""
        raise InputError(
            None,
            f"eval set {path} is invalid: {result.problems[0]}{more}; "
            f"run `stance eval --check {path}` for the full list",
        )
    return EvalSet(path=Path(path), items=result.items)
