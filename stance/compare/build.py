"""The reduce step: canonical names first, then the findings (DESIGN.md §5)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..schema import ArticleAnalysis
from .aliases import Aliases, coerce_aliases
from .evidence import evidence_ref
from .findings import (
    build_matrix,
    find_agreements,
    find_conflicts,
    find_shifts,
    find_voice_gaps,
    outlet_coverage,
)
from .models import ArticleInfo, Comparison, EvidenceRef
from .names import fold, load_metonyms
from .parties import canonicalise_parties
from .topics import DEFAULT_THRESHOLD, LlmMerge, canonicalise_topics


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
        analyses: Per-article results. Duplicate article ids: the first one is kept.
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
    table = coerce_aliases(aliases)
    warnings: list[str] = []
    items: list[ArticleAnalysis] = []
    seen: set[str] = set()
    for a in analyses:
        if a.article.id in seen:
            warnings.append(f"article {a.article.id}: duplicate id, only the first is compared")
            continue
        seen.add(a.article.id)
        items.append(a)

    parties = canonicalise_parties(
        items, pins=table.party_pins(), metonyms=load_metonyms(metonyms), llm_merge=llm_merge
    )
    topics = canonicalise_topics(
        [(a.article.id, p.topic) for a in items for p in a.positions if p.topic.strip()],
        pins=table.topic_pins(),
        threshold=topic_threshold,
        llm_merge=llm_merge,
    )
    warnings += parties.notes + topics.notes

    refs: list[EvidenceRef] = []
    listed: dict[str, set[str]] = {}
    for a in items:
        aid = a.article.id
        listed[aid] = {
            parties.canonical[(aid, _squash(p.name))] for p in a.parties if _squash(p.name)
        }
        for pos in a.positions:
            party = parties.canonical.get((aid, _squash(pos.party)))
            topic = topics.canonical.get(pos.topic)
            if party is None or topic is None:
                warnings.append(f"article {aid}: a position without a party or topic was skipped")
                continue
            refs.append(evidence_ref(a, pos, party, topic))

    per_party = Counter(r.party for r in refs)
    for entry in parties.entries:
        entry.n_positions = per_party[entry.name]
    party_entries = sorted(parties.entries, key=lambda e: (-e.n_positions, fold(e.name)))
    party_order = [e.name for e in party_entries if e.n_positions]
    topic_order = [t.name for t in topics.entries]

    matrix = build_matrix(refs, party_order, topic_order)
    per_article = Counter(r.article_id for r in refs)
    return Comparison(
        articles=[
            ArticleInfo(
                id=a.article.id,
                title=a.article.title,
                outlet=(a.article.source or "").strip() or None,
                date=a.article.published,
                n_positions=per_article[a.article.id],
            )
            for a in items
        ],
        parties=party_entries,
        topics=topics.entries,
        matrix=matrix,
        agreements=find_agreements(matrix, topic_order),
        conflicts=find_conflicts(matrix, topic_order),
        shifts=find_shifts(matrix),
        voice_gaps=find_voice_gaps(items, refs, party_entries, listed, topic_order),
        coverage=outlet_coverage(items, refs),
        merges=sorted(parties.merges, key=lambda m: (fold(m.to), fold(m.from_)))
        + sorted(topics.merges, key=lambda m: (fold(m.to), fold(m.from_))),
        warnings=warnings,
    )
