"""Files that arrive as bytes (an HTTP upload) rather than as paths: written to a private temporary
folder and read like any file, within the same `ReadLimits`; a CORDIS export arrives as a zip of
its two CSV files, checked (`matcher.ingest.archives`) before anything is unpacked.

Whatever goes wrong is a `MatcherError` whose message names the upload's own files
(``upload.jsonl``, ``project.csv``), never the temporary folder they were read from."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from matcher.domain.errors import MatcherError
from matcher.ingest.archives import check_members, extract_member, open_zip
from matcher.ingest.bounds import DEFAULT_LIMITS, ReadLimits
from matcher.ingest.detect import read_source
from matcher.ingest.readers import ReadResult

__all__ = ["UPLOAD_FORMATS", "read_upload"]

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
