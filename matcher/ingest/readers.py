"""Read profile files (JSONL and flat CSV) into validated profiles and precise rejections.

Every record either becomes a `Profile` or a `Rejection` naming its line, field and reason; a bad
record never stops the valid ones around it. Files are read line by line within `ReadLimits`
(`matcher.ingest.bounds`): a line over the bound, or one that is not UTF-8, is one rejection.
JSON Lines are split on ``\n`` only (a ``\r`` before it is ignored): U+2028 and U+2029, which
JSON strings may hold, are not line breaks here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matcher.domain.errors import InvalidProfile, MatcherError
from matcher.domain.profiles import Profile, parse_profile
from matcher.ingest.bounds import DEFAULT_LIMITS, TOO_DEEP, Lines, ReadLimits, SkippedLine, TextLines, open_input
from matcher.ingest.delimited import csv_rows

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


def read_profiles(path: Path, fmt: str | None = None, limits: ReadLimits = DEFAULT_LIMITS) -> ReadResult:
    """Read and validate every record of a JSONL or CSV profile file."""
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise MatcherError(f"unknown format '{fmt}'; choose one of {', '.join(FORMATS)}")
    records = _jsonl_records(path, limits) if fmt == "jsonl" else _csv_records(path, limits)
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


def _jsonl_records(path: Path, limits: ReadLimits) -> Iterator[tuple[int, Any]]:
    with open_input(path) as fh:
        lines = TextLines(Lines(fh, limits, path), fallback=False)
        while True:
            try:
                line = next(lines)
            except StopIteration:
                return
            except SkippedLine as skipped:
                yield skipped.line, Rejection(skipped.line, skipped.reason)
                continue
            number = lines.lines.number
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as err:
                yield number, Rejection(number, f"not valid JSON: {err.msg} at column {err.colno}")
            except RecursionError:
                yield number, Rejection(number, TOO_DEEP)


def _csv_records(path: Path, limits: ReadLimits) -> Iterator[tuple[int, Any]]:
    rows = csv_rows(path, limits, strict=True)
    first = next(rows, None)
    if first is None:
        return
    _, line, header = first
    if isinstance(header, str):
        raise MatcherError(f"{path}: line {line}, the header: {header}")
    columns = [h.strip() for h in header]
    for _, line, cells in rows:
        if isinstance(cells, str):
            yield line, Rejection(line, cells)
        elif len(cells) > len(columns):
            yield line, Rejection(line, "more cells than header columns")
        else:
            yield line, _row_to_record(dict(zip(columns, cells, strict=False)))


def _row_to_record(row: dict[str, str]) -> dict[str, Any]:
    """Flat CSV row -> interchange record: `keywords` split on ';', works from workN_* columns."""
    record: dict[str, Any] = {}
    works: dict[int, dict[str, Any]] = {}
    for column, value in row.items():
        value = value.strip()
        match = _WORK_COLUMN.match(column)
        if match:
            if value:
                works.setdefault(int(match[1]), {})[match[2]] = value
        elif value:
            record[column] = value
    if works:
        record["works"] = [works[n] for n in sorted(works)]
    return record
