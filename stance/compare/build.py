"""The reduce step: canonical names first, then the findings (DESIGN.md §5)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

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
from .models import Comparison
from .names import fold, load_metonyms
from .parties import PartyResolver
from .topics import DEFAULT_THRESHOLD, LlmMerge, TopicTally, resolve_topics


def _squash(name: str) -> str:
    return " ".join(name.split())


def compare(
    analyses: Iterable[ArticleAnalysis],
    *,
    aliases: Aliases | Mapping[str, Any] | str | Path | None = None,
    llm_merge: LlmMerge | None = None,
    topic_threshold: float = DEFAULT_THRESHOLD,
    metonyms: str | Path | None = None,
) -> Comparison:
    """Compare parties and topics across articles.

    Parties and topics are merged by deterministic rules (see
    :mod:`stance.compare.parties` and :mod:`stance.compare.topics`), then, if ``llm_merge``
    is given, by one call per kind over the distinct names left. The user's ``aliases``
    override both. No model is called unless ``llm_merge`` is passed.

    Args:
        analyses: Per-article results: a list, or any iterable (a generator reading them
            from disk one at a time is read once and never held whole). Duplicate article
            ids: the first one is kept.
        aliases: The user's alias table: an :class:`~stance.compare.aliases.Aliases`, a
            mapping ``{"parties": {canonical: [variants]}, "topics": {...}}`` or a path to a
            YAML/JSON file with it.
        llm_merge: ``llm_merge(names, kind) -> {name: name_to_merge_into}`` with kind
            ``"party"`` or ``"topic"``; a hook that raises leaves the rules' result and a warning.
        topic_threshold: Token-set similarity (0–100) above which two topics merge.
        metonyms: A country metonym table to use instead of the shipped one.

    Returns:
        The :class:`~stance.compare.models.Comparison`.

    Raises:
        ConfigError: The alias file or metonym table cannot be read or is malformed.

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


def compare_light(
    analyses: Iterable[ArticleAnalysis],
    *,
    aliases: Aliases | Mapping[str, Any] | str | Path | None = None,
    llm_merge: LlmMerge | None = None,
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
    table = coerce_aliases(aliases)
    countries = load_metonyms(metonyms)
    texts = PositionTexts(spill_after)
    try:
        return _reduce(analyses, table, countries, texts, llm_merge, topic_threshold)
    except BaseException:
        texts.close()  # the comparison that would own it is never returned
        raise


def _reduce(
    analyses: Iterable[ArticleAnalysis],
    table: Aliases,
    metonyms: Mapping[str, str],
    texts: PositionTexts,
    llm_merge: LlmMerge | None,
    topic_threshold: float,
) -> LightComparison:
    resolver = PartyResolver(table.party_pins(), metonyms)
    tally = TopicTally()
    warnings: list[str] = []
    stats = CorpusStats()
    articles: list[LightArticle] = []
    one_pass = isinstance(analyses, Iterator)
    pending: list[LightRef] | None = [] if one_pass else None  # positions, if read once
    seen: set[str] = set()
    for a in analyses:
        stats.n_articles += 1
        stats.n_positions += len(a.positions)
        stats.n_grounded += sum(1 for p in a.positions if p.grounded)
        stats.models.add(a.provenance.model)
        if a.article.id in seen:
            warnings.append(f"article {a.article.id}: duplicate id, only the first is compared")
            continue
        seen.add(a.article.id)
        art = a.article
        light = LightArticle(
            id=art.id,
            title=art.title,
            outlet=(art.source or "").strip() or None,
            date=art.published,
        )
        articles.append(light)
        resolver.read(a)
        for p in a.positions:
            if p.topic.strip():
                tally.add(art.id, p.topic)
        if pending is not None:
            pending.extend(LightRef.of(light, p, texts) for p in a.positions)
    del seen

    parties = resolver.run(llm_merge)
    del resolver
    topics = resolve_topics(
        tally, pins=table.topic_pins(), threshold=topic_threshold, llm_merge=llm_merge
    )
    del tally
    warnings += parties.notes + topics.notes
    listed = {art.id: parties.listed(art.id) for art in articles}

    refs: list[LightRef] = []
    for ref in _positions(analyses, articles, pending, texts):
        aid = ref.article_id
        party = parties.canonical(aid, _squash(ref.party_as_written))
        topic = topics.canonical.get(ref.topic_as_written)
        if party is None or topic is None:
            warnings.append(f"article {aid}: a position without a party or topic was skipped")
            continue
        ref.party, ref.topic = party, topic
        ref.art.n_positions += 1
        refs.append(ref)
    del pending
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
        stats=stats,
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
