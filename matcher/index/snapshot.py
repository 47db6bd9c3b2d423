"""Snapshots of the matching state: everything a query reads, saved beside the store.

One folder per snapshot under `MATCHER_HOME/state/<model>/`, named by the store generation it
reflects: the base segment's columns as `.npy` files (vectors memory-mapped at load), the fitted
lexical model, and `meta.json` (format, model, the kernel that made the vectors, generation, the
store's id, and each file's size and SHA-256). A snapshot is written into a temporary folder,
every file fsynced, the folder renamed into place, and only then named in `CURRENT` (replaced
atomically), so a crash at any moment leaves the previous snapshot in force. Loading verifies every
file against `meta.json`; a snapshot that fails is ignored and rebuilt from the store.

Vectors are keyed by the model and its numeric family (`...+int8`), never by the CPU: a snapshot
made on one machine loads on any other.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from matcher.domain.errors import MatcherError
from matcher.index.corpus import Fitted
from matcher.index.lexical import LexicalModel
from matcher.index.segment import Segment
from matcher.store.atomic import fsync_dir, write_text_atomic

__all__ = ["FORMAT", "SnapshotError", "SnapshotInfo", "Snapshots"]

FORMAT = 2  # 2: the role, SME and last-year columns, and the lexical rows' norms and lengths
log = logging.getLogger(__name__)


class SnapshotError(MatcherError):
    """A snapshot that cannot be used (missing, torn, from another store or model)."""


@dataclass(frozen=True)
class SnapshotInfo:
    name: str
    generation: int
    store_id: str
    model_id: str
    kernel: str
    rows: int
    works: int
    fit_rows: int
    fit_generation: int
    activity_norm: float
    changed_since_fit: int  # rows written since the lexical model was fitted (folded in without a refit)
    created: float


class Snapshots:
    """The snapshots of one model's matching state (see the module)."""

    def __init__(self, state_dir: Path, model_id: str):
        self.model_id = model_id
        slug = hashlib.sha1(model_id.encode()).hexdigest()[:12]
        self.root = state_dir / slug
        self._told: set[str] = set()  # warnings already given

    # -- reading --------------------------------------------------------------------------------

    def current(self) -> SnapshotInfo | None:
        """The snapshot `CURRENT` names, or None when there is none (or it cannot be read)."""
        try:
            name = json.loads((self.root / "CURRENT").read_text())["snapshot"]
            return self._info(self.root / name)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        except SnapshotError as err:  # written by an older version: the state is rebuilt from the store
            if str(err) not in self._told:
                self._told.add(str(err))
                log.warning("%s; rebuilding the matching state from the store", err)
            return None

    def named(self) -> bool:
        """Whether `CURRENT` names a snapshot, readable or not."""
        return (self.root / "CURRENT").exists()

    def _info(self, folder: Path) -> SnapshotInfo:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("format") != FORMAT:
            raise SnapshotError(f"snapshot {folder.name} has format {meta.get('format')}, not {FORMAT}")
        return SnapshotInfo(**meta["info"])

    def load(self, info: SnapshotInfo, *, store_id: str, verify: bool = True) -> tuple[Segment, Fitted]:
        """The base segment (memory-mapped) and fitted parts of a snapshot, checked file by file."""
        folder = self.root / info.name
        if info.store_id != store_id:
            raise SnapshotError(f"snapshot {info.name} belongs to another store")
        if info.model_id != self.model_id:
            raise SnapshotError(f"snapshot {info.name} is of model {info.model_id}, not {self.model_id}")
        try:
            meta = json.loads((folder / "meta.json").read_text())
            for name, expected in meta["files"].items():
                path = folder / name
                if path.stat().st_size != expected["bytes"]:
                    raise SnapshotError(f"snapshot {info.name}: {name} has the wrong size")
                if verify and _sha256(path) != expected["sha256"]:
                    raise SnapshotError(f"snapshot {info.name}: {name} does not match its digest")
            segment = Segment.load(folder)
            lexical = LexicalModel.load(folder)
        except (OSError, ValueError, KeyError) as err:
            raise SnapshotError(f"snapshot {info.name} cannot be read: {err}") from err
        if len(segment) != info.rows or segment.n_works != info.works:
            raise SnapshotError(f"snapshot {info.name} does not hold the rows its meta.json counts")
        fitted = Fitted(lexical, info.activity_norm, info.fit_rows, info.fit_generation)
        return segment, fitted

    # -- writing --------------------------------------------------------------------------------

    def write(
        self, segment: Segment, fitted: Fitted, *, generation: int, store_id: str, kernel: str, changed_since_fit: int
    ) -> SnapshotInfo:
        """Write a new snapshot and make it current (atomically; see the module)."""
        self.root.mkdir(parents=True, exist_ok=True)
        name = f"g{generation:012d}-{secrets.token_hex(4)}"
        tmp = self.root / f".tmp-{name}"
        tmp.mkdir()
        files: dict[str, dict[str, object]] = {}

        def write_array(path: Path, array: np.ndarray) -> None:
            with path.open("wb") as handle:
                np.save(handle, np.ascontiguousarray(array), allow_pickle=False)
                handle.flush()
                os.fsync(handle.fileno())

        try:
            segment.save(tmp, write_array)
            fitted.lexical.save(tmp, write_array)
            for path in sorted(tmp.iterdir()):
                files[path.name] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
            info = SnapshotInfo(
                name=name, generation=generation, store_id=store_id, model_id=self.model_id, kernel=kernel,
                rows=len(segment), works=segment.n_works, fit_rows=fitted.fit_rows,
                fit_generation=fitted.fit_generation, activity_norm=fitted.activity_norm,
                changed_since_fit=changed_since_fit, created=time.time(),
            )
            write_text_atomic(tmp / "meta.json", json.dumps({"format": FORMAT, "info": asdict(info), "files": files}))
            fsync_dir(tmp)
            os.replace(tmp, self.root / name)
            fsync_dir(self.root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        write_text_atomic(self.root / "CURRENT", json.dumps({"snapshot": name, "generation": generation}))
        fsync_dir(self.root)
        return info

    def remove_others(self, keep: SnapshotInfo) -> int:
        """Delete every snapshot folder but `keep` (older ones, and any a crash left half-written).
        Call it holding `lock()`. Processes that still map an old one keep reading it until they
        swap; its blocks are freed then."""
        removed = 0
        for folder in self.root.iterdir():
            if folder.is_dir() and folder.name != keep.name:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed

    def remove_all(self) -> None:
        """No snapshot at all (the store has no profiles left). Call it holding `lock()`."""
        (self.root / "CURRENT").unlink(missing_ok=True)
        for folder in self.root.iterdir() if self.root.exists() else ():
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)

    def generations_in_use(self) -> list[int]:
        """The generation of every model's current snapshot under the store (the change log must
        reach back to the oldest of them)."""
        found = []
        for current in self.root.parent.glob("*/CURRENT"):
            try:
                found.append(int(json.loads(current.read_text())["generation"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return found

    @contextmanager
    def lock(self, *, wait: bool = True) -> Iterator[bool]:
        """The merge lock (one writer of snapshots at a time, across processes). With `wait=False`
        it yields False at once when another process holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".merge.lock").open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()
