"""Loading untrusted article files: every bad input is one clear error, the rest still loads."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from stance.errors import InputError
from stance.loaders import (
    MAX_BYTES,
    MAX_ID_LEN,
    Article,
    decode_bytes,
    iter_articles,
    load_file,
    safe_id,
)
from stance.schema import ArticleFailure

GOOD = "Headline\nMayor Jo Park said the tram plan was \u201cfinally on track\u201d.\n"


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


# ------------------------------------------------------------------------- one bad file each

BAD_FILES = [
    ("empty.txt", b"", "file is empty"),
    ("blank.txt", b"   \n\t\n  \r\n", "article has no text"),
    ("blank.md", b"---\ntitle: T\n---\n\n   \n", "article has no text"),
    ("nul.txt", b"Title\nsome text\x00\x01\x02 more", "binary file (contains NUL bytes)"),
    ("png.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary file"),
    ("controls.txt", "Title\n" + "\x01\x02\x03\x04" * 50, "binary file (many control characters)"),
    ("bad-latin.txt", b"Title\nCaf\xe9 \x81\x8d\x8f owner", "not valid UTF-8"),
    ("utf16-nobom.txt", "Title\nThe mayor spoke.\n".encode("utf-16-le"), "UTF-16 text without a"),
    ("bad-utf16.txt", b"\xff\xfe\x00\xd8\x41", "UTF-16 byte-order mark but is not UTF-16"),
    ("notes.docx", b"PK\x03\x04 whatever", "unsupported file type '.docx'"),
    ("README", b"hello", "unsupported file type '(none)'"),
    ("broken.json", b'{"text": "x"', "broken JSON at line 1 column 13"),
    ("notext.json", b'{"title": "no body"}', "JSON article has no 'text' string"),
    ("scalar.json", b"42", "JSON article must be an object"),
    ("emptylist.json", b"[]", "JSON list holds no articles"),
    ("deep.json", b"[" * 200_000 + b"]" * 200_000, "broken JSON: RecursionError"),
    ("hugeint.json", b'{"text": "x", "n": ' + b"9" * 6000 + b"}", "broken JSON: ValueError"),
    ("blank.jsonl", b"\n  \n", "file has no JSON lines"),
    ("nohtml.html", b"<html><body><script>var x = 1;</script></body></html>", "no article text"),
    ("garbage.html", b"<<<>>><<</>", "no article text found in the HTML"),
    ("badyaml.md", b"---\ntitle: [unclosed\n---\nBody text here.\n", "broken YAML front matter"),
    ("listyaml.md", b"---\n- a\n- b\n---\nBody text here.\n", "front matter is not a mapping"),
    ("python-tag.md", b"---\nx: !!python/object/apply:os.system ['true']\n---\nBody.\n",
     "broken YAML front matter"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "data", "problem"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_file_is_one_clear_error(tmp_path, name, data, problem):
    path = write(tmp_path / name, data)
    with pytest.raises(InputError) as err:
        load_file(path)
    assert problem in str(err.value)
    assert str(err.value).startswith(str(path))  # names the file
    assert "\n" not in str(err.value)
    (failure,) = list(iter_articles([tmp_path]))
    assert isinstance(failure, ArticleFailure)
    assert failure.stage == "load" and failure.error == "InputError"
    assert failure.path == str(path) and problem in failure.message
    assert failure.article_id == safe_id(path.stem)


@pytest.mark.parametrize(
    ("name", "data", "text"),
    [
        ("latin1.txt", "Title\nCaf\u00e9 owner said \u201cno\u201d.".encode("cp1252"), "Caf\u00e9"),
        ("utf16.txt", "Title\nCaf\u00e9 owner said no.\n".encode("utf-16"), "Caf\u00e9 owner"),
        ("utf16be.txt", b"\xfe\xff" + "Title\nOwner said no.".encode("utf-16-be"), "Owner"),
        ("utf32.txt", "Title\nOwner said no.".encode("utf-32"), "Owner said no."),
        ("bom.txt", b"\xef\xbb\xbfTitle\nOwner said no.", "Owner said no."),
        ("crlf.txt", b"Title\r\nOwner said no.\r\n", "Owner said no."),
        ("broken.html", b"<html><body><article><p>Mayor Jo Park said the tram plan was on "
         b"track and would open next year.<p>Unclosed <b>bold", "Mayor Jo Park"),
    ],
)  # fmt: skip
def test_recoverable_encodings_and_markup_load(tmp_path, name, data, text):
    (art,) = load_file(write(tmp_path / name, data))
    assert text in art.text
    assert "\ufeff" not in art.text and "\x00" not in art.text


def test_huge_file_is_rejected_from_stat_without_reading(tmp_path, monkeypatch):
    big = tmp_path / "huge.txt"
    with big.open("wb") as fh:  # a sparse 50 MB file: no disk, no memory
        fh.truncate(50 * 1024 * 1024)

    def no_read(self: Path, *a: object, **kw: object) -> object:
        raise AssertionError(f"{self} was opened; the size check must come first")

    monkeypatch.setattr(Path, "open", no_read)
    monkeypatch.setattr(Path, "read_bytes", no_read)
    monkeypatch.setattr(Path, "read_text", no_read)
    with pytest.raises(InputError, match=r"huge.txt: file is 52.4 MB, over the 5 MB limit"):
        load_file(big)


def test_file_just_under_the_limit_loads(tmp_path):
    sentence = "Mayor Jo Park said the plan works. "
    body = (sentence * (MAX_BYTES // len(sentence) + 1))[: MAX_BYTES - 20]
    (art,) = load_file(write(tmp_path / "large.txt", "Title\n" + body))
    assert len(art.text) > MAX_BYTES - 100


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        load_file(fifo)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_an_error(tmp_path):
    path = write(tmp_path / "secret.txt", GOOD)
    path.chmod(0)
    try:
        with pytest.raises(InputError, match="cannot read file: Permission denied"):
            load_file(path)
    finally:
        path.chmod(0o600)


def test_missing_file_is_a_failure_record(tmp_path):
    (failure,) = iter_articles([tmp_path / "nope.txt"])
    assert isinstance(failure, ArticleFailure)
    assert failure.message == "no such file or folder"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x00\x00\x00abcdefgh", "binary file (contains NUL bytes)"),
        (b"a\x00b\x00c\x00d\x00", "UTF-16 text without a byte-order mark"),
    ],
)
def test_decode_bytes_messages(data, message):
    with pytest.raises(InputError, match=re.escape(message)):
        decode_bytes(data, "x.txt")


# ------------------------------------------------------------------------- JSON and JSONL


def test_jsonl_bad_line_fails_only_that_line(tmp_path):
    path = write(
        tmp_path / "feed.jsonl",
        '{"id": "one", "text": "Mayor Jo Park said yes."}\n'
        "{broken\n"
        "\n"
        '{"id": "three", "title": "no text"}\n'
        '["not", "an", "object"]\n'
        '{"id": "five", "text": "Ana Ruiz said no."}\n',
    )
    items = list(iter_articles([path]))
    got = [(type(i).__name__, i.id if isinstance(i, Article) else i.path) for i in items]
    assert got == [
        ("Article", "one"),
        ("ArticleFailure", f"{path}:2"),
        ("ArticleFailure", f"{path}:4"),
        ("ArticleFailure", f"{path}:5"),
        ("Article", "five"),
    ]
    failures = [i for i in items if isinstance(i, ArticleFailure)]
    assert [f.message for f in failures] == [
        "broken JSON at column 2: Expecting property name enclosed in double quotes",
        "JSON article has no 'text' string",
        "JSON article must be an object with a 'text' field",
    ]
    assert [f.article_id for f in failures] == ["feed-2", "feed-4", "feed-5"]
    assert items[0].ref.path == f"{path}:1"  # type: ignore[union-attr]
    with pytest.raises(InputError, match=r"feed.jsonl:2: broken JSON"):
        load_file(path)  # the strict loader stops at the first problem


def test_json_list_bad_item_fails_only_that_item(tmp_path):
    path = write(
        tmp_path / "list.json",
        json.dumps([{"text": "Jo Park said yes."}, {"text": ""}, {"text": "Ana Ruiz said no."}]),
    )
    items = list(iter_articles([path]))
    assert [type(i).__name__ for i in items] == ["Article", "ArticleFailure", "Article"]
    assert [i.id for i in items if isinstance(i, Article)] == ["list-1", "list-3"]
    failure = items[1]
    assert isinstance(failure, ArticleFailure)
    assert failure.path == f"{path}[2]" and failure.message == "JSON article has no 'text' string"


def test_hostile_metadata_is_flattened_or_dropped(tmp_path):
    bomb = "\n".join(
        ["---", "a: &a [x, x, x, x, x, x, x, x, x]"]
        + [f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]"
           for p, c in zip("abcdefgh", "bcdefghi", strict=True)]
        + ["title: *i", "source: \"Line one\\nLine two\"", "---", "Mayor Jo Park said yes."]
    )  # fmt: skip
    (art,) = load_file(write(tmp_path / "bomb.md", bomb))
    assert art.ref.title is None  # a nested structure is not a title; never str()-expanded
    assert art.ref.source == "Line one Line two"
    (art,) = load_file(
        write(tmp_path / "long.json", json.dumps({"text": "x y", "title": "t" * 5000}))
    )
    assert art.ref.title == "t" * 1000


def test_lone_surrogates_in_json_text_are_replaced_keeping_offsets(tmp_path):
    path = write(tmp_path / "sur.json", '{"id": "s\\ud800", "text": "Jo \\udc00 Park said yes."}')
    (art,) = load_file(path)
    assert art.text == "Jo \ufffd Park said yes."
    assert len(art.text) == len("Jo X Park said yes.")
    art.ref.model_dump_json()  # serialisable


# ------------------------------------------------------------------------- ids and paths


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain-id_1.v2", "plain-id_1.v2"),
        ("../../etc/passwd", "etc-passwd"),
        ("/etc/shadow", "etc-shadow"),
        ("C:\\Windows\\system32", "C-Windows-system32"),
        ("..", None),
        (".hidden", "hidden"),
        ("CON", "_CON"),
        ("con.backup", "_con.backup"),
        ("Lpt9", "_Lpt9"),
        ("COM\u00b9", "_COM1"),  # NFKC: superscript one is a 1, and Windows agrees
        ("CONTEXT", "CONTEXT"),
        ("Gda\u0144sk \u2014 r\u00e9sum\u00e9", "Gdansk-resume"),
        ("\u5317\u4eac\u65b0\u95fb", None),
        ("a\u202eevil\u200b\x1b[31m", "aevil-31m"),
        ("line\nbreak\ttab", "line-break-tab"),
        ("trailing.", "trailing"),
    ],
)
def test_safe_id(raw, expected):
    got = safe_id(raw)
    if expected is None:  # nothing usable: a stable hash id
        assert got.startswith("article-") and len(got) == len("article-") + 12
        assert got == safe_id(raw) and got != safe_id(raw + "x")
    else:
        assert got == expected


def test_long_ids_are_cut_but_stay_distinct():
    a, b = safe_id("x" * 500 + "a"), safe_id("x" * 500 + "b")
    assert len(a) == len(b) == MAX_ID_LEN and a != b
    assert safe_id("y" * MAX_ID_LEN) == "y" * MAX_ID_LEN


def test_duplicate_ids_get_free_suffixes_that_never_collide(tmp_path):
    write(tmp_path / "a" / "story.txt", GOOD)
    write(tmp_path / "b" / "story.txt", GOOD)
    write(tmp_path / "c" / "STORY.txt", GOOD)  # one file on macOS and Windows
    write(tmp_path / "story-2.txt", GOOD)  # a real id the first renaming must not take
    write(tmp_path / "run.txt", GOOD)  # OUT/run.json is the manifest
    write(tmp_path / "feed.jsonl", '{"id": "story", "text": "x y"}\n{"id": "story", "text": "z"}\n')
    ids = [a.id for a in iter_articles([tmp_path]) if isinstance(a, Article)]
    assert ids == ["story", "story-2", "STORY-3", "story-4", "story-5", "run-2", "story-2-2"]
    assert len({i.casefold() for i in ids}) == len(ids)


def test_ids_from_json_fields_cannot_escape(tmp_path):
    hostile = ["../../etc/passwd", "/abs/path", "..\\..\\win", "NUL", "x" * 400, "", 7, None]
    for n, rid in enumerate(hostile):
        write(tmp_path / f"h{n}.json", json.dumps({"id": rid, "text": "Jo Park said yes."}))
    out = tmp_path / "out"
    for art in iter_articles([tmp_path]):
        assert isinstance(art, Article)
        target = (out / f"{art.id}.json").resolve()
        assert target.parent == out.resolve()
        assert not art.id.startswith((".", "-")) and len(art.id) <= MAX_ID_LEN + 4


def test_folders_report_unsupported_files_and_skip_hidden_ones(tmp_path):
    write(tmp_path / "good.txt", GOOD)
    write(tmp_path / "photo.jpg", b"\xff\xd8\xff")
    write(tmp_path / ".DS_Store", b"\x00\x01")
    write(tmp_path / ".git" / "config.txt", GOOD)
    items = list(iter_articles([tmp_path]))
    assert [type(i).__name__ for i in items] == ["Article", "ArticleFailure"]
    assert items[1].message.startswith("unsupported file type '.jpg'")  # type: ignore[union-attr]


def test_a_loader_bug_costs_one_file(tmp_path, monkeypatch):
    from stance import loaders

    write(tmp_path / "a.txt", GOOD)
    write(tmp_path / "b.txt", GOOD)
    real = loaders._load_entries

    def buggy(path: Path) -> object:
        if path.name == "a.txt":
            raise KeyError("boom")
        return real(path)

    monkeypatch.setattr(loaders, "_load_entries", buggy)
    items = list(iter_articles([tmp_path]))
    assert isinstance(items[0], ArticleFailure) and items[0].error == "KeyError"
    assert "unexpected error while loading" in items[0].message
    assert isinstance(items[1], Article)
