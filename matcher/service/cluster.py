"""Where a batch's top-k runs: on this machine (the default) or on a Dask cluster.

`--dask` (CLI) and MATCHER_DASK (service) take `local` (a cluster of one worker process per usable
CPU on this machine), `local:N` (N worker processes) or `tcp://HOST:PORT` (the scheduler of a
running cluster, whose workers have this package installed). Dask is imported only here, when a
cluster is asked for.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from matcher.domain.errors import InvalidQuery, MatcherError

__all__ = ["CONNECT_TIMEOUT", "DaskTarget", "dask_client", "parse_dask"]

CONNECT_TIMEOUT = 5.0  # seconds to reach a scheduler, and for it to have a worker
_SYNTAX = "local, local:N (N worker processes) or tcp://HOST:PORT"
_ADDRESS = re.compile(r"tcp://(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})")


@dataclass(frozen=True)
class DaskTarget:
    """A local cluster of `workers` processes (address None), or a running scheduler's address."""

    address: str | None = None
    workers: int = 1

    def __str__(self) -> str:
        return self.address or f"local:{self.workers}"


def parse_dask(text: str) -> DaskTarget:
    """'local', 'local:4' or 'tcp://10.0.0.5:8786' -> a DaskTarget; anything else: InvalidQuery."""
    value = text.strip()
    if value == "local":
        return DaskTarget(workers=len(os.sched_getaffinity(0)))
    if value.startswith("local:"):
        count = value.removeprefix("local:")
        if count.isdigit() and int(count) >= 1:
            return DaskTarget(workers=int(count))
        raise InvalidQuery(f"dask '{text}': the number of workers after 'local:' must be a positive integer")
    match = _ADDRESS.fullmatch(value)
    if match and 0 < int(match["port"]) < 65536:
        return DaskTarget(address=value)
    raise InvalidQuery(f"dask '{text}' must be {_SYNTAX}")


@contextmanager
def dask_client(target: DaskTarget, *, timeout: float = CONNECT_TIMEOUT) -> Iterator[Any]:
    """A connected `distributed.Client` for the target, closed (with its local cluster) afterwards.
    An unreachable scheduler, or one without workers, is a MatcherError naming the address."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise MatcherError("--dask needs Dask: pip install 'dask[distributed]' (the 'scale' extra)") from None
    if target.address is None:
        try:
            cluster = LocalCluster(n_workers=target.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False},
                                   silence_logs=logging.CRITICAL)  # loopback only, any free port
        except (OSError, TimeoutError, RuntimeError) as err:
            raise MatcherError(f"cannot start a local Dask cluster ({target}): {_reason(err)}") from None
        with cluster, Client(cluster) as client:
            yield client
        return
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # the reason is reported below, in one line
    try:
        client = Client(target.address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as err:
        raise MatcherError(f"cannot reach the Dask scheduler at {target.address}: {_reason(err)}") from None
    finally:
        quiet.setLevel(level)
    with client:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError) as err:
            raise MatcherError(f"the Dask scheduler at {target.address} has no worker ({_reason(err)})") from None
        yield client


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
