"""The reduce's one model call: merge the party and topic names the rules could not (DESIGN.md §5).

The rules (:mod:`stance.compare.parties`, :mod:`stance.compare.topics`) merge what can be
decided from the strings; what they cannot — "Zelensky" and "Zelenskyy" in two articles,
"European peacekeepers in Ukraine" and "deploying European troops to Ukraine" — goes to a
model in **one** call that lists the distinct party names and the distinct topics left::

    merger = LlmMerger(chat, model="gpt-4o-mini", cache=result_cache)
    comparison = await acompare(analyses, llm_merge=merger)

* The prompt is ``prompts/merge.j2`` (overridable with ``--prompts DIR``): static
  instructions first (the system message), then the names as data (the user message).
* The answer, ``{"parties": [{"name", "same_as"}], "topics": [...]}``, is checked
  (:func:`check_reply`): both names must come from the lists, ``same_as`` must not itself be
  merged into another name (no chains, no cycles), a person is never merged with anything
  that is not a person, a name is sent to one place only. Anything else is ignored, and a
  note in the comparison's warnings says what and why.
* Invalid output gets one re-ask with the errors; a call that still fails (or an endpoint
  that is down) leaves the rules' result and a note: the comparison is never lost.
* The answer is stored in the run's :class:`~stance.cache.ResultCache`, keyed by the model's
  fingerprint and the exact messages (so the template and every name), so a re-run of an
  unchanged corpus makes no call (DESIGN.md §8).
* Large corpora: at most ``max_names`` names per kind go into the call — the ones most
  articles (parties) or positions (topics) use — and a note says so; the rest keep the
  rules' result. A corpus of one article, or one with fewer than two names of each kind,
  makes no call.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..backends.structured import ask_json, inline_schema, reask_problem, response_format_for
from ..cache import ResultCache
from ..chat import ChatModel, Completion, Message
from ..errors import ModelError
from ..parse import one_line, parse_json_answer
from ..prompts import PromptSet
from ..schema import Usage
from .models import NameKind
from .names import fold

TEMPLATE = "merge"
DEFAULT_MAX_NAMES = 300  # per kind: ~300 party lines + ~300 topic lines is ~10k tokens
MIN_ARTICLES = 2  # one article: its own extraction already named its parties consistently
MAX_NOTED = 5  # ignored suggestions spelled out in a note; the rest are counted
_FORMAT = 1  # bump when the cache key or the stored answer changes shape
_TAG = re.compile(r"<(?=\s*/?\s*(?:parties|topics)\b)", re.IGNORECASE)
_PERSONLESS = frozenset({"organisation", "country", "group"})


# --------------------------------------------------------------------------- question


@dataclass(frozen=True, slots=True)
class MergeName:
    """One distinct name left after the rules, as the model is shown it.

    Attributes:
        name: the canonical name the rules chose (copied into the answer by the model).
        kind: ``"party"`` or ``"topic"``.
        type: for parties, the most specific type the articles gave it.
        roles: for parties, up to two roles or affiliations the articles gave it.
        weight: how many articles use the party, or how many positions name the topic;
            the most used names are sent first when there are more than ``max_names``.
    """

    name: str
    kind: NameKind
    type: str | None = None
    roles: tuple[str, ...] = ()
    weight: int = 0

    @property
    def shown(self) -> str:
        """The name with any tag that could close the prompt's name blocks made inert."""
        return _TAG.sub("\uff1c", self.name)

    @property
    def json(self) -> str:
        """The line the prompt shows: a JSON string (topics) or object (parties).

        JSON keeps quotes and line breaks in a name unambiguous, and its strings decode to
        the name itself when the model copies them into its JSON answer.
        """
        if self.kind == "topic":
            return json.dumps(self.shown, ensure_ascii=False)
        item: dict[str, Any] = {"name": self.shown, "type": self.type or "other"}
        if self.roles:
            item["roles"] = [_TAG.sub("\uff1c", one_line(r, 80)) for r in self.roles]
        return json.dumps(item, ensure_ascii=False)


@dataclass
class MergeQuestion:
    """The distinct names the rules left, both kinds, for one comparison."""

    parties: list[MergeName] = field(default_factory=list)
    topics: list[MergeName] = field(default_factory=list)
    n_articles: int = 0


@dataclass
class MergeAnswer:
    """Name -> the listed name to show it under, per kind, and notes for the warnings."""

    parties: dict[str, str] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def for_kind(self, kind: NameKind) -> dict[str, str]:
        return self.parties if kind == "party" else self.topics


@runtime_checkable
class NameMerger(Protocol):
    """What the reduce asks once, with every name of both kinds (e.g. :class:`LlmMerger`)."""

    async def merge(self, question: MergeQuestion) -> MergeAnswer: ...


