"""Batch outputs for mailing and review: pairs.csv, pairs.parquet, pairs.xlsx, unmatched.csv and
report.html (`matcher.export.page`).

Rows arrive with external ids, names, countries and institutions (the caller translates rows to
ids once). Every file is written to a temporary name in the output folder and moved into place
with os.replace, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import os
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import astuple
from pathlib import Path
from typing import Any

from matcher.assign.rows import PAIR_COLUMNS, UNMATCHED_COLUMNS, PairRow, Person, UnmatchedRow
from matcher.export.page import report_page

__all__ = ["write_outputs"]

def write_outputs(
    rows: Iterable[PairRow],
    unmatched: Iterable[UnmatchedRow],
    countries: Mapping[str, str],
    capacity_use: Mapping[str, tuple[int, int]],
    out_dir: str | os.PathLike[str],
    *,
    people: Mapping[str, Person] | None = None,
    run: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write the five outputs; ``capacity_use`` maps an id to (partners used, capacity), ``people``
    an id to who it is (for the applicants left short), ``run`` holds what was asked (mode, options,
    pool size, date) for the report."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows, unmatched, people = list(rows), list(unmatched), people or {}
    pairs = [astuple(r) for r in rows]
    nobody = Person()
    missing = [
        (u.applicant_id, countries.get(u.applicant_id, ""), u.wanted, u.matched, u.reason,
         people.get(u.applicant_id, nobody).name, people.get(u.applicant_id, nobody).institution)
        for u in unmatched
    ]
    names = ("pairs.csv", "pairs.parquet", "pairs.xlsx", "unmatched.csv", "report.html")
    paths = {name: out / name for name in names}
    _atomic(paths["pairs.csv"], lambda p: _write_csv(p, PAIR_COLUMNS, pairs))
    _atomic(paths["pairs.parquet"], lambda p: _write_parquet(p, rows))
    _atomic(paths["pairs.xlsx"], lambda p: _write_xlsx(p, pairs, missing))
    _atomic(paths["unmatched.csv"], lambda p: _write_csv(p, UNMATCHED_COLUMNS, missing))
    page = report_page(rows, missing, countries, capacity_use, run or {})
    _atomic(paths["report.html"], lambda p: p.write_text(page, encoding="utf-8"))
    return paths


def _atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a unique temporary name in the same folder, then rename into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_csv(path: Path, header: Sequence[str], records: Iterable[tuple]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(records)


def _write_parquet(path: Path, rows: list[PairRow]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"score": pa.float64(), "rank": pa.int32(), "strength": pa.float64()}
    schema = pa.schema([(name, types.get(name, pa.string())) for name in PAIR_COLUMNS])
    columns = {name: [getattr(r, name) for r in rows] for name in PAIR_COLUMNS}
    pq.write_table(pa.Table.from_pydict(columns, schema=schema), path)


def _write_xlsx(path: Path, pairs: list[tuple], missing: list[tuple]) -> None:
    """Two sheets, pairs and unmatched, with the CSVs' columns; text that looks like a formula stays text."""
    from openpyxl import Workbook

    book = Workbook()
    first = book.active
    assert first is not None
    for sheet, title, header, records in ((first, "pairs", PAIR_COLUMNS, pairs),
                                          (book.create_sheet(), "unmatched", UNMATCHED_COLUMNS, missing)):
        sheet.title = title
        sheet.append(list(header))
        for record in records:
            sheet.append(record)
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"
        sheet.freeze_panes = "A2"
    book.save(path)
