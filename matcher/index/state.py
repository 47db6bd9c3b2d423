"""The matching state over time: a saved base, the writes since, and merges that fold them in.

A process opens the state by loading the current snapshot (`matcher.index.snapshot`: memory-mapped,
verified) and reading from the store only the profiles changed since its generation; nothing is
refitted and no other profile is parsed. When there is no usable snapshot, it builds one from the
store and saves it.

Writes become a small delta segment at once: a write made here (`apply`, `remove`) is applied by
the thread that made it, before it answers, and writes made by any other process are read from
the store's change log (`refresh`). Every change carries its version (the store's change number),
and a profile's change is applied only if it is newer than what the view holds, so the order in
which own writes and read-back changes arrive never matters. A replaced profile's old row and a
deleted profile's row become tombstones at once.

A merge folds the delta into a new base and writes a new snapshot; the live state then swaps to it
(queries go on meanwhile on the old view, and never wait). A merge is due when the delta passes a
share of the base, or after any erasure (so the erased rows leave every state file). It refits the
lexical model and the activity scale when the pool has changed enough since they were fitted;
otherwise rows keep their fitted scores. Merges run in a `Merger`: inline (CLI), in a thread, or in
a separate process (the server: a merge never competes with queries for the interpreter).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from matcher.domain.errors import MatcherError
from matcher.domain.profiles import Profile
from matcher.embed.cache import CachedEmbedder
from matcher.index.corpus import Corpus, Fitted
from matcher.index.lexical import LexicalModel
from matcher.index.segment import Segment, SegmentBuilder, corpus_texts, profile_document
from matcher.index.snapshot import SnapshotError, SnapshotInfo, Snapshots
from matcher.index.vectors import IN_MEMORY, StackedIndex, VectorIndex, delta_kind, index_for
from matcher.store.base import Change, Store

__all__ = ["InlineMerger", "MatchingState", "Merger", "StatePolicy", "ThreadMerger", "merge"]

log = logging.getLogger("matcher.index.state")


@dataclass(frozen=True)
class StatePolicy:
    """When merges happen, and how catching up is paced."""

    fold_rows: int = 2_000  # a merge is due when the delta has more rows than this...
    fold_share: float = 0.05  # ... and more than this share of the base
    refit_share: float = 0.25  # a merge refits when the rows written since the fit pass this share of it
    apply_batch: int = 250  # changes applied per new view while catching up
    catch_up_pause: float = 1.0  # in the background, rest this many times as long as each batch took
    poll_seconds: float = 1.0  # how often a server looks for other processes' writes and merges
    retry_seconds: float = 30.0  # after a failed merge, wait this long before the next

    def fold_threshold(self, base_rows: int) -> int:
        return max(self.fold_rows, int(self.fold_share * base_rows))


@dataclass
class _Tip:
    """The newest view and what is needed to extend it (mutated only under the state's lock)."""

    view: Corpus
    info: SnapshotInfo
    base_index: VectorIndex
    versions: dict[str, int] = field(default_factory=dict)  # id -> version in the view, for ids changed since the base
    erasures: list[int] = field(default_factory=list)  # versions of deletions applied since the base


class Merger(Protocol):
    def request(self, state: MatchingState, *, refit: bool) -> None: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class MatchingState:
    """The live matching state of one process (see the module)."""

    def __init__(
        self,
        store: Store,
        embedder: CachedEmbedder,
        *,
        index: str = "exact",
        index_url: str | None = None,
        policy: StatePolicy | None = None,
        merger: Merger | None = None,
    ):
        self.store = store
        self.embedder = embedder
        self.index_kind = index
        self.index_url = index_url  # the database of a pgvector index
        self.policy = policy or StatePolicy()
        self.merger: Merger = merger or InlineMerger()
        self.snapshots = Snapshots(store.state_dir, embedder.model_id)
        self._tip: _Tip | None = None
        self._lock = threading.RLock()  # guards the tip: own writes, catching up, swaps
        self._refreshing = threading.Lock()  # one refresh at a time

    # -- reading --------------------------------------------------------------------------------

    def view(self) -> Corpus | None:
        """The current view (no I/O); None until the state is opened or while the store is empty."""
        tip = self._tip
        return None if tip is None else tip.view

    @property
    def snapshot(self) -> SnapshotInfo | None:
        tip = self._tip
        return None if tip is None else tip.info

    def refresh(self, *, paced: bool = False) -> Corpus | None:
        """Catch up with every write in the store, from any process, and swap to a newer snapshot
        when a merge made one. Opens the state on first use. `paced` (a server's background
        refresh): rest between batches, so a bulk write elsewhere never takes the CPU from queries."""
        with self._refreshing:
            tip = self._tip
            info = self.snapshots.current()
            newer = info is not None and tip is not None and info.name != tip.info.name
            if tip is None or (newer and info is not None and info.generation >= tip.info.generation):
                began = time.perf_counter()
                fresh = self._open(info)
                if fresh is not None:
                    self._catch_up(fresh, live=False)
                with self._lock:
                    if fresh is not None:
                        self._catch_up(fresh, live=False)  # what was written while the new base loaded
                    self._tip = fresh
                if fresh is not None:
                    log.info("matching state on snapshot %s (%d rows, %d since) in %.2f s", fresh.info.name,
                             len(fresh.view.base), len(fresh.view.delta), time.perf_counter() - began)
            else:
                try:
                    self._catch_up(tip, live=True, paced=paced)
                except _Behind:  # the change log was pruned past this view: start from the snapshot
                    with self._lock:
                        self._tip = None
                    return self.refresh()
        self._maybe_merge()
        return self.view()

    # -- own writes -----------------------------------------------------------------------------

    def apply(self, profiles: Iterable[Profile], versions: dict[str, int]) -> None:
        """Make profiles this process just wrote (with their store versions) visible at once."""
        latest = {p.id: p for p in profiles if p.id in versions}
        with self._lock:
            if self._tip is None:
                return  # not open yet: opening reads the store
            self._apply(self._tip, [Change(pid, versions[pid], p) for pid, p in latest.items()])
        self._maybe_merge()

    def remove(self, profile_id: str, version: int) -> None:
        """Make a deletion this process just wrote effective at once (the rows leave the state's
        files in the merge it triggers)."""
        with self._lock:
            if self._tip is None:
                return
            self._apply(self._tip, [Change(profile_id, version, None)])
        self._maybe_merge()

    # -- merging --------------------------------------------------------------------------------

    def merge_due(self) -> tuple[bool, bool]:
        """(a merge is due, it should refit) for the current view."""
        tip = self._tip
        if tip is None:
            return False, False
        delta = len(tip.view.delta)
        due = bool(tip.erasures) or delta > self.policy.fold_threshold(len(tip.view.base))
        refit = tip.info.changed_since_fit + delta > self.policy.refit_share * max(tip.info.fit_rows, 1)
        return due, refit

    def _maybe_merge(self) -> None:
        due, refit = self.merge_due()
        if due:
            self.merger.request(self, refit=refit)

    # -- internals ------------------------------------------------------------------------------

    def _open(self, info: SnapshotInfo | None, *, locked: bool = False) -> _Tip | None:
        """A tip on the current snapshot (built and saved first when there is none usable); None
        when the store is empty."""
        store_id = self.store.store_id()
        for _ in range(3):  # a merge elsewhere may replace the snapshot while we read it
            if info is None or not self._usable(info):
                break
            try:
                segment, fitted = self.snapshots.load(info, store_id=store_id)
                return self._tip_on(segment, fitted, info)
            except SnapshotError as err:
                newer = self.snapshots.current()
                if newer is not None and newer.name != info.name:
                    info = newer
                    continue
                log.warning("%s; rebuilding the matching state from the store", err)
                break
        if not self.store.count():
            if self.snapshots.named():  # one no longer readable (an older format), or the store was emptied
                with nullcontext() if locked else self.snapshots.lock():
                    if not self.store.count():
                        self._clear()
            return None
        with nullcontext() if locked else self.snapshots.lock():
            latest = self.snapshots.current()
            if not locked and latest is not None and latest != info and self._usable(latest):
                return self._open(latest, locked=True)  # another process built it meanwhile
            built = self._write_full()
        return None if built is None else self._tip_on(*built)

    def _usable(self, info: SnapshotInfo) -> bool:
        with self.store.reader() as db:
            return db.pruned_through() <= info.generation <= db.generation()

    def _tip_on(self, segment: Segment, fitted: Fitted, info: SnapshotInfo) -> _Tip:
        index = index_for(self.index_kind, self.index_url).fit(segment.summary, groups=segment.countries)
        active = np.ones(len(segment), dtype=bool)
        empty = Segment.empty(segment.dim, len(fitted.lexical))
        view = Corpus(segment, empty, active, fitted, index=index, generation=info.generation)
        return _Tip(view, info, index)

    def _guard(self, live: bool) -> AbstractContextManager[object]:
        return self._lock if live else nullcontext()

    def _catch_up(self, tip: _Tip, *, live: bool, paced: bool = False) -> None:
        """Apply every change in the store newer than the tip's generation, a batch at a time."""
        with self.store.reader() as db:
            generation = db.generation()
            if generation <= tip.view.generation:
                return
            if db.pruned_through() > tip.view.generation:
                raise _Behind
            changed = db.changed_since(tip.view.generation)
            if len(changed) > self.policy.apply_batch:
                log.info("catching up with %d profiles written elsewhere", len(changed))
            for start in range(0, len(changed), self.policy.apply_batch):
                began = time.perf_counter()
                changes = db.changes(changed[start : start + self.policy.apply_batch])
                with self._guard(live):
                    self._apply(tip, changes)
                if paced and start + self.policy.apply_batch < len(changed):
                    time.sleep(self.policy.catch_up_pause * (time.perf_counter() - began))
        with self._guard(live):
            if generation > tip.view.generation:
                tip.view = tip.view.at_generation(generation)

    def _apply(self, tip: _Tip, changes: list[Change]) -> None:
        """Tombstone the rows the changes replace or delete, and append the new versions' rows."""
        fresh = [c for c in changes if c.version > tip.versions.get(c.profile_id, tip.info.generation)]
        if not fresh:
            return
        view = tip.view
        active = view.active.copy()
        for change in fresh:
            row = view.row_of.get(change.profile_id)
            if row is not None:
                active[row] = False
        added = self._segment_of([c.profile for c in fresh if c.profile is not None], view.fitted, view.base.dim)
        delta = Segment.concat([view.delta, added])
        active = np.concatenate([active, np.ones(len(added), dtype=bool)])
        index: VectorIndex = tip.base_index
        if len(delta):
            index = StackedIndex([tip.base_index, index_for(delta_kind(self.index_kind)).fit(delta.summary)])
        tip.view = Corpus(view.base, delta, active, view.fitted, index=index, generation=view.generation)
        tip.versions.update((c.profile_id, c.version) for c in fresh)
        tip.erasures.extend(c.version for c in fresh if c.profile is None)

    def _segment_of(self, profiles: list[Profile], fitted: Fitted, dim: int) -> Segment:
        """Rows for profiles, scored with the fitted parts: vectors through the embedding cache."""
        if not profiles:
            return Segment.empty(dim, len(fitted.lexical))
        builder = SegmentBuilder()
        texts = [text for profile in profiles for text in builder.add(profile)]
        vectors = self.embedder.embed(texts, desc="embedding works")
        return builder.finish(vectors, fitted.lexical.weigh([profile_document(p) for p in profiles]))

    def _build_full(self) -> tuple[Segment, Fitted, int] | None:
        """Every profile of one consistent read of the store, with freshly fitted parts."""
        with self.store.reader() as db:
            generation, count = db.generation(), db.count()
            if not count:
                return None
            builder = SegmentBuilder()

            def documents() -> Iterator[str]:
                for profile in db.profiles():
                    builder.add(profile)
                    yield profile_document(profile)

            lexical, rows = LexicalModel.fit(documents(), n_documents=count)
            vectors = self._embed_all(db.profiles(), builder.n_texts)
        segment = builder.finish(vectors, rows)
        fitted = Fitted(lexical, float(np.log1p(segment.work_counts.max())), len(segment), generation)
        return segment, fitted, generation

    def _embed_all(self, profiles: Iterable[Profile], n_texts: int, chunk: int = 2000) -> np.ndarray:
        """Every text's vector (float16, row order), through the cache, `chunk` profiles at a time."""
        out: np.ndarray | None = None
        filled = 0
        profiles = iter(profiles)
        while batch := list(itertools.islice(profiles, chunk)):
            vectors = self.embedder.embed(corpus_texts(batch), desc="embedding works")
            if out is None:
                out = np.empty((n_texts, vectors.shape[1]), dtype=np.float16)
            out[filled : filled + len(vectors)] = vectors
            filled += len(vectors)
        if out is None or filled != n_texts:
            raise MatcherError(f"the store gave {filled} texts on the second pass, {n_texts} on the first")
        return out

    def _write_full(self) -> tuple[Segment, Fitted, SnapshotInfo] | None:
        """Build from the store and save (the caller holds the snapshot lock)."""
        built = self._build_full()
        if built is None:
            self._clear()
            return None
        segment, fitted, generation = built
        return segment, fitted, self._save(segment, fitted, generation, changed_since_fit=0)

    def _write_merged(self, tip: _Tip, *, refit: bool) -> SnapshotInfo | None:
        """Fold the tip's delta into a new base and save it (the caller holds the snapshot lock)."""
        view = tip.view
        if refit and not (tip.info.fit_generation == view.generation and len(view) == view.n_active):
            written = self._write_full()
            return None if written is None else written[2]
        if not len(view.delta) and not tip.erasures and view.active.all():
            return tip.info  # nothing to fold
        boundary = view.boundary
        kept = [view.base.take(np.flatnonzero(view.active[:boundary])),
                view.delta.take(np.flatnonzero(view.active[boundary:]))]
        segment = Segment.concat(kept)
        if not len(segment):
            self._clear()
            return None
        fitted = view.fitted
        used = segment.lexical.column_counts(len(fitted.lexical)) > 0
        if not used.all():  # terms no remaining row has (an erased profile's own words) leave the vocabulary
            lexical, remap = fitted.lexical.without_terms(used)
            segment = segment.with_lexical(segment.lexical.remap_columns(remap))
            fitted = replace(fitted, lexical=lexical)
        changed = tip.info.changed_since_fit + len(kept[1])
        return self._save(segment, fitted, view.generation, changed_since_fit=changed)

    def _save(self, segment: Segment, fitted: Fitted, generation: int, *, changed_since_fit: int) -> SnapshotInfo:
        info = self.snapshots.write(
            segment, fitted, generation=generation, store_id=self.store.store_id(), kernel=self.embedder.kernel,
            changed_since_fit=changed_since_fit,
        )
        self.snapshots.remove_others(info)
        self.store.prune_changes(min([info.generation, *self.snapshots.generations_in_use()]))
        return info

    def _clear(self) -> None:
        """No rows left: no snapshot either (an erased store keeps nothing in its state files)."""
        self.snapshots.remove_all()


class _Behind(Exception):
    """The store no longer holds the changes a view needs to catch up."""


def merge(
    store: Store, embedder: CachedEmbedder, *, index: str = "exact", index_url: str | None = None,
    refit: bool = False,
) -> SnapshotInfo | None:
    """Fold every write into a new snapshot (refitting when asked), from a consistent read of the
    store, holding the snapshot lock. Safe in any process; the live states pick it up on refresh.
    An index outside the process (pgvector) is built for the new snapshot here, before any state
    swaps to it."""
    worker = MatchingState(store, embedder, index=index, index_url=index_url)
    with worker.snapshots.lock():
        tip = worker._open(worker.snapshots.current(), locked=True)
        if tip is None:
            return None
        worker._catch_up(tip, live=False)
        info = worker._write_merged(tip, refit=refit)
        if info is not None and info != tip.info and index not in IN_MEMORY:
            worker._open(info, locked=True)
        return info


class InlineMerger:
    """Merges in the calling thread (one-shot commands and tests). A merge that fails is logged:
    the write that asked for it has happened, and the state in memory reflects it."""

    def __init__(self) -> None:
        self._busy = False

    def request(self, state: MatchingState, *, refit: bool) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            merge(state.store, state.embedder, index=state.index_kind, index_url=state.index_url, refit=refit)
            state.refresh()  # swaps to the new snapshot; a merge it asks for waits for the next write
        except Exception as err:
            log.warning("merging the matching state failed (%s); it goes on with the writes in memory", err)
        finally:
            self._busy = False

    def wait(self, timeout: float | None = None) -> bool:
        return True


class ThreadMerger:
    """Merges in a background thread, one at a time; `run` may be replaced to merge elsewhere
    (`matcher.service.engine` runs it in a separate process)."""

    def __init__(self, run: Callable[[MatchingState, bool], None] | None = None):
        self._run = run or (lambda state, refit: None if merge(
            state.store, state.embedder, index=state.index_kind, index_url=state.index_url, refit=refit) else None)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._failed_at = -float("inf")
        self.merges = 0

    def request(self, state: MatchingState, *, refit: bool) -> None:
        with self._lock:
            if self._thread is not None or time.monotonic() - self._failed_at < state.policy.retry_seconds:
                return
            with state.snapshots.lock(wait=False) as free:
                if not free:  # another process is merging: its snapshot comes to us on refresh
                    return
            self._thread = threading.Thread(target=self._work, args=(state, refit), name="state-merge", daemon=True)
            self._thread.start()

    def _work(self, state: MatchingState, refit: bool) -> None:
        try:
            self._run(state, refit)
            self.merges += 1
            state.refresh()  # swap to the new snapshot (a merge it asks for waits for this one)
        except Exception as err:  # the current view stays in use; the next request retries
            self._failed_at = time.monotonic()
            log.warning("merging the matching state failed (%s); queries go on with the current state", err)
        finally:
            with self._lock:
                self._thread = None
        state._maybe_merge()  # writes made during this merge may call for the next one

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no merge runs (including one a finished merge asked for)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            thread = self._thread
            if thread is None:
                return True
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
            if deadline is not None and time.monotonic() >= deadline:
                return self._thread is None
