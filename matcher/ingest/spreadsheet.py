"""Registration forms (CSV or XLSX, with whatever column names) -> profiles, via a YAML mapping.

The mapping file says which column(s) feed which profile field; `data/examples/registration-map.yaml`
is a complete example::

    sheet: Registrations                 # XLSX only: the worksheet (default: the first one)
    id: {column: Registration ID, prefix: "reg-"}
    name: [First name, Last name]        # several columns: non-empty values joined by a space
    country: Country of residence        # one column, by its header text
    institution: Organisation
    kind: {value: researcher}            # a constant instead of a column
    keywords: {column: Research interests, split: [",", ";"]}
    capacity: Partners wanted
    orcid: ORCID iD
    works:                               # a list; a work is kept if any of its cells is filled
      - title: Project title
        abstract: Project summary
        year: Project start year

A field is a column name; a list of column names; or an object with ``column`` (a name or a
list) and optionally ``join`` (between the values of several columns, default a space),
``split`` (for ``keywords`` and a work's ``coauthors``: the separator inside a cell, or a
list of them; default ``;``), ``prefix`` (put before a non-empty value) and ``slug: true`` (characters an id may not
hold become ``-``, e.g. for an e-mail address used as id); or an object with ``value``, a
constant. Fields: ``id`` (required), ``name``, ``kind``, ``country``, ``institution``,
``keywords``, ``capacity``, ``orcid``, ``openalex``, ``role``, ``sme``, ``career_stage``, ``gender``,
``email``, and
``works`` with ``id``, ``title``, ``abstract``, ``year``, ``coauthors``. Headers match exactly,
else ignoring case and repeated spaces. An unknown field or a column the file lacks is an error
that names it and lists the file's columns.

Each row then goes through the interchange format's validation; rejections carry the row number
a spreadsheet shows (the header is row 1). Empty rows are skipped. CSV is read as UTF-8 (with or
without a byte-order mark; Windows-1252 as fallback) with ``,`` or ``;``, row by row within
`ReadLimits` (`matcher.ingest.delimited`); XLSX with openpyxl in read-only mode (cell values, not
formulas), once its zip members are checked against the same bounds (`matcher.ingest.archives`).
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from matcher.domain.errors import MatcherError
from matcher.ingest.archives import check_members, open_zip
from matcher.ingest.bounds import DEFAULT_LIMITS, ReadLimits
from matcher.ingest.delimited import csv_rows
from matcher.ingest.readers import ReadResult, Rejection, parse_lines

__all__ = ["Field", "FormMapping", "load_mapping", "parse_mapping", "read_spreadsheet"]

TARGETS = ("id", "name", "kind", "country", "institution", "keywords", "capacity", "orcid", "openalex",
           "role", "sme", "career_stage", "gender", "email")
WORK_TARGETS = ("id", "title", "abstract", "year", "coauthors")
_LISTS = ("keywords", "coauthors")
_OPTIONS = {"column", "columns", "value", "join", "split", "prefix", "slug"}
_NOT_ID = re.compile(r"[^A-Za-z0-9._:\-]+")


@dataclass(frozen=True)
class Field:
    """Where one profile field comes from: columns (joined or split) or a constant value."""

    columns: tuple[str, ...] = ()
    value: str | None = None
    join: str = " "
    split: tuple[str, ...] = (";",)
    prefix: str = ""
    slug: bool = False


@dataclass(frozen=True)
class FormMapping:
    """A parsed mapping file: the profile fields, the works, and the worksheet to read."""

    fields: dict[str, Field]
    works: tuple[dict[str, Field], ...] = ()
    sheet: str | None = None

    def columns(self) -> list[str]:
        every = [*self.fields.values(), *(f for work in self.works for f in work.values())]
        return list(dict.fromkeys(c for f in every for c in f.columns))


def _field(spec: Any, where: str) -> Field:
    if isinstance(spec, str) and spec.strip():
        return Field((spec,))
    if isinstance(spec, list) and spec and all(isinstance(c, str) for c in spec):
        return Field(tuple(spec))
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - _OPTIONS)
        if unknown:
            raise MatcherError(f"{where}: unknown option(s) {', '.join(unknown)}; use {', '.join(sorted(_OPTIONS))}")
        if "value" in spec:
            return Field(value=str(spec["value"]))
        columns = spec.get("column", spec.get("columns"))
        base = _field(columns, where)
        split = spec.get("split", ";")
        split = tuple(str(s) for s in split) if isinstance(split, list) else (str(split),)
        return Field(base.columns, None, str(spec.get("join", " ")), split,
                     str(spec.get("prefix", "")), bool(spec.get("slug", False)))
    raise MatcherError(f"{where}: expected a column name, a list of them, or an object with 'column' or 'value'")


def parse_mapping(data: Any, name: str = "mapping") -> FormMapping:
    """Validate a mapping (as loaded from YAML); raise `MatcherError` naming what is wrong."""
    if not isinstance(data, dict):
        raise MatcherError(f"{name}: a mapping must be an object of field: column(s)")
    unknown = sorted(set(data) - {*TARGETS, "works", "sheet"})
    if unknown:
        raise MatcherError(f"{name}: unknown field(s) {', '.join(unknown)}; known: {', '.join(TARGETS)}, works, sheet")
    if "id" not in data:
        raise MatcherError(f"{name}: 'id' is required (the column that identifies a registration)")
    fields = {t: _field(data[t], f"{name}: '{t}'") for t in TARGETS if t in data}
    works_spec = data.get("works") or []
    if isinstance(works_spec, dict):
        works_spec = [works_spec]
    works = []
    for i, spec in enumerate(works_spec):
        bad = sorted(set(spec) - set(WORK_TARGETS)) if isinstance(spec, dict) else ["(not an object)"]
        if bad:
            known = ", ".join(WORK_TARGETS)
            raise MatcherError(f"{name}: works[{i}]: unknown field(s) {', '.join(bad)}; known: {known}")
        works.append({t: _field(spec[t], f"{name}: works[{i}].{t}") for t in WORK_TARGETS if t in spec})
    sheet = data.get("sheet")
    return FormMapping(fields, tuple(works), str(sheet) if sheet is not None else None)


def load_mapping(path: Path) -> FormMapping:
    """Read and validate a YAML (or JSON) mapping file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise MatcherError(f"{path}: no such mapping file") from None
    except yaml.YAMLError as err:
        raise MatcherError(f"{path}: not valid YAML: {err}") from None
    return parse_mapping(data, path.name)


