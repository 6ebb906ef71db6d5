"""The comparison as compact records, for corpora too large to hold as pydantic models.

:func:`stance.compare.compare_light` builds these; :func:`stance.compare.compare` turns them
into the public :class:`~stance.compare.models.Comparison`. The records carry the same
attribute names as the models they stand for (``ref.quote``, ``cell.evidence``,
``shift.before`` ...), so report templates read either, and each has ``model()`` for the
JSON contract. They use ``__slots__`` and share strings (one article record per article,
names interned): a pydantic ``EvidenceRef`` costs several kilobytes, a :class:`LightRef`
a few hundred bytes, which is what keeps a 10k-article run's memory flat (DESIGN.md §8).
"""

from __future__ import annotations

import json
import sys
import tempfile
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from ..schema import Attribution, GroundingStatus, Position, Stance
from .models import (
    Agreement,
    ArticleInfo,
    Comparison,
    Conflict,
    EvidenceRef,
    GapReason,
    MatrixCell,
    MergeRecord,
    OutletCoverage,
    PartyEntry,
    Quote,
    Shift,
    TopicEntry,
    VoiceGap,
)

_STATUS_RANK = {"exact": 0, "normalised": 1, "fuzzy": 2, "not_found": 3}

# The order of Comparison's fields, which is the order of keys in comparison.json.
FIELDS: tuple[str, ...] = tuple(Comparison.model_fields)

RefModel = Callable[["LightRef"], EvidenceRef]


def _best(evidence: tuple[str, ...]) -> int:
    """Index of the best-grounded quote in flat evidence (exact first ... not found), or -1."""
    if not evidence:
        return -1
    return min(range(0, len(evidence), 2), key=lambda i: _STATUS_RANK.get(evidence[i + 1], 9))


def _quotes(evidence: tuple[str, ...]) -> list[Quote]:
    return [
        Quote(text=evidence[i], status=evidence[i + 1])  # type: ignore[arg-type]
        for i in range(0, len(evidence), 2)
    ]


@dataclass(slots=True, eq=False)
class LightArticle:
    """One compared article; every position of it points here instead of copying these."""

    id: str
    title: str | None
    outlet: str | None
    date: str | None
    n_positions: int = 0  # positions that made it into the comparison

    def model(self) -> ArticleInfo:
        return ArticleInfo(
            id=self.id,
            title=self.title,
            outlet=self.outlet,
            date=self.date,
            n_positions=self.n_positions,
        )


class PositionTexts:
    """The long texts of every position (position, via, quotes), kept apart from the records.

    They are most of a comparison's memory (for 10k articles, ~20 MB of small strings), so
    past ``spill_after`` positions they move to an anonymous temporary file and are read
    back one position at a time when a report or ``comparison.json`` needs them. A normal
    corpus never gets there and keeps them in memory. Close it (or the comparison) when done.
    """

    def __init__(self, spill_after: int = 20_000) -> None:
        self.spill_after = spill_after
        self._mem: list[tuple[str, str | None, tuple[str, ...]]] = []
        self._file: IO[bytes] | None = None
        self._ends = array("q")  # on disk, entry i is bytes [_ends[i - 1], _ends[i])
        self._dirty = False
        self._last: tuple[int, tuple[str, str | None, tuple[str, ...]]] | None = None

    def __len__(self) -> int:
        return len(self._mem) if self._file is None else len(self._ends)

    def add(self, position: str, via: str | None, evidence: tuple[str, ...]) -> int:
        """Store one position's texts; returns its number."""
        if self._file is None and len(self._mem) >= self.spill_after:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
            for entry in self._mem:
                self._write(*entry)
            self._mem = []
        if self._file is None:
            self._mem.append((position, via, evidence))
            return len(self._mem) - 1
        self._write(position, via, evidence)
        return len(self._ends) - 1

    def _write(self, position: str, via: str | None, evidence: tuple[str, ...]) -> None:
        assert self._file is not None
        # ASCII JSON: any str round-trips, even one with a lone surrogate.
        data = json.dumps([position, via, *evidence]).encode("ascii") + b"\n"
        self._file.write(data)
        self._ends.append((self._ends[-1] if self._ends else 0) + len(data))
        self._dirty = True

    def get(self, i: int) -> tuple[str, str | None, tuple[str, ...]]:
        """Position ``i``'s (position, via, flat evidence)."""
        if self._file is None:
            return self._mem[i]
        if self._last is not None and self._last[0] == i:
            return self._last[1]  # a template reads a quote, then its status, then ...
        if self._dirty:
            self._file.flush()
            self._dirty = False
        start = self._ends[i - 1] if i else 0
        self._file.seek(start)
        position, via, *evidence = json.loads(self._file.read(self._ends[i] - start))
        entry = (position, via, tuple(evidence))
        self._last = (i, entry)
        return entry

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


