"""The reduce step: canonical names first, then the findings (DESIGN.md §5).

Names are merged by rules, then — given a model merger — by one model call over the
distinct party and topic names the rules left (:mod:`stance.compare.llm_merge`), then the
matrix and the findings are built.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..parse import one_line
from ..schema import ArticleAnalysis
from .aliases import Aliases, coerce_aliases
from .findings import (
    build_matrix,
    find_agreements,
    find_conflicts,
    find_shifts,
    find_voice_gaps,
    outlet_coverage,
)
from .light import CorpusStats, LightArticle, LightComparison, LightRef, PositionTexts
from .llm_merge import MergeAnswer, MergeQuestion, NameMerger
from .models import Comparison, NameKind
from .names import fold, load_metonyms
from .parties import PartyResolver
from .topics import DEFAULT_THRESHOLD, LlmMerge, TopicResolver, TopicTally, ask_hook


def _squash(name: str) -> str:
    return " ".join(name.split())


LlmMergeOption = LlmMerge | NameMerger


def compare(
    analyses: Iterable[ArticleAnalysis],
    *,
    aliases: Aliases | Mapping[str, Any] | str | Path | None = None,
    llm_merge: LlmMergeOption | None = None,
    topic_threshold: float = DEFAULT_THRESHOLD,
    metonyms: str | Path | None = None,
) -> Comparison:
    """Compare parties and topics across articles.

    Parties and topics are merged by deterministic rules (see
    :mod:`stance.compare.parties` and :mod:`stance.compare.topics`), then, if ``llm_merge``
    is given, by a model over the distinct names left. The user's ``aliases`` override both.
    No model is called unless ``llm_merge`` is passed.

    Args:
        analyses: Per-article results: a list, or any iterable (a generator reading them
            from disk one at a time is read once and never held whole). Duplicate article
            ids: the first one is kept.
        aliases: The user's alias table: an :class:`~stance.compare.aliases.Aliases`, a
            mapping ``{"parties": {canonical: [variants]}, "topics": {...}}`` or a path to a
            YAML/JSON file with it.
        llm_merge: Either a :class:`~stance.compare.llm_merge.NameMerger` such as
            :class:`~stance.compare.llm_merge.LlmMerger` (asked once, about both kinds;
            outside a running event loop only — use :func:`acompare` inside one), or a
            hook ``llm_merge(names, kind) -> {name: name_to_merge_into}`` called once per
            kind (``"party"``, then ``"topic"``). A merger or hook that fails leaves the
            rules' result and a warning.
        topic_threshold: Token-set similarity (0–100) above which two topics merge.
        metonyms: A country metonym table to use instead of the shipped one.

    Returns:
        The :class:`~stance.compare.models.Comparison`.

    Raises:
        ConfigError: The alias file or metonym table cannot be read or is malformed, or a
            model merger is used inside a running event loop.

    Example:
        >>> comparison = compare(analyses, aliases="aliases.yml")
        >>> [c.topic for c in comparison.conflicts]
    """
    with compare_light(
        analyses,
        aliases=aliases,
        llm_merge=llm_merge,
        topic_threshold=topic_threshold,
        metonyms=metonyms,
    ) as light:
        return light.to_model()


async def acompare(
    analyses: Iterable[ArticleAnalysis],
    *,
    aliases: Aliases | Mapping[str, Any] | str | Path | None = None,
    llm_merge: LlmMergeOption | None = None,
    topic_threshold: float = DEFAULT_THRESHOLD,
    metonyms: str | Path | None = None,
) -> Comparison:
    """:func:`compare` for async code: a model merger's call is awaited on the running loop.

    Example:
        >>> merger = LlmMerger(chat, model="gpt-4o-mini")
        >>> comparison = await acompare(analyses, llm_merge=merger)
    """
    light = await acompare_light(
        analyses,
        aliases=aliases,
        llm_merge=llm_merge,
        topic_threshold=topic_threshold,
        metonyms=metonyms,
    )
    with light:
        return light.to_model()


def compare_light(
    analyses: Iterable[ArticleAnalysis],
    *,
    aliases: Aliases | Mapping[str, Any] | str | Path | None = None,
    llm_merge: LlmMergeOption | None = None,
    topic_threshold: float = DEFAULT_THRESHOLD,
    metonyms: str | Path | None = None,
    spill_after: int = 20_000,
) -> LightComparison:
    """:func:`compare`, returning compact records instead of pydantic models.

    What a run folder's reports use: each analysis is reduced to what the comparison needs
    as it is read, so memory grows with the number of positions (~150 bytes each), not
    with the size of the analyses. Given something it can iterate twice (a list, or an
    object that re-reads stored results), it reads names first and positions second, so
    the positions are never in memory together with the name graph; a one-shot iterator (a
    generator) is read once. Use the result as a context manager, or close it: past
    ``spill_after`` positions their texts wait in a temporary file (see
    :class:`~stance.compare.light.PositionTexts`). Other arguments as for :func:`compare`.
    """
    if isinstance(llm_merge, NameMerger) and _loop_running():
        raise ConfigError(
            "a model merger cannot be run from synchronous code inside a running event "
            "loop; use acompare() or acompare_light()"
        )
    reduce = _Reduce(analyses, aliases, metonyms, topic_threshold, spill_after)
    with reduce.closing_on_error():
        if isinstance(llm_merge, NameMerger):
            reduce.answer(asyncio.run(_ask(llm_merge, reduce.question())))
        elif llm_merge is not None:
            reduce.ask_hook(llm_merge)
        return reduce.finish()


async def acompare_light(
    analyses: Iterable[ArticleAnalysis],
    *,
    aliases: Aliases | Mapping[str, Any] | str | Path | None = None,
    llm_merge: LlmMergeOption | None = None,
    topic_threshold: float = DEFAULT_THRESHOLD,
    metonyms: str | Path | None = None,
    spill_after: int = 20_000,
) -> LightComparison:
    """:func:`compare_light` for async code: the rules run, then the model merger's one
    call is awaited on the running loop, then the findings are built.

    The reading and the rules are synchronous work done on the calling thread, as in
    :func:`compare_light`.
    """
    reduce = _Reduce(analyses, aliases, metonyms, topic_threshold, spill_after)
    with reduce.closing_on_error():
        if isinstance(llm_merge, NameMerger):
            reduce.answer(await _ask(llm_merge, reduce.question()))
        elif llm_merge is not None:
            reduce.ask_hook(llm_merge)
        return reduce.finish()


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _ask(merger: NameMerger, question: MergeQuestion) -> MergeAnswer:
    """The merger's answer; a merger that raises leaves the rules' result and a note."""
    try:
        return await merger.merge(question)
    except Exception as exc:  # the merger may be the caller's code: keep the comparison
        return MergeAnswer(
            notes=[f"llm_merge failed ({type(exc).__name__}: {one_line(str(exc))}); rules only"]
        )


class _Reduce:
    """The reduce in steps: read and apply the rules (on construction), optionally merge
    by a model (:meth:`answer` or :meth:`ask_hook`), then build the findings (:meth:`finish`).

    Both kinds of names are known before any model is asked, so a model merger is asked
    once about parties and topics together.
    """

    def __init__(
        self,
        analyses: Iterable[ArticleAnalysis],
        aliases: Aliases | Mapping[str, Any] | str | Path | None,
        metonyms: str | Path | None,
        topic_threshold: float,
        spill_after: int,
    ) -> None:
        table = coerce_aliases(aliases)
        countries = load_metonyms(metonyms)
        self.analyses = analyses
        self.texts = PositionTexts(spill_after)
        with self.closing_on_error():
            self._read(table, countries, topic_threshold)

    @contextmanager
    def closing_on_error(self) -> Iterator[None]:
        try:
            yield
        except BaseException:
            self.texts.close()  # the comparison that would own it is never returned
            raise

    def _read(self, table: Aliases, metonyms: Mapping[str, str], topic_threshold: float) -> None:
        resolver = PartyResolver(table.party_pins(), metonyms)
        tally = TopicTally()
        self.warnings: list[str] = []
        self.stats = stats = CorpusStats()
        self.articles: list[LightArticle] = []
        one_pass = isinstance(self.analyses, Iterator)
        # positions, if read once
        self.pending: list[LightRef] | None = [] if one_pass else None
        seen: set[str] = set()
        for a in self.analyses:
            stats.n_articles += 1
            stats.n_positions += len(a.positions)
            stats.n_grounded += sum(1 for p in a.positions if p.grounded)
            stats.models.add(a.provenance.model)
            if a.article.id in seen:
                self.warnings.append(
                    f"article {a.article.id}: duplicate id, only the first is compared"
                )
                continue
            seen.add(a.article.id)
            art = a.article
            light = LightArticle(
                id=art.id,
                title=art.title,
                outlet=(art.source or "").strip() or None,
                date=art.published,
            )
            self.articles.append(light)
            resolver.read(a)
            for p in a.positions:
                if p.topic.strip():
                    tally.add(art.id, p.topic)
            if self.pending is not None:
                self.pending.extend(LightRef.of(light, p, self.texts) for p in a.positions)
        del seen
        resolver.run_rules()
        self.resolver: PartyResolver | None = resolver
        topics = TopicResolver(tally, pins=table.topic_pins(), threshold=topic_threshold)
        topics.run_rules()
        self.topics: TopicResolver | None = topics
        self.model_notes: list[str] = []

    def question(self) -> MergeQuestion:
        """The distinct names the rules left, for a model merger."""
        assert self.resolver is not None and self.topics is not None
        return MergeQuestion(
            parties=self.resolver.model_names(),
            topics=self.topics.model_names(),
            n_articles=len(self.articles),
        )

    def answer(self, answer: MergeAnswer) -> None:
        """Apply a model merger's answer (both kinds)."""
        assert self.resolver is not None and self.topics is not None
        self.resolver.apply_model(answer.parties)
        self.topics.apply_model(answer.topics)
        self.model_notes += answer.notes

    def ask_hook(self, hook: LlmMerge) -> None:
        """Call a per-kind hook, parties first, and apply what it says."""
        assert self.resolver is not None and self.topics is not None
        for resolver in (self.resolver, self.topics):
            kind: NameKind = "party" if resolver is self.resolver else "topic"
            got = ask_hook(hook, resolver.heads, kind, resolver.notes)
            if got is not None:
                resolver.apply_model(got)

    def finish(self) -> LightComparison:
        """Canonical names for every position, then the matrix and the findings."""
        assert self.resolver is not None and self.topics is not None
        parties = self.resolver.result()
        self.resolver = None  # its per-node objects are no longer needed
        topics = self.topics.result()
        self.topics = None
        articles, texts = self.articles, self.texts
        warnings = self.warnings + parties.notes + topics.notes + self.model_notes
        listed = {art.id: parties.listed(art.id) for art in articles}

        refs: list[LightRef] = []
        for ref in _positions(self.analyses, articles, self.pending, texts):
            aid = ref.article_id
            party = parties.canonical(aid, _squash(ref.party_as_written))
            topic = topics.canonical.get(ref.topic_as_written)
            if party is None or topic is None:
                warnings.append(f"article {aid}: a position without a party or topic was skipped")
                continue
            ref.party, ref.topic = party, topic
            ref.art.n_positions += 1
            refs.append(ref)
        self.pending = None
        party_entries, party_merges = parties.entries, parties.merges
        del parties  # its per-node maps are no longer needed

        per_party: dict[str, int] = {}
        for r in refs:
            per_party[r.party] = per_party.get(r.party, 0) + 1
        for entry in party_entries:
            entry.n_positions = per_party.get(entry.name, 0)
        party_entries.sort(key=lambda e: (-e.n_positions, fold(e.name)))
        party_order = [e.name for e in party_entries if e.n_positions]
        topic_order = [t.name for t in topics.entries]

        matrix = build_matrix(refs, party_order, topic_order)
        return LightComparison(
            articles=articles,
            parties=party_entries,
            topics=topics.entries,
            matrix=matrix,
            agreements=find_agreements(matrix, topic_order),
            conflicts=find_conflicts(matrix, topic_order),
            shifts=find_shifts(matrix),
            voice_gaps=find_voice_gaps(refs, party_entries, listed, topic_order),
            coverage=outlet_coverage(articles, refs),
            merges=sorted(party_merges, key=lambda m: (fold(m.to), fold(m.from_)))
            + sorted(topics.merges, key=lambda m: (fold(m.to), fold(m.from_))),
            warnings=warnings,
            stats=self.stats,
            texts=texts,
        )


def _positions(
    analyses: Iterable[ArticleAnalysis],
    articles: list[LightArticle],
    pending: list[LightRef] | None,
    texts: PositionTexts,
) -> Iterator[LightRef]:
    """Every compared position with its article: kept from the first pass, or read again."""
    if pending is not None:
        yield from pending
        return
    by_id = {art.id: art for art in articles}
    for a in analyses:
        light = by_id.pop(a.article.id, None)  # pop: a duplicate id is compared once
        if light is not None:
            for p in a.positions:
                yield LightRef.of(light, p, texts)
