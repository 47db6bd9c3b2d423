"""Files that arrive as bytes (an HTTP upload) rather than as paths: written to a private temporary
folder and read like any file; a CORDIS export arrives as a zip of its two CSV files."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from matcher.domain.errors import MatcherError
from matcher.ingest.detect import read_source
from matcher.ingest.readers import ReadResult

__all__ = ["UPLOAD_FORMATS", "read_upload"]

UPLOAD_FORMATS = ("jsonl", "openalex", "orcid", "cordis", "csv")
_SUFFIX = {"jsonl": ".jsonl", "openalex": ".jsonl", "orcid": ".json", "csv": ".csv"}
_CORDIS = ("project.csv", "organization.csv")
_MAX_UNPACKED = 200 * 2**20


def read_upload(body: bytes, fmt: str) -> ReadResult:
    """Read an uploaded file of a known format (see `UPLOAD_FORMATS`)."""
    if fmt not in UPLOAD_FORMATS:
        raise MatcherError(f"unknown upload format '{fmt}'; choose one of {', '.join(UPLOAD_FORMATS)}")
    if not body:
        raise MatcherError("the upload is empty: send the file's bytes")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if fmt == "cordis":
            path = _unpack_cordis(body, folder)
        else:
            path = folder / f"upload{_SUFFIX[fmt]}"
            path.write_bytes(body)
        return read_source(path, fmt)


def _unpack_cordis(body: bytes, folder: Path) -> Path:
    """A zip holding project.csv and organization.csv (anywhere inside); nothing else is extracted."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
    except zipfile.BadZipFile:
        raise MatcherError("a CORDIS upload must be a zip of project.csv and organization.csv") from None
    found = {Path(n).name: n for n in archive.namelist() if Path(n).name in _CORDIS}
    if set(found) != set(_CORDIS):
        raise MatcherError(f"the zip must contain {' and '.join(_CORDIS)}; found {', '.join(found) or 'neither'}")
    for name, member in found.items():
        if archive.getinfo(member).file_size > _MAX_UNPACKED:
            raise MatcherError(f"{name} is larger than 200 MiB unpacked")
        (folder / name).write_bytes(archive.read(member))
    return folder
