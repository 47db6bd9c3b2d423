"""The blockwise cross-border top-k of `matcher.assign.topk` on a Dask cluster.

The client makes the same tile plan as `topk_pairs` (same tile size, same tiles, the rules and
conflicts as per-tile masks) and ships it to every worker once (`Client.scatter`, broadcast).
The row blocks are grouped into bands; a task takes the tiles between two bands (tile (a, b) with
a <= b, computed exactly as the local run computes it, so every score is the same float) and
returns the partial top-k of the two bands' rows only. The client folds the partials in as they
come; ties are broken by row number, so the order they arrive in does not matter and the result
equals the single-machine run. A worker holds the plan, one tile and its two bands' lists.

Dask is not imported here: the caller passes a connected `distributed.Client`
(`matcher.service.cluster` makes one from `--dask` / MATCHER_DASK).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

from matcher.assign.topk import Eligible, TileState, plan_topk, tiles_topk
from matcher.domain.errors import MatcherError

__all__ = ["BAND_ROWS", "dask_topk_pairs", "bands"]

BAND_ROWS = 32_768  # rows of a band at most: a task's lists are two bands' rows times k
_TASKS_PER_WORKER = 8  # at least this many tasks per worker, for balance


def bands(n_blocks: int, tile: int, workers: int) -> int:
    """How many bands the row blocks are grouped into: bands of at most BAND_ROWS rows, and
    enough band pairs to keep every worker busy."""
    fewest = math.ceil(n_blocks * tile / BAND_ROWS)
    balanced = math.ceil((math.sqrt(1 + 8 * _TASKS_PER_WORKER * max(workers, 1)) - 1) / 2)
    return max(1, min(n_blocks, max(fewest, balanced)))


def dask_topk_pairs(
    client: Any,
    vectors: np.ndarray,
    k: int,
    *,
    countries: np.ndarray,
    eligible: Eligible | None = None,
    exclude_same_country: bool = True,
    blocked_pairs: Any = None,
    memory_bytes: int = 512 * 2**20,
    progress: Callable[[int, int], None] | None = None,
    n_threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """`topk_pairs` with the same arguments and the same result, its tiles computed by the
    workers of `client` (a `distributed.Client`). n_threads only sets the tile size, as it does
    for the local run of the same arguments; progress(done, total) counts tiles."""
    from distributed import as_completed

    plan = plan_topk(vectors, k, countries=countries, eligible=eligible, exclude_same_country=exclude_same_country,
                     blocked_pairs=blocked_pairs, memory_bytes=memory_bytes, n_threads=n_threads)
    tiles = plan.tiles()
    workers = len(client.scheduler_info().get("workers", {}))
    n_bands = bands(plan.nt, plan.tile, workers)
    width = math.ceil(plan.nt / n_bands)
    tasks: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for a, b in tiles:
        tasks.setdefault((a // width, b // width), []).append((a, b))
    total = TileState(plan)
    if not tasks:
        return plan.finish([total])
    shipped = client.scatter(plan, broadcast=True, hash=False)  # the vectors and rules, once per worker
    run = uuid.uuid4().hex
    futures, size = [], {}
    for (p, q), some in sorted(tasks.items(), key=lambda item: (-len(item[1]), item[0])):  # largest first
        held = sorted({*_band(p, width, plan.nt), *_band(q, width, plan.nt)})
        future = client.submit(tiles_topk, shipped, some, held, pure=False, key=f"matcher-topk-{p}-{q}-{run}")
        futures.append(future)
        size[future.key] = len(some)
    done = 0
    try:
        for future in as_completed(futures):
            total.absorb(*future.result())
            future.release()
            done += size[future.key]
            if progress:
                progress(done, len(tiles))
    except MatcherError:
        raise
    except Exception as err:  # a worker died, the scheduler went away: one line, not the cluster's trace
        raise MatcherError(f"the Dask cluster failed during the batch: {type(err).__name__}: {err}") from None
    finally:
        client.cancel([*futures, shipped])
    return plan.finish([total])


def _band(p: int, width: int, n_blocks: int) -> range:
    return range(p * width, min((p + 1) * width, n_blocks))
