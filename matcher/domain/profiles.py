"""The profile interchange format: frozen dataclasses, validation, and JSON round-trips.

A profile arrives as a plain mapping (one JSONL line, one CSV row, one API body). `parse_profile`
validates it field by field and either returns a `Profile` or raises `InvalidProfile` naming the
field and the reason. Nothing here touches files: see `matcher.ingest.readers` for JSONL and CSV.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from operator import mul
from typing import Any, TypeVar

from matcher.domain.countries import normalise_country
from matcher.domain.errors import InvalidProfile, UnknownCountry

__all__ = [
    "KINDS",
    "MAX_WORK_ID",
    "PRIVATE_FIELDS",
    "PROFILE_ID",
    "ROLES",
    "Profile",
    "Work",
    "parse_profile",
    "profile_to_dict",
    "valid_orcid",
]

KINDS = ("researcher", "organisation")
# what an organisation is, in CORDIS's `activityType` codes: higher or secondary education, research
# organisation, private for-profit (companies), public body, other
ROLES = ("HES", "REC", "PRC", "PUB", "OTH")
_ROLE_NAMES = {
    "higher or secondary education establishments": "HES", "higher or secondary education": "HES",
    "higher education": "HES", "university": "HES",
    "research organisations": "REC", "research organisation": "REC", "research organization": "REC",
    "private for-profit entities": "PRC", "private for-profit entity": "PRC", "company": "PRC",
    "public bodies": "PUB", "public body": "PUB",
    "other": "OTH",
}
_TRUE, _FALSE = {"true", "yes", "1", "y"}, {"false", "no", "0", "n"}
PRIVATE_FIELDS = ("career_stage", "gender", "email")
PROFILE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")  # what a profile id is, matched whole
_ORCID = re.compile(r"([0-9]{4}-){3}[0-9]{3}[0-9X]")  # ASCII digits only; matched whole
_ORCID_WEIGHTS = tuple(2 ** (15 - i) for i in range(15))
_ORCID_ZERO = ord("0") * sum(_ORCID_WEIGHTS)
_KNOWN = {
    "id", "name", "kind", "country", "institution", "keywords", "works", "capacity",
    "orcid", "openalex", "role", "sme", *PRIVATE_FIELDS,
}
_T = TypeVar("_T")
_WORK_KNOWN = {"id", "title", "abstract", "year", "coauthors"}
MAX_TEXT = 20_000
MAX_WORKS = 500
MAX_WORK_ID = 200  # characters


@dataclass(frozen=True, slots=True)
class Work:
    id: str
    title: str
    abstract: str = ""
    year: int | None = None
    coauthors: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The text that is embedded for this work: title, then abstract."""
        return f"{self.title}. {self.abstract}".strip() if self.abstract else self.title


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    name: str
    country: str
    kind: str = "researcher"
    institution: str = ""
    keywords: tuple[str, ...] = ()
    works: tuple[Work, ...] = ()
    capacity: int | None = None
    orcid: str | None = None
    openalex: str | None = None
    private: Mapping[str, str] = field(default_factory=dict)
    role: str | None = None  # one of ROLES, for organisations that say what they are
    sme: bool | None = None  # a small or medium-sized enterprise (CORDIS's SME flag)

    @property
    def last_year(self) -> int | None:
        """The year of the profile's most recent dated work."""
        return max((w.year for w in self.works if w.year is not None), default=None)

    @property
    def coauthors(self) -> frozenset[str]:
        return frozenset(c for w in self.works for c in w.coauthors)

    @property
    def keyword_text(self) -> str:
        return "Keywords: " + "; ".join(self.keywords) if self.keywords else ""

    @property
    def texts(self) -> list[str]:
        """The texts embedded for this profile: its works, then its keywords if any."""
        texts = [w.text for w in self.works]
        if self.keywords:
            texts.append(self.keyword_text)
        return texts

    def content_hash(self) -> str:
        """A digest of everything stored, so that re-ingesting an unchanged record is a no-op."""
        blob = json.dumps(profile_to_dict(self, private=True), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()


def valid_orcid(value: str) -> bool:
    """ORCID iD format and ISO 7064 MOD 11-2 check digit."""
    if not _ORCID.fullmatch(value):
        return False
    digits = value.replace("-", "").encode()
    # MOD 11-2 folds total = (total + digit) * 2 over the first 15 digits: the sum of digit i
    # times 2^(15-i); over the ASCII codes, minus that sum for fifteen "0"s.
    total = sum(map(mul, digits, _ORCID_WEIGHTS)) - _ORCID_ZERO
    check = (12 - total % 11) % 11
    return digits[15] == (88 if check == 10 else 48 + check)  # b"X"[0], b"0"[0] + check


def _text(raw: Mapping[str, Any], name: str, *, required: bool = False, limit: int = 500) -> str:
    value = raw.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidProfile("is required", field=name)
        return ""
    if not isinstance(value, str):
        raise InvalidProfile(f"must be a string, got {type(value).__name__}", field=name)
    value = value.strip()
    if len(value) > limit:
        raise InvalidProfile(f"is longer than {limit} characters", field=name)
    return value


def _int(raw: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidProfile(f"must be an integer, got {value!r}", field=name)
    if not low <= value <= high:
        raise InvalidProfile(f"must be between {low} and {high}, got {value}", field=name)
    return value


def _strings(raw: Mapping[str, Any], name: str, *, limit: int = 200) -> tuple[str, ...]:
    value = raw.get(name)
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = value.split(";")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidProfile("must be a list of strings", field=name)
    items = tuple(dict.fromkeys(v.strip() for v in value if v.strip()))
    if len(items) > limit:
        raise InvalidProfile(f"has more than {limit} entries", field=name)
    return items


def _parse_work(raw: Any, index: int, profile_id: str) -> Work:
    where = f"works[{index}]"
    if not isinstance(raw, Mapping):
        raise InvalidProfile("must be an object", field=where)
    unknown = sorted(set(raw) - _WORK_KNOWN)
    if unknown:
        raise InvalidProfile(f"unknown field(s) {', '.join(unknown)}", field=where)
    try:
        work_id = _text(raw, "id", limit=MAX_WORK_ID) or f"{profile_id}-w{index + 1}"
        return Work(
            id=work_id,
            title=_text(raw, "title", required=True, limit=1000),
            abstract=_text(raw, "abstract", limit=MAX_TEXT),
            year=_int(raw, "year", 1900, 2100),
            coauthors=_strings(raw, "coauthors"),
        )
    except InvalidProfile as err:
        raise InvalidProfile(err.reason, field=f"{where}.{err.field}") from None


def _role(raw: Mapping[str, Any]) -> str | None:
    value = _text(raw, "role", limit=100)
    if not value:
        return None
    role = value.upper() if value.upper() in ROLES else _ROLE_NAMES.get(value.lower())
    if role is None:
        raise InvalidProfile(
            f"must be one of {', '.join(ROLES)} (CORDIS activityType codes), got '{value}'", field="role"
        )
    return role


def _flag(raw: Mapping[str, Any], name: str) -> bool | None:
    value = raw.get(name)
    if value is None or value == "" or isinstance(value, bool):
        return value if isinstance(value, bool) else None
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidProfile(f"must be true or false, got {value!r}", field=name)


def _parse_country(raw: Mapping[str, Any]) -> str:
    value = _text(raw, "country", required=True, limit=100)
    try:
        return normalise_country(value)
    except UnknownCountry:
        raise InvalidProfile(f"unknown country '{value}'", field="country") from None


def parse_profile(raw: Any) -> Profile:
    """Validate one record of the interchange format; raise `InvalidProfile` naming every fault
    found: the first one's field and reason, then each further one as ``field: reason``, joined by
    ``; `` (a record with a bad country and no works is told both)."""
    if not isinstance(raw, Mapping):
        raise InvalidProfile(f"a profile must be a JSON object, got {type(raw).__name__}")
    record_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    problems = _Problems()
    profile = _parse(raw, problems)
    if problems or profile is None:
        raise problems.error(record_id)
    return profile


class _Problems(list[InvalidProfile]):
    """The faults of one record, collected so that all of them are reported at once."""

    def check(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T | None:
        try:
            return fn(*args, **kwargs)
        except InvalidProfile as err:
            self.append(err)
            return None

    def error(self, record_id: str | None) -> InvalidProfile:
        first, rest = self[0], self[1:]
        reason = "; ".join([first.reason, *(f"{p.field}: {p.reason}" if p.field else p.reason for p in rest)])
        return InvalidProfile(reason, field=first.field, record_id=record_id)


def _profile_id(raw: Mapping[str, Any]) -> str:
    profile_id = _text(raw, "id", required=True, limit=128)
    if not PROFILE_ID.fullmatch(profile_id):
        raise InvalidProfile(
            "must start with a letter or digit and use only letters, digits and . _ : -", field="id"
        )
    return profile_id


def _kind(raw: Mapping[str, Any]) -> str:
    kind = _text(raw, "kind") or "researcher"
    if kind not in KINDS:
        raise InvalidProfile(f"must be one of {', '.join(KINDS)}, got '{kind}'", field="kind")
    return kind


def _works(raw: Mapping[str, Any], profile_id: str) -> tuple[Work, ...]:
    works_raw = raw.get("works") or []
    if not isinstance(works_raw, list):
        raise InvalidProfile("must be a list of works", field="works")
    if len(works_raw) > MAX_WORKS:
        raise InvalidProfile(f"has more than {MAX_WORKS} works", field="works")
    works = tuple(_parse_work(w, i, profile_id) for i, w in enumerate(works_raw))
    if len({w.id for w in works}) != len(works):
        raise InvalidProfile("work ids must be unique within a profile", field="works")
    return works


def _orcid(raw: Mapping[str, Any]) -> str | None:
    orcid = _text(raw, "orcid", limit=40) or None
    if orcid:
        orcid = orcid.removeprefix("https://orcid.org/")
        if not valid_orcid(orcid):
            raise InvalidProfile(f"'{orcid}' is not a valid ORCID iD (format or check digit)", field="orcid")
    return orcid


def _parse(raw: Mapping[str, Any], problems: _Problems) -> Profile | None:
    unknown = sorted(set(raw) - _KNOWN)
    if unknown:
        problems.append(InvalidProfile(f"unknown field(s): {', '.join(unknown)}"))
    profile_id = problems.check(_profile_id, raw)
    kind = problems.check(_kind, raw)
    works = problems.check(_works, raw, profile_id or "record")
    keywords = problems.check(_strings, raw, "keywords")
    if works == () and keywords == ():
        problems.append(InvalidProfile("a profile needs at least one work or keyword to be matched", field="works"))
    orcid = problems.check(_orcid, raw)
    private = problems.check(lambda: {k: v for k in PRIVATE_FIELDS if (v := _text(raw, k, limit=200))})
    name = problems.check(_text, raw, "name", required=True, limit=300)
    country = problems.check(_parse_country, raw)
    institution = problems.check(_text, raw, "institution", limit=500)
    capacity = problems.check(_int, raw, "capacity", 0, 1000)
    openalex = problems.check(_text, raw, "openalex", limit=100)
    role = problems.check(_role, raw)
    sme = problems.check(_flag, raw, "sme")
    if (problems or profile_id is None or kind is None or works is None or keywords is None or private is None
            or name is None or country is None or institution is None):
        return None
    return Profile(
        id=profile_id,
        name=name,
        country=country,
        kind=kind,
        institution=institution,
        keywords=keywords,
        works=works,
        capacity=capacity,
        orcid=orcid,
        openalex=openalex or None,
        private=private,
        role=role,
        sme=sme,
    )


def profile_to_dict(profile: Profile, *, private: bool = False) -> dict[str, Any]:
    """The interchange form of a profile; private fields only when asked for."""
    out: dict[str, Any] = {
        "id": profile.id,
        "name": profile.name,
        "kind": profile.kind,
        "country": profile.country,
        "institution": profile.institution,
        "keywords": list(profile.keywords),
        "works": [
            {
                "id": w.id,
                "title": w.title,
                "abstract": w.abstract,
                "year": w.year,
                "coauthors": list(w.coauthors),
            }
            for w in profile.works
        ],
        "capacity": profile.capacity,
        "orcid": profile.orcid,
        "openalex": profile.openalex,
    }
    # only when given: a profile without them keeps the form (and the content hash) it always had
    if profile.role is not None:
        out["role"] = profile.role
    if profile.sme is not None:
        out["sme"] = profile.sme
    if private:
        out.update(profile.private)
    return out
