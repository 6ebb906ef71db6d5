"""Read article files into :class:`Article` objects.

Supported: ``.txt`` (first line is the title), ``.md`` (optional YAML front matter with
title/source/date/url), ``.json`` (one object with a ``text`` field, or a list of them),
``.jsonl`` (one object a line), ``.html``/``.htm`` (main text extracted with trafilatura).

Articles are untrusted input (DESIGN.md §9). Every problem is an
:class:`~stance.errors.InputError` naming the file (and the line or item, for files holding
several articles); :func:`iter_articles` turns each into one
:class:`~stance.schema.ArticleFailure` record so a batch goes on, and a bad line in a JSONL
file or a bad item in a JSON list costs only that line or item. Article ids are made safe
for file names (:func:`safe_id`) and unique within a run, so output paths stay inside the
output folder whatever the input says.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import stat
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError
from .schema import ArticleFailure, ArticleRef

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".json", ".jsonl", ".html", ".htm")
MAX_BYTES = 5_000_000  # a news article is < 100 kB; anything this big is a scrape gone wrong
MAX_ID_LEN = 120  # + "-NN" + ".json" stays far below every file system's 255-byte limit
MAX_META_LEN = 1000  # title/outlet/url longer than this is not metadata
# Names the run folder uses for its own files (OUT/run.json, OUT/report.json...): an article
# with such an id is renamed like a duplicate so it can never overwrite them.
RESERVED_IDS = frozenset(
    {"run", "comparison", "positions", "matrix", "merge_log", "report", "requests"}
)
# Device names Windows reserves whatever the extension ("con.json" is the console).
WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{d}{i}" for d in ("COM", "LPT") for i in range(1, 10)}
)
_ID_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x01-\x08\x0e-\x1f\x7f-\x9f]")


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
    """A file-name-safe, stable id for any string, including hostile ones.

    NFKC then ASCII-folded; only ``A-Z a-z 0-9 . _ -`` survive, so no path separator,
    ``..`` component, drive letter or control character can reach a file name. No leading or
    trailing dots or dashes; Windows device names (``CON``, ``com1.x``) get a ``_`` prefix;
    ids longer than :data:`MAX_ID_LEN` are cut and keep a hash of the whole so that two
    long ids stay distinct; an id with nothing usable left becomes ``article-<hash>``.
    """
    raw = _SURROGATE.sub("\ufffd", raw)
    norm = unicodedata.normalize("NFKC", raw)
    norm = unicodedata.normalize("NFKD", norm).encode("ascii", "ignore").decode("ascii")
    cleaned = _ID_SAFE.sub("-", norm).strip("-.")
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]
    if not cleaned:
        return "article-" + digest
    if len(cleaned) > MAX_ID_LEN:
        cleaned = cleaned[: MAX_ID_LEN - 13].rstrip("-.") + "-" + digest
    if cleaned.split(".", 1)[0].upper() in WINDOWS_RESERVED:
        cleaned = "_" + cleaned
    return cleaned


def _clean_text(text: str) -> str:
    """Replace lone surrogates (from JSON ``\\ud800`` escapes) one-for-one, keeping offsets."""
    return _SURROGATE.sub("\ufffd", text)


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
    """Build an :class:`Article` from text, checking it is usable.

    Raises:
        InputError: the text is empty, whitespace only, or looks binary.
    """
    if "\x00" in text:
        raise InputError(path, "looks like a binary file (contains NUL bytes)")
    body = _clean_text(text).strip("\ufeff")
    if not body.strip():
        raise InputError(path, "article has no text")
    sample = body[:20_000]
    if len(_CONTROL.findall(sample)) > max(8, len(sample) // 50):
        raise InputError(path, "looks like a binary file (many control characters)")
    ref = ArticleRef(
        id=safe_id(id),
        title=_meta(title),
        source=_meta(source),
        published=_iso_date(published),
        url=_meta(url),
        content_hash=content_hash(body),
        path=path,
    )
    return Article(ref=ref, text=body)


def _meta(value: Any) -> str | None:
    """A metadata string: scalars only (a YAML alias bomb or a nested list is dropped),
    one line, bounded length."""
    if value is None or isinstance(value, dict | list | tuple | set | bytes):
        return None
    s = " ".join(_clean_text(str(value)).split())
    return s[:MAX_META_LEN] or None


def _iso_date(value: Any) -> str | None:
    if hasattr(value, "isoformat") and not isinstance(value, str):
        return str(value.isoformat())
    return _meta(value)


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, after checking (with ``stat``, before reading) that it is a regular
    file of a sane size: a 50 MB file is rejected without reading it."""
    try:
        st = path.stat()
    except OSError as exc:
        raise InputError(str(path), f"cannot read file: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
        raise InputError(str(path), "not a regular file")
    if st.st_size == 0:
        raise InputError(str(path), "file is empty")
    if st.st_size > MAX_BYTES:
        raise InputError(
            str(path), f"file is {st.st_size / 1e6:.1f} MB, over the {MAX_BYTES / 1e6:.0f} MB limit"
        )
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)  # bounded even if the file grows after stat()
    except OSError as exc:
        raise InputError(str(path), f"cannot read file: {exc.strerror or exc}") from exc
    if len(data) > MAX_BYTES:
        raise InputError(str(path), f"file is over the {MAX_BYTES / 1e6:.0f} MB limit")
    if not data:
        raise InputError(str(path), "file is empty")
    return data


