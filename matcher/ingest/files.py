"""Reading the files sources come in: JSON in its usual shapes, and delimited text of unknown
encoding and delimiter. Records come out with their location, so every rejection can name it.

JSON (`json_records`): one object (location ``$``), a list (``[3]``), an API page
``{"meta": ..., "results": [...]}`` (``results[3]``), or JSON Lines (the line number; a line that
is itself an API page gives ``7:results[3]``). ``.gz`` files are read through gzip, as in the
OpenAlex snapshot. JSON Lines are streamed (`text_lines`: views into large blocks, each line
with whether it is valid UTF-8); the other shapes are loaded whole.

Text (`read_text`): UTF-8 with or without a byte-order mark, falling back to Windows-1252 and
then Latin-1, which cannot fail. `sniff_delimiter` picks ``;``, ``,`` or a tab from a header line.
"""

from __future__ import annotations

import csv
import gc
import gzip
import io
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from matcher.domain.errors import MatcherError
from matcher.ingest.readers import Rejection

__all__ = [
    "TOO_DEEP", "LineDecoder", "Location", "csv_rows", "expand", "first_json_record", "gc_paused", "is_json_lines",
    "json_records", "read_text", "reread_line", "sniff_delimiter", "subpath", "text_lines",
]

Location = int | str
TOO_DEEP = "not readable JSON: nested too deeply"


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while bulk-parsing JSON.

    Decoding allocates millions of dicts and lists that stay alive (no cycles), and each
    collection pass would walk them again: pausing made a large OpenAlex read 1.2-1.6x faster.
    Reference counting still frees everything as usual; the previous state is restored.

    On the way out, the young generations, which hold all that was allocated meanwhile, are moved
    to the oldest (`gc.freeze` then `gc.unfreeze`: two list splices). Left young, the first
    allocation afterwards would start a collection over all of it (~1 s after reading 100,000
    OpenAlex works) for objects that are long-lived results; as old objects they are still checked
    by the next full collection. Skipped if the program itself uses `gc.freeze`.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def subpath(where: Location, path: str) -> str:
    """The location of `path` inside the record at `where`: ``results[3].authorships[1]``,
    ``7:authorships[1]`` (line 7 of JSON Lines), or `path` itself for a whole-file record."""
    if where == "$":
        return path
    return f"{where}.{path}" if isinstance(where, str) else f"{where}:{path}"


def _open(path: Path) -> io.BufferedIOBase:
    try:
        return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")
    except FileNotFoundError:
        raise MatcherError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise MatcherError(f"{path}: is a directory, expected a file") from None


def _bad_json(where: Location, err: json.JSONDecodeError) -> Rejection:
    at = f"line {err.lineno} column {err.colno}" if err.lineno > 1 else f"column {err.colno}"
    return Rejection(where, f"not valid JSON: {err.msg} at {at}")


def expand(where: Location, doc: Any) -> Iterator[tuple[Location, Any]]:
    """A document's records: the items of a list or of an API page's `results`, or itself,
    located inside `where`."""
    prefix = "" if where == "$" else f"{where}:"
    if isinstance(doc, list):
        yield from ((f"{prefix}[{i}]", item) for i, item in enumerate(doc))
    elif isinstance(doc, dict) and isinstance(doc.get("results"), list):
        yield from ((f"{prefix}results[{i}]", item) for i, item in enumerate(doc["results"]))
    else:
        yield where, doc


def _next_content(lines: Iterator[bytes], number: int) -> tuple[int, bytes | None]:
    for line in lines:
        number += 1
        if line.strip():
            return number, line
    return number, None


def _parses(line: bytes) -> bool:
    try:
        json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return True


def _looks_like_jsonl(first: bytes, second: bytes | None) -> bool:
    """Two object lines starting at column 0, at least one of them whole, make JSON Lines."""
    if second is None or not second.startswith(b"{"):
        return False
    return _parses(first) or _parses(second)


def _head(lines: Iterator[bytes]) -> tuple[int, bytes | None, int, bytes | None, bool]:
    """The first two non-blank lines with their numbers, and whether they make JSON Lines."""
    n1, first = _next_content(lines, 0)
    n2, second = _next_content(lines, n1)
    if first is None:
        return n1, None, n2, None, False
    first = first.removeprefix(b"\xef\xbb\xbf")
    return n1, first, n2, second, first.startswith(b"{") and _looks_like_jsonl(first, second)


def is_json_lines(path: Path) -> bool:
    """Whether `path` holds JSON Lines (rather than one JSON document), judged by its first lines."""
    with _open(path) as fh:
        return _head(iter(fh))[4]


_BLOCK = 1 << 22
_TAIL = 1 << 16  # read at a time past `limit`, to the end of the last line


def _is_text(line: bytes | memoryview) -> bool:
    try:
        str(line, "utf-8")
    except UnicodeDecodeError:
        return False
    return True


