"""The comparison's output types (DESIGN.md §5, `comparison.json` in §10).

Every finding names its parties and topic and carries the evidence behind it, one
:class:`EvidenceRef` per position: article id, date, outlet, stance and the best quote.
Names are canonical; :class:`PartyEntry` / :class:`TopicEntry` list the variants merged
into each, per article, and :class:`MergeRecord` says why each merge happened.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..schema import Attribution, GroundingStatus, PartyType, Stance

NameKind = Literal["party", "topic"]
MergeSource = Literal["rules", "model", "user"]
GapReason = Literal["named_in_evidence", "listed_without_position", "only_characterised"]


class Quote(BaseModel):
    text: str
    status: GroundingStatus


class EvidenceRef(BaseModel):
    """One position behind a finding, with where and when it was published."""

    article_id: str
    date: str | None = None
    outlet: str | None = None
    title: str | None = None
    party: str = Field(description="Canonical party name.")
    party_as_written: str = Field(description="The party's name as the article's position gave it.")
    topic: str = Field(description="Canonical topic.")
    topic_as_written: str
    stance: Stance
    attribution: Attribution
    position: str
    via: str | None = None
    quote: str | None = Field(default=None, description="Best-grounded evidence quote, if any.")
    grounding: GroundingStatus | None = None
    quotes: list[Quote] = Field(default_factory=list)


class Variant(BaseModel):
    """A name as written, and the articles that wrote it so."""

    name: str
    articles: list[str]


class PartyEntry(BaseModel):
    name: str
    type: PartyType = "other"
    roles: list[str] = Field(default_factory=list)
    variants: list[Variant] = Field(default_factory=list)
    articles: list[str] = Field(default_factory=list)
    n_positions: int = 0


class TopicEntry(BaseModel):
    name: str
    variants: list[Variant] = Field(default_factory=list)
    articles: list[str] = Field(default_factory=list)
    n_positions: int = 0


class MatrixCell(BaseModel):
    """One party's stance on one topic across the corpus.

    ``stance`` sums the cell up: the one stance all positions share, ``mixed`` when both
    support and oppose occur (or any position is itself mixed), ``neutral`` only when
    nothing else does. ``counts`` keeps the detail.
    """

    party: str
    topic: str
    stance: Stance
    counts: dict[Stance, int]
    n: int
    articles: list[str]
    evidence: list[EvidenceRef]


class Agreement(BaseModel):
    topic: str
    stance: Stance
    parties: list[str]
    evidence: list[EvidenceRef]


class Conflict(BaseModel):
    topic: str
    parties: list[str]
    supporters: list[str]
    opponents: list[str]
    evidence: list[EvidenceRef]


class Shift(BaseModel):
    """One party's stance on a topic changed from one article to the next (by date)."""

    party: str
    topic: str
    parties: list[str]
    from_stance: Stance
    to_stance: Stance
    before: EvidenceRef
    after: EvidenceRef
    dated: bool = Field(description="False when either article has no usable date.")
    evidence: list[EvidenceRef]


class VoiceGap(BaseModel):
    """A party present on a topic whose own voice on it is never heard."""

    party: str
    topic: str
    parties: list[str]
    reasons: list[GapReason]
    articles: list[str]
    detail: str
    evidence: list[EvidenceRef]


class OutletCoverage(BaseModel):
    outlet: str
    known: bool = Field(description="False for the bucket of articles with no outlet.")
    articles: list[str]
    n_positions: int
    parties: dict[str, int] = Field(description="Canonical party -> positions in this outlet.")
    topics: dict[str, int]
    stances: dict[Stance, int]
    grounded: int = Field(description="Positions with at least one grounded quote.")


class MergeRecord(BaseModel):
    """One line of ``merge_log.jsonl``: a name shown under another name, and why."""

    model_config = ConfigDict(
        serialize_by_alias=True, validate_by_name=True, validate_by_alias=True
    )

    from_: str = Field(alias="from")
    to: str
    kind: NameKind
    rule: str = Field(
        description="alias, case, honorific, initials, title, surname, metonym, normalise, "
        "similarity, model or user_alias."
    )
    source: MergeSource
    articles: list[str]
    detail: str


class ArticleInfo(BaseModel):
    id: str
    title: str | None = None
    outlet: str | None = None
    date: str | None = None
    n_positions: int = 0


class Comparison(BaseModel):
    """Everything stance says across a set of articles."""

    articles: list[ArticleInfo] = Field(default_factory=list)
    parties: list[PartyEntry] = Field(default_factory=list)
    topics: list[TopicEntry] = Field(default_factory=list)
    matrix: list[MatrixCell] = Field(default_factory=list)
    agreements: list[Agreement] = Field(default_factory=list)
    conflicts: list[Conflict] = Field(default_factory=list)
    shifts: list[Shift] = Field(default_factory=list)
    voice_gaps: list[VoiceGap] = Field(default_factory=list)
    coverage: list[OutletCoverage] = Field(default_factory=list)
    merges: list[MergeRecord] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    def cell(self, party: str, topic: str) -> MatrixCell | None:
        """The matrix cell for a canonical party and topic, or None."""
        for c in self.matrix:
            if c.party == party and c.topic == topic:
                return c
        return None

    def canonical_party(self, article_id: str, name: str) -> str | None:
        """The canonical name for ``name`` as written in article ``article_id``."""
        for p in self.parties:
            for v in p.variants:
                if v.name == name and article_id in v.articles:
                    return p.name
        return None

    def canonical_topic(self, article_id: str, topic: str) -> str | None:
        """The canonical topic for ``topic`` as written in article ``article_id``."""
        for t in self.topics:
            for v in t.variants:
                if v.name == topic and article_id in v.articles:
                    return t.name
        return None
