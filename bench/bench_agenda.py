"""Matchmaking day benchmark: a synthetic event of 500 participants, 16 slots, 60 tables and 3,000
requests (a tenth of them with a priority of 2), cross-border only, at most 8 meetings a person,
a fifth of the participants present for half the day. Suggestions are each participant's 5 best
partners abroad by `topk_pairs` over random unit vectors with Zipf-sized countries (as in
bench_batch); a few co-author conflicts are drawn at random.

Run from the project root: ``python -m bench.bench_agenda`` (prints the section as JSON), or
``python -m bench.run agenda`` to record it in bench/results.json.

- agenda_500_s: planning time, greedy start and CP-SAT (limit AGENDA_LIMIT_S) together.
- agenda_500_requested_share: requested pairs met over the upper bound `agenda_500_requested_bound`
  (requested pairs that pass the rules, capped by slots x tables and by each person's maximum).
- agenda_500_gap: CP-SAT's reported gap, (bound - objective) / bound.
- agenda_500_idle_share: of the free slots people spend below their maximum, the share where a
  suggested partner was free too and a table was free.

With 60 tables the tables bind (16 x 60 = 960 meetings, fewer than the requests could fill), so
no table is left for suggestions and the idle share is 0 by construction. The `agenda_500_roomy_*`
figures run the same event with ROOMY_TABLES tables, where suggestions fill free slots and the
idle share says how well.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta

import numpy as np

from bench.bench_batch import make_pool
from matcher.assign.agenda import Event, MeetingRequest, Slot, idle_share, plan_agenda
from matcher.assign.topk import topk_pairs

__all__ = ["make_event", "run"]

PEOPLE, SLOTS, TABLES, REQUESTS, MAX_MEETINGS, K = 500, 16, 60, 3000, 8, 5
AGENDA_LIMIT_S = 40.0
ROOMY_TABLES = 250


def make_event(seed: int = 0, tables: int = TABLES):
    rng = np.random.default_rng(seed)
    vectors, codes = make_pool(PEOPLE, dim=64, countries=30, seed=seed)
    ids = [f"p{i:04d}" for i in range(PEOPLE)]
    countries = {i: f"C{int(c):02d}" for i, c in zip(ids, codes, strict=True)}
    start = datetime(2026, 3, 10, 9, 0)
    slots = tuple(Slot(start + timedelta(minutes=30 * n + (60 if n >= 8 else 0)),
                       start + timedelta(minutes=30 * n + 25 + (60 if n >= 8 else 0))) for n in range(SLOTS))
    partial = rng.choice(PEOPLE, size=PEOPLE // 5, replace=False)
    availability = {ids[int(p)]: frozenset(range(0, 8) if rng.random() < 0.5 else range(8, 16)) for p in partial}
    event = Event(slots, tables, MAX_MEETINGS, cross_border_only=True, availability=availability)
    a, b = rng.integers(0, PEOPLE, REQUESTS), rng.integers(0, PEOPLE, REQUESTS)
    b = np.where(a == b, (b + 1) % PEOPLE, b)
    requests = [MeetingRequest(ids[int(x)], ids[int(y)], 2.0 if rng.random() < 0.1 else 1.0)
                for x, y in zip(a, b, strict=True)]
    indices, scores = topk_pairs(vectors, K, countries=codes, exclude_same_country=True)
    suggestions = [(ids[i], ids[int(j)], float(s)) for i in range(PEOPLE)
                   for j, s in zip(indices[i], scores[i], strict=True) if j >= 0]
    conflicts = [(ids[int(x)], ids[int(y)]) for x, y in rng.integers(0, PEOPLE, (50, 2)) if x != y]
    return event, countries, requests, suggestions, conflicts


def run() -> dict[str, object]:
    figures = _plan(TABLES, "agenda_500")
    figures.update(_plan(ROOMY_TABLES, "agenda_500_roomy"))
    figures.update({"agenda_500_roomy_tables": ROOMY_TABLES, "cpus": os.cpu_count(),
                    "load_average_1m": round(os.getloadavg()[0], 2)})
    return figures


def _plan(tables: int, name: str) -> dict[str, object]:
    event, countries, requests, suggestions, conflicts = make_event(tables=tables)
    agenda = plan_agenda(event, countries, requests, suggestions, conflicts, time_limit_s=AGENDA_LIMIT_S,
                         workers=max(1, min(8, os.cpu_count() or 1)))
    booked = set()
    for m in agenda.meetings:  # the hard rules, checked once more on the benchmark's own answer
        assert (m.a, m.slot) not in booked and (m.b, m.slot) not in booked
        booked.update({(m.a, m.slot), (m.b, m.slot)})
    requested = sum(m.kind != "suggested" for m in agenda.meetings)
    reasons: dict[str, int] = {}
    for u in agenda.unscheduled:
        reasons[u.reason.split(":")[0]] = reasons.get(u.reason.split(":")[0], 0) + 1
    return {
        f"{name}_s": round(agenda.seconds, 2),
        f"{name}_status": agenda.status,
        f"{name}_gap": round(agenda.gap, 5),
        f"{name}_meetings": len(agenda.meetings),
        f"{name}_requested_meetings": requested,
        f"{name}_requested_bound": agenda.requests_bound,
        f"{name}_requested_share": round(requested / max(1, agenda.requests_bound), 4),
        f"{name}_suggested_meetings": len(agenda.meetings) - requested,
        f"{name}_idle_share": round(idle_share(event, agenda.meetings, suggestions, conflicts), 4),
        f"{name}_unscheduled_reasons": reasons,
        f"{name}_time_limit_s": AGENDA_LIMIT_S,
    }


if __name__ == "__main__":
    json.dump(run(), sys.stdout, indent=2)
    print()
