"""An LLM judge for key-fact coverage (DESIGN.md §7: "lexical by default; an optional LLM judge").

The judge is asked, once per distinct (summary, key facts) pair, which facts the summary
conveys. Scoring is synchronous and the model is not, so the calls happen first, all of them,
bounded by ``concurrency`` (:meth:`LLMJudge.judge_all`); the answers land in a
:class:`JudgeStore`, which is written to ``REPORT_DIR/raw/judge.json`` and whose
:meth:`JudgeStore.hook` satisfies the synchronous :data:`~stance.evaluate.facts.Judge` hook
during scoring. ``stance eval --rescore`` reads the store back and makes no calls.

A pair the judge could not answer (transport failure, refusal, truncation, or the wrong
verdicts even after one re-ask) keeps its error in the store and is scored with the lexical
test instead; the report lists every such fallback.

The summary is model output derived from untrusted articles: it is sent between
``<summary>`` tags made inert inside the text (as :func:`stance.prompts.neutralise_delimiters`
does for articles), after the static instructions, and the answer is validated like an
extraction: ``finish_reason`` and ``refusal`` first, then JSON, then the pydantic model, then
one verdict per fact by number.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from ..backends import resolve_extractor
from ..backends.llm import LLMExtractor
from ..backends.structured import ask_json, inline_schema, reask_problem, response_format_for
from ..chat import ChatModel, Completion, Message
from ..errors import (
    ConfigError,
    InputError,
    InvalidOutput,
    ModelError,
    Refusal,
    TruncatedOutput,
)
from ..files import atomic_write_text
from ..parse import one_line, parse_json_answer
from ..prompts import FULLWIDTH_LT, PromptSet
from ..schema import Usage
from .facts import DEFAULT_FACT_THRESHOLD, lexical_coverage

TEMPLATE = "judge"
JUDGE_FILE = "judge.json"
DEFAULT_JUDGE_MAX_TOKENS = 2048
NOT_A_JUDGE = ("baseline",)

# "<summary>", "</key_facts >", "< / KEY_POINTS>": any tag that could open or close a data block.
_DELIMITER = re.compile(r"<(?=\s*/?\s*(?:summary|key_points|key_facts)\b)", re.IGNORECASE)


def neutralise_judge_delimiters(text: str) -> str:
    """Make ``<summary>``/``<key_points>``/``<key_facts>`` tags inside data inert (``＜``)."""
    return _DELIMITER.sub(FULLWIDTH_LT, text)


def _one_line(text: str) -> str:
    """A key point or fact on one line, so it cannot forge a numbered line of its own."""
    return neutralise_judge_delimiters(" ".join(text.split()))


# --------------------------------------------------------------------------- the answer


class FactVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fact: int = Field(description="The key fact's number, from 1.")
    reason: str = Field(
        description="One short sentence: what in the summary conveys the fact, or what is missing."
    )
    covered: bool = Field(description="true when the summary and key points convey the fact.")


class JudgeAnswer(BaseModel):
    """What the judge must return: one verdict per key fact."""

    model_config = ConfigDict(extra="forbid")

    verdicts: list[FactVerdict] = Field(description="One verdict per key fact, in order.")


def answer_schema() -> dict[str, Any]:
    """The JSON schema of :class:`JudgeAnswer`, as structured-output servers accept it."""
    return inline_schema(JudgeAnswer.model_json_schema())


def parse_verdicts(completion: Completion, n_facts: int, *, attempts: int = 1) -> list[FactVerdict]:
    """The verdicts of one completion, one per fact in fact order, or the error saying why not.

    Raises:
        Refusal: the model refused, or a content filter blocked the answer.
        TruncatedOutput: ``finish_reason == "length"``.
        InvalidOutput: not JSON, not the schema, or not exactly one verdict per fact 1..n.
    """
    answer = parse_json_answer(completion, JudgeAnswer, attempts=attempts, who="judge")
    errors = numbering_errors([v.fact for v in answer.verdicts], n_facts)
    if errors:
        raise InvalidOutput(
            f"expected one verdict for each of key facts 1 to {n_facts}: " + "; ".join(errors[:3]),
            errors=errors,
            attempts=attempts,
            last_raw=completion.content,
        )
    return sorted(answer.verdicts, key=lambda v: v.fact)


def numbering_errors(numbers: Sequence[int], n_facts: int) -> list[str]:
    """What is wrong with the fact numbers of a set of verdicts; empty when they are 1..n once."""
    errors = []
    if len(numbers) != n_facts:
        errors.append(f"got {len(numbers)} verdicts for {n_facts} key facts")
    seen: set[int] = set()
    for n in numbers:
        if not 1 <= n <= n_facts:
            errors.append(f"fact {n} does not exist (the key facts are numbered 1 to {n_facts})")
        elif n in seen:
            errors.append(f"fact {n} has more than one verdict")
        seen.add(n)
    missing = [str(n) for n in range(1, n_facts + 1) if n not in seen]
    if missing:
        errors.append(f"no verdict for fact {', '.join(missing)}")
    return errors


# --------------------------------------------------------------------------- the store


class JudgeRecord(BaseModel):
    """The judge's answer for one (summary, key facts) pair, with its raw responses."""

    summary: str = Field(description="The text judged: summary and key points, as scored.")
    facts: list[str]
    covered: list[bool] | None = Field(description="One flag per fact; null when the judge failed.")
    reasons: list[str] = Field(default_factory=list)
    error: str | None = Field(default=None, description="Why the judge failed, one line.")
    raw: list[str] = Field(default_factory=list, description="Raw judge outputs, in call order.")
    calls: int = 0
    usage: Usage = Field(default_factory=Usage)

    @model_validator(mode="after")
    def _one_flag_per_fact(self) -> JudgeRecord:
        if self.covered is not None and len(self.covered) != len(self.facts):
            raise ValueError(f"{len(self.covered)} flags for {len(self.facts)} facts")
        return self


