"""Build validated `Profile` and `Work` objects quickly from values a source reader has cleaned.

`matcher.domain.profiles.parse_profile` is the contract: what it accepts is a profile. Source readers
that turn one file into hundreds of thousands of profiles (an OpenAlex works dump, a full CORDIS
export) cannot afford to build a dict per profile and validate it field by field, so they use
`make_work` and `make_profile` here instead. These check the same rules on values that are
already of the right type, and on any failure hand the record to `parse_profile`, so that the
error (field and reason) is exactly the one the interchange format would give. The tests check
that every profile built here round-trips through `parse_profile` unchanged.

Source data is trimmed rather than rejected where that loses nothing a user would miss: titles
and abstracts are cut at a word boundary to the format's limits, a publication year outside
1900-2100 is dropped, and a work's co-author list is cut to `MAX_COAUTHORS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from operator import attrgetter
from typing import Any

from matcher.domain.countries import normalise_country
from matcher.domain.errors import UnknownCountry
from matcher.domain.profiles import (
    MAX_TEXT,
    MAX_WORKS,
    PROFILE_ID,
    ROLES,
    Profile,
    Work,
    parse_profile,
    valid_orcid,
)

__all__ = [
    "MAX_COAUTHORS", "MAX_TITLE", "checked_work", "clip", "make_profile", "make_work", "most_recent", "valid_year",
]

MAX_TITLE = 1000
MAX_COAUTHORS = 200
_WORK_ID = attrgetter("id")
_new = object.__new__
# The slots' own setters, in field order (the test of `checked_work` checks the order).
_work_id, _work_title, _work_abstract, _work_year, _work_coauthors = (
    getattr(Work, f.name).__set__ for f in fields(Work)
)
(_profile_id, _profile_name, _profile_country, _profile_kind, _profile_institution, _profile_keywords,
 _profile_works, _profile_capacity, _profile_orcid, _profile_openalex, _profile_private, _profile_role,
 _profile_sme) = (
    getattr(Profile, f.name).__set__ for f in fields(Profile)
)


def clip(text: str, limit: int) -> str:
    """`text` stripped, and cut at the last space before `limit` characters if it is longer."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit].rstrip()


def valid_year(value: Any) -> int | None:
    """An integer year the format accepts (1900-2100), or None for anything else."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1900 <= value <= 2100:
        return value
    return None


def checked_work(work_id: str, title: str, abstract: str, year: int | None, coauthors: tuple[str, ...]) -> Work:
    """``Work(work_id, title, abstract, year, coauthors)`` of values that are already valid
    (as `make_work` returns them), 2x faster: the frozen dataclass's ``__init__`` sets each
    field through ``object.__setattr__``, this through the slot itself, and a works file makes
    one `Work` per author of every work. `make_profile` builds its `Profile` the same way; a
    test checks both against the dataclasses' own constructors, field for field."""
    work = _new(Work)
    _work_id(work, work_id)
    _work_title(work, title)
    _work_abstract(work, abstract)
    _work_year(work, year)
    _work_coauthors(work, coauthors)
    return work


def make_work(
    work_id: str, title: str, abstract: str = "", year: Any = None, coauthors: Iterable[str] = ()
) -> Work | None:
    """A valid `Work`, trimming what is too long; None when there is no title."""
    title = clip(title, MAX_TITLE) if title else ""
    if not title:
        return None
    people = tuple(dict.fromkeys(c.strip() for c in coauthors if c and c.strip()))[:MAX_COAUTHORS]
    return Work(work_id, title, clip(abstract, MAX_TEXT) if abstract else "", valid_year(year), people)


def most_recent(works: Sequence[Work], limit: int = MAX_WORKS) -> list[Work]:
    """The `limit` most recent works (undated ones last), in their original order."""
    if len(works) <= limit:
        return list(works)
    ranked = sorted(range(len(works)), key=lambda i: works[i].year or 0, reverse=True)[:limit]
    return [works[i] for i in sorted(ranked)]


def _as_record(values: dict[str, Any]) -> dict[str, Any]:
    record = {k: v for k, v in values.items() if v not in (None, "", ())}
    record["keywords"] = list(values["keywords"])
    record["works"] = [
        {"id": w.id, "title": w.title, "abstract": w.abstract, "year": w.year, "coauthors": list(w.coauthors)}
        for w in values["works"]
    ]
    return record


def make_profile(
    *,
    id: str,
    name: str,
    country: str,
    kind: str = "researcher",
    institution: str = "",
    keywords: Iterable[str] = (),
    works: Sequence[Work] = (),
    capacity: int | None = None,
    orcid: str | None = None,
    openalex: str | None = None,
    role: str | None = None,
    sme: bool | str | None = None,
    distinct_works: bool = False,
) -> Profile:
    """A `Profile` that `parse_profile` would accept; raises its `InvalidProfile` otherwise.
    `distinct_works`: the caller made sure that no two works have the same id (that check is
    then skipped: a reader that gathers works by id makes thousands of profiles a second)."""
    name, institution = (name or "").strip(), (institution or "").strip()
    if not isinstance(keywords, (list, tuple)):  # noqa: UP038 - the tuple form is the faster check
        keywords = list(keywords)
    try:
        kw = tuple(dict.fromkeys(map(str.strip, keywords)))
        texts = True
    except TypeError:  # not all strings: let parse_profile say so
        kw, texts = tuple(keywords), False
    if "" in kw:
        kw = tuple(k for k in kw if k)
    works = tuple(works)
    ok = (
        texts
        and 0 < len(name) <= 300
        and len(institution) <= 500
        and len(kw) <= 200
        and len(works) <= MAX_WORKS
        and (works or kw)
        and (kind == "researcher" or kind == "organisation")
        and (capacity is None or 0 <= capacity <= 1000)
        and (openalex is None or 0 < len(openalex) <= 100)
        and PROFILE_ID.fullmatch(id or "") is not None
        and (orcid is None or valid_orcid(orcid))
        and (role is None or role in ROLES)
        and (sme is None or isinstance(sme, bool))
        and (distinct_works or len(works) < 2 or len(set(map(_WORK_ID, works))) == len(works))
    )
    if ok:
        try:
            code = normalise_country(country)
        except UnknownCountry:
            ok = False
    if not ok:
        values = {
            "id": id, "name": name, "kind": kind, "country": country, "institution": institution,
            "keywords": kw, "works": works, "capacity": capacity, "orcid": orcid, "openalex": openalex,
            "role": role, "sme": sme,
        }
        return parse_profile(_as_record(values))  # raises the precise InvalidProfile
    profile = _new(Profile)  # as Profile(...), faster: see `checked_work`
    _profile_id(profile, id)
    _profile_name(profile, name)
    _profile_country(profile, code)
    _profile_kind(profile, kind)
    _profile_institution(profile, institution)
    _profile_keywords(profile, kw)
    _profile_works(profile, works)
    _profile_capacity(profile, capacity)
    _profile_orcid(profile, orcid)
    _profile_openalex(profile, openalex)
    _profile_private(profile, {})
    _profile_role(profile, role)
    _profile_sme(profile, sme)
    return profile
