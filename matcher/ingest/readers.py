"""Read profile files (JSONL and flat CSV) into validated profiles and precise rejections.

Every record either becomes a `Profile` or a `Rejection` naming its line, field and reason; a bad
record never stops the valid ones around it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matcher.domain.errors import InvalidProfile, MatcherError
from matcher.domain.profiles import Profile, parse_profile

__all__ = ["FORMATS", "ReadResult", "Rejection", "detect_format", "read_profiles", "parse_lines"]

FORMATS = ("jsonl", "csv")
_WORK_COLUMN = re.compile(r"^work(\d+)_(id|title|abstract|year|coauthors)$")


@dataclass(frozen=True)
class Rejection:
    """One record that was not loaded: where it is (a line or row number, or a JSON path such as
    ``results[3]``), why, and which profile id and field, when known."""

    line: int | str
    reason: str
    record_id: str | None = None
    field: str | None = None
    source: str = ""

    def __str__(self) -> str:
        where = f"{self.source}:" if self.source else ("line " if isinstance(self.line, int) else "")
        who = f" (id '{self.record_id}')" if self.record_id else ""
        what = f"field '{self.field}': " if self.field else ""
        return f"{where}{self.line}{who}: {what}{self.reason}"


@dataclass(frozen=True)
class ReadResult:
    """Valid profiles with where each came from, the rejected records, and human-readable notes
    about records that were combined or trimmed on the way (merges by ORCID or OpenAlex id, ...).
    `distinct` names profile fields that no two of these profiles share by construction (such
    as ``id`` for a reader that makes one profile per id), which merging need not check."""

    profiles: list[tuple[int | str, Profile]]
    rejected: list[Rejection]
    notes: list[str] = field(default_factory=list)
    distinct: frozenset[str] = frozenset()


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise MatcherError(f"{path}: cannot tell the format from the extension; pass --format jsonl|csv")


def read_profiles(path: Path, fmt: str | None = None) -> ReadResult:
    """Read and validate every record of a JSONL or CSV profile file."""
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise MatcherError(f"unknown format '{fmt}'; choose one of {', '.join(FORMATS)}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MatcherError(f"{path}: no such file") from None
    except UnicodeDecodeError as err:
        raise MatcherError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    records = _jsonl_records(text) if fmt == "jsonl" else _csv_records(text)
    return parse_lines(records, source=path.name)


def parse_lines(records: Iterable[tuple[int | str, Any]], source: str = "") -> ReadResult:
    """Validate (line, raw record) pairs; a raw record that is a `Rejection` is passed on as one."""
    profiles: list[tuple[int | str, Profile]] = []
    rejected: list[Rejection] = []
    seen: dict[str, int | str] = {}
    for line, raw in records:
        if isinstance(raw, Rejection):
            rejected.append(Rejection(line, raw.reason, raw.record_id, raw.field, source))
            continue
        try:
            profile = parse_profile(raw)
        except InvalidProfile as err:
            rejected.append(Rejection(line, err.reason, err.record_id, err.field, source))
            continue
        if profile.id in seen:
            first = seen[profile.id]
            where = f"on line {first}" if isinstance(first, int) else f"at {first}"
            reason = f"duplicate id; the first record with this id is {where}"
            rejected.append(Rejection(line, reason, profile.id, "id", source))
            continue
        seen[profile.id] = line
        profiles.append((line, profile))
    return ReadResult(profiles, rejected)


def _jsonl_records(text: str) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as err:
            yield number, Rejection(number, f"not valid JSON: {err.msg} at column {err.colno}")


def _csv_records(text: str) -> Iterator[tuple[int, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        return
    for row in reader:
        line = reader.line_num
        if None in row:
            yield line, Rejection(line, "more cells than header columns")
            continue
        yield line, _row_to_record(row)


def _row_to_record(row: dict[str, str]) -> dict[str, Any]:
    """Flat CSV row -> interchange record: `keywords` split on ';', works from workN_* columns."""
    record: dict[str, Any] = {}
    works: dict[int, dict[str, Any]] = {}
    for column, value in row.items():
        value = (value or "").strip()
        match = _WORK_COLUMN.match(column.strip())
        if match:
            if value:
                works.setdefault(int(match[1]), {})[match[2]] = value
        elif value:
            record[column.strip()] = value
    if works:
        record["works"] = [works[n] for n in sorted(works)]
    return record