_Key = tuple[str, tuple[str, ...]]


class JudgeStore(BaseModel):
    """Everything one judge said about one eval run: ``REPORT_DIR/raw/judge.json``."""

    judge: str = Field(description="Judge identity: model and prompt hash (report fact_judge).")
    model: str
    endpoint: str | None = None
    prompt_hash: str
    output_mode: str
    records: list[JudgeRecord] = Field(default_factory=list)
    _index: dict[_Key, JudgeRecord] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        self._index = {(r.summary, tuple(r.facts)): r for r in self.records}

    def add(self, record: JudgeRecord) -> None:
        key = (record.summary, tuple(record.facts))
        if key in self._index:
            self.records.remove(self._index[key])
        self.records.append(record)
        self._index[key] = record

    def lookup(self, summary: str, facts: Sequence[str]) -> JudgeRecord | None:
        return self._index.get((summary, tuple(facts)))

    def fallback_reason(self, summary: str, facts: Sequence[str]) -> str | None:
        """Why this pair is scored lexically, or None when the judge's verdicts are used."""
        rec = self.lookup(summary, facts)
        if rec is None:
            return "no stored verdict for this summary and these key facts"
        if rec.covered is None:
            return rec.error or "the judge gave no usable answer"
        return None

    def hook(self, fact_threshold: float = DEFAULT_FACT_THRESHOLD) -> StoredVerdicts:
        """The synchronous :data:`~stance.evaluate.facts.Judge` that scores from this store."""
        return StoredVerdicts(self, fact_threshold)

    @property
    def calls(self) -> int:
        return sum(r.calls for r in self.records)

    @property
    def tokens(self) -> int:
        return sum(r.usage.total_tokens for r in self.records)

    def write(self, raw_dir: Path) -> Path:
        path = raw_dir / JUDGE_FILE
        atomic_write_text(path, self.model_dump_json(indent=1) + "\n")
        return path


def read_judge_store(raw_dir: Path) -> JudgeStore | None:
    """The stored verdicts under ``raw_dir`` (``REPORT_DIR/raw``), or None when there are none."""
    path = raw_dir / JUDGE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(str(path), f"cannot read stored judge verdicts: {exc.strerror}") from exc
    try:
        return JudgeStore.model_validate_json(text)
    except ValidationError as exc:
        raise InputError(str(path), f"broken judge verdicts ({exc.error_count()} errors)") from exc


class StoredVerdicts:
    """The sync key-fact hook: the judge's flags where it answered, lexical where it did not."""

    def __init__(self, store: JudgeStore, fact_threshold: float) -> None:
        self.store = store
        self.fact_threshold = fact_threshold
        self.__name__ = store.judge

    def __call__(self, summary: str, facts: list[str]) -> list[bool | None]:
        rec = self.store.lookup(summary, facts)
        if rec is None or rec.covered is None:
            return lexical_coverage(summary, facts, threshold=self.fact_threshold)
        return list(rec.covered)


# --------------------------------------------------------------------------- the judge


@dataclass(frozen=True)
class JudgeItem:
    """One thing to judge: the text as scored (``summary`` joined with ``key_points``)."""

    summary: str
    key_points: tuple[str, ...]
    facts: tuple[str, ...]

    @property
    def text(self) -> str:
        """The text the scorer sees (:func:`stance.evaluate.metrics.summary_text`)."""
        return "\n".join([self.summary, *self.key_points])


def _render(prompts: PromptSet, section: str, **context: Any) -> str:
    return prompts.render(TEMPLATE, section=section, **context)


