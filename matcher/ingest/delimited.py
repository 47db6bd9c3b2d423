"""Delimited text (CSV) of unknown encoding and delimiter, read row by row within `ReadLimits`.

Lines are read by `matcher.ingest.bounds.Lines` and decoded one by one: UTF-8 (with or without a
byte-order mark), else Windows-1252, else Latin-1 (`strict`: UTF-8 only, a line that is not is
skipped). `sniff_delimiter` picks ``;``, ``,`` or a tab from the header line. A row that cannot
be read comes with the reason instead of its cells (a line, or a record over several lines,
longer than `ReadLimits.line_bytes`; a cell longer than `ReadLimits.field_bytes`); the rows
after it are read as usual.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from matcher.domain.errors import MatcherError
from matcher.ingest.bounds import DEFAULT_LIMITS, Lines, ReadLimits, SkippedLine, TextLines, open_input, size_text

__all__ = ["csv_rows", "header_cells", "sniff_delimiter"]


def sniff_delimiter(header: str) -> str:
    """``;``, tab or ``,``: the one that splits the header line (outside quotes) the most."""
    header = header.split("\n", 1)[0]
    counts = {d: 0 for d in ";\t,"}
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def header_cells(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> list[str]:
    """The cells of a CSV file's first line ([] if there is none, or it is too long to be a header)."""
    with open_input(path) as fh:
        first = fh.readline(limits.line_bytes + 1)
    if len(first) > limits.line_bytes:
        return []
    text = first.decode("utf-8-sig", errors="replace")
    try:
        return next(csv.reader([text], delimiter=sniff_delimiter(text)), [])
    except csv.Error:
        return []


def _too_large(cells: list[str], limit: int) -> bool:
    """Whether a cell holds more than `limit` bytes of UTF-8 (one holds at most 4 per character)."""
    return any(len(cell) > limit // 4 and len(cell.encode("utf-8", "surrogatepass")) > limit for cell in cells)


def csv_rows(
    path: Path, limits: ReadLimits = DEFAULT_LIMITS, *, strict: bool = False
) -> Iterator[tuple[int, int, list[str] | str]]:
    """(row number with the header as row 1, line the row starts on, its cells or why it was
    skipped) for every row, header included; blank rows are skipped but counted.

    Cells are checked against `limits.field_bytes` here; the csv module's own cell limit, which
    is process-wide, is only raised, to `limits.line_bytes` (a cell within one line must fit)."""
    if csv.field_size_limit() < limits.line_bytes:
        csv.field_size_limit(limits.line_bytes)
    with open_input(path) as fh:
        lines = Lines(fh, limits, path)
        text = TextLines(lines, fallback=not strict)
        try:
            header = next(text, "")
        except SkippedLine as skipped:
            raise MatcherError(f"{path}: line {skipped.line}, the header: {skipped.reason}") from None
        if header:
            lines.push(header.encode("utf-8"))  # read again by the csv module, decoded the same way
        reader = csv.reader(text, delimiter=sniff_delimiter(header))
        row = 0
        field = f"a cell is longer than {size_text(limits.field_bytes)}, the most one cell may take; row skipped"
        while True:
            start = lines.number + 1
            lines.mark()
            try:
                cells = next(reader)
            except StopIteration:
                return
            except SkippedLine as skipped:
                row += 1
                yield row, skipped.line, skipped.reason
                continue
            except csv.Error as err:
                row += 1
                yield row, start, f"not readable CSV ({err}); row skipped"
                continue
            row += 1
            if _too_large(cells, limits.field_bytes):
                yield row, start, field
            elif any(cell.strip() for cell in cells):
                yield row, start, cells
