"""Request and response models of the HTTP API (pydantic lives here, not in the core)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from matcher.domain.countries import expand_countries
from matcher.domain.errors import UnknownCountry

__all__ = [
    "BatchIn", "BatchJobOut", "ConsortiumIn", "ConsortiumOut", "ErrorOut", "GroupOut", "HealthOut", "KeyIn",
    "KeyOut", "MatchIn", "MatchOut", "ProfileIn", "ProfileOut", "ProfileSummary", "SuggestionOut", "WorkIn",
]

Id = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")


def _country(value: str) -> str:
    if not value.strip():
        raise ValueError("a country or group cannot be blank")
    try:
        codes = expand_countries([value])
    except UnknownCountry as err:
        raise ValueError(str(err)) from None
    if not codes:
        raise ValueError("names no country or group")
    return value


Country = Annotated[str, StringConstraints(max_length=200), AfterValidator(_country)]
"""A country (ISO 3166-1 code or name), a group name, or several of them separated by commas."""


def _valid_unicode(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _In(BaseModel):
    """Every request body: unknown fields rejected; strict types (`true` is not 1, `"5"` is not 5);
    numbers finite (no NaN or Infinity); text valid Unicode (no lone surrogates)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _unicode_text(cls, value: Any) -> Any:
        items = value if isinstance(value, list) else (value,)
        if any(isinstance(item, str) and not _valid_unicode(item) for item in items):
            raise ValueError("must be valid Unicode text; it holds a lone surrogate (U+D800 to U+DFFF)")
        return value


class WorkIn(_In):
    id: str | None = Field(None, max_length=200)
    title: str = Field(min_length=1, max_length=1000)
    abstract: str = Field("", max_length=20_000)
    year: int | None = Field(None, ge=1900, le=2100)
    coauthors: list[str] = Field(default_factory=list, max_length=200)


class ProfileIn(_In):
    id: str = Id
    name: str = Field(min_length=1, max_length=300)
    kind: Literal["researcher", "organisation"] = "researcher"
    country: str = Field(min_length=2, max_length=100, description="ISO 3166-1 code or country name")
    institution: str = Field("", max_length=500)
    keywords: list[str] = Field(default_factory=list, max_length=200)
    works: list[WorkIn] = Field(default_factory=list, max_length=500)
    capacity: int | None = Field(None, ge=0, le=1000)
    orcid: str | None = Field(None, max_length=40)
    openalex: str | None = Field(None, max_length=100)
    role: str | None = Field(None, max_length=100, description="an organisation's role, a CORDIS activityType code: "
                             "HES, REC, PRC, PUB or OTH (or its long name)")
    sme: bool | None = Field(None, description="a small or medium-sized enterprise")
    career_stage: str | None = Field(None, max_length=200, description="private: stored, never returned")
    gender: str | None = Field(None, max_length=200, description="private: stored, never returned")
    email: str | None = Field(None, max_length=200, description="private: stored, never returned")


class WorkOut(BaseModel):
    id: str
    title: str
    abstract: str
    year: int | None
    coauthors: list[str]


class ProfileOut(BaseModel):
    id: str
    name: str
    kind: str
    country: str
    institution: str
    keywords: list[str]
    works: list[WorkOut]
    capacity: int | None
    orcid: str | None
    openalex: str | None
    role: str | None = None
    sme: bool | None = None
    private: dict[str, str] | None = Field(
        None, description="career_stage, gender, email: only for admin keys and the profile's owner"
    )


class ProfileSummary(BaseModel):
    id: str
    name: str
    kind: str
    country: str


