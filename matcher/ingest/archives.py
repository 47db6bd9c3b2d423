"""Zip archives from outside (a CORDIS export uploaded as a zip, an XLSX workbook), opened within
`ReadLimits`: each member's declared size and expansion ratio are checked before anything is
decompressed, and a member is extracted in a stream that stops at its declared size, so neither a
zip bomb nor a member that lies about its size can take more than the bounds allow.

A member that expands more than `zip_ratio` times is refused once it is over 1 MiB (small files of
repeated text compress that well in earnest); members together may unpack to `unpacked_bytes`.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from matcher.domain.errors import MatcherError
from matcher.ingest.bounds import DEFAULT_LIMITS, ReadLimits, size_text

__all__ = ["check_members", "extract_member", "open_zip"]

_RATIO_FROM = 1 << 20  # members smaller than this are not held to the ratio
_STEP = 1 << 20


def open_zip(source: Path | IO[bytes], what: str) -> zipfile.ZipFile:
    """A `ZipFile` over a path or a binary file object, or a `MatcherError`: `what` is not a zip."""
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        raise MatcherError(f"{what} is not a readable zip archive") from None


def check_members(
    archive: zipfile.ZipFile, members: Iterable[zipfile.ZipInfo], limits: ReadLimits = DEFAULT_LIMITS, what: str = ""
) -> None:
    """Refuse (with a `MatcherError`) members that expand too much or unpack to too much together."""
    where = f"{what}: " if what else ""
    total = 0
    for info in members:
        name = Path(info.filename).name
        if info.file_size > _RATIO_FROM and info.file_size > limits.zip_ratio * max(info.compress_size, 1):
            raise MatcherError(
                f"{where}{name} expands more than {limits.zip_ratio}x ({size_text(info.compress_size)} to "
                f"{size_text(info.file_size)}); refused"
            )
        total += info.file_size
        if total > limits.unpacked_bytes:
            raise MatcherError(f"{where}the archive unpacks to more than {size_text(limits.unpacked_bytes)}; refused")


def extract_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    """Write one member to `target` in a stream, never more than its declared size (zipfile stops
    there and checks the CRC); a damaged or unsupported member is a `MatcherError`."""
    name = Path(info.filename).name
    written = 0
    try:
        with archive.open(info) as src, target.open("wb") as out:
            while chunk := src.read(_STEP):
                written += len(chunk)
                if written > info.file_size:  # pragma: no cover - zipfile stops at the declared size
                    raise MatcherError(f"{name} holds more than the {size_text(info.file_size)} it declares")
                out.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise MatcherError(f"{name} is damaged in the archive ({err})") from None
    except (NotImplementedError, RuntimeError) as err:  # a compression method or encryption zipfile lacks
        raise MatcherError(f"{name} cannot be unpacked ({err})") from None
