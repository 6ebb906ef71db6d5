"""The output contract (DESIGN.md §4) and the shape the model is asked to return.

Two families of types live here:

* ``Extraction`` and its parts are what a backend returns for one article: plain strings,
  evidence as bare quotes. The JSON schema sent to the model is generated from these, so
  every field is required (nullable where optional) and no extra keys are allowed, which is
  what OpenAI's strict ``json_schema`` mode demands.
* ``ArticleAnalysis`` and its parts are what stance writes: the extraction after evidence
  has been located in the article text, plus the article's metadata and provenance.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1"

Stance = Literal["support", "oppose", "mixed", "neutral"]
Attribution = Literal["direct_quote", "reported_speech", "characterisation", "action"]
PartyType = Literal["person", "organisation", "country", "group", "other"]
GroundingStatus = Literal["exact", "normalised", "fuzzy", "not_found"]

STANCES: tuple[Stance, ...] = ("support", "oppose", "mixed", "neutral")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- model output


class ExtractedParty(_Strict):
    name: str = Field(description="Fullest name the article gives for the party.")
    type: PartyType = Field(description="person, organisation, country, group or other.")
    role: str | None = Field(description="Role or affiliation stated in the article, or null.")
    aliases: list[str] = Field(
        description="Other names the article uses for this same party (surname, title, metonym)."
    )


class ExtractedPosition(_Strict):
    party: str = Field(description="Name of the party holding the position, as in `parties`.")
    topic: str = Field(description="Short neutral noun phrase naming the issue.")
    position: str = Field(description="The party's position in one neutral sentence.")
    stance: Stance = Field(description="The party's stance toward the topic as phrased.")
    attribution: Attribution = Field(
        description="How the position reached the article: direct_quote, reported_speech, "
        "characterisation (by the reporter or a third party) or action."
    )
    via: str | None = Field(
        description="Chain of sourcing if not first-hand, e.g. 'WSJ, citing officials'; else null."
    )
    evidence: list[str] = Field(
        description="One or more quotes copied verbatim from the article that show the position."
    )


class Extraction(_Strict):
    summary: str = Field(description="A neutral summary of the article in 2-4 sentences.")
    key_points: list[str] = Field(description="3-6 short key points.")
    parties: list[ExtractedParty] = Field(
        description="Parties that state or are reported to hold a position."
    )
    positions: list[ExtractedPosition] = Field(
        description="One row per party and topic; parties only mentioned get no row."
    )


# --------------------------------------------------------------------------- stance output


class ArticleRef(BaseModel):
    """Who and where the article came from."""

    id: str
    title: str | None = None
    source: str | None = Field(default=None, description="Outlet or source name.")
    published: str | None = Field(default=None, description="Publication date, ISO 8601.")
    url: str | None = None
    content_hash: str = Field(description="sha256 of the article body text.")
    path: str | None = Field(default=None, description="File the article was read from.")


class Summary(BaseModel):
    text: str
    key_points: list[str] = Field(default_factory=list)


class Party(BaseModel):
    name: str
    type: PartyType = "other"
    role: str | None = None
    aliases: list[str] = Field(default_factory=list)


class Evidence(BaseModel):
    """One quote and where it sits in the article body."""

    quote: str
    status: GroundingStatus
    start: int | None = Field(default=None, description="Character offset in the body text.")
    end: int | None = None
    score: float | None = Field(default=None, description="Similarity 0-100 for fuzzy matches.")


class Position(BaseModel):
    party: str
    topic: str
    position: str
    stance: Stance
    attribution: Attribution = "reported_speech"
    via: str | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    cue: str | None = Field(default=None, description="Rule cue behind the stance (baseline).")

    @property
    def grounded(self) -> bool:
        return any(e.status != "not_found" for e in self.evidence)


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class Provenance(BaseModel):
    model: str
    backend: str = Field(description="baseline, openai, or local.")
    endpoint_host: str | None = Field(default=None, description="Host only, never a key or path.")
    prompt_hash: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    usage: Usage = Field(default_factory=Usage)
    calls: int = 0
    attempts: int = 0
    chunks: int = 1
    latency_s: float = 0.0
    cached: bool = False
    stance_version: str
    schema_version: str = SCHEMA_VERSION


class ArticleAnalysis(BaseModel):
    """Everything stance says about one article."""

    article: ArticleRef
    summary: Summary
    parties: list[Party] = Field(default_factory=list)
    positions: list[Position] = Field(default_factory=list)
    provenance: Provenance
    warnings: list[str] = Field(default_factory=list)


class ArticleFailure(BaseModel):
    """A per-article error record: the run goes on without this article."""

    article_id: str | None
    path: str | None
    stage: Literal["load", "prepare", "model", "validate", "write"]
    error: str = Field(description="Exception class name.")
    message: str
    attempts: int = 0
    last_raw: str | None = Field(default=None, description="Last raw model output, if any.")
