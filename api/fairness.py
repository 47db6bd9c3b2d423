"""Sharing the service fairly: per-key rate limits that weigh work, and bounded queues for compute.

A request first takes one token from its key's bucket (kept in PostgreSQL when the store is, so
the limit holds across every API replica: `matcher.store.buckets`); when its compute is done, it pays for the
time it took beyond the first `unit_s` seconds (one more token per `unit_s`). A key that sends
heavy work therefore waits longer before its next request, in proportion to what it used, while a
key that sends quick matches is not slowed at all. The bucket may go below zero: the debt is
paid back by waiting.

Compute runs in queues of bounded width and length: quick work (matches) in one, heavy work
(consortia, imports) in another, on threads of lower CPU priority, so heavy requests never hold
the slots quick ones need nor take the cores from them. A request that finds its queue full is
refused at once (503 with Retry-After) instead of piling up threads.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from fastapi import HTTPException

from matcher.store.buckets import SharedBuckets

__all__ = ["RateLimiter", "WorkQueue", "compute"]

T = TypeVar("T")


class RateLimiter:
    """A token bucket per key: `per_minute` tokens a minute, bursts up to the same number; a
    token is one request or `unit_s` seconds of its compute, whichever is more."""

    def __init__(self, per_minute: int, *, unit_s: float = 0.1, shared: SharedBuckets | None = None):
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self.unit_s = unit_s
        self.shared = shared  # buckets in the PostgreSQL store: the limit holds across every replica
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _refilled(self, key_id: str, now: float) -> float:
        tokens, last = self._buckets.get(key_id, (self.capacity, now))
        return min(self.capacity, tokens + (now - last) * self.rate)

    def wait_time(self, key_id: str) -> float:
        """0 if the request may go now (and takes a token), else seconds until it may."""
        if self.rate <= 0:
            return 0.0
        if self.shared is not None:
            return self.shared.take(key_id, self.rate, self.capacity)
        now = time.monotonic()
        with self._lock:
            tokens = self._refilled(key_id, now)
            if tokens >= 1:
                self._buckets[key_id] = (tokens - 1, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1 - tokens) / self.rate

    def charge(self, key_id: str, seconds: float) -> None:
        """Pay for compute beyond the first unit (which the request's token covered)."""
        extra = seconds / self.unit_s - 1
        if self.rate <= 0 or extra <= 0:
            return
        if self.shared is not None:
            self.shared.charge(key_id, extra, self.rate, self.capacity)
            return
        now = time.monotonic()
        with self._lock:
            self._buckets[key_id] = (self._refilled(key_id, now) - extra, now)


class WorkQueue:
    """At most `width` requests compute at once and at most `depth` more wait for a slot.

    With `nice`, the work runs on the queue's own threads at that lower CPU priority (Linux sets
    it per thread, and the threads they start inherit it): when the cores are contended, the
    scheduler serves the other queues' threads first.
    """

    def __init__(self, name: str, width: int, depth: int, *, retry_after_s: int = 5, nice: int | None = None):
        self.name = name
        self.width = width
        self.depth = depth
        self.retry_after_s = retry_after_s
        self._slots = threading.BoundedSemaphore(width)
        self._admitted = 0
        self._lock = threading.Lock()
        self._pool = None if nice is None else ThreadPoolExecutor(
            width, thread_name_prefix=name.replace(" ", "-"), initializer=_lower_priority, initargs=(nice,))

    def run(self, work: Callable[[], T]) -> T:
        """`work()` in a slot (on the queue's threads when it has them); 503 when the queue is full."""
        with self.slot():
            return work() if self._pool is None else self._pool.submit(work).result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._lock:
            if self._admitted >= self.width + self.depth:
                raise HTTPException(
                    503, f"the {self.name} queue is full ({self.width} running, {self.depth} waiting); "
                         f"retry in {self.retry_after_s} s", headers={"Retry-After": str(self.retry_after_s)})
            self._admitted += 1
        try:
            with self._slots:
                yield
        finally:
            with self._lock:
                self._admitted -= 1

    @property
    def busy(self) -> int:
        """Requests running or waiting."""
        return self._admitted


def compute(queue: WorkQueue, limiter: RateLimiter, key_id: str, work: Callable[[], T]) -> T:
    """Run a request's `work()` in `queue` and charge its key for the time it took."""

    def timed() -> T:
        started = time.perf_counter()
        try:
            return work()
        finally:
            limiter.charge(key_id, time.perf_counter() - started)

    return queue.run(timed)


def _lower_priority(nice: int) -> None:
    try:
        me = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, me, min(19, os.getpriority(os.PRIO_PROCESS, me) + nice))
    except (AttributeError, OSError):  # pragma: no cover - not Linux, or not allowed: same priority
        pass