# --------------------------------------------------------------------------- answer


class SameAs(BaseModel):
    """One merge: name denotes the same party (or the same issue) as same_as."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="A name copied exactly from the list.")
    same_as: str = Field(
        description="The listed name it denotes the same entity or issue as; not itself "
        "merged into another name."
    )


# Names sent as enums in the JSON schema at most: each appears twice (name, same_as), and
# some servers cap a schema at 500 enum values.
ENUM_MAX_NAMES = 240


class MergeReply(BaseModel):
    """The model's answer: only the names that merge; empty lists if none do."""

    model_config = ConfigDict(extra="forbid")
    parties: list[SameAs] = Field(
        default_factory=list, description="Party names that denote the same party."
    )
    topics: list[SameAs] = Field(
        default_factory=list, description="Topics that name the same issue."
    )


def reply_schema() -> dict[str, Any]:
    """The JSON schema of :class:`MergeReply`, inlined and strict (every field required)."""
    return inline_schema(MergeReply.model_json_schema())


def parse_reply(completion: Completion, *, attempts: int = 1) -> MergeReply:
    """Validate one completion, checking ``refusal`` and ``finish_reason`` first."""
    return parse_json_answer(completion, MergeReply, attempts=attempts)


def _loose(text: str) -> str:
    return " ".join(fold(text).split())


def _check_kind(
    pairs: Sequence[SameAs], listed: Sequence[MergeName], kind: NameKind
) -> tuple[dict[str, str], list[str]]:
    """The usable merges of one kind, and why each unusable one was ignored."""
    by_name = {n.name: n for n in listed}
    loose: dict[str, str | None] = {}
    for n in listed:
        for form in {_loose(n.name), _loose(n.shown)}:
            loose[form] = n.name if loose.get(form, n.name) == n.name else None

    def resolve(text: str) -> str | None:
        return text if text in by_name else loose.get(_loose(text))

    ignored: list[str] = []
    targets: dict[str, str] = {}
    twice: set[str] = set()
    for pair in pairs:
        src, dst = resolve(pair.name), resolve(pair.same_as)
        if src is None or dst is None:
            missing = pair.name if src is None else pair.same_as
            ignored.append(f"{one_line(missing, 80)!r} is not in the list")
            continue
        if src == dst:
            continue
        a, b = by_name[src], by_name[dst]
        if kind == "party" and {a.type, b.type} & _PERSONLESS and "person" in {a.type, b.type}:
            why = "a person and a non-person are never one party"
            ignored.append(f"{src!r} ({a.type}) -> {dst!r} ({b.type}): {why}")
            continue
        if src in targets and targets[src] != dst:
            twice.add(src)
        targets.setdefault(src, dst)
    for src in sorted(twice):
        del targets[src]
        ignored.append(f"{src!r} was sent to two different names")
    out: dict[str, str] = {}
    for src, dst in sorted(targets.items()):
        if dst in targets:  # a chain (A -> B -> C) or a cycle (A -> B -> A)
            ignored.append(f"{src!r} -> {dst!r}: {dst!r} is itself sent to {targets[dst]!r}")
            continue
        out[src] = dst
    return out, ignored


def check_reply(
    reply: MergeReply, parties: Sequence[MergeName], topics: Sequence[MergeName]
) -> MergeAnswer:
    """Keep the merges that are safe to apply; note the rest.

    Both names of a merge must be listed (exactly, or equal once case, accents and spacing
    are set aside); ``same_as`` must not itself be sent elsewhere (no chains or cycles); a
    name sent to two different places is dropped; a person is never merged with an
    organisation, country or group.
    """
    answer = MergeAnswer()
    kinds: list[tuple[NameKind, list[SameAs], Sequence[MergeName]]] = [
        ("party", reply.parties, parties),
        ("topic", reply.topics, topics),
    ]
    for kind, pairs, listed in kinds:
        kept, ignored = _check_kind(pairs, listed, kind)
        answer.for_kind(kind).update(kept)
        if ignored:
            shown = "; ".join(ignored[:MAX_NOTED])
            more = f"; and {len(ignored) - MAX_NOTED} more" if len(ignored) > MAX_NOTED else ""
            answer.notes.append(
                f"LLM merge: ignored {len(ignored)} of the model's {kind} merges: {shown}{more}"
            )
    return answer


# --------------------------------------------------------------------------- the call


