"""What the comparison reports: the matrix, agreements, conflicts, shifts, voice gaps, coverage.

All functions are pure: they take evidence under canonical names (:class:`LightRef`) and
return compact records (:mod:`stance.compare.light`) in a stable order (topics by how much is
said about them, then names alphabetically).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import groupby

from ..schema import STANCES, Stance
from .evidence import date_order, parse_date, summarise
from .light import (
    LightAgreement,
    LightArticle,
    LightCell,
    LightConflict,
    LightGap,
    LightRef,
    LightShift,
)
from .models import GapReason, OutletCoverage, PartyEntry
from .names import fold

_GAP_ORDER: tuple[GapReason, ...] = (
    "named_in_evidence",
    "listed_without_position",
    "only_characterised",
)
_MIN_NAME_CHARS = 3  # shorter names ("EU" aside, mostly initials) match too much prose


def _by_cell(refs: Sequence[LightRef]) -> dict[tuple[str, str], list[LightRef]]:
    cells: dict[tuple[str, str], list[LightRef]] = {}
    for r in refs:
        cells.setdefault((r.party, r.topic), []).append(r)
    return cells


def _chronological(refs: Sequence[LightRef]) -> list[LightRef]:
    return sorted(refs, key=lambda r: date_order(r.date, r.article_id))


def build_matrix(
    refs: Sequence[LightRef], party_order: Sequence[str], topic_order: Sequence[str]
) -> list[LightCell]:
    """One cell per party and topic that has at least one position, rows then columns."""
    cells = _by_cell(refs)
    out: list[LightCell] = []
    for party in party_order:
        for topic in topic_order:
            rs = cells.get((party, topic))
            if not rs:
                continue
            counts: dict[Stance, int] = {s: 0 for s in STANCES}
            for r in rs:
                counts[r.stance] += 1
            out.append(
                LightCell(
                    party=party,
                    topic=topic,
                    stance=summarise(r.stance for r in rs),
                    counts=counts,
                    evidence=_chronological(rs),
                )
            )
    return out


def find_agreements(
    matrix: Sequence[LightCell], topic_order: Sequence[str]
) -> list[LightAgreement]:
    """Two or more parties whose cells on a topic share a clear stance (support or oppose)."""
    out: list[LightAgreement] = []
    for topic in topic_order:
        for stance in ("support", "oppose"):
            cells = [c for c in matrix if c.topic == topic and c.stance == stance]
            if len(cells) >= 2:
                out.append(
                    LightAgreement(
                        topic=topic,
                        stance=stance,
                        parties=sorted((c.party for c in cells), key=fold),
                        evidence=[r for c in cells for r in c.evidence if r.stance == stance],
                    )
                )
    return out


def find_conflicts(matrix: Sequence[LightCell], topic_order: Sequence[str]) -> list[LightConflict]:
    """Topics on which some parties' cells support and others' oppose."""
    out: list[LightConflict] = []
    for topic in topic_order:
        cells = [c for c in matrix if c.topic == topic]
        pro = sorted((c.party for c in cells if c.stance == "support"), key=fold)
        con = sorted((c.party for c in cells if c.stance == "oppose"), key=fold)
        if pro and con:
            out.append(
                LightConflict(
                    topic=topic,
                    supporters=pro,
                    opponents=con,
                    evidence=[
                        r
                        for c in cells
                        if c.stance in ("support", "oppose")
                        for r in c.evidence
                        if r.stance == c.stance
                    ],
                )
            )
    return out


def find_shifts(matrix: Sequence[LightCell]) -> list[LightShift]:
    """Each change of one party's stance on a topic from one article to the next, by date.

    Within an article the party's positions on the topic are summed up first (see
    :func:`~stance.compare.evidence.summarise`); undated articles come after dated ones.
    """
    out: list[LightShift] = []
    for cell in matrix:
        per_article: dict[str, list[LightRef]] = {}
        for r in cell.evidence:
            per_article.setdefault(r.article_id, []).append(r)
        if len(per_article) < 2:
            continue
        steps: list[tuple[Stance, LightRef]] = []
        for rs in per_article.values():
            stance = summarise(r.stance for r in rs)
            steps.append((stance, next((r for r in rs if r.stance == stance), rs[0])))
        steps.sort(key=lambda s: date_order(s[1].date, s[1].article_id))
        for (s0, r0), (s1, r1) in zip(steps, steps[1:], strict=False):
            if s0 != s1:
                out.append(
                    LightShift(
                        party=cell.party,
                        topic=cell.topic,
                        from_stance=s0,
                        to_stance=s1,
                        before=r0,
                        after=r1,
                        dated=bool(parse_date(r0.date) and parse_date(r1.date)),
                    )
                )
    return out


def _name_pattern(parties: Sequence[PartyEntry]) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    """One regex for every name that belongs to exactly one party, and name → party."""
    owners: dict[str, set[str]] = {}
    for p in parties:
        for name in {p.name, *(v.name for v in p.variants)}:
            if len(name) >= _MIN_NAME_CHARS:
                owners.setdefault(name, set()).add(p.name)
    unique = {name: next(iter(o)) for name, o in owners.items() if len(o) == 1}
    if not unique:
        return None, {}
    alternatives = "|".join(re.escape(n) for n in sorted(unique, key=lambda n: (-len(n), n)))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)"), unique


def find_voice_gaps(
    refs: Sequence[LightRef],
    parties: Sequence[PartyEntry],
    listed: Mapping[str, set[str]],
    topic_order: Sequence[str],
) -> list[LightGap]:
    """Parties present on a topic whose own voice on it is never heard.

    Three ways to be present without a voice: named in another party's position or quote on
    the topic; listed among the parties of an article that covers the topic while holding no
    position in that article (and none on the topic anywhere); or holding positions on it
    only as others characterise them.

    Args:
        refs: Every position, under canonical names, grouped by article in article order
            (as :func:`~stance.compare.compare` builds them).
        parties: Canonical parties with their variants (names to look for in quotes).
        listed: Article id → canonical parties listed in that article.
        topic_order: Canonical topics, for ordering.
    """
    cells = _by_cell(refs)
    has_voice = set(cells)
    found: dict[tuple[str, str], tuple[set[GapReason], set[str], dict[int, LightRef]]] = {}

    def add(party: str, topic: str, reason: GapReason, ref: LightRef) -> None:
        reasons, arts, evidence = found.setdefault((party, topic), (set(), set(), {}))
        reasons.add(reason)
        arts.add(ref.article_id)
        evidence.setdefault(id(ref), ref)  # refs are shared objects: identity is enough

    pattern, owner = _name_pattern(parties)
    if pattern is not None:
        for r in refs:
            texts = [r.position, *r.quote_texts()]
            named = {owner[m.group(0)] for t in texts for m in pattern.finditer(t)}
            for party in named - {r.party}:
                if (party, r.topic) not in has_voice:
                    add(party, r.topic, "named_in_evidence", r)

    # One article at a time: a map of every article's positions by topic is megabytes.
    for art, here in groupby(refs, key=lambda r: r.art):
        aid = art.id
        topics_here: dict[str, list[LightRef]] = {}
        for r in here:
            topics_here.setdefault(r.topic, []).append(r)
        # Only parties the article lists but never gives a position: one quoted there on
        # another topic is not thereby "on" this one (that reading floods fine-grained topics).
        speaking = {r.party for rs in topics_here.values() for r in rs}
        for topic, rs in topics_here.items():
            for party in sorted(listed.get(aid, set()) - speaking):
                if (party, topic) not in has_voice:
                    for r in rs:
                        add(party, topic, "listed_without_position", r)

    for (party, topic), rs in cells.items():
        if all(r.attribution == "characterisation" for r in rs):
            for r in rs:
                add(party, topic, "only_characterised", r)

    rank = {t: i for i, t in enumerate(topic_order)}
    out: list[LightGap] = []
    for (party, topic), (reasons, arts, evidence) in sorted(
        found.items(), key=lambda kv: (rank.get(kv[0][1], len(rank)), fold(kv[0][0]))
    ):
        ordered = [g for g in _GAP_ORDER if g in reasons]
        refs_here = list(evidence.values())
        out.append(
            LightGap(
                party=party,
                topic=topic,
                reasons=ordered,
                articles=sorted(arts),
                detail=_gap_detail(party, ordered, refs_here),
                evidence=_chronological(refs_here),
            )
        )
    return out


def _gap_detail(party: str, reasons: list[GapReason], evidence: list[LightRef]) -> str:
    parts: list[str] = []
    if "named_in_evidence" in reasons:
        n = sum(1 for r in evidence if r.party != party)
        parts.append(f"named in others' positions or quotes on this topic ({n})")
    if "listed_without_position" in reasons:
        n = len({r.article_id for r in evidence})
        parts.append(f"listed in articles covering this topic with no position on it ({n})")
    if "only_characterised" in reasons:
        n = sum(1 for r in evidence if r.party == party)
        parts.append(f"its stance is only ever characterised by others ({n})")
    return "; ".join(parts)


def outlet_coverage(
    articles: Sequence[LightArticle], refs: Sequence[LightRef]
) -> list[OutletCoverage]:
    """Per outlet: its articles, whom it gives positions to, on what, and with what stance.

    Articles without an outlet are grouped as ``unknown`` (``known`` false), listed last.
    """
    outlets: dict[str | None, list[str]] = {}
    for art in articles:
        outlets.setdefault(art.outlet, []).append(art.id)
    by_outlet: dict[str | None, list[LightRef]] = {}
    for r in refs:  # one pass, not one per outlet: a large corpus has hundreds of outlets
        by_outlet.setdefault(r.outlet, []).append(r)
    out: list[OutletCoverage] = []
    for outlet, article_ids in outlets.items():
        rs = by_outlet.get(outlet, [])
        stances: dict[Stance, int] = {s: 0 for s in STANCES}
        for r in rs:
            stances[r.stance] += 1
        out.append(
            OutletCoverage(
                outlet=outlet or "unknown",
                known=outlet is not None,
                articles=sorted(article_ids),
                n_positions=len(rs),
                parties=dict(Counter(r.party for r in rs).most_common()),
                topics=dict(Counter(r.topic for r in rs).most_common()),
                stances=stances,
                grounded=sum(1 for r in rs if r.grounding not in (None, "not_found")),
            )
        )
    out.sort(key=lambda c: (not c.known, -len(c.articles), fold(c.outlet)))
    return out