def _key(header: str) -> str:
    return " ".join(header.split()).casefold()


def _resolve(mapping: FormMapping, header: list[str], source: str) -> dict[str, int]:
    exact = {h.strip(): i for i, h in reversed(list(enumerate(header)))}
    loose = {_key(h): i for i, h in reversed(list(enumerate(header)))}
    index, missing = {}, []
    for column in mapping.columns():
        found = exact.get(column.strip(), loose.get(_key(column)))
        if found is None:
            missing.append(column)
        else:
            index[column] = found
    if missing:
        have = ", ".join(f"'{h}'" for h in header if h.strip())
        raise MatcherError(f"{source}: no column(s) {', '.join(repr(m) for m in missing)}; the header has {have}")
    return index


def _split(text: str, separators: tuple[str, ...]) -> list[str]:
    for separator in separators[1:]:
        text = text.replace(separator, separators[0])
    return [item.strip() for item in text.split(separators[0]) if item.strip()]


def _value(field: Field, cells: list[str], index: dict[str, int], as_list: bool) -> Any:
    if field.value is not None:
        return _split(field.value, field.split) if as_list else field.value
    parts = [cells[index[c]].strip() for c in field.columns if index[c] < len(cells) and cells[index[c]].strip()]
    if as_list:
        return [item for part in parts for item in _split(part, field.split)]
    text = field.join.join(parts)
    if text and field.slug:
        text = _NOT_ID.sub("-", text).strip("-")
    return field.prefix + text if text else ""


def _record(mapping: FormMapping, cells: list[str], index: dict[str, int]) -> dict[str, Any]:
    record = {t: v for t, f in mapping.fields.items() if (v := _value(f, cells, index, t in _LISTS))}
    works = []
    for spec in mapping.works:
        work = {t: v for t, f in spec.items() if (v := _value(f, cells, index, t in _LISTS))}
        if work:
            works.append(work)
    if works:
        record["works"] = works
    return record


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _xlsx_rows(path: Path, sheet: str | None, limits: ReadLimits) -> Iterator[tuple[int, list[str] | str]]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    if not path.exists():
        raise MatcherError(f"{path}: no such file")
    with open_zip(path, f"{path}: the workbook") as archive:  # an XLSX file is a zip: checked before it is opened
        check_members(archive, archive.infolist(), limits, str(path))
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise MatcherError(f"{path}: no such file") from None
    except (InvalidFileException, zipfile.BadZipFile, KeyError) as err:
        raise MatcherError(f"{path}: not a readable XLSX workbook ({err})") from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise MatcherError(f"{path}: no worksheet '{sheet}'; it has {', '.join(book.sheetnames)}")
        rows = book[sheet].iter_rows(values_only=True) if sheet else book.worksheets[0].iter_rows(values_only=True)
        for number, row in enumerate(rows, start=1):
            cells = [_cell_text(v) for v in row]
            if number == 1 or any(cells):
                yield number, cells
    finally:
        book.close()


def _csv_rows(path: Path, limits: ReadLimits) -> Iterator[tuple[int, list[str] | str]]:
    for number, _, cells in csv_rows(path, limits):
        yield number, cells


def read_spreadsheet(path: Path, mapping: Path | FormMapping, limits: ReadLimits = DEFAULT_LIMITS) -> ReadResult:
    """Profiles from a CSV or XLSX form, one per row, as the mapping says. A row that cannot be
    read (over the bounds of `limits`) is rejected with the reason."""
    form = mapping if isinstance(mapping, FormMapping) else load_mapping(mapping)
    xlsx = path.suffix.lower() in (".xlsx", ".xlsm")
    rows = _xlsx_rows(path, form.sheet, limits) if xlsx else _csv_rows(path, limits)
    first = next(rows, None)
    if first is None or first[0] != 1 or isinstance(first[1], str) or not any(first[1]):
        why = f": {first[1]}" if first is not None and isinstance(first[1], str) else ""
        raise MatcherError(f"{path}: row 1 must be the header (the column names){why}")
    header = first[1]
    index = _resolve(form, header, path.name)

    def records() -> Iterator[tuple[int, Any]]:
        for number, cells in rows:
            if isinstance(cells, str):
                yield number, Rejection(number, cells)
                continue
            if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
                yield number, Rejection(number, "more cells than header columns")
                continue
            yield number, _record(form, cells, index)

    return parse_lines(records(), source=path.name)