@dataclass(slots=True, eq=False)
class LightRef:
    """One position under canonical names: the compact twin of :class:`EvidenceRef`.

    Its texts live in a :class:`PositionTexts` (entry ``i``): the position, ``via`` and the
    quotes flat, text then status, ``(q1, s1, q2, s2, ...)``. The best status is kept here,
    since every outlet count needs it.
    """

    art: LightArticle
    party: str
    party_as_written: str
    topic: str
    topic_as_written: str
    stance: Stance
    attribution: Attribution
    grounding: GroundingStatus | None  # of the best-grounded quote
    texts: PositionTexts
    i: int

    @classmethod
    def of(cls, art: LightArticle, p: Position, texts: PositionTexts) -> LightRef:
        """A position of ``art``, its canonical names still unknown (set to the names as written).

        Names and fixed vocabularies are interned: across thousands of articles the same
        party and topic are written the same way again and again.
        """
        flat: list[str] = []
        for e in p.evidence:
            flat += (e.quote, sys.intern(e.status))
        evidence = tuple(flat)
        best = _best(evidence)
        party, topic = sys.intern(p.party), sys.intern(p.topic)
        return cls(
            art=art,
            party=party,
            party_as_written=party,
            topic=topic,
            topic_as_written=topic,
            stance=sys.intern(p.stance),  # type: ignore[arg-type]
            attribution=sys.intern(p.attribution),  # type: ignore[arg-type]
            grounding=evidence[best + 1] if best >= 0 else None,  # type: ignore[arg-type]
            texts=texts,
            i=texts.add(p.position, p.via, evidence),
        )

    @property
    def position(self) -> str:
        return self.texts.get(self.i)[0]

    @property
    def via(self) -> str | None:
        return self.texts.get(self.i)[1]

    @property
    def evidence(self) -> tuple[str, ...]:
        return self.texts.get(self.i)[2]

    @property
    def article_id(self) -> str:
        return self.art.id

    @property
    def date(self) -> str | None:
        return self.art.date or None

    @property
    def outlet(self) -> str | None:
        return self.art.outlet

    @property
    def title(self) -> str | None:
        return self.art.title

    @property
    def quotes(self) -> list[Quote]:
        return _quotes(self.evidence)

    def quote_texts(self) -> tuple[str, ...]:
        return self.evidence[0::2]

    @property
    def quote(self) -> str | None:
        evidence = self.evidence
        best = _best(evidence)
        return evidence[best] if best >= 0 else None

    def model(self) -> EvidenceRef:
        position, via, evidence = self.texts.get(self.i)
        best = _best(evidence)
        return EvidenceRef(
            article_id=self.article_id,
            date=self.date,
            outlet=self.outlet,
            title=self.title,
            party=self.party,
            party_as_written=self.party_as_written,
            topic=self.topic,
            topic_as_written=self.topic_as_written,
            stance=self.stance,
            attribution=self.attribution,
            position=position,
            via=via,
            quote=evidence[best] if best >= 0 else None,
            grounding=self.grounding,
            quotes=_quotes(evidence),
        )


def _refs(refs: list[LightRef], conv: RefModel | None, keep: bool = True) -> list[EvidenceRef]:
    if not keep:
        return []
    return [conv(r) if conv else r.model() for r in refs]


@dataclass(slots=True, eq=False)
class LightCell:
    party: str
    topic: str
    stance: Stance
    counts: dict[Stance, int]
    evidence: list[LightRef]  # in date order

    @property
    def n(self) -> int:
        return len(self.evidence)

    @property
    def articles(self) -> list[str]:
        return sorted({r.article_id for r in self.evidence})

    def model(self, conv: RefModel | None = None, *, with_evidence: bool = True) -> MatrixCell:
        return MatrixCell(
            party=self.party,
            topic=self.topic,
            stance=self.stance,
            counts=self.counts,
            n=self.n,
            articles=self.articles,
            evidence=_refs(self.evidence, conv, with_evidence),
        )