def _system_prompt(prompts: PromptSet, output_mode: str) -> str:
    schema_json = json.dumps(answer_schema(), separators=(",", ":"))
    return _render(prompts, "system", output_mode=output_mode, schema_json=schema_json)


def _user_prompt(prompts: PromptSet, item: JudgeItem) -> str:
    return _render(
        prompts,
        "user",
        summary=neutralise_judge_delimiters(item.summary.strip()),
        key_points=[_one_line(p) for p in item.key_points if p.strip()],
        facts=[_one_line(f) for f in item.facts],
    )


def check_judge_template(prompts: PromptSet, output_mode: str) -> str:
    """Render every section of ``judge.j2`` once and return the system prompt.

    A broken override template then fails once, at start-up, with a
    :class:`~stance.errors.TemplateError`, not once per article.
    """
    system = _system_prompt(prompts, output_mode)
    _user_prompt(prompts, JudgeItem("Sample summary.", ("A point.",), ("A fact.",)))
    _render(prompts, "reask", problem="sample problem", errors=["sample error"], n_facts=1)
    return system


@dataclass
class _Tally:
    calls: int = 0
    attempts: int = 0
    usage: Usage = field(default_factory=Usage)


class LLMJudge:
    """Judges key-fact coverage with a chat model (:class:`~stance.chat.ChatModel`).

    Args:
        chat: the model seam (:class:`~stance.backends.openai_chat.OpenAIChatModel` or a fake).
        model: the model name, for the report and the judge's identity.
        prompts: templates; ``judge.j2`` from an override folder replaces the shipped one.
        output_mode: ``json_schema`` (default), ``json_object`` or ``prompt``.
        endpoint_host: shown in the report.
        concurrency: judge calls in flight at once.
        reasks: validation re-asks per pair (one, as for extraction).
        close: what :meth:`aclose` awaits; default ``chat.aclose``.
    """

    def __init__(
        self,
        chat: ChatModel,
        *,
        model: str,
        prompts: PromptSet | None = None,
        output_mode: str = "json_schema",
        endpoint_host: str | None = None,
        concurrency: int = 8,
        reasks: int = 1,
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.chat = chat
        self.model = model
        self.prompts = prompts or PromptSet()
        self.output_mode = output_mode
        self.endpoint_host = endpoint_host
        self.concurrency = max(1, concurrency)
        self.reasks = reasks
        self._close = close or chat.aclose
        self.prompt_hash = self.prompts.template_hash(TEMPLATE)
        self.response_format = response_format_for(output_mode, answer_schema())
        if self.response_format is not None and "json_schema" in self.response_format:
            self.response_format["json_schema"]["name"] = "stance_fact_judgement"
        self.system_prompt = check_judge_template(self.prompts, output_mode)

    @property
    def name(self) -> str:
        """The judge's identity in reports: a different model or prompt is a different judge."""
        return f"llm:{self.model} prompt:{self.prompt_hash}"

    def new_store(self) -> JudgeStore:
        return JudgeStore(
            judge=self.name,
            model=self.model,
            endpoint=self.endpoint_host,
            prompt_hash=self.prompt_hash,
            output_mode=self.output_mode,
        )

    def messages_for(self, item: JudgeItem) -> list[Message]:
        """Static instructions first (cacheable by servers), then the delimited data."""
        user = _user_prompt(self.prompts, item)
        return [Message("system", self.system_prompt), Message("user", user)]

    async def judge(self, item: JudgeItem) -> JudgeRecord:
        """Judge one pair: one call, one re-ask on an unusable answer, then give up.

        Never raises for a model failure: the record then has ``covered=None`` and the error.
        """
        n = len(item.facts)
        rec = JudgeRecord(summary=item.text, facts=list(item.facts), covered=None)
        if not item.text.strip():  # nothing can be covered; no call needed
            rec.covered, rec.reasons = [False] * n, ["the summary is empty"] * n
            return rec
        tally = _Tally()
        try:
            verdicts = await ask_json(
                self.chat,
                self.messages_for(item),
                self.response_format_for(n),
                lambda completion, attempts: parse_verdicts(completion, n, attempts=attempts),
                lambda exc: self._reask_text(exc, n),
                tally=tally,
                raw=rec.raw,
                reasks=self.reasks,
            )
        except ModelError as exc:
            rec.calls, rec.usage = tally.attempts, tally.usage
            if isinstance(exc, InvalidOutput | TruncatedOutput | Refusal):
                rec.error = one_line(f"{exc.__class__.__name__} after {tally.calls} calls: {exc}")
            else:  # the endpoint failed; its message says the attempts
                rec.error = one_line(f"{exc.__class__.__name__}: {exc}")
            return rec
        rec.calls, rec.usage = tally.attempts, tally.usage
        rec.covered = [v.covered for v in verdicts]
        rec.reasons = [v.reason for v in verdicts]
        return rec

    def response_format_for(self, n_facts: int) -> dict[str, Any] | None:
        """The request's ``response_format``: with a JSON schema, exactly ``n_facts`` verdicts
        numbered 1 to ``n_facts``.

        Servers that enforce the schema with a grammar (llama.cpp, vLLM, OpenAI strict mode)
        then cannot return too few or too many verdicts or a fact that does not exist, the
        commonest failures of small models; the numbering is still checked after parsing.
        """
        fmt = self.response_format
        if fmt is None or "json_schema" not in fmt:
            return fmt
        fmt = copy.deepcopy(fmt)
        verdicts = fmt["json_schema"]["schema"]["properties"]["verdicts"]
        verdicts["minItems"] = verdicts["maxItems"] = n_facts
        number = verdicts["items"]["properties"]["fact"]
        number["minimum"], number["maximum"] = 1, n_facts
        return fmt

    def _reask_text(self, exc: ModelError, n_facts: int) -> str:
        problem, errors = reask_problem(
            exc,
            truncated="keep each reason to a few words",
            refused="this only checks whether a news summary states some listed facts",
        )
        return _render(self.prompts, "reask", problem=problem, errors=errors, n_facts=n_facts)

    async def judge_all(
        self, items: Iterable[JudgeItem], *, previous: JudgeStore | None = None
    ) -> JudgeStore:
        """Judge every distinct pair, ``concurrency`` at a time, into a new store.

        Pairs ``previous`` already answered (same judge identity only) are copied, not asked
        again; pairs it failed on are asked again.
        """
        store = self.new_store()
        reuse = previous if previous is not None and previous.judge == self.name else None
        todo: dict[_Key, JudgeItem] = {}
        for item in items:
            if not item.facts:
                continue
            key = (item.text, item.facts)
            old = reuse.lookup(*key) if reuse is not None else None
            if old is not None and old.covered is not None:
                store.add(old.model_copy(update={"calls": 0, "usage": Usage()}))
            else:
                todo.setdefault(key, item)
        limit = asyncio.Semaphore(self.concurrency)

        async def one(item: JudgeItem) -> JudgeRecord:
            async with limit:
                return await self.judge(item)

        for rec in await asyncio.gather(*(one(it) for it in todo.values())):
            store.add(rec)
        return store

    async def aclose(self) -> None:
        await self._close()


def resolve_judge(
    spec: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    prompts_dir: str | None = None,
    output_mode: str = "json_schema",
    concurrency: int = 8,
    max_tokens: int | None = DEFAULT_JUDGE_MAX_TOKENS,
    timeout: float = 120.0,
    client: Any = None,
) -> LLMJudge:
    """Build the judge for a model spec, resolved like ``--model`` (DESIGN.md §3).

    A model name is an OpenAI-compatible endpoint (``base_url`` defaults to
    ``OPENAI_BASE_URL``, ``api_key`` to ``OPENAI_API_KEY``); ``local:PATH.gguf`` starts the
    embedded engine. ``baseline`` has no LLM and is refused.

    Raises:
        ConfigError: an empty spec or one that is not an LLM.
    """
    name = spec.strip()
    if not name:
        raise ConfigError("--judge needs a model name")
    if name in NOT_A_JUDGE:
        raise ConfigError(
            f"--judge {name}: the baseline is not a judge; give an LLM (a model name or "
            "local:PATH.gguf), or leave --judge out for lexical key-fact coverage"
        )
    prompts = PromptSet(prompts_dir)
    check_judge_template(prompts, output_mode)  # before anything is started
    extractor = resolve_extractor(
        name,
        base_url=base_url,
        api_key=api_key,
        output_mode=output_mode,
        max_tokens=max_tokens,
        timeout=timeout,
        client=client,
    )
    if not isinstance(extractor, LLMExtractor):  # pragma: no cover - every other spec is an LLM
        raise ConfigError(f"--judge {name}: not an LLM")
    return LLMJudge(
        extractor.chat,
        model=extractor.model,
        prompts=prompts,
        output_mode=output_mode,
        endpoint_host=extractor.endpoint_host,
        concurrency=concurrency,
        close=extractor.aclose,  # for local:PATH.gguf this also stops the engine
    )


__all__ = [
    "JUDGE_FILE",
    "FactVerdict",
    "JudgeAnswer",
    "JudgeItem",
    "JudgeRecord",
    "JudgeStore",
    "LLMJudge",
    "StoredVerdicts",
    "parse_verdicts",
    "read_judge_store",
    "resolve_judge",
]
