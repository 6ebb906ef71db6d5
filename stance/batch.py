"""Scale-out through batch engines: write OpenAI Batch API requests, collect their results.

``prepare`` renders every chunk of every article into one request line of the OpenAI Batch
API format, which ``vllm run-batch`` reads too::

    {"custom_id": "<article id>:<chunk>", "method": "POST", "url": "/v1/chat/completions",
     "body": {"model": ..., "messages": [...], "response_format": ..., ...}}

The body is built from the same :meth:`LLMExtractor.messages_for` and ``response_format``
as a live run, so a batch answer and a live answer come from identical requests. Beside
the requests goes a manifest (``<name>.manifest.jsonl``): a header with the extractor's
fingerprint, then one line per article with its metadata, text and request ids — so
``collect`` needs neither the original files nor the same working directory.

``collect`` reads a results file (any order; one line per request, as the Batch API and
``vllm run-batch`` write them), validates each answer with
:func:`stance.parse.parse_completion`, merges an article's chunks, grounds the quotes
(:func:`stance.analyze.build_analysis`) and writes the usual run folder. A request that
errored, an answer that does not validate, a missing or unreadable line: each becomes a
failure record for its article. There is no re-ask in batch mode; re-run the failed
articles live (``stance run``) or in a second batch.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ._version import __version__
from .analyze import DEFAULT_CHUNK_TOKENS, build_analysis, failure_from
from .backends.base import ExtractResult
from .backends.llm import merge_extractions
from .chat import Completion, Message
from .errors import ConfigError, EndpointError, InputError, InvalidOutput, ModelError
from .loaders import Article, content_hash, iter_articles
from .parse import parse_completion
from .prepare import prepare
from .pricing import PriceTable
from .runfolder import RunWriter
from .schema import SCHEMA_VERSION, ArticleFailure, ArticleRef, Extraction, Usage
from .tokens import counter_for

BATCH_URL = "/v1/chat/completions"
MANIFEST_FORMAT = 1
_CUSTOM_ID = re.compile(r'"custom_id"\s*:\s*"([^"\\]*)"')
_EMPTY = Extraction(summary="", key_points=[], parties=[], positions=[])


def manifest_path_for(requests_path: str | Path) -> Path:
    """The manifest beside a requests file: ``requests.jsonl`` → ``requests.manifest.jsonl``."""
    p = Path(requests_path)
    stem = p.name[: -len(p.suffix)] if p.suffix else p.name
    return p.with_name(f"{stem}.manifest.jsonl")


def custom_id(article_id: str, chunk_index: int) -> str:
    """The request id of one chunk. Article ids never contain ``:`` (see ``loaders.safe_id``)."""
    return f"{article_id}:{chunk_index}"


def request_body(extractor: Any, messages: list[Message]) -> dict[str, Any]:
    """The chat-completions body a live run would send for ``messages``."""
    body: dict[str, Any] = {
        "model": extractor.model,
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        **extractor.params,
    }
    if extractor.response_format is not None:
        body["response_format"] = extractor.response_format
    return body


@dataclass
class PrepareSummary:
    """What :func:`prepare_batch` wrote."""

    requests_path: Path
    manifest_path: Path
    articles: int = 0
    requests: int = 0
    failures: list[ArticleFailure] = field(default_factory=list)


class _AtomicLines:
    """A JSONL file written to a temp name and renamed into place on success."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        self.fh: IO[str] = os.fdopen(fd, "w", encoding="utf-8", newline="\n")

    def write(self, obj: Any) -> None:
        self.fh.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")

    def commit(self) -> None:
        self.fh.close()
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        self.fh.close()
        Path(self.tmp).unlink(missing_ok=True)


def prepare_batch(
    inputs: Iterable[str | Path],
    extractor: Any,
    requests_path: str | Path,
    *,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
) -> PrepareSummary:
    """Write Batch API requests for every article under ``inputs``, and their manifest.

    Args:
        inputs: article files or folders (as for ``stance run``).
        extractor: an :class:`~stance.backends.llm.LLMExtractor` (it renders the prompts).
        requests_path: the JSONL file to write; the manifest goes beside it.
        chunk_tokens: chunk size, as for a live run.

    Raises:
        ConfigError: the extractor does not call an LLM (e.g. ``baseline``).
    """
    if not hasattr(extractor, "messages_for") or not hasattr(extractor, "response_format"):
        raise ConfigError(
            f"batch requests need an LLM model, not '{getattr(extractor, 'model', '?')}'"
        )
    req_path = Path(requests_path)
    summary = PrepareSummary(req_path, manifest_path_for(req_path))
    counter = counter_for(extractor.model)
    requests = _AtomicLines(req_path)
    manifest = _AtomicLines(summary.manifest_path)
    try:
        manifest.write(
            {
                "stance_batch_manifest": MANIFEST_FORMAT,
                "requests": req_path.name,
                "created": datetime.now(UTC).isoformat(),
                "stance_version": __version__,
                "schema_version": SCHEMA_VERSION,
                "model": extractor.model,
                "backend": extractor.backend,
                "endpoint_host": extractor.endpoint_host,
                "fingerprint": extractor.fingerprint(),
                "chunk_tokens": chunk_tokens,
            }
        )
        for item in iter_articles(inputs):
            if isinstance(item, ArticleFailure):
                summary.failures.append(item)
                manifest.write({"failure": item.model_dump()})
                continue
            doc = prepare(item, counter, chunk_tokens=chunk_tokens)
            ids = []
            for chunk in doc.chunks:
                cid = custom_id(item.id, chunk.index)
                body = request_body(extractor, extractor.messages_for(doc, chunk))
                requests.write({"custom_id": cid, "method": "POST", "url": BATCH_URL, "body": body})
                ids.append(cid)
            manifest.write({"article": item.ref.model_dump(), "text": item.text, "requests": ids})
            summary.articles += 1
            summary.requests += len(ids)
    except BaseException:
        requests.discard()
        manifest.discard()
        raise
    requests.commit()
    manifest.commit()
    return summary


