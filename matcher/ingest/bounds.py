"""Bounds on what one input can make a read hold: however large or strange a file is, reading it
takes bounded memory, and whatever is over a bound becomes one record's rejection or one clear
error for the whole file, never a traceback.

`ReadLimits` holds the bounds (the CLI and the API pass the configured ones, see
`matcher.service.config`; every reader has the defaults). At each bound:

- a line (a JSON Lines record, a CSV line) longer than `line_bytes`: that record is rejected with
  its line number, and the read goes on at the next line break (found 1 MiB at a time, nothing
  kept). If the first line with content is that long, no record can start there: the whole file
  is refused at once (JSON inputs are first tried as one JSON document);
- a JSON document read whole (not JSON Lines) longer than `document_bytes`: the file is refused;
- a CSV cell longer than `field_bytes`, or a CSV record over more lines than `line_bytes` holds:
  that record is rejected (`matcher.ingest.delimited`);
- a zip member that expands more than `zip_ratio` times, or members together larger than
  `unpacked_bytes`: the archive is refused before anything is decompressed
  (`matcher.ingest.archives`).

`Lines` reads a binary file line by line within these bounds; `read_document` reads a whole one.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path

from matcher.domain.errors import MatcherError

__all__ = [
    "DEFAULT_LIMITS", "TOO_DEEP", "Lines", "ReadLimits", "SkippedLine", "TextLines", "open_input", "read_document",
    "size_text", "skip_line", "too_long",
]

TOO_DEEP = "not readable JSON: nested too deeply"
_STEP = 1 << 20  # read at a time while skipping the rest of a line that is too long


@dataclass(frozen=True)
class ReadLimits:
    """The most one input may hold, in bytes (see the module)."""

    line_bytes: int = 4 << 20
    field_bytes: int = 1 << 20
    document_bytes: int = 64 << 20
    zip_ratio: int = 100
    unpacked_bytes: int = 512 << 20


DEFAULT_LIMITS = ReadLimits()


def size_text(size: int) -> str:
    """``4 MiB``, ``1 GiB``, ``1.5 KiB``, ``100 bytes``."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            return f"{size / (1 << shift):.4g} {unit}"
    return f"{size} bytes"


def too_long(line_bytes: int) -> str:
    """The reason a line over the bound is rejected."""
    return f"the line is longer than {size_text(line_bytes)}, the most one record may take; skipped"


class SkippedLine(Exception):
    """A line that is not read as a record (too long, or not text): its number and why. Raised by
    `Lines` and `TextLines`, which go on with the next line afterwards."""

    def __init__(self, line: int, reason: str):
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


def open_input(path: Path) -> io.BufferedIOBase:
    """`path` opened for reading bytes (through gzip for ``.gz``), or a `MatcherError` saying why not."""
    try:
        return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")
    except FileNotFoundError:
        raise MatcherError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise MatcherError(f"{path}: is a directory, expected a file") from None
    except PermissionError:
        raise MatcherError(f"{path}: not readable (permission denied)") from None


def skip_line(fh: io.BufferedIOBase) -> int:
    """Read past the next line break (or to the end) without keeping anything; the bytes read."""
    skipped = 0
    while chunk := fh.readline(_STEP):
        skipped += len(chunk)
        if chunk.endswith(b"\n"):
            break
    return skipped


class Lines:
    """The lines of a binary file from its position on, each with its line break (only ``\\n``
    ends a line; a ``\\r`` before it is left to the caller), read `limits.line_bytes` + 1 bytes at
    most at a time. A longer line is skipped to its end and reported by raising `SkippedLine`,
    and iteration goes on after it (the csv module reads through this object and keeps its
    place); the first line with content being that long raises `MatcherError` for the file.
    `number` is the number of the last line read; `push` gives a line back, to be read again.
    After `mark`, the lines read until the next `mark` are one record (CSV quotes can span
    lines): they too may hold `limits.line_bytes` together, else `SkippedLine` is raised."""

    def __init__(self, fh: io.BufferedIOBase, limits: ReadLimits, name: object):
        self._fh = fh
        self._limit = limits.line_bytes
        self._name = name
        self._pushed: list[bytes] = []
        self._content = False
        self._record: int | None = None  # bytes since `mark`
        self.number = 0

    def __iter__(self) -> Lines:
        return self

    def __next__(self) -> bytes:
        if self._pushed:
            self.number += 1
            return self._pushed.pop()
        line = self._fh.readline(self._limit + 1)
        if self._record is not None and line:
            self._record += len(line)
            if self._record > self._limit and len(line) <= self._limit:
                self.number += 1
                raise SkippedLine(self.number, f"the record runs over lines that together hold more than "
                                  f"{size_text(self._limit)}, the most one record may take; skipped")
        if not line:
            raise StopIteration
        self.number += 1
        if len(line) > self._limit:
            if not self._content:
                raise MatcherError(
                    f"{self._name}: line {self.number} is longer than {size_text(self._limit)}, the most one record "
                    "may take: this is not a file of one record per line"
                )
            if not line.endswith(b"\n"):
                skip_line(self._fh)
            raise SkippedLine(self.number, too_long(self._limit))
        self._content = self._content or bool(line.strip())
        return line

    def mark(self) -> None:
        """A record starts with the next line."""
        self._record = 0

    def push(self, line: bytes) -> None:
        """Give `line` (the last one read) back: the next read returns it again."""
        self._pushed.append(line)
        self.number -= 1


class TextLines:
    """`Lines` decoded: UTF-8 (a byte-order mark on line 1 is dropped); a line that is not UTF-8
    is, with `fallback`, read as Windows-1252 (else Latin-1, which cannot fail), and otherwise
    skipped with `SkippedLine`. Decoding line by line is exact (a line break is never part of a
    UTF-8 sequence) and reads a file that mixes both encodings correctly."""

    def __init__(self, lines: Lines, *, fallback: bool):
        self.lines = lines
        self._fallback = fallback

    def __iter__(self) -> TextLines:
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as err:
            if not self._fallback:
                raise SkippedLine(self.lines.number, f"not UTF-8 text ({err.reason} at byte {err.start})") from None
            try:
                text = line.decode("cp1252")
            except UnicodeDecodeError:
                text = line.decode("latin-1")
        return text.removeprefix("\ufeff") if self.lines.number == 1 else text


def read_document(fh: io.BufferedIOBase, limits: ReadLimits, name: object, why: str = "") -> bytes:
    """The rest of `fh`, if it holds at most `limits.document_bytes`; else a `MatcherError` for
    the file (`why`: what made the reader take the file as one document, said first)."""
    blob = fh.read(limits.document_bytes + 1)
    if len(blob) > limits.document_bytes:
        raise MatcherError(
            f"{name}: {why}one JSON document larger than {size_text(limits.document_bytes)}, the most read whole; "
            "give large inputs as JSON Lines (one record per line)"
        )
    return blob
