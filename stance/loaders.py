"""Read article files into :class:`Article` objects.

Supported: ``.txt`` (first line is the title), ``.md`` (optional YAML front matter with
title/source/date/url), ``.json`` (one object with a ``text`` field, or a list of them),
``.jsonl`` (one object a line), ``.html``/``.htm`` (main text extracted with trafilatura).

Every problem is an :class:`~stance.errors.InputError` naming the file; :func:`iter_articles`
turns them into :class:`~stance.schema.ArticleFailure` records so a batch goes on.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError
from .schema import ArticleFailure, ArticleRef

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".json", ".jsonl", ".html", ".htm")
MAX_BYTES = 5_000_000  # a news article is < 100 kB; anything this big is a scrape gone wrong
_ID_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Article:
    """An article as loaded: metadata plus the body text every offset refers to."""

    ref: ArticleRef
    text: str

    @property
    def id(self) -> str:
        return self.ref.id


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def safe_id(raw: str) -> str:
    """A file-name-safe, stable id: NFKC, ASCII letters/digits/._- only, no leading dots."""
    norm = unicodedata.normalize("NFKC", raw)
    norm = unicodedata.normalize("NFKD", norm).encode("ascii", "ignore").decode("ascii")
    cleaned = _ID_SAFE.sub("-", norm).strip("-.")
    if not cleaned:
        cleaned = "article-" + hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return cleaned[:120]


def make_article(
    text: str,
    *,
    id: str,
    title: str | None = None,
    source: str | None = None,
    published: str | None = None,
    url: str | None = None,
    path: str | None = None,
) -> Article:
    """Build an :class:`Article` from text, checking it is usable."""
    if "\x00" in text:
        raise InputError(path, "looks like a binary file (contains NUL bytes)")
    body = text.strip("\ufeff")
    if not body.strip():
        raise InputError(path, "article has no text")
    ref = ArticleRef(
        id=safe_id(id),
        title=(title or "").strip() or None,
        source=source,
        published=_iso_date(published),
        url=url,
        content_hash=content_hash(body),
        path=path,
    )
    return Article(ref=ref, text=body)


def _iso_date(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value).strip() or None


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(str(path), f"cannot read file: {exc.strerror or exc}") from exc
    if size == 0:
        raise InputError(str(path), "file is empty")
    if size > MAX_BYTES:
        raise InputError(
            str(path), f"file is {size / 1e6:.1f} MB, over the {MAX_BYTES / 1e6:.0f} MB limit"
        )
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(str(path), "has a UTF-16 byte-order mark but is not UTF-16") from exc
    if b"\x00" in data[:8192]:
        raise InputError(str(path), "looks like a binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Latin-1 is the common scraper mistake; decode it but only if it is plausibly text.
        text = data.decode("cp1252", errors="replace")
        if sum(ch == "\ufffd" or (ord(ch) < 32 and ch not in "\n\r\t") for ch in text) > 0:
            raise InputError(
                str(path), f"not valid UTF-8 (byte {exc.start}) and not readable as Latin-1"
            ) from exc
        return text


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n", re.DOTALL)


def split_front_matter(raw: str, path: str | None = None) -> tuple[dict[str, Any], str]:
    """Split a YAML front-matter block off a Markdown document."""
    m = _FRONT_MATTER.match(raw)
    if not m:
        return {}, raw
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        raise InputError(path, f"broken YAML front matter: {exc.__class__.__name__}") from exc
    if not isinstance(meta, dict):
        raise InputError(path, "front matter is not a mapping")
    return meta, raw[m.end() :]


def _from_record(rec: Any, *, default_id: str, path: str) -> Article:
    if not isinstance(rec, dict):
        raise InputError(path, "JSON article must be an object with a 'text' field")
    text = rec.get("text") or rec.get("body") or rec.get("content")
    if not isinstance(text, str):
        raise InputError(path, "JSON article has no 'text' string")
    return make_article(
        text,
        id=str(rec.get("id") or default_id),
        title=_str_or_none(rec.get("title")),
        source=_str_or_none(rec.get("source") or rec.get("outlet")),
        published=rec.get("date") or rec.get("published"),
        url=_str_or_none(rec.get("url")),
        path=path,
    )


def _str_or_none(v: Any) -> str | None:
    return None if v is None else str(v)


def load_file(path: str | Path) -> list[Article]:
    """Load one file; JSON lists and JSONL give several articles."""
    p = Path(path)
    sp = str(p)
    suffix = p.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(
            sp, f"unsupported file type '{suffix or '(none)'}' (use {', '.join(SUPPORTED_SUFFIXES)})"
        )
    raw = _read_text(p)
    stem = p.stem
    if suffix == ".txt":
        lines = raw.lstrip("\ufeff").strip("\n").split("\n", 1)
        title = lines[0].strip() if len(lines) == 2 and len(lines[0]) <= 300 else None
        body = lines[1] if title else raw
        return [make_article(body, id=stem, title=title, path=sp)]
    if suffix in (".md", ".markdown"):
        meta, body = split_front_matter(raw, sp)
        return [
            make_article(
                body,
                id=str(meta.get("id") or stem),
                title=_str_or_none(meta.get("title")),
                source=_str_or_none(meta.get("source") or meta.get("outlet")),
                published=meta.get("date") or meta.get("published"),
                url=_str_or_none(meta.get("url")),
                path=sp,
            )
        ]
    if suffix == ".json":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(sp, f"broken JSON at line {exc.lineno}: {exc.msg}") from exc
        if isinstance(data, list):
            return [
                _from_record(rec, default_id=f"{stem}-{i + 1}", path=sp)
                for i, rec in enumerate(data)
            ]
        return [_from_record(data, default_id=stem, path=sp)]
    if suffix == ".jsonl":
        out = []
        for lineno, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(sp, f"broken JSON on line {lineno}: {exc.msg}") from exc
            out.append(_from_record(rec, default_id=f"{stem}-{lineno}", path=f"{sp}:{lineno}"))
        if not out:
            raise InputError(sp, "file has no JSON lines")
        return out
    return [_load_html(raw, stem, sp)]


def _load_html(raw: str, stem: str, path: str) -> Article:
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(raw, with_metadata=True, include_comments=False)
    except Exception as exc:  # trafilatura raises many parser errors; all mean "broken HTML"
        raise InputError(path, f"cannot parse HTML: {exc.__class__.__name__}") from exc
    text = getattr(doc, "text", None) if doc is not None else None
    if not text or not text.strip():
        raise InputError(path, "no article text found in the HTML")
    return make_article(
        text,
        id=stem,
        title=getattr(doc, "title", None),
        source=getattr(doc, "sitename", None),
        published=getattr(doc, "date", None),
        url=getattr(doc, "url", None),
        path=path,
    )


def discover(inputs: Iterable[str | Path]) -> Iterator[Path]:
    """Expand files and folders (recursively, sorted) into candidate article files.

    Files named directly are yielded whatever their suffix, so an unsupported one becomes
    an error record; inside folders only supported suffixes are picked up and hidden files
    are skipped.
    """
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p)
                if f.is_file() and not any(part.startswith(".") for part in rel.parts):
                    if f.suffix.lower() in SUPPORTED_SUFFIXES:
                        yield f
        else:
            yield p


def iter_articles(inputs: Iterable[str | Path]) -> Iterator[Article | ArticleFailure]:
    """Load every article under ``inputs``; bad files become failure records.

    Duplicate ids (the same file name in two folders) get a ``-2``, ``-3`` suffix so no
    result overwrites another; the renaming is deterministic for a given input order.
    """
    seen: dict[str, int] = {}
    for path in discover(inputs):
        try:
            if not path.exists():
                raise InputError(str(path), "no such file or folder")
            articles = load_file(path)
        except InputError as exc:
            yield ArticleFailure(
                article_id=safe_id(path.stem) if path.stem else None,
                path=str(path),
                stage="load",
                error=type(exc).__name__,
                message=str(exc),
            )
            continue
        for art in articles:
            n = seen.get(art.id, 0) + 1
            seen[art.id] = n
            if n > 1:
                art = Article(ref=art.ref.model_copy(update={"id": f"{art.id}-{n}"}), text=art.text)
            yield art