# --------------------------------------------------------------------------- collect


class BatchExtractor:
    """Stands in for the extractor of a prepared batch: provenance and manifest only."""

    backend = "batch"

    def __init__(self, header: dict[str, Any]) -> None:
        self.model: str = header["model"]
        self.endpoint_host: str | None = header.get("endpoint_host")
        self._fingerprint: dict[str, Any] = dict(header.get("fingerprint") or {})

    def fingerprint(self) -> dict[str, Any]:
        return self._fingerprint

    async def extract(self, doc: Any) -> ExtractResult:  # pragma: no cover - never called
        raise ConfigError("a collected batch cannot make new calls")

    async def aclose(self) -> None:
        return None


def completion_from_result(rec: Any) -> Completion:
    """One Batch API result line as a :class:`Completion`.

    Raises:
        EndpointError: the request failed (``error`` set, or a non-200 status).
        InvalidOutput: the line does not have the result shape.
    """
    if not isinstance(rec, dict):
        raise InvalidOutput("result line is not a JSON object")
    err = rec.get("error")
    if err:
        msg = err.get("message") if isinstance(err, dict) else str(err)
        code = err.get("code") if isinstance(err, dict) else None
        raise EndpointError(f"batch request failed: {code + ': ' if code else ''}{msg}")
    resp = rec.get("response")
    if not isinstance(resp, dict):
        raise InvalidOutput("result line has no 'response' object")
    status = resp.get("status_code", 200)
    body = resp.get("body")
    if status != 200:
        detail = ""
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            detail = f": {body['error'].get('message', '')}"
        raise EndpointError(f"HTTP {status} in the batch results{detail}")
    try:
        choice = body["choices"][0]  # type: ignore[index]
        message = choice["message"]
        usage = body.get("usage") or {}  # type: ignore[union-attr]
        return Completion(
            content=message.get("content"),
            finish_reason=choice.get("finish_reason"),
            refusal=message.get("refusal"),
            usage=Usage(
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
                total_tokens=int(usage.get("total_tokens") or 0),
            ),
            model=body.get("model"),  # type: ignore[union-attr]
        )
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
        raise InvalidOutput(f"malformed completion in the batch results ({exc!r})") from exc


@dataclass
class _ResultIndex:
    """Byte offsets of the result lines by custom id, so memory does not grow with answers."""

    offsets: dict[str, int] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)  # custom id -> why its line is unusable
    unattributed: list[int] = field(default_factory=list)  # line numbers with no custom id
    duplicates: list[str] = field(default_factory=list)


def _index_results(fh: IO[bytes]) -> _ResultIndex:
    index = _ResultIndex()
    offset = 0
    for lineno, line in enumerate(fh, 1):
        here = offset
        offset += len(line)
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            cid = rec.get("custom_id") if isinstance(rec, dict) else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            m = _CUSTOM_ID.search(line.decode("utf-8", "replace"))
            if m is None:
                index.unattributed.append(lineno)
            else:
                index.broken[m.group(1)] = f"result line {lineno} is not valid JSON"
            continue
        if not isinstance(cid, str):
            index.unattributed.append(lineno)
            continue
        if cid in index.offsets or cid in index.broken:
            index.duplicates.append(cid)
        index.broken.pop(cid, None)
        index.offsets[cid] = here
    return index


def _manifest_header(fh: IO[str], path: Path) -> dict[str, Any]:
    try:
        header = json.loads(fh.readline() or "null")
    except json.JSONDecodeError as exc:
        raise InputError(str(path), "not a stance batch manifest (broken first line)") from exc
    if not isinstance(header, dict) or "stance_batch_manifest" not in header:
        raise InputError(str(path), "not a stance batch manifest")
    return header