@dataclass(slots=True, eq=False)
class LightAgreement:
    topic: str
    stance: Stance
    parties: list[str]
    evidence: list[LightRef]

    def model(self, conv: RefModel | None = None, *, with_evidence: bool = True) -> Agreement:
        return Agreement(
            topic=self.topic,
            stance=self.stance,
            parties=self.parties,
            evidence=_refs(self.evidence, conv, with_evidence),
        )


@dataclass(slots=True, eq=False)
class LightConflict:
    topic: str
    supporters: list[str]
    opponents: list[str]
    evidence: list[LightRef]

    @property
    def parties(self) -> list[str]:
        return self.supporters + self.opponents

    def model(self, conv: RefModel | None = None, *, with_evidence: bool = True) -> Conflict:
        return Conflict(
            topic=self.topic,
            parties=self.parties,
            supporters=self.supporters,
            opponents=self.opponents,
            evidence=_refs(self.evidence, conv, with_evidence),
        )


@dataclass(slots=True, eq=False)
class LightShift:
    party: str
    topic: str
    from_stance: Stance
    to_stance: Stance
    before: LightRef
    after: LightRef
    dated: bool

    @property
    def parties(self) -> list[str]:
        return [self.party]

    @property
    def evidence(self) -> list[LightRef]:
        return [self.before, self.after]

    def model(self, conv: RefModel | None = None, *, with_evidence: bool = True) -> Shift:
        before, after = _refs([self.before, self.after], conv)
        return Shift(
            party=self.party,
            topic=self.topic,
            parties=self.parties,
            from_stance=self.from_stance,
            to_stance=self.to_stance,
            before=before,
            after=after,
            dated=self.dated,
            evidence=[before, after] if with_evidence else [],
        )


@dataclass(slots=True, eq=False)
class LightGap:
    party: str
    topic: str
    reasons: list[GapReason]
    articles: list[str]
    detail: str
    evidence: list[LightRef]

    @property
    def parties(self) -> list[str]:
        return [self.party]

    def model(self, conv: RefModel | None = None, *, with_evidence: bool = True) -> VoiceGap:
        return VoiceGap(
            party=self.party,
            topic=self.topic,
            parties=self.parties,
            reasons=self.reasons,
            articles=self.articles,
            detail=self.detail,
            evidence=_refs(self.evidence, conv, with_evidence),
        )


@dataclass(slots=True)
class CorpusStats:
    """What the run summary needs from every article read (duplicates included)."""

    n_articles: int = 0
    n_positions: int = 0
    n_grounded: int = 0
    models: set[str] = field(default_factory=set)


@dataclass(eq=False)
class LightComparison:
    """Everything :class:`~stance.compare.models.Comparison` holds, as compact records.

    Parties, topics, coverage and merges grow with the number of distinct names, not with
    the corpus, so they stay pydantic models.
    """

    articles: list[LightArticle]
    parties: list[PartyEntry]
    topics: list[TopicEntry]
    matrix: list[LightCell]
    agreements: list[LightAgreement]
    conflicts: list[LightConflict]
    shifts: list[LightShift]
    voice_gaps: list[LightGap]
    coverage: list[OutletCoverage]
    merges: list[MergeRecord]
    warnings: list[str]
    stats: CorpusStats = field(default_factory=CorpusStats)
    texts: PositionTexts = field(default_factory=PositionTexts)

    def close(self) -> None:
        """Release the positions' texts (a temporary file for a large corpus)."""
        self.texts.close()

    def __enter__(self) -> LightComparison:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def to_model(self) -> Comparison:
        """The pydantic :class:`Comparison`; a position shared by several findings is one object."""
        memo: dict[int, EvidenceRef] = {}

        def conv(r: LightRef) -> EvidenceRef:
            m = memo.get(id(r))
            if m is None:
                m = memo[id(r)] = r.model()
            return m

        return Comparison(
            articles=[a.model() for a in self.articles],
            parties=self.parties,
            topics=self.topics,
            matrix=[c.model(conv) for c in self.matrix],
            agreements=[x.model(conv) for x in self.agreements],
            conflicts=[x.model(conv) for x in self.conflicts],
            shifts=[s.model(conv) for s in self.shifts],
            voice_gaps=[g.model(conv) for g in self.voice_gaps],
            coverage=self.coverage,
            merges=self.merges,
            warnings=self.warnings,
        )
