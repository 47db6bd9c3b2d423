"""Reading JSON in its usual shapes, within `ReadLimits`. Records come out with their location, so
every rejection can name it.

`json_records`: one object (location ``$``), a list (``[3]``), an API page
``{"meta": ..., "results": [...]}`` (``results[3]``), or JSON Lines (the line number; a line that
is itself an API page gives ``7:results[3]``). ``.gz`` files are read through gzip, as in the
OpenAlex snapshot. JSON Lines are streamed (`text_lines`: views into large blocks, each line
with whether it is valid UTF-8; a line over the bound is skipped and rejected); the other shapes
are loaded whole, up to `ReadLimits.document_bytes`. Only ``\n`` ends a line: U+2028 and U+2029,
valid inside JSON strings, never do.
"""

from __future__ import annotations

import gc
import io
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from matcher.ingest.bounds import (
    DEFAULT_LIMITS,
    TOO_DEEP,
    ReadLimits,
    open_input,
    read_document,
    size_text,
    skip_line,
    too_long,
)
from matcher.ingest.readers import Rejection

__all__ = [
    "TOO_DEEP", "LineDecoder", "Location", "expand", "first_json_record", "gc_paused", "is_json_lines",
    "json_records", "reread_line", "subpath", "text_lines",
]

Location = int | str


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


def _next_content(fh: io.BufferedIOBase, number: int, limit: int) -> tuple[int, bytes | None]:
    """The next line with content and its number (None at the end); a line longer than `limit`
    is returned as its first `limit` + 1 bytes, whatever it holds."""
    while line := fh.readline(limit + 1):
        number += 1
        if len(line) > limit or line.strip():
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


class _Head(NamedTuple):
    """The first two lines with content and their numbers (None for a line over the bound, which
    is skipped), and whether they make JSON Lines. A first line over the bound comes alone: no
    record starts there, so the file is at most one JSON document."""

    lines: list[tuple[int, bytes | None]]
    jsonl: bool


def _head(fh: io.BufferedIOBase, limits: ReadLimits) -> _Head:
    limit = limits.line_bytes
    n1, first = _next_content(fh, 0, limit)
    if first is None:
        return _Head([], False)
    if len(first) > limit:
        return _Head([(n1, None)], False)
    first = first.removeprefix(b"\xef\xbb\xbf")
    n2, second = _next_content(fh, n1, limit)
    if second is not None and len(second) > limit:
        if not second.endswith(b"\n"):
            skip_line(fh)
        return _Head([(n1, first), (n2, None)], first.startswith(b"{") and second.startswith(b"{") and _parses(first))
    jsonl = first.startswith(b"{") and _looks_like_jsonl(first, second)
    return _Head([(n1, first)] if second is None else [(n1, first), (n2, second)], jsonl)


def is_json_lines(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> bool:
    """Whether `path` holds JSON Lines (rather than one JSON document), judged by its first lines."""
    with open_input(path) as fh:
        return _head(fh, limits).jsonl


_BLOCK = 1 << 22
_TAIL = 1 << 16  # read at a time past `limit`, to the end of the last line


def _is_text(line: bytes | memoryview) -> bool:
    try:
        str(line, "utf-8")
    except UnicodeDecodeError:
        return False
    return True


def text_lines(
    fh: io.BufferedIOBase,
    limit: int | None = None,
    buffer: bytearray | None = None,
    max_line: int = DEFAULT_LIMITS.line_bytes,
) -> Iterator[tuple[bytes | memoryview | None, bool]]:
    """The lines of `fh` from its position on (each with its newline, the last maybe without),
    each with whether it is valid UTF-8; with `limit`, only those starting within `limit` bytes.
    A line longer than `max_line` comes as (None, False): it is read past, never held.

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
    held = 0  # the length so far of that line, kept in `begun` unless it is over `max_line`
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
        if held:
            start = find(b"\n", 0, n) + 1
            held += start or n
            if held > max_line:
                begun.clear()
            else:
                begun.append(bytes(view[:start] if start else view[:n]))
            if not start:
                continue
            if begun:
                whole = b"".join(begun)
                begun.clear()
                yield whole, _is_text(whole)
            else:
                yield None, False
            offset += held
            held = 0
        ascii = block.isascii() if n == len(block) else bytes(view[:n]).isascii()
        while offset < stop and (end := find(b"\n", start, n) + 1):
            if end - start > max_line:
                yield None, False
            else:
                line = view[start:end]
                yield line, ascii or _is_text(line)
            offset += end - start
            start = end
        if start < n and offset < stop:
            held = n - start
            if held <= max_line:
                begun.append(bytes(view[start:n]))
    if held and offset < stop:
        if begun:
            rest = b"".join(begun)
            yield rest, _is_text(rest)
        else:
            yield None, False


LineDecoder = Callable[[bytes | memoryview], Any]


def json_records(
    path: Path, decode_line: LineDecoder | None = None, limits: ReadLimits = DEFAULT_LIMITS
) -> Iterator[tuple[Location, Any]]:
    """(location, record) pairs of a JSON or JSON Lines file; undecodable JSON, and a line over
    `limits.line_bytes`, come as a `Rejection` in place of the record. `decode_line`, if given, is
    tried first on each line of JSON Lines that is valid UTF-8: it returns the line's record, or
    None to have the line decoded in full. A file that is not JSON Lines is read whole, up to
    `limits.document_bytes` (else a `MatcherError` for the file)."""
    with open_input(path) as fh:
        head = _head(fh, limits)
        if not head.lines:
            return
        if head.jsonl:
            rest = text_lines(fh, max_line=limits.line_bytes)
            yield from _jsonl(head.lines, rest, decode_line, limits.line_bytes)
            return
        number, first = head.lines[0]
        why = "" if first is not None else (
            f"line {number} is longer than {size_text(limits.line_bytes)}, so this is not JSON Lines, and it is "
        )
        fh.seek(0)
        blob = read_document(fh, limits, path, why)
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
    head: list[tuple[int, bytes | None]],
    rest: Iterator[tuple[bytes | memoryview | None, bool]],
    decode_line: LineDecoder | None,
    max_line: int,
) -> Iterator[tuple[Location, Any]]:
    def numbered() -> Iterator[tuple[int, bytes | memoryview | None, bool]]:  # the lines read ahead too
        for number, ahead in head:
            yield number, ahead, ahead is not None and _is_text(ahead)
        for number, (line, text) in enumerate(rest, head[-1][0] + 1):
            yield number, line, text

    loads = orjson.loads  # several times faster than json.loads; errors are re-read by json for the message
    for number, line, text in numbered():
        if line is None:
            yield number, Rejection(number, too_long(max_line))
            continue
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


def first_json_record(path: Path, limits: ReadLimits = DEFAULT_LIMITS) -> Any:
    """The first record of a JSON or JSON Lines file (for format detection), or None."""
    for _, record in json_records(path, limits=limits):
        if not isinstance(record, Rejection):
            return record
    return None
