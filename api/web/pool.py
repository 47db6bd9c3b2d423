"""A programme office's pool: the batch options of the form, and an uploaded file read and stored.

An upload is written to a private temporary folder and read as `matcher ingest` reads a file
(JSONL, the flat CSV, or a registration form in XLSX or CSV with a YAML column mapping), within
the store's `ReadLimits`; its valid records are stored through the ingest use case
(`matcher.service.profiles.ingest`) and become the batch's pool. Rejected records come back
with their line and reason, and messages name the uploaded file, never the temporary folder.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from starlette.datastructures import FormData

from api.web.forms import FormError, countries, flag, number
from matcher.assign.programme import BatchRequest, build_request
from matcher.domain.errors import InvalidQuery, MatcherError
from matcher.ingest.detect import read_source
from matcher.ingest.readers import Rejection
from matcher.service import profiles
from matcher.service.bootstrap import Services

__all__ = ["FORMATS", "Upload", "UploadResult", "batch_options", "store_upload"]

FORMATS = {"auto": "Worked out from the file name", "jsonl": "Profiles, one JSON object per line (JSONL)",
           "csv": "Profiles as a table (CSV, the profile columns)",
           "form": "A registration form (XLSX or CSV) with a column mapping"}
_SUFFIXES = {".jsonl", ".json", ".csv", ".xlsx", ".xlsm"}


@dataclass(frozen=True)
class Upload:
    name: str  # the file's name as the browser sent it (shown in messages)
    body: bytes
    fmt: str  # a key of FORMATS
    mapping: bytes = b""


@dataclass(frozen=True)
class UploadResult:
    ids: tuple[str, ...]  # the valid records' profile ids: the pool
    rejected: tuple[Rejection, ...]
    added: int
    updated: int
    unchanged: int


def batch_options(form: FormData) -> tuple[str, BatchRequest]:
    """The mode and the batch the form asks for (its pool is set once the upload is stored)."""
    mode = form.get("mode")
    if mode not in ("topk", "pairs", "bipartite"):
        raise FormError("mode-topk", "Choose how to match the pool.")
    k = number(form, "k", "Partners per applicant", 1, 100, default=5)
    capacity = number(form, "capacity", "Partners each applicant can take", 1, 100)
    sides: tuple[str, ...] = ()
    if mode == "bipartite":
        sides = (",".join(countries(form, "side_a", "Side A")), ",".join(countries(form, "side_b", "Side B")))
        if not sides[0] or not sides[1]:
            raise FormError("side_a" if not sides[0] else "side_b",
                            "Two sides need a country or group each, e.g. “TR” and “DE, FR”.")
    try:
        request = build_request(
            str(mode), k=k or 5, capacity=capacity, pool_countries=countries(form, "pool_countries", "Only from"),
            exclude_countries=countries(form, "exclude_countries", "Never from"), sides=sides,
            cross_border=flag(form, "cross_border"), exclude_conflicts=flag(form, "apart"),
            fair=mode == "topk" and flag(form, "fair"),
            prefer_countries=countries(form, "prefer_countries", "Prefer partners from") if mode == "topk" else (),
        )
    except InvalidQuery as err:
        raise FormError("side_a" if mode == "bipartite" else "mode-topk", _sentence(str(err))) from None
    return str(mode), request


def store_upload(services: Services, upload: Upload, *, key_id: str, scope: str) -> UploadResult:
    """Read the upload, store its valid records, and say which ids they are and what was rejected."""
    suffix = Path(upload.name).suffix.lower()
    if upload.fmt == "jsonl" or (upload.fmt == "auto" and suffix not in _SUFFIXES):
        suffix = ".jsonl"
    elif upload.fmt == "csv":
        suffix = ".csv"
    elif upload.fmt == "form" and suffix not in (".xlsx", ".xlsm", ".csv"):
        raise FormError("pool_file", "A registration form must be an .xlsx or a .csv file.")
    if upload.fmt == "form" and not upload.mapping:
        raise FormError("mapping_file", "A registration form needs its column mapping: choose the mapping file.")
    if upload.fmt != "form" and suffix in (".xlsx", ".xlsm"):
        raise FormError("pool_format", "A spreadsheet is read as a registration form: choose that, and its mapping.")
    with tempfile.TemporaryDirectory(prefix="upload-") as tmp:
        folder = Path(tmp)
        path = folder / f"upload{suffix}"
        path.write_bytes(upload.body)
        mapping = None
        if upload.fmt == "form":
            mapping = folder / "mapping.yaml"
            mapping.write_bytes(upload.mapping)
        fmt = {"jsonl": "jsonl", "csv": "csv"}.get(upload.fmt)
        try:
            read = read_source(path, fmt, mapping, limits=services.config.read_limits)
            if not read.profiles:
                raise FormError("pool_file", _nothing(upload.name, read.rejected))
            report = profiles.ingest(services, path, fmt, mapping)
        except MatcherError as err:
            message = str(err).replace(str(path), upload.name).replace(str(mapping), "the mapping")
            message = message.replace(path.name, upload.name)
            raise FormError("pool_file" if "mapping" not in message else "mapping_file",
                            message.replace(f"{folder}{os.sep}", "").replace(str(folder), "the upload").rstrip(".")
                            + ".") from None
    services.audit.record("import", key_id=key_id, scope=scope, format=upload.fmt,
                          accepted=report.added + report.updated + report.unchanged, rejected=report.rejected)
    stored = [p.id for _, p in read.profiles]
    refused = {r.record_id for r in report.rejections} - {r.record_id for r in read.rejected}
    if refused:  # refused when stored (e.g. a person already stored under another id): not in the pool
        stored = [i for i in stored if i not in refused]
    return UploadResult(tuple(stored), tuple(report.rejections), report.added, report.updated, report.unchanged)


def _nothing(name: str, rejected: list[Rejection]) -> str:
    if not rejected:
        return f"{name} holds no profile. Check that it is the right file and format."
    first = rejected[0]
    return (f"No record of {name} could be used ({len(rejected)} rejected). The first: line {first.line}: "
            f"{first.reason}. Fix the file and upload it again.")


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "."