def _manifest_lines(fh: IO[str], path: Path) -> Iterator[dict[str, Any]]:
    for lineno, line in enumerate(fh, 2):
        if line.strip():
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(str(path), f"broken manifest line {lineno}") from exc


def find_manifest(results_path: Path) -> Path:
    """The manifest beside a results file, when there is exactly one."""
    found = sorted(results_path.parent.glob("*.manifest.jsonl"))
    if len(found) == 1:
        return found[0]
    where = results_path.parent
    if not found:
        raise ConfigError(f"no *.manifest.jsonl next to {results_path}; pass --manifest")
    raise ConfigError(f"several manifests in {where}; pass --manifest to choose one")


def _chunk_result(fh: IO[bytes], index: _ResultIndex, cid: str) -> Completion:
    if cid in index.broken:
        raise InvalidOutput(index.broken[cid])
    offset = index.offsets.get(cid)
    if offset is None:
        raise EndpointError(f"no result for request '{cid}' in the results file")
    fh.seek(offset)
    return completion_from_result(json.loads(fh.readline()))


def collect_article(
    article: Article, ids: list[str], fh: IO[bytes], index: _ResultIndex
) -> ExtractResult:
    """Validate and merge the results of one article's requests.

    Raises:
        ModelError: a chunk failed or its answer did not validate (the message names it).
    """
    parts: list[Extraction] = []
    result = ExtractResult(extraction=_EMPTY, chunks=len(ids))
    for n, cid in enumerate(ids, 1):
        try:
            completion = _chunk_result(fh, index, cid)
            result.calls += 1
            result.attempts += 1
            result.usage = result.usage + completion.usage
            if completion.content is not None:
                result.raw.append(completion.content)
            parts.append(parse_completion(completion, attempts=1))
        except ModelError as exc:
            if len(ids) > 1:
                exc.args = (f"chunk {n}/{len(ids)}: {exc}",)
            exc.attempts = max(exc.attempts, 1)
            raise
    result.extraction = merge_extractions(parts)
    return result


def collect_batch(
    results_path: str | Path,
    out_dir: str | Path,
    *,
    manifest_path: str | Path | None = None,
    strict_grounding: bool = False,
    prices: PriceTable | None = None,
    on_outcome: Any = None,
) -> dict[str, Any]:
    """Turn a batch results file into a run folder; return the run manifest (run.json).

    Args:
        results_path: the JSONL results from the batch engine.
        out_dir: the run folder to write.
        manifest_path: the manifest written by :func:`prepare_batch`; default: the single
            ``*.manifest.jsonl`` next to the results file.
        strict_grounding: drop evidence that cannot be found in the article.
        prices: price table for the cost estimate (note: batch APIs often bill less).
        on_outcome: called with each :class:`ArticleAnalysis` / :class:`ArticleFailure`.

    Raises:
        InputError: unreadable results file or manifest. ConfigError: no manifest found.
    """
    rpath = Path(results_path)
    mpath = Path(manifest_path) if manifest_path is not None else find_manifest(rpath)
    with ExitStack() as files:
        try:
            mfh = files.enter_context(open(mpath, encoding="utf-8"))
            fh = files.enter_context(open(rpath, "rb"))
        except OSError as exc:
            raise InputError(exc.filename, f"cannot read ({exc.strerror or exc})") from exc
        header = _manifest_header(mfh, mpath)
        extractor = BatchExtractor(header)
        writer = RunWriter(out_dir, extractor, prices=prices)
        try:
            index = _index_results(fh)
            for rec in _manifest_lines(mfh, mpath):
                if "failure" in rec:
                    outcome: Any = ArticleFailure.model_validate(rec["failure"])
                    writer.add(outcome, None)
                else:
                    outcome, result = _collect_one(rec, fh, index, extractor, strict_grounding)
                    writer.add(outcome, result)
                if on_outcome is not None:
                    on_outcome(outcome)
            writer.extra["batch"] = {
                "manifest": str(mpath),
                "results": str(rpath),
                "prepared": header.get("created"),
                "unattributed_result_lines": index.unattributed,
                "duplicate_custom_ids": sorted(set(index.duplicates)),
            }
            return writer.finish()
        finally:
            writer.close()


def _collect_one(
    rec: dict[str, Any],
    fh: IO[bytes],
    index: _ResultIndex,
    extractor: BatchExtractor,
    strict_grounding: bool,
) -> tuple[Any, ExtractResult | None]:
    ref = ArticleRef.model_validate(rec["article"])
    article = Article(ref=ref, text=rec["text"])
    if content_hash(article.text) != ref.content_hash:
        problem = InputError(ref.path, "manifest text does not match its hash")
        return failure_from(article, problem), None
    try:
        result = collect_article(article, list(rec["requests"]), fh, index)
        return build_analysis(article, result, extractor, strict_grounding=strict_grounding), result
    except ModelError as exc:
        return failure_from(article, exc), None
