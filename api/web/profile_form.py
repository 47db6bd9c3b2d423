"""The profile editing form: a stored profile as form values, and the submitted form as a profile,
checked by the API's own rules (`api.schemas.ProfileIn`, then `parse_profile`), each problem
named by the form field it belongs to."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from api.schemas import ProfileIn
from api.web.forms import FormError, flag, number, text
from matcher.domain.errors import InvalidProfile
from matcher.domain.profiles import PRIVATE_FIELDS, Profile, parse_profile

__all__ = ["LABELS", "as_form", "from_form"]

LABELS = {
    "name": "Name", "kind": "Kind", "country": "Country", "institution": "Institution", "keywords": "Keywords",
    "capacity": "Partners wanted", "orcid": "ORCID iD", "openalex": "OpenAlex id", "career_stage": "Career stage",
    "gender": "Gender", "email": "E-mail", "title": "Title", "abstract": "Summary", "year": "Year",
    "coauthors": "Co-authors", "works": "Works", "role": "Kind of organisation", "sme": "SME",
}
_WORK_FIELD = re.compile(r"^work-(\d{1,4})-title$")
_DOMAIN_WORK = re.compile(r"^works\[(\d+)\]\.(\w+)$")


def as_form(profile: Profile) -> dict[str, Any]:
    """A profile as the edit form's values (works numbered from 0)."""
    values: dict[str, Any] = {
        "name": profile.name, "kind": profile.kind, "country": profile.country, "institution": profile.institution,
        "keywords": "\n".join(profile.keywords), "capacity": "" if profile.capacity is None else str(profile.capacity),
        "orcid": profile.orcid or "", "openalex": profile.openalex or "", "role": profile.role or "",
        "sme": "" if profile.sme is None else str(profile.sme).lower(),
        **{k: profile.private.get(k, "") for k in PRIVATE_FIELDS},
    }
    for i, work in enumerate(profile.works):
        values.update({f"work-{i}-id": work.id, f"work-{i}-title": work.title, f"work-{i}-abstract": work.abstract,
                       f"work-{i}-year": "" if work.year is None else str(work.year),
                       f"work-{i}-coauthors": "; ".join(work.coauthors)})
    return values


def work_indices(values: FormData | dict[str, Any]) -> list[int]:
    return sorted({int(m.group(1)) for name in values if (m := _WORK_FIELD.match(name))})


def from_form(profile_id: str, form: FormData) -> Profile:
    """The profile the form describes; `FormError` naming the first field to change."""
    works: list[dict[str, Any]] = []
    fields: list[int] = []  # the form's index of each kept work
    for i in work_indices(form):
        if flag(form, f"work-{i}-remove"):
            continue
        label = f"Work {i + 1}"
        work = {
            "id": text(form, f"work-{i}-id", f"{label}: id", limit=200) or None,
            "title": text(form, f"work-{i}-title", f"{label}: title", limit=1000),
            "abstract": text(form, f"work-{i}-abstract", f"{label}: summary"),
            "year": number(form, f"work-{i}-year", f"{label}: year", 1900, 2100),
            "coauthors": [c.strip() for c in text(form, f"work-{i}-coauthors", f"{label}: co-authors").split(";")
                          if c.strip()],
        }
        if not work["title"] and not work["abstract"] and work["year"] is None and not work["coauthors"]:
            continue  # an empty row: the blank one for a new work
        if not work["title"]:
            raise FormError(f"work-{i}-title", f"{label} has no title: give it one, or tick “Remove this work”.")
        works.append({k: v for k, v in work.items() if v is not None})
        fields.append(i)
    raw: dict[str, Any] = {
        "id": profile_id, "name": text(form, "name", "Name", limit=300, required=True),
        "kind": text(form, "kind", "Kind", limit=20) or "researcher",
        "country": text(form, "country", "Country", limit=100, required=True),
        "institution": text(form, "institution", "Institution", limit=500),
        "keywords": [k.strip() for k in re.split(r"[;\n]", text(form, "keywords", "Keywords")) if k.strip()],
        "works": works, "capacity": number(form, "capacity", "Partners wanted", 0, 1000),
    }
    for name in ("orcid", "openalex", "role", *PRIVATE_FIELDS):
        raw[name] = text(form, name, LABELS[name], limit=200) or None
    raw["sme"] = {"true": True, "false": False}.get(text(form, "sme", LABELS["sme"], limit=10))
    try:
        checked = ProfileIn.model_validate(raw).model_dump(exclude_none=True)
    except ValidationError as err:
        raise _from_schema(err, fields) from None
    try:
        return parse_profile(checked)
    except InvalidProfile as err:
        raise _from_domain(err, fields) from None


def _field(loc: tuple[Any, ...], fields: list[int]) -> tuple[str, str]:
    """(form field, label) of a location in the profile record."""
    if len(loc) >= 3 and loc[0] == "works" and isinstance(loc[1], int) and loc[1] < len(fields):
        i = fields[loc[1]]
        return f"work-{i}-{loc[2]}", f"Work {i + 1}: {LABELS.get(str(loc[2]), str(loc[2])).lower()}"
    name = str(loc[0]) if loc else "name"
    return name, LABELS.get(name, name)


def _from_schema(err: ValidationError, fields: list[int]) -> FormError:
    first = err.errors()[0]
    field, label = _field(tuple(first.get("loc", ())), fields)
    limit = (first.get("ctx") or {}).get("max_length")
    if first.get("type") == "string_too_long" and limit:
        return FormError(field, f"{label} is too long: shorten it to at most {limit:,} characters.")
    if first.get("type") == "string_too_short":
        return FormError(field, f"{label} is empty: fill it in.")
    if first.get("type") == "too_long" and limit:
        return FormError(field, f"{label}: at most {limit:,} entries.")
    return FormError(field, f"{label}: {str(first.get('msg', 'not accepted')).removeprefix('Value error, ')}.")


def _from_domain(err: InvalidProfile, fields: list[int]) -> FormError:
    where = err.field or "works"
    if match := _DOMAIN_WORK.match(where):
        field, label = _field(("works", int(match.group(1)), match.group(2)), fields)
    else:
        field, label = where, LABELS.get(where, where)
    reason = err.reason
    if field == "country":
        return FormError(field, f"{label}: {reason}. Use a country name (Kenya) or a two-letter code (KE).")
    if field == "works" and "at least one" in reason:
        return FormError("keywords", "A profile needs at least one work or keyword: add a work or some keywords.")
    return FormError(field, f"{label} {reason}." if reason.startswith(("is ", "must ", "has ")) else
                     f"{label}: {reason}.")