class MatchIn(_In):
    profile_id: str | None = Field(None, min_length=1, max_length=128, description="the requester's profile id")
    text: str | None = Field(None, min_length=1, max_length=20_000, description="a project idea in free text")
    k: int = Field(10, ge=1, le=100, description="number of suggestions; clamped to the eligible pool")
    countries: list[Country] = Field(default_factory=list, max_length=300, description="only these countries/groups")
    exclude_countries: list[Country] = Field(default_factory=list, max_length=300)
    exclude_own_country: bool = True
    exclude_coauthors: bool = False
    exclude_same_institution: bool = False
    kinds: list[Literal["researcher", "organisation"]] = Field(default_factory=list, max_length=2)
    diversity: float | None = Field(None, ge=0.0, le=1.0, description="0 = pure relevance; default 0.1")

    @model_validator(mode="after")
    def _needs_query(self) -> MatchIn:
        if self.profile_id is None and (self.text is None or not self.text.strip()):
            raise ValueError("give profile_id, text, or both")
        return self


class MatchedWorkOut(BaseModel):
    work_id: str
    title: str
    similarity: float
    matched: str


class AspectOut(BaseModel):
    aspect: str
    similarity: float
    work_title: str
    requester_similarity: float | None
    complements: bool


class ExplanationOut(BaseModel):
    summary: str
    matched_works: list[MatchedWorkOut]
    aspects: list[AspectOut]
    shared_terms: list[str]
    complementary_terms: list[str]
    rule: str
    coauthor: bool
    same_institution: bool


class SuggestionOut(BaseModel):
    id: str
    name: str
    country: str
    institution: str
    kind: str
    score: float = Field(description="the ranking score the list is ordered by (relevance, key terms, activity)")
    relevance: float
    lexical: float
    explanation: ExplanationOut
    strength: float = Field(description="how close, 0-1, comparable across queries: the share of real consortium "
                                        "partners in the evaluation data that were less close")
    strength_label: Literal["strong", "good", "weak"] = Field(description="strong from 0.75, good from 0.5")
    rank_note: str | None = Field(None, description="why this suggestion is out of order by score or strength")
    role: Literal["HES", "REC", "PRC", "PUB", "OTH"] | None = Field(
        None, description="an organisation's role as its profile gives it (CORDIS activityType): higher education, "
                          "research organisation, company, public body, other")
    sme: bool | None = Field(None, description="a small or medium-sized enterprise, as the profile says; null when "
                                               "it does not say")


class MatchOut(BaseModel):
    suggestions: list[SuggestionOut]
    eligible_note: str | None = None
    note: str | None = Field(None, description="set when even the closest suggestion is weak: no close match")


class HealthOut(BaseModel):
    status: str  # ok, or degraded (then `reason` says why: writes fail, matches go on)
    reason: str | None = None
    profiles: int
    model: str
    snapshot: str | None = None  # the matching state's current snapshot (see `matcher state status`)
    generation: int = 0  # the store generation the matching state reflects
    delta_rows: int = 0  # rows written since the snapshot, not yet merged into it


class GroupOut(BaseModel):
    name: str
    title: str
    members: list[str]
    source: str
    as_of: str


class AspectIn(_In):
    text: str = Field(min_length=1, max_length=2000)
    weight: float = Field(1.0, ge=0.0, le=1000.0)


