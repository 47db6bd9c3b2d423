"""Columns of strings stored as one UTF-8 byte array plus offsets, so a snapshot can memory-map
them: loading 500,000 work titles costs two `np.load` calls, and a title is decoded only when an
explanation reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol, overload

import numpy as np

__all__ = ["Chained", "PackedStrings", "Strings"]


class Strings(Protocol):
    """The read side every string column offers: position look-up, length, iteration."""

    def __getitem__(self, row: int) -> str: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[str]: ...


class PackedStrings:
    """Immutable strings: `blob[offsets[i]:offsets[i+1]]` is the UTF-8 of string i."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray):
        if offsets.ndim != 1 or len(offsets) == 0 or int(offsets[-1]) != len(blob):
            raise ValueError("offsets must end at the blob's length")
        self.blob = blob
        self.offsets = offsets
        self._bytes = np.ascontiguousarray(blob, dtype=np.uint8).data.cast("B")  # no numpy per look-up
        self._offsets = np.asarray(offsets, dtype=np.int64)
        self._n = len(offsets) - 1

    @classmethod
    def from_strings(cls, strings: Iterable[str]) -> PackedStrings:
        encoded = [s.encode("utf-8") for s in strings]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        return cls(np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), offsets)

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, row: int) -> str: ...

    @overload
    def __getitem__(self, row: slice) -> list[str]: ...

    def __getitem__(self, row: int | slice) -> str | list[str]:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        if row < 0:
            row += self._n
        if not 0 <= row < self._n:
            raise IndexError(row)
        lo, hi = self._offsets[row : row + 2].tolist()
        return str(self._bytes[lo:hi], "utf-8")

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(len(self)))

    def take(self, rows: Sequence[int] | np.ndarray) -> PackedStrings:
        """A new column of the given rows, in that order."""
        return PackedStrings.from_strings(self[int(r)] for r in rows)

    def save(self, directory: Path, name: str, write: _Writer) -> None:
        write(directory / f"{name}.utf8.npy", self.blob)
        write(directory / f"{name}.offsets.npy", self.offsets)

    @classmethod
    def load(cls, directory: Path, name: str) -> PackedStrings:
        blob = np.load(directory / f"{name}.utf8.npy", mmap_mode="r", allow_pickle=False)
        offsets = np.load(directory / f"{name}.offsets.npy", mmap_mode="r", allow_pickle=False)
        return cls(blob, offsets)


class _Writer(Protocol):
    def __call__(self, path: Path, array: np.ndarray) -> None: ...


class Chained:
    """Two string columns read as one: rows of `first`, then rows of `second`."""

    def __init__(self, first: Strings, second: Strings):
        self.first = first
        self.second = second
        self._boundary = len(first)

    def __len__(self) -> int:
        return self._boundary + len(self.second)

    def __getitem__(self, row: int) -> str:
        row = int(row)
        if row < 0:
            row += len(self)
        return self.first[row] if row < self._boundary else self.second[row - self._boundary]

    def __iter__(self) -> Iterator[str]:
        yield from self.first
        yield from self.second
