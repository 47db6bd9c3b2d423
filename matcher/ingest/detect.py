"""One entry point for every input format: detect it, read it, merge duplicate people.

`read_source(path, fmt=None, mapping=None)` reads ``openalex``, ``orcid``, ``cordis``, ``csv``,
``xlsx`` or ``jsonl`` (the interchange format). Without `fmt` it looks at the input:

- a folder holding ``project.csv`` (or ``organization.csv``) -> ``cordis``;
- ``.xlsx`` / ``.xlsm`` -> ``xlsx`` (a mapping is required);
- ``.json`` / ``.jsonl`` / ``.ndjson`` (``.gz`` too) -> the first record decides:
  ``orcid-identifier`` -> ``orcid``; an ``https://openalex.org/`` id, ``abstract_inverted_index``,
  ``authorships`` or ``last_known_institutions`` -> ``openalex``; anything else -> ``jsonl``;
- ``.csv``: a CORDIS header -> ``cordis``; with a mapping -> the registration-form reader;
  otherwise the flat profile CSV of `matcher.ingest.readers`.

Whatever the format, duplicates are merged at the end (`matcher.ingest.merge`) and the notes
land in `ReadResult.notes`. `read_sources` does the same over several files, merging across them.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from matcher.domain.errors import MatcherError
from matcher.ingest.bounds import DEFAULT_LIMITS, ReadLimits, open_input
from matcher.ingest.cordis import is_cordis_header, read_cordis
from matcher.ingest.delimited import header_cells
from matcher.ingest.files import first_json_record, gc_paused, json_records
from matcher.ingest.merge import merge_profiles
from matcher.ingest.openalex import read_openalex
from matcher.ingest.orcid import read_orcid
from matcher.ingest.readers import ReadResult, parse_lines, read_profiles
from matcher.ingest.spreadsheet import read_spreadsheet

__all__ = ["FORMATS", "detect_source", "read_source", "read_sources"]

FORMATS = ("openalex", "orcid", "cordis", "csv", "xlsx", "jsonl")
_JSON = (".json", ".jsonl", ".ndjson")
_NEEDS_MAPPING = (
    "an XLSX form needs a mapping (--map FILE.yaml on the command line, the mapping file on the web page): a "
    "YAML file naming, for each profile field, the column it comes from by its header, e.g. "
    "'id: Registration ID', 'name: [First name, Last name]', 'country: Country', "
    "'keywords: {column: Interests, split: \";\"}', 'works: [{title: Project title, abstract: Summary}]'; "
    "'id' is required (`matcher ingest --help` lists every field and option)"
)
_OPENALEX_KEYS = ("abstract_inverted_index", "authorships", "last_known_institutions", "last_known_institution")


def _json_kind(record: Any) -> str:
    if not isinstance(record, dict):
        return "jsonl"
    if "orcid-identifier" in record:
        return "orcid"
    ident = record.get("id")
    if (isinstance(ident, str) and ident.startswith("https://openalex.org/")) or any(
        k in record for k in _OPENALEX_KEYS
    ):
        return "openalex"
    return "jsonl"


def detect_source(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> str:
    """The format of `path`, one of `FORMATS`; `MatcherError` if it cannot be told. (A ``csv``
    read with a mapping is a registration form, without one the flat profile CSV.)"""
    if path.is_dir():
        names = {p.name.lower() for p in path.iterdir()}
        if names & {"project.csv", "organization.csv", "organisation.csv"}:
            return "cordis"
        raise MatcherError(f"{path}: a folder is read only as a CORDIS export (project.csv + organization.csv)")
    if not path.exists():
        raise MatcherError(f"{path}: no such file")
    suffixes = [s.lower() for s in path.suffixes]
    suffix = suffixes[-2] if suffixes[-1:] == [".gz"] and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in _JSON:
        return _json_kind(first_json_record(path, limits))
    if suffix == ".csv":
        if is_cordis_header(header_cells(path, limits)):
            return "cordis"
        return "csv"
    raise MatcherError(
        f"{path}: cannot tell the format from the name '{path.name}'; pass a format: {', '.join(FORMATS)}"
    )


def _read_jsonl(path: Path, limits: ReadLimits) -> ReadResult:
    """Interchange profiles: JSON Lines as `matcher.ingest.readers` reads them; a JSON list or a
    gzipped file through `json_records`."""
    with open_input(path) as fh:
        head = fh.read(4096).removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
    if head == b"[" or path.suffix == ".gz":
        return parse_lines(json_records(path, limits=limits), source=path.name)
    return read_profiles(path, "jsonl", limits)


def _read(path: Path, fmt: str, mapping: Path | None, workers: int | None, limits: ReadLimits) -> ReadResult:
    if fmt == "openalex":
        return read_openalex(path, workers, limits)
    if fmt == "orcid":
        return read_orcid(path, limits)
    if fmt == "cordis":
        return read_cordis(path, limits)
    if fmt == "xlsx" or (fmt == "csv" and mapping is not None):
        if mapping is None:
            raise MatcherError(f"{path}: {_NEEDS_MAPPING}")
        return read_spreadsheet(path, mapping, limits)
    if fmt == "csv":
        return read_profiles(path, "csv", limits)
    return _read_jsonl(path, limits)


def _read_checked(
    path: Path, fmt: str | None, mapping: Path | None, workers: int | None, limits: ReadLimits
) -> ReadResult:
    """`_read`, with what the file system or a decompressor reports (a truncated ``.gz``, a file
    that cannot be read) as a `MatcherError` naming the file."""
    try:
        return _read(path, fmt or detect_source(path, limits), mapping, workers, limits)
    except (OSError, EOFError, zlib.error) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise MatcherError(f"{path}: cannot be read ({reason})") from None


def read_source(
    path: Path, fmt: str | None = None, mapping: Path | None = None, *, workers: int | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> ReadResult:
    """Read one input in any supported format; duplicates merged, notes in `ReadResult.notes`.
    `workers`: processes for decoding a large OpenAlex file (default: automatic; 1: none);
    `limits`: the bounds of `matcher.ingest.bounds` (over them: a rejection or a `MatcherError`)."""
    return read_sources([path], fmt, mapping, workers=workers, limits=limits)


def read_sources(
    paths: Iterable[Path], fmt: str | None = None, mapping: Path | None = None, *, workers: int | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> ReadResult:
    """Read several inputs (each detected unless `fmt` is given) and merge people across them."""
    if fmt is not None and fmt not in FORMATS:
        raise MatcherError(f"unknown format '{fmt}'; choose one of {', '.join(FORMATS)}")
    paths = [Path(p) for p in paths]
    results: list[tuple[Path, ReadResult]] = []
    with gc_paused():  # large reads allocate many long-lived objects and no cycles
        for path in paths:
            results.append((path, _read_checked(path, fmt, mapping, workers, limits)))
        if len(paths) == 1:
            profiles, distinct = results[0][1].profiles, results[0][1].distinct
        else:  # name the file in each location
            profiles = [(f"{path.name}:{w}", p) for path, result in results for w, p in result.profiles]
            distinct = frozenset()
        merged, merge_notes = merge_profiles(profiles, distinct)
    rejected = [r for _, result in results for r in result.rejected]
    notes = [n for _, result in results for n in result.notes]
    return ReadResult(merged, rejected, notes + merge_notes)
