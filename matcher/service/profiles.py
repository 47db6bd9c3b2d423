"""Use cases on profiles, the same for the CLI, the API and the web pages: ingest a file or an
upload, create and replace one profile, read and list them, and erase one completely."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from matcher.domain.errors import InvalidProfile, ProfileNotFound
from matcher.domain.profiles import Profile
from matcher.ingest.detect import read_source
from matcher.ingest.readers import ReadResult, Rejection
from matcher.ingest.uploads import read_stream, read_upload
from matcher.service.agenda_jobs import forget_in_agendas
from matcher.service.bootstrap import Services

__all__ = ["IngestReport", "create", "erase", "import_upload", "ingest", "ingest_stream", "replace"]

log = logging.getLogger("matcher.service.profiles")


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did. `read` counts every record of the input: the kept ones, the rejected
    ones and the ones merged into another (by ORCID or OpenAlex id). `repaired`: texts of
    unchanged profiles that had no vectors (an interrupted ingest of an earlier version), embedded
    now."""

    read: int
    added: int
    updated: int
    unchanged: int
    merged: int
    rejected: int
    rejections: tuple[Rejection, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    repaired: int = 0

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["rejections"] = [dataclasses.asdict(r) for r in self.rejections]
        out["notes"] = list(self.notes)
        return out

    def line(self) -> str:
        return (f"read {self.read}, added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
                f"merged {self.merged}, rejected {self.rejected}")


def ingest(
    services: Services, path: Path, fmt: str | None = None, mapping: Path | None = None, *,
    low_priority_merge: bool = False,
) -> IngestReport:
    """Read a file or folder in any supported format, store every valid record (embedding new
    texts), and fold the writes into the matching state's snapshot when they are many (at a low
    CPU priority when asked: a one-shot command beside a server that answers queries)."""
    result = read_source(path, fmt, mapping, limits=services.config.read_limits)
    report = _store(services, result, path.name)
    if report.added or report.updated or report.repaired:
        services.engine.settle(low_priority=low_priority_merge)
    return report


def ingest_stream(
    services: Services, stream: BinaryIO, fmt: str | None = None, mapping: Path | None = None, *,
    low_priority_merge: bool = False,
) -> IngestReport:
    """`ingest` for a file piped in (standard input): its format given or told from its first bytes."""
    report = _store(services, read_stream(stream, fmt, mapping, limits=services.config.read_limits), "stdin")
    if report.added or report.updated or report.repaired:
        services.engine.settle(low_priority=low_priority_merge)
    return report


def import_upload(services: Services, body: bytes, fmt: str, *, key_id: str | None, scope: str | None) -> IngestReport:
    """The same as `ingest`, for a file uploaded as bytes (a CORDIS export as a zip of its CSVs)."""
    report = _store(services, read_upload(body, fmt, services.config.read_limits), "upload")
    services.audit.record("import", key_id=key_id, scope=scope, format=fmt, accepted=report.added + report.updated
                          + report.unchanged, rejected=report.rejected)
    return report


def _store(services: Services, result: ReadResult, source: str) -> IngestReport:
    stored_twice = _stored_under_other_ids(services, result, source)
    upserted = services.engine.add([p for line, p in result.profiles if line not in stored_twice])
    merged = sum(n.startswith("merged") for n in result.notes)
    notes = list(result.notes)
    rejected = [*result.rejected, *stored_twice.values()]
    if upserted.repaired:
        notes.append(f"embedded {upserted.repaired} texts of stored profiles that had no vectors yet "
                     "(left by an interrupted ingest)")
    return IngestReport(
        read=len(result.profiles) + len(result.rejected) + merged,
        added=upserted.added, updated=upserted.updated, unchanged=upserted.unchanged,
        merged=merged, rejected=len(rejected), rejections=tuple(rejected), notes=tuple(notes),
        repaired=upserted.repaired,
    )


def _stored_under_other_ids(services: Services, result: ReadResult, source: str) -> dict[int | str, Rejection]:
    """Records whose person is already stored under another id (an earlier ingest of another file
    gave the same ORCID iD or OpenAlex id another profile id), by their location: each one is
    rejected, naming both ids, rather than stored as a second profile of the same person. Two
    profiles with different ORCID iDs are never the same person, whatever their OpenAlex ids."""
    orcids = {p.orcid for _, p in result.profiles if p.orcid}
    openalex = {p.openalex for _, p in result.profiles if p.openalex}
    holders: dict[tuple[str, str], list[str]] = {}
    for pid, key, value in services.store.with_identifiers(orcids, openalex):
        holders.setdefault((key, value), []).append(pid)
    if not holders:
        return {}
    found: dict[int | str, Rejection] = {}
    for line, profile in result.profiles:
        for key, label, found_value in (("orcid", "ORCID iD", profile.orcid),
                                        ("openalex", "OpenAlex id", profile.openalex)):
            value = found_value or ""
            others = [pid for pid in holders.get((key, value), ()) if pid != profile.id]
            if key == "openalex" and profile.orcid:
                others = [pid for pid in others if services.store.get(pid).orcid in (None, profile.orcid)]
            if others:
                listed = ", ".join(f"'{pid}'" for pid in others)
                found[line] = Rejection(
                    line, f"the same person as stored profile {listed} (same {label} {value}); not stored as a "
                    f"second profile: ingest the record with id {listed} to update it, or erase {listed} first",
                    profile.id, key, source)
                break
    return found


def create(services: Services, profile: Profile) -> Profile:
    """Store a new profile (ProfileExists if its id is taken); matchable when this returns."""
    services.engine.add([profile], create_only=True)
    return profile


def replace(services: Services, profile_id: str, profile: Profile) -> Profile:
    """Replace a stored profile by a new version with the same id."""
    if profile.id != profile_id:
        raise InvalidProfile(f"body id '{profile.id}' differs from the path id '{profile_id}'", field="id")
    if not services.store.exists(profile_id):
        raise ProfileNotFound(profile_id)
    services.engine.add([profile])
    return profile


def erase(services: Services, profile_id: str, *, key_id: str | None = None, scope: str | None = None) -> None:
    """Erase a profile completely, from the database, the matching state and every file under the store:

    - its id and name leave other profiles' co-author lists: those profiles are rewritten through
      the normal write path (their texts do not change, so nothing is embedded);
    - its rows, works and the cached vectors no one else uses go, and its rows leave the matching
      state at once and the state's files before this returns (`Engine.delete`);
    - its owner keys are revoked, its rows leave kept batch results, its id the jobs' records and
      the audit trail; kept agendas that name it lose their files;
    - last, the write-ahead log is emptied into the database, where `secure_delete` has zeroed
      everything deleted, so no file keeps an older copy of its rows.
    """
    named = {profile_id, services.store.get(profile_id).name}
    listing = services.store.listing(named)
    if listing:
        services.engine.add([_unlisted(p, named) for p in listing])
    services.engine.delete(profile_id)
    services.keys.revoke_owned_by(profile_id)
    services.batches.forget_profile(profile_id)
    forget_in_agendas(services.store.home / "agendas", profile_id)
    services.audit.forget(profile_id)
    services.audit.record("erasure", key_id=key_id, scope=scope)
    if not services.store.checkpoint():
        log.warning("erasure of a profile: another process kept the write-ahead log from being emptied; "
                    "the next erasure or checkpoint empties it")


def _unlisted(profile: Profile, named: set[str]) -> Profile:
    """The profile with `named` (an id, a name) gone from its works' co-author lists."""
    works = tuple(dataclasses.replace(w, coauthors=tuple(c for c in w.coauthors if c not in named))
                  for w in profile.works)
    return dataclasses.replace(profile, works=works)