def text_lines(
    fh: io.BufferedIOBase, limit: int | None = None, buffer: bytearray | None = None
) -> Iterator[tuple[bytes | memoryview, bool]]:
    """The lines of `fh` from its position on (each with its newline, the last maybe without),
    each with whether it is valid UTF-8; with `limit`, only those starting within `limit` bytes.

    The lines are views into 4 MiB blocks: iterating the file object instead copies every line,
    which took ~8% of reading a file of OpenAlex works. A block of ASCII is valid UTF-8 as a
    whole, which spares checking its lines one by one.

    `buffer`: read every block into it (its length is the block size) instead of into a new
    bytes object; a line is then valid only until the next one is taken. For many short reads
    (the ranges of `matcher.ingest.parallel`) this saves a fresh multi-megabyte allocation, and
    the page faults that come with it, per read: reading a file in 8 MB ranges took 3x longer.
    """
    stop = sys.maxsize if limit is None else limit
    offset, read = 0, 0  # bytes in the lines given, bytes read
    begun: list[bytes] = []  # the start of a line that goes on in the next block
    size = _BLOCK if buffer is None else len(buffer)
    while offset < stop:
        want = min(size, max(stop - read, _TAIL))
        block: bytes | bytearray
        if buffer is None:
            block = fh.read(want)
            n = len(block)
        else:
            block, n = buffer, fh.readinto(memoryview(buffer)[:want])
        if not n:
            break
        read += n
        view, find = memoryview(block), block.find
        start = 0
        if begun:
            start = find(b"\n", 0, n) + 1
            begun.append(bytes(view[:start] if start else view[:n]))
            if not start:
                continue
            whole = b"".join(begun)
            begun.clear()
            yield whole, _is_text(whole)
            offset += len(whole)
        ascii = block.isascii() if n == len(block) else bytes(view[:n]).isascii()
        while offset < stop and (end := find(b"\n", start, n) + 1):
            line = view[start:end]
            yield line, ascii or _is_text(line)
            offset += end - start
            start = end
        if start < n:
            begun.append(bytes(view[start:n]))
    if begun and offset < stop:
        rest = b"".join(begun)
        yield rest, _is_text(rest)


LineDecoder = Callable[[bytes | memoryview], Any]


def json_records(path: Path, decode_line: LineDecoder | None = None) -> Iterator[tuple[Location, Any]]:
    """(location, record) pairs of a JSON or JSON Lines file; undecodable JSON comes as a
    `Rejection` in place of the record. `decode_line`, if given, is tried first on each line of
    JSON Lines that is valid UTF-8: it returns the line's record, or None to have the line
    decoded in full."""
    with _open(path) as fh:
        n1, first, n2, second, jsonl = _head(iter(fh))
        if first is None:
            return
        if jsonl:
            yield from _jsonl(n1, first, n2, second, text_lines(fh), decode_line)
            return
        fh.seek(0)
        blob = fh.read()
    try:
        doc = json.loads(blob)
    except json.JSONDecodeError as err:
        yield "$", _bad_json("$", err)
        return
    except UnicodeDecodeError as err:
        yield "$", Rejection("$", f"not UTF-8 text ({err.reason} at byte {err.start})")
        return
    except RecursionError:
        yield "$", Rejection("$", TOO_DEEP)
        return
    yield from expand("$", doc)


def _jsonl(
    n1: int,
    first: bytes,
    n2: int,
    second: bytes | None,
    rest: Iterator[tuple[bytes | memoryview, bool]],
    decode_line: LineDecoder | None,
) -> Iterator[tuple[Location, Any]]:
    def numbered() -> Iterator[tuple[int, bytes | memoryview, bool]]:  # the two lines read ahead too
        yield n1, first, _is_text(first)
        if second is not None:
            yield n2, second, _is_text(second)
        for number, (line, text) in enumerate(rest, n2 + 1):
            yield number, line, text

    loads = orjson.loads  # several times faster than json.loads; errors are re-read by json for the message
    for number, line, text in numbered():
        if text and decode_line is not None and (doc := decode_line(line)) is not None:
            yield number, doc
            continue
        try:
            doc = loads(line)
        except ValueError:  # JSONDecodeError or UnicodeDecodeError
            if (line := bytes(line)).strip():
                yield from _line(number, line)
            continue
        if type(doc) is dict and "results" not in doc:
            yield number, doc
        else:
            yield from expand(number, doc)


def reread_line(line: bytes) -> tuple[Any, str | None]:
    """A line orjson could not read, read with `json` for a precise message: (its document,
    None), or (None, why it is not JSON) for the line's rejection."""
    try:
        return json.loads(line), None
    except json.JSONDecodeError as err:
        return None, f"not valid JSON: {err.msg} at column {err.colno}"
    except UnicodeDecodeError as err:
        return None, f"not UTF-8 text ({err.reason} at byte {err.start})"
    except RecursionError:
        return None, TOO_DEEP


def _line(number: int, line: bytes) -> Iterator[tuple[Location, Any]]:
    doc, problem = reread_line(line)
    if problem is not None:
        yield number, Rejection(number, problem)
    else:
        yield from expand(number, doc)


def first_json_record(path: Path) -> Any:
    """The first record of a JSON or JSON Lines file (for format detection), or None."""
    for _, record in json_records(path):
        if not isinstance(record, Rejection):
            return record
    return None


def read_text(path: Path) -> str:
    """A text file's content: UTF-8 (a byte-order mark is dropped), else Windows-1252, else Latin-1."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MatcherError(f"{path}: no such file") from None
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def sniff_delimiter(text: str) -> str:
    """``;``, tab or ``,``: the one that splits the header line (outside quotes) the most."""
    header = text.split("\n", 1)[0]
    counts = {d: 0 for d in ";\t,"}
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def csv_rows(text: str, delimiter: str | None = None) -> Iterator[tuple[int, int, list[str]]]:
    """(row number with the header as row 1, line the row starts on, cells) for every row,
    header included; blank rows are skipped but counted."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter or sniff_delimiter(text))
    line = 1
    for row_number, row in enumerate(reader, start=1):
        start, line = line, reader.line_num + 1
        if any(cell.strip() for cell in row):
            yield row_number, start, row