@dataclass
class MergeStats:
    """What one merge did and cost (the ``llm_merge`` block of ``run.json``)."""

    model: str
    status: str = "not_run"  # ok | cached | failed | skipped
    reason: str | None = None
    calls: int = 0
    attempts: int = 0
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    names: dict[str, int] = field(default_factory=lambda: {"parties": 0, "topics": 0})
    sent: dict[str, int] = field(default_factory=lambda: {"parties": 0, "topics": 0})
    merges: dict[str, int] = field(default_factory=lambda: {"parties": 0, "topics": 0})

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "status": self.status,
            "reason": self.reason,
            "calls": self.calls,
            "attempts": self.attempts,
            "tokens": self.usage.model_dump(),
            "latency_s": round(self.latency_s, 3),
            "names": dict(self.names),
            "sent": dict(self.sent),
            "merges": dict(self.merges),
        }


class LlmMerger:
    """A :class:`NameMerger` that asks a chat model, once per comparison.

    Args:
        chat: the model seam (the run's own chat model: same endpoint, same rate limits).
        model: the model name, for the cache key and ``run.json``.
        fingerprint: what else changes the answer (endpoint, parameters, output mode);
            an extractor's :meth:`~stance.backends.base.Extractor.fingerprint` will do.
        prompts: where ``merge.j2`` is found (a ``--prompts DIR`` overrides the shipped one).
        output_mode: ``json_schema`` (default), ``json_object`` or ``prompt``.
        cache: the run's result cache; the answer is stored there and reused.
        max_names: names of each kind sent at most (the most used ones).
        reasks: validation re-asks after an unusable answer (DESIGN: one).
        min_articles: corpora smaller than this make no call.

    Raises:
        TemplateError: ``merge.j2`` is missing or does not render.
    """

    def __init__(
        self,
        chat: ChatModel,
        *,
        model: str,
        fingerprint: Mapping[str, Any] | None = None,
        prompts: PromptSet | None = None,
        output_mode: str = "json_schema",
        cache: ResultCache | None = None,
        max_names: int = DEFAULT_MAX_NAMES,
        reasks: int = 1,
        min_articles: int = MIN_ARTICLES,
    ) -> None:
        self.chat = chat
        self.model = model
        self.prompts = prompts or PromptSet()
        self.output_mode = output_mode
        self.cache = cache
        self.max_names = max(2, max_names)
        self.reasks = reasks
        self.min_articles = min_articles
        fp = dict(fingerprint or {"model": model})
        fp.pop("prompt_hash", None)  # the extraction templates do not change this answer
        self.fingerprint = fp
        self.response_format = response_format_for(output_mode, reply_schema())
        if self.response_format is not None and "json_schema" in self.response_format:
            self.response_format["json_schema"]["name"] = "stance_merge"
        self.template_hash = self.prompts.template_hash(TEMPLATE)
        self.stats = MergeStats(model=model)
        sample = [MergeName("A", "party", "person", ("r",)), MergeName("B", "party")]
        self.messages_for(sample, [MergeName("t", "topic"), MergeName("u", "topic")])
        self.reask_text("sample problem", ["sample error"])

    # -- prompt ---------------------------------------------------------------------------

    def messages_for(
        self, parties: Sequence[MergeName], topics: Sequence[MergeName]
    ) -> list[Message]:
        """The static instructions (system), then the names as data (user)."""
        schema_json = json.dumps(reply_schema(), separators=(",", ":"))
        system = self.prompts.render(
            TEMPLATE, part="instructions", output_mode=self.output_mode, schema_json=schema_json
        )
        user = self.prompts.render(TEMPLATE, part="names", parties=parties, topics=topics)
        return [Message("system", system), Message("user", user)]

    def reask_text(self, problem: str, errors: list[str]) -> str:
        return self.prompts.render(TEMPLATE, part="reask", problem=problem, errors=errors)

    def cache_key(self, messages: Sequence[Message]) -> str:
        """Hash of the model fingerprint, the template and the exact messages (every name)."""
        material = {
            "format": _FORMAT,
            "kind": "merge",
            "fingerprint": self.fingerprint,
            "template": self.template_hash,
            "response_format": self.response_format,
            "messages": [[m.role, m.content] for m in messages],
        }
        blob = json.dumps(material, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    # -- the one call ---------------------------------------------------------------------

    def _pick(self, names: list[MergeName], label: str, notes: list[str]) -> list[MergeName]:
        """The names of one kind to send, alphabetically; none if fewer than two."""
        if len(names) < 2:
            return []
        chosen = names
        if len(names) > self.max_names:
            chosen = sorted(names, key=lambda n: (-n.weight, fold(n.name), n.name))
            chosen = chosen[: self.max_names]
            notes.append(
                f"LLM merge: {len(names)} distinct {label} names; the {self.max_names} most "
                f"used were sent to the model, the other {len(names) - self.max_names} are "
                "merged by rules only"
            )
        return sorted(chosen, key=lambda n: (fold(n.name), n.name))

    async def merge(self, question: MergeQuestion) -> MergeAnswer:
        """Ask (or read from the cache) which names merge; never raises for a model failure."""
        stats = self.stats = MergeStats(model=self.model)
        stats.names = {"parties": len(question.parties), "topics": len(question.topics)}
        if question.n_articles < self.min_articles:
            stats.status, stats.reason = "skipped", "fewer than two articles"
            return MergeAnswer()
        notes: list[str] = []
        parties = self._pick(question.parties, "party", notes)
        topics = self._pick(question.topics, "topic", notes)
        stats.sent = {"parties": len(parties), "topics": len(topics)}
        if not parties and not topics:
            stats.status, stats.reason = "skipped", "fewer than two names of each kind"
            return MergeAnswer()
        messages = self.messages_for(parties, topics)
        key = self.cache_key(messages)
        reply = self._cached(key)
        if reply is not None:
            stats.status = "cached"
        else:
            started = time.perf_counter()
            try:
                reply = await self._ask(messages, stats, self.response_format_for(parties, topics))
            except Exception as exc:  # the endpoint or the answer failed: keep the rules' result
                stats.status = "failed"
                stats.reason = one_line(f"{type(exc).__name__}: {exc}")
                notes.append(
                    f"LLM merge failed ({stats.reason}); parties and topics are merged by "
                    "rules only"
                )
                return MergeAnswer(notes=notes)
            finally:
                stats.latency_s = time.perf_counter() - started
            stats.status = "ok"
            if self.cache is not None:
                self.cache.put_merge(
                    key,
                    self.model,
                    {"reply": reply.model_dump(), "usage": stats.usage.model_dump()},
                )
        answer = check_reply(reply, parties, topics)
        stats.merges = {"parties": len(answer.parties), "topics": len(answer.topics)}
        answer.notes[:0] = notes
        return answer

    def _cached(self, key: str) -> MergeReply | None:
        if self.cache is None:
            return None
        stored = self.cache.get_merge(key)
        if stored is None:
            return None
        try:
            return MergeReply.model_validate(stored["reply"])
        except (ValidationError, KeyError, TypeError):
            return None  # a row from another version: ask again and overwrite it

    def response_format_for(
        self, parties: Sequence[MergeName], topics: Sequence[MergeName]
    ) -> dict[str, Any] | None:
        """The request's ``response_format``; with a JSON schema and few enough names, each
        answer field is an enum of the names sent.

        A server that enforces the schema with a grammar (llama.cpp, vLLM, OpenAI strict
        mode) then cannot answer with a name that was not listed. Past
        ``ENUM_MAX_NAMES`` names in all the schema stays free-form (enum sizes are limited
        by some servers) and the answer is checked against the list as always.
        """
        fmt = self.response_format
        if fmt is None or "json_schema" not in fmt:
            return fmt
        if len(parties) + len(topics) > ENUM_MAX_NAMES:
            return fmt
        fmt = copy.deepcopy(fmt)
        props = fmt["json_schema"]["schema"]["properties"]
        for key, names in (("parties", parties), ("topics", topics)):
            if not names:
                props[key]["maxItems"] = 0
                continue
            pair = props[key]["items"]["properties"]
            for answer_field in ("name", "same_as"):
                pair[answer_field]["enum"] = [n.name for n in names]
        return fmt

    async def _ask(
        self,
        messages: list[Message],
        stats: MergeStats,
        response_format: dict[str, Any] | None = None,
    ) -> MergeReply:
        return await ask_json(
            self.chat,
            messages,
            response_format if response_format is not None else self.response_format,
            lambda completion, attempts: parse_reply(completion, attempts=attempts),
            self._reask_for,
            tally=stats,
            reasks=self.reasks,
        )

    def _reask_for(self, exc: ModelError) -> str:
        problem, errors = reask_problem(
            exc,
            truncated="answer with fewer merges: only the surest ones",
            refused="this only asks which listed names denote the same party or issue",
        )
        return self.reask_text(problem, errors)


def merger_for(
    extractor: Any,
    *,
    cache: ResultCache | None = None,
    max_names: int = DEFAULT_MAX_NAMES,
) -> LlmMerger | None:
    """An :class:`LlmMerger` on an extractor's own chat model; ``None`` for the baseline.

    The merge then goes to the same endpoint, under the same rate limits, with the same
    ``--prompts`` folder and output mode as the extraction.
    """
    chat = getattr(extractor, "chat", None)
    if chat is None:
        return None
    fingerprint = extractor.fingerprint() if hasattr(extractor, "fingerprint") else None
    return LlmMerger(
        chat,
        model=str(getattr(extractor, "model", "model")),
        fingerprint=fingerprint,
        prompts=getattr(extractor, "prompts", None),
        output_mode=getattr(extractor, "output_mode", "json_schema"),
        cache=cache,
        max_names=max_names,
    )
