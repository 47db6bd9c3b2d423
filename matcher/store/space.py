"""A full disk, told apart from other write failures.

SQLite says "database or disk is full" (SQLITE_FULL), the operating system ENOSPC or EDQUOT; either
becomes `StoreFull`, which the API answers with 507 and the CLI with its message. `DiskSpace`
remembers whether the last write failed that way, so the service reports itself degraded until a
write succeeds again. Reads never pass through it: matches go on from memory.
"""

from __future__ import annotations

import errno
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from matcher.domain.errors import StoreFull

__all__ = ["DiskSpace", "is_disk_full"]

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_PG_DISK_FULL = "53100"  # PostgreSQL's disk_full


def is_disk_full(err: BaseException) -> bool:
    """Whether an error means there is no room left to write (at any depth of its causes)."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StoreFull):
            return True
        if isinstance(current, sqlite3.Error) and getattr(current, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return True
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return True
        if getattr(current, "sqlstate", None) == _PG_DISK_FULL:  # psycopg: the PostgreSQL server's disk
            return True
        current = current.__cause__ or current.__context__
    return False


class DiskSpace:
    """Whether the last write of this process failed for lack of space (see the module)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._full = False

    @property
    def full(self) -> bool:
        return self._full

    def failed(self) -> None:
        with self._lock:
            self._full = True

    def written(self) -> None:
        if self._full:
            with self._lock:
                self._full = False

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Run a write: a full disk raises `StoreFull` (and is remembered), success clears it."""
        try:
            yield
        except StoreFull:
            self.failed()
            raise
        except Exception as err:
            if not is_disk_full(err):
                raise
            self.failed()
            raise StoreFull() from err
        self.written()