class ConsortiumIn(_In):
    call_text: str | None = Field(None, min_length=1, max_length=20_000, description="the call; split into aspects")
    aspects: list[AspectIn] = Field(default_factory=list, max_length=30, description="instead of call_text")
    size: int | None = Field(None, ge=1, le=30, description="sets both min_size and max_size")
    min_size: int | None = Field(None, ge=1, le=30)
    max_size: int | None = Field(None, ge=1, le=30)
    min_countries: int = Field(1, ge=1, le=30)
    max_per_country: int | None = Field(None, ge=1, le=30)
    group_min: list[str] = Field(default_factory=list, max_length=10, description="e.g. ['widening:1', 'DE,FR:2']")
    must_include: list[str] = Field(default_factory=list, max_length=30)
    exclude: list[str] = Field(default_factory=list, max_length=1000)
    pool_countries: list[Country] = Field(default_factory=list, max_length=300)
    kinds: list[Literal["researcher", "organisation"]] = Field(default_factory=list, max_length=2)
    exclude_conflicts: bool = True
    teams: int = Field(3, ge=1, le=10)
    min_difference: int = Field(2, ge=1, le=30, description="alternative teams differ by at least this many members")
    exact: bool = False
    gap_threshold: float = Field(0.35, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _needs_call(self) -> ConsortiumIn:
        if not self.call_text and not self.aspects:
            raise ValueError("give call_text or aspects")
        if self.size is not None and any(b not in (None, self.size) for b in (self.min_size, self.max_size)):
            raise ValueError("size sets both min_size and max_size; give size alone, or the bounds")
        if self.min_size is not None and self.max_size is not None and self.min_size > self.max_size:
            raise ValueError("min_size is larger than max_size")
        return self


class AspectOutC(BaseModel):
    text: str
    weight: float


class MemberOut(BaseModel):
    id: str
    name: str
    country: str
    institution: str
    explanation: str
    covers: list[dict[str, str | float]]


class TeamOut(BaseModel):
    members: list[MemberOut]
    score: float
    coverage: list[dict[str, str | float]]
    gaps: list[str]
    countries: list[str]


class ConsortiumOut(BaseModel):
    aspects: list[AspectOutC]
    teams: list[TeamOut]
    method: str
    candidates_considered: int
    notes: list[str]


class KeyIn(_In):
    scope: Literal["read", "agency", "admin", "owner"]
    owner: str | None = Field(None, max_length=128, description="the profile an owner key may edit")
    label: str = Field("", max_length=200)


class KeyOut(BaseModel):
    key_id: str
    scope: str
    owner: str | None
    label: str
    key: str | None = Field(None, description="the secret, shown once, at creation")


class ErrorOut(BaseModel):
    """Every 4xx/5xx body: `detail` says what is wrong (a list for request validation errors)."""

    detail: str | list[dict[str, Any]]
    error: str | None = None
    field: str | None = None


class BatchIn(_In):
    mode: Literal["topk", "pairs", "bipartite"] = "topk"
    k: int = Field(5, ge=1, le=100)
    capacity: int | None = Field(None, ge=1, le=100)
    pool_ids: list[str] = Field(default_factory=list, max_length=200_000, description="default: the whole store")
    pool_countries: list[Country] = Field(default_factory=list, max_length=300)
    exclude_countries: list[Country] = Field(default_factory=list, max_length=300)
    sides: list[Country] = Field(default_factory=list, max_length=2, description="bipartite: two country lists/groups")
    cross_border: bool = True
    exclude_conflicts: bool = True
    min_score: float | None = Field(None, ge=0.0, le=1.0, description="pairs and bipartite: pair only partners of "
                                    "at least this strength (0-1; strong from 0.75, good from 0.5); the others are "
                                    "listed as unmatched with the reason")

    fair: bool = Field(False, description="topk: spread exposure: nobody is suggested more than exposure_cap times "
                       "(default 1.5 x the average) unless a list cannot be filled otherwise; each list is filled "
                       "from the applicant's 4k best candidates")
    exposure_cap: int | None = Field(None, ge=1, le=100_000, description="topk: suggestions per person at most "
                                     "(implies fair)")
    prefer_countries: list[Country] = Field(default_factory=list, max_length=300, description="topk: prefer partners "
                                            "from these countries or groups, e.g. widening, low-income (implies fair)")
    prefer_weight: float = Field(0.05, ge=0.0, le=1.0, description="the score bonus of preferred countries when "
                                 "lists are filled (reported scores stay the plain similarities)")

    @model_validator(mode="after")
    def _min_score_mode(self) -> BatchIn:
        if self.min_score is not None and self.mode == "topk":
            raise ValueError("min_score applies to the pairs and bipartite modes")
        if (self.fair or self.exposure_cap is not None or self.prefer_countries) and self.mode != "topk":
            raise ValueError("the fairness option (fair, exposure_cap, prefer_countries) applies to the topk mode")
        return self


class BatchJobOut(BaseModel):
    id: str
    status: str
    progress: dict[str, int]
    summary: str | None = None
    error: str | None = None
    created_at: str | None = None
    finished_at: str | None = None