def decode_bytes(data: bytes, path: str | None = None) -> str:
    """Decode an article file: UTF-8 (BOM or not), UTF-16/32 with a BOM, or Latin-1/cp1252.

    Raises:
        InputError: binary data, UTF-16 without a byte-order mark, or bytes that are
            neither UTF-8 nor plausible Latin-1 text.
    """
    for bom, codec in (
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                name = codec.upper()
                raise InputError(path, f"has a {name} byte-order mark but is not {name}") from exc
    head = data[:8192]
    if b"\x00" in head:
        even, odd = head[0::2], head[1::2]
        if len(head) >= 4 and (odd.count(0) > len(odd) * 0.6 or even.count(0) > len(even) * 0.6):
            raise InputError(
                path, "looks like UTF-16 text without a byte-order mark; save it as UTF-8"
            )
        raise InputError(path, "looks like a binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Latin-1 is the common scraper mistake; decode it but only if it is plausibly text.
        text = data.decode("cp1252", errors="replace")
        if sum(ch == "\ufffd" or (ord(ch) < 32 and ch not in "\n\r\t\f") for ch in text) > 0:
            raise InputError(
                path, f"not valid UTF-8 (byte {exc.start}) and not readable as Latin-1"
            ) from exc
        log.info("%s: not UTF-8; read as Latin-1 (cp1252)", path)
        return text


def _read_text(path: Path) -> str:
    return decode_bytes(_read_bytes(path), str(path))


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
    except RecursionError as exc:  # "[[[[..." nested beyond the parser's stack
        raise InputError(path, "broken YAML front matter: nested too deeply") from exc
    if not isinstance(meta, dict):
        raise InputError(path, "front matter is not a mapping")
    return meta, raw[m.end() :]


def _json_loads(raw: str, path: str, *, one_line: bool = False) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        at = f"column {exc.colno}" if one_line else f"line {exc.lineno} column {exc.colno}"
        raise InputError(path, f"broken JSON at {at}: {exc.msg}") from exc
    except (RecursionError, ValueError) as exc:  # deep nesting, 5000-digit numbers
        raise InputError(path, f"broken JSON: {exc.__class__.__name__}") from exc


def _from_record(rec: Any, *, default_id: str, path: str) -> Article:
    if not isinstance(rec, dict):
        raise InputError(path, "JSON article must be an object with a 'text' field")
    text = rec.get("text") or rec.get("body") or rec.get("content")
    if not isinstance(text, str):
        raise InputError(path, "JSON article has no 'text' string")
    return _with_meta(text, rec, default_id=default_id, path=path)


def _with_meta(text: str, meta: dict[str, Any], *, default_id: str, path: str) -> Article:
    """An article whose metadata comes from a JSON record or Markdown front matter."""
    mid = meta.get("id")
    return make_article(
        text,
        id=str(mid) if isinstance(mid, str | int) and str(mid) else default_id,
        title=_meta(meta.get("title")),
        source=_meta(meta.get("source") or meta.get("outlet")),
        published=meta.get("date") or meta.get("published"),
        url=_meta(meta.get("url")),
        path=path,
    )


Entry = tuple[Article | InputError, str]  # an article or the error of one; its fallback id


def _load_entries(path: Path) -> list[Entry]:
    """Everything one file holds: one entry per article, an error where one is unusable.

    A file-level problem raises :class:`InputError`; a bad line of a JSONL file or a bad item
    of a JSON list becomes an error entry so the other lines still load.
    """
    sp = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        known = ", ".join(SUPPORTED_SUFFIXES)
        raise InputError(sp, f"unsupported file type '{suffix or '(none)'}' (use {known})")
    raw = _read_text(path)
    stem = path.stem
    if suffix == ".txt":
        lines = raw.lstrip("\ufeff").strip("\n").split("\n", 1)
        title = lines[0].strip() if len(lines) == 2 and len(lines[0]) <= 300 else None
        body = lines[1] if title else raw
        return [(make_article(body, id=stem, title=title, path=sp), stem)]
    if suffix in (".md", ".markdown"):
        meta, body = split_front_matter(raw, sp)
        return [(_with_meta(body, meta, default_id=stem, path=sp), stem)]
    if suffix == ".json":
        data = _json_loads(raw, sp)
        if not isinstance(data, list):
            return [(_from_record(data, default_id=stem, path=sp), stem)]
        if not data:
            raise InputError(sp, "JSON list holds no articles")
        entries: list[Entry] = []
        for i, rec in enumerate(data, 1):
            item_id, where = f"{stem}-{i}", f"{sp}[{i}]"
            entries.append((_entry(_from_record, rec, default_id=item_id, path=where), item_id))
        return entries
    if suffix == ".jsonl":
        entries = []
        for lineno, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            line_id, where = f"{stem}-{lineno}", f"{sp}:{lineno}"
            entries.append((_entry(_from_line, line, default_id=line_id, path=where), line_id))
        if not entries:
            raise InputError(sp, "file has no JSON lines")
        return entries
    return [(_load_html(raw, stem, sp), stem)]


def _from_line(line: str, *, default_id: str, path: str) -> Article:
    return _from_record(_json_loads(line, path, one_line=True), default_id=default_id, path=path)


def _entry(load: Callable[..., Article], *args: Any, **kw: Any) -> Article | InputError:
    """``load(*args, **kw)``, or the InputError it raised: one bad item costs only itself."""
    try:
        return load(*args, **kw)
    except InputError as exc:
        return exc


def load_file(path: str | Path) -> list[Article]:
    """Load one file; JSON lists and JSONL give several articles.

    Raises:
        InputError: the file, or any line or item in it, is unusable (the first problem).
            :func:`iter_articles` is the lenient variant that keeps the good lines.
    """
    out: list[Article] = []
    for item, _ in _load_entries(Path(path)):
        if isinstance(item, InputError):
            raise item
        out.append(item)
    return out


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

    Every non-hidden file is yielded, whatever its suffix, so that a file stance cannot read
    (``notes.docx``) becomes an error record instead of vanishing silently; hidden files and
    folders (``.DS_Store``, ``.git/``) are skipped.
    """
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p)
                if f.is_file() and not any(part.startswith(".") for part in rel.parts):
                    yield f
        else:
            yield p


def _failure(exc: BaseException, *, path: str, fallback_id: str) -> ArticleFailure:
    if isinstance(exc, InputError):
        where, message = exc.path or path, exc.problem
    else:  # a loader bug must cost one file, not the run
        where, message = path, f"unexpected error while loading: {exc.__class__.__name__}: {exc}"
    return ArticleFailure(
        article_id=safe_id(fallback_id) if fallback_id else None,
        path=where,
        stage="load",
        error=type(exc).__name__,
        message=message,
    )


def iter_articles(inputs: Iterable[str | Path]) -> Iterator[Article | ArticleFailure]:
    """Load every article under ``inputs``; bad files, lines and items become failure records.

    Each failure names its file (``file.jsonl:3`` for a line) in ``path`` and the problem in
    ``message``. Ids are unique within the call, compared case-insensitively (``A`` and ``a``
    are one file on macOS and Windows): a repeated id, or one of :data:`RESERVED_IDS`, gets
    the first free ``-2``, ``-3``... suffix, so a renamed duplicate can never take the id of
    a real article (``a``, ``a``, ``a-2`` → ``a``, ``a-2``, ``a-2-2``). The renaming is
    deterministic for a given input order.
    """
    taken: set[str] = {r.casefold() for r in RESERVED_IDS}
    for path in discover(inputs):
        try:
            if not path.exists():
                raise InputError(str(path), "no such file or folder")
            entries = _load_entries(path)
        except Exception as exc:
            if not isinstance(exc, InputError):
                log.exception("unexpected error loading %s", path)
            yield _failure(exc, path=str(path), fallback_id=path.stem)
            continue
        for item, fallback_id in entries:
            if isinstance(item, InputError):
                yield _failure(item, path=str(path), fallback_id=fallback_id)
                continue
            art_id = item.id
            if art_id.casefold() in taken:
                n = 2
                while f"{art_id}-{n}".casefold() in taken:
                    n += 1
                new_id = f"{art_id}-{n}"
                log.warning("%s: article id %r is taken; using %r", item.ref.path, art_id, new_id)
                item = Article(ref=item.ref.model_copy(update={"id": new_id}), text=item.text)
            taken.add(item.id.casefold())
            yield item
