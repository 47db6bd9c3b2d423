"""`matcher worker`: runs the batch jobs API replicas enqueue on a shared (PostgreSQL) store.

Each worker claims one queued job at a time (`JobQueue.claim`: SKIP LOCKED, so any number of
workers share the queue), runs it over its own matching state (caught up with the store first;
between jobs it follows the store like a replica, so an erasure leaves its snapshot too),
and keeps the result in the database for every replica. Now and then, and at start, it fails the
jobs whose worker stopped mid-way, with the reason.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from matcher.domain.errors import MatcherError
from matcher.service.batches import plan_from_json
from matcher.service.bootstrap import Services

__all__ = ["default_name", "run_worker"]

log = logging.getLogger("matcher.worker")

ABANDONED_CHECK_S = 30.0


def default_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_worker(
    services: Services,
    stop: threading.Event,
    *,
    name: str | None = None,
    poll_s: float = 0.5,
    once: bool = False,
    say: Callable[[str], None] = log.info,
) -> int:
    """Claim and run jobs until `stop` is set (with `once`: until the queue is empty); how many ran."""
    queue = services.batches.queue
    if queue is None:
        raise MatcherError("a worker runs the jobs of a shared store: set MATCHER_STORE=postgresql://...")
    name = name or default_name()
    ran = 0
    if not once:  # follow the store while idle too: an erasure reaches this process's snapshot at once
        services.engine.start_background()
    failed = services.batches.fail_abandoned()
    if failed:
        say(f"{failed} job(s) whose worker stopped were marked failed")
    checked = time.monotonic()
    while not stop.is_set():
        claimed = queue.claim(name)
        if claimed is None:
            if once:
                break
            stop.wait(poll_s)
            if time.monotonic() - checked > ABANDONED_CHECK_S:
                services.batches.fail_abandoned()
                checked = time.monotonic()
            continue
        job_id, plan = claimed
        began = time.perf_counter()
        try:
            services.engine.state.refresh()  # every write committed before the job was claimed
            services.batches.run(job_id, services.engine.corpus, plan_from_json(plan))
        finally:
            queue.release(job_id)
        ran += 1
        say(f"job {job_id} {services.batches.jobs.get(job_id)['status']} in {time.perf_counter() - began:.1f} s")
    return ran
