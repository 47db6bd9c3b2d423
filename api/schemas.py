"""Request and response models of the HTTP API (pydantic lives here, not in the core)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "GroupOut", "HealthOut", "MatchIn", "MatchOut", "ProfileIn", "ProfileOut", "ProfileSummary",
    "SuggestionOut", "WorkIn",
]

Id = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


class ProfileSummary(BaseModel):
    id: str
    name: str
    kind: str
    country: str


class MatchIn(_In):
    profile_id: str | None = Field(None, min_length=1, max_length=128, description="the requester's profile id")
    text: str | None = Field(None, min_length=1, max_length=20_000, description="a project idea in free text")
    k: int = Field(10, ge=1, le=100, description="number of suggestions; clamped to the eligible pool")
    countries: list[str] = Field(default_factory=list, max_length=300, description="only these countries/groups")
    exclude_countries: list[str] = Field(default_factory=list, max_length=300)
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
    score: float
    relevance: float
    lexical: float
    explanation: ExplanationOut


class MatchOut(BaseModel):
    suggestions: list[SuggestionOut]
    eligible_note: str | None = None


class HealthOut(BaseModel):
    status: str
    profiles: int
    model: str


class GroupOut(BaseModel):
    name: str
    title: str
    members: list[str]
    source: str
    as_of: str
