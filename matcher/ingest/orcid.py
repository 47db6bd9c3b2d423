"""ORCID records (API v3.0 JSON) -> researcher profiles.

Input: one record as ``GET https://pub.orcid.org/v3.0/{iD}/record`` returns it, a JSON list of
records, or JSON Lines of records (see `matcher.ingest.files`). Fields used:

- ``orcid-identifier.path``: the iD; its format and ISO 7064 MOD 11-2 check digit are verified.
  The profile is ``orcid-<iD>`` with ``orcid`` = the iD.
- ``person.name``: ``given-names.value`` + ``family-name.value`` (else ``credit-name.value``).
  If the name is absent or its ``visibility`` is not ``public``, the whole record is rejected:
  the person has not made themselves public.
- ``activities-summary.employments.affiliation-group[].summaries[].employment-summary``: the
  public current employment (no ``end-date``; the latest ``start-date`` if several) gives
  ``organization.name`` (institution) and ``organization.address.country``. Without one, a
  public ``person.addresses.address[].country.value`` gives the country. (The v2 layout,
  ``employments.employment-summary[]``, is read too.)
- ``activities-summary.works.group[].work-summary[]``: per group (one work from several
  sources), the first public summary: ``title.title.value``, ``publication-date.year.value``;
  the work id is its DOI (``doi:...``) if it has one, else ``orcid-put-<put-code>``.
- ``person.keywords.keyword[].content`` (public ones): keywords.

Items whose ``visibility`` is not ``public`` are skipped without a trace, by design. A public
work without a title is reported (the rest of the record is kept).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from matcher.domain.errors import InvalidProfile
from matcher.domain.profiles import Profile, Work, valid_orcid
from matcher.ingest.bounds import DEFAULT_LIMITS, ReadLimits
from matcher.ingest.build import make_profile, make_work
from matcher.ingest.files import Location, json_records, subpath
from matcher.ingest.readers import ReadResult, Rejection

__all__ = ["PREFIX", "parse_orcid", "read_orcid"]

PREFIX = "orcid-"


def _get(node: Any, *keys: str) -> Any:
    """``node[k1][k2]...``, or None as soon as a level is missing or not an object."""
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _text(node: Any, *keys: str) -> str:
    value = _get(node, *keys)
    return value.strip() if isinstance(value, str) else ""


def _public(item: Any) -> bool:
    return isinstance(item, dict) and str(item.get("visibility") or "").lower() == "public"


def _date_key(summary: dict[str, Any]) -> tuple[int, ...]:
    parts = (_text(summary, "start-date", k, "value") for k in ("year", "month", "day"))
    return tuple(int(p) if p.isdigit() else 0 for p in parts)


def _employments(record: dict[str, Any]) -> list[dict[str, Any]]:
    employments = _get(record, "activities-summary", "employments")
    if not isinstance(employments, dict):
        return []
    summaries = list(employments.get("employment-summary") or [])  # API v2 layout
    for group in employments.get("affiliation-group") or []:
        for item in _get(group, "summaries") or []:
            summaries.append(_get(item, "employment-summary"))
    return [s for s in summaries if _public(s)]


def _place(record: dict[str, Any]) -> tuple[str, str] | None:
    """(country, institution) from the current public employment, else a public address."""
    current = [s for s in _employments(record) if not s.get("end-date") and _text(s, "organization", "name")]
    current.sort(key=_date_key, reverse=True)
    for summary in current:
        country = _text(summary, "organization", "address", "country")
        if country:
            return country, _text(summary, "organization", "name")
    for address in _get(record, "person", "addresses", "address") or []:
        country = _text(address, "country", "value")
        if _public(address) and country:
            return country, _text(current[0], "organization", "name") if current else ""
    return None


def _doi(summary: dict[str, Any]) -> str:
    for ext in _get(summary, "external-ids", "external-id") or []:
        if _text(ext, "external-id-type").lower() == "doi" and _text(ext, "external-id-relationship") == "self":
            value = _text(ext, "external-id-normalized", "value") or _text(ext, "external-id-value")
            if value:
                return "doi:" + value.lower()
    return ""


class _Record:
    def __init__(self, where: Location, record: dict[str, Any], source: str):
        self.where, self.record, self.source = where, record, source
        self.rejected: list[Rejection] = []

    def reject(self, where: Location, reason: str, record_id: str | None, field: str | None) -> None:
        self.rejected.append(Rejection(where, reason, record_id, field, self.source))

    def works(self, pid: str) -> list[Work]:
        works: dict[str, Work] = {}
        groups = _get(self.record, "activities-summary", "works", "group") or []
        for index, group in enumerate(groups):
            summary = next((s for s in _get(group, "work-summary") or [] if _public(s)), None)
            if summary is None:
                continue
            put_code = summary.get("put-code")
            work = make_work(
                _doi(summary) or f"orcid-put-{put_code}",
                _text(summary, "title", "title", "value"),
                year=_text(summary, "publication-date", "year", "value"),
            )
            if work is None:
                where = subpath(self.where, f"activities-summary.works.group[{index}]")
                self.reject(where, f"public work (put-code {put_code}) without a title; skipped", pid, "works")
            elif work.id not in works:
                works[work.id] = work
        return list(works.values())

    def profile(self) -> Profile | None:
        record = self.record
        orcid = _text(record, "orcid-identifier", "path")
        if not orcid:
            self.reject(self.where, "no orcid-identifier.path: not an ORCID record", None, "orcid")
            return None
        pid = PREFIX + orcid
        if not valid_orcid(orcid):
            reason = f"'{orcid}' is not a valid ORCID iD (format or ISO 7064 MOD 11-2 check digit)"
            self.reject(self.where, reason, pid, "orcid")
            return None
        name = _get(record, "person", "name")
        if not _public(name):
            visibility = _text(name, "visibility").lower() or "absent"
            self.reject(self.where, f"the person section is not public (name: {visibility})", pid, "name")
            return None
        full = " ".join(filter(None, (_text(name, "given-names", "value"), _text(name, "family-name", "value"))))
        place = _place(record)
        if place is None:
            reason = "no country: no public current employment with an organization country, and no public address"
            self.reject(self.where, reason, pid, "country")
            return None
        keywords = [_text(k, "content") for k in _get(record, "person", "keywords", "keyword") or [] if _public(k)]
        works = self.works(pid)
        try:
            return make_profile(
                id=pid, name=full or _text(name, "credit-name", "value"), country=place[0],
                institution=place[1], keywords=keywords, works=works, orcid=orcid,
            )
        except InvalidProfile as err:
            self.reject(self.where, err.reason, pid, err.field)
            return None


def parse_orcid(records: Iterable[tuple[Location, Any]], source: str = "") -> ReadResult:
    """Profiles from (location, ORCID record) pairs; a `Rejection` in place of a record is passed on."""
    profiles: list[tuple[Location, Profile]] = []
    rejected: list[Rejection] = []
    seen: dict[str, Location] = {}
    for where, raw in records:
        if isinstance(raw, Rejection):
            rejected.append(Rejection(where, raw.reason, source=source))
            continue
        if not isinstance(raw, dict):
            rejected.append(Rejection(where, f"expected a JSON object, got {type(raw).__name__}", source=source))
            continue
        reader = _Record(where, raw, source)
        try:
            profile = reader.profile()
        except (AttributeError, TypeError, ValueError) as err:  # a layout this reader does not know
            reader.reject(where, f"unexpected ORCID record layout ({type(err).__name__}: {err})", None, None)
            profile = None
        rejected.extend(reader.rejected)
        if profile is None:
            continue
        if profile.id in seen:
            reason = f"duplicate record for ORCID {profile.orcid}; the first is at {seen[profile.id]}"
            rejected.append(Rejection(where, reason, profile.id, "orcid", source))
            continue
        seen[profile.id] = where
        profiles.append((where, profile))
    return ReadResult(profiles, rejected)


def read_orcid(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> ReadResult:
    """Profiles from a file of ORCID v3.0 records (one JSON record, a JSON list, or JSON Lines)."""
    return parse_orcid(json_records(path, limits=limits), source=path.name)
