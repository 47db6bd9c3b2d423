"""Files that arrive as bytes (an HTTP upload) rather than as paths: written to a private temporary
folder and read like any file, within the same `ReadLimits`; a CORDIS export arrives as a zip of
its two CSV files, checked (`matcher.ingest.archives`) before anything is unpacked.

Whatever goes wrong is a `MatcherError` whose message names the upload's own files
(``upload.jsonl``, ``project.csv``), never the temporary folder they were read from."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from matcher.domain.errors import MatcherError
from matcher.ingest.archives import check_members, extract_member, open_zip
from matcher.ingest.bounds import DEFAULT_LIMITS, ReadLimits
from matcher.ingest.detect import read_source
from matcher.ingest.readers import ReadResult

__all__ = ["UPLOAD_FORMATS", "read_stream", "read_upload"]

UPLOAD_FORMATS = ("jsonl", "openalex", "orcid", "cordis", "csv")
_SUFFIX = {"jsonl": ".jsonl", "openalex": ".jsonl", "orcid": ".json", "csv": ".csv"}
_CORDIS = ("project.csv", "organization.csv")


def read_upload(body: bytes, fmt: str, limits: ReadLimits = DEFAULT_LIMITS) -> ReadResult:
    """Read an uploaded file of a known format (see `UPLOAD_FORMATS`)."""
    if fmt not in UPLOAD_FORMATS:
        raise MatcherError(f"unknown upload format '{fmt}'; choose one of {', '.join(UPLOAD_FORMATS)}")
    if not body:
        raise MatcherError("the upload is empty: send the file's bytes")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        try:
            if fmt == "cordis":
                path = _unpack_cordis(body, folder, limits)
            else:
                path = folder / f"upload{_SUFFIX[fmt]}"
                path.write_bytes(body)
            return read_source(path, fmt, limits=limits)
        except MatcherError as err:
            message = str(err).replace(f"{folder}{os.sep}", "").replace(str(folder), "the upload")
            raise MatcherError(message) from None


def read_stream(stream: BinaryIO, fmt: str | None, mapping: Path | None = None,
                limits: ReadLimits = DEFAULT_LIMITS) -> ReadResult:
    """Read a file that arrives on a stream (standard input), in `fmt` or, without one, in the
    format its first bytes show: a zip is an XLSX form, ``{`` or ``[`` JSON (the first record then
    tells OpenAlex, ORCID and profiles apart), gzip compressed JSON, anything else CSV. The stream
    is copied to a private temporary file first; messages call it ``stdin``."""
    if fmt == "cordis":
        raise MatcherError("a CORDIS export is two files: give its folder, not standard input")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spool = folder / "stdin"
        with spool.open("wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
        with spool.open("rb") as fh:
            head = fh.read(4096)
        if not head:
            raise MatcherError("standard input is empty: pipe a file into `matcher ingest -`")
        path = spool.rename(folder / f"stdin{_stream_suffix(head, fmt)}")
        try:
            return read_source(path, fmt, mapping, limits=limits)
        except MatcherError as err:
            message = str(err).replace(str(path), "stdin").replace(str(folder), "stdin")
            raise MatcherError(message) from None


def _stream_suffix(head: bytes, fmt: str | None) -> str:
    if fmt == "xlsx" or (fmt is None and head.startswith(b"PK\x03\x04")):
        return ".xlsx"
    if head.startswith(b"\x1f\x8b"):
        return ".jsonl.gz"
    if fmt in _SUFFIX:
        return _SUFFIX[fmt]
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return ".jsonl" if text[:1] in (b"{", b"[") else ".csv"


def _unpack_cordis(body: bytes, folder: Path, limits: ReadLimits) -> Path:
    """A zip holding project.csv and organization.csv (anywhere inside); nothing else is extracted."""
    archive = open_zip(io.BytesIO(body), "a CORDIS upload (a zip of project.csv and organization.csv)")
    with archive:
        found = {Path(i.filename).name: i for i in archive.infolist() if Path(i.filename).name in _CORDIS}
        if set(found) != set(_CORDIS):
            raise MatcherError(f"the zip must contain {' and '.join(_CORDIS)}; found {', '.join(found) or 'neither'}")
        check_members(archive, found.values(), limits, "the CORDIS zip")
        for name, info in found.items():
            extract_member(archive, info, folder / name)
    return folder
