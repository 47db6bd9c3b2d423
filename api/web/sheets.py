"""Spreadsheet files the pages hand out (CSV, XLSX): cells a spreadsheet never runs as formulas."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from openpyxl import Workbook
from openpyxl.styles import Font

__all__ = ["cell_safe", "csv_bytes", "xlsx_bytes"]


def cell_safe(value: object) -> object:
    """A cell a spreadsheet will not run as a formula (a leading = + - @ is quoted)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_bytes(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 with a byte-order mark, so that spreadsheet programs read accents right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows([cell_safe(v) for v in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def xlsx_bytes(sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[object]]]]) -> bytes:
    """A workbook of (title, columns, rows) sheets, headers in bold and kept in view."""
    book = Workbook()
    first = book.active
    for number, (title, columns, rows) in enumerate(sheets):
        sheet = first if number == 0 and first is not None else book.create_sheet()
        sheet.title = title
        sheet.append(list(columns))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([cell_safe(v) for v in row])
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
