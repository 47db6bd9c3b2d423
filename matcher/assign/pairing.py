"""Global pairing with capacities on a sparse candidate graph, and why applicants fell short.

Edges are parallel arrays (i, j, weight) on row numbers; every solver returns a bool mask over
the edges it was given. Only positive weights can raise the total, so non-positive edges are
never selected (nobody is paired just to fill a slot).
General pools: ``greedy_b_matching`` (1/2-approximation plus local swaps); two-sided pools:
``bipartite_assignment`` (exact, min-cost flow); ``exact_b_matching_small`` for tests.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from matcher.assign.topk import as_pairs
from matcher.domain.errors import InfeasibleBatch, InvalidQuery

__all__ = [
    "Unmatched",
    "greedy_b_matching",
    "exact_b_matching_small",
    "bipartite_assignment",
    "unmatched_reasons",
    "require_complete",
    "too_weak",
    "total_weight",
]

NO_OTHER_COUNTRY = "no eligible partner in another country"
NO_OTHER_APPLICANT = "no other applicant in the pool"
ALL_CONFLICTS = "conflict of interest with every eligible partner"
RULES = "no partner passes the eligibility rules"
CAPACITY = "all eligible partners' capacity exhausted"
FEWER = "fewer eligible partners than asked"
NOT_CHOSEN = "remaining candidates were given to higher-scoring pairs"


def too_weak(min_score: float) -> str:
    """The reason for an applicant whose every candidate partner is below the minimum strength."""
    return f"no partner with strength >= {min_score:g}"

_EPS = 1e-12


@dataclass(frozen=True)
class Unmatched:
    """An applicant (row number) who got fewer partners than asked, and why."""

    row: int
    wanted: int
    matched: int
    reason: str


def total_weight(weights: np.ndarray, selected: np.ndarray) -> float:
    return float(np.asarray(weights, dtype=np.float64)[selected].sum())


def greedy_b_matching(
    n: int, edges_i: np.ndarray, edges_j: np.ndarray, weights: np.ndarray, capacity: np.ndarray, *, max_rounds: int = 20
) -> np.ndarray:
    """Approximate maximum-weight b-matching: node v gets at most ``capacity[v]`` edges.

    Greedy (heaviest edge first, taken while both ends have capacity left) is a
    1/2-approximation: the b-matchings of a graph form a 2-extendible system, on which greedy
    achieves 1/k of the optimum for k-extendible systems (J. Mestre, "Greedy in approximation
    algorithms", ESA 2006, LNCS 4168); for b = 1 this is the classical bound (D. Avis, "A survey
    of heuristics for the weighted matching problem", Networks 13, 1983). Local search then
    applies improving swaps: add an unselected (u, v), dropping the lightest chosen edge at u
    and/or v if full, and give each node a drop frees its best feasible edge (augmenting paths
    of up to 2 drops and 3 additions), until none improves or ``max_rounds`` passes. Swaps only
    raise the total, so the bound holds, and no capacity is ever exceeded.
    """
    ei, ej, w, cap = _check_edges(n, edges_i, edges_j, weights, capacity)
    search = _LocalSearch(n, ei, ej, w, cap)
    for e in np.argsort(-w, kind="stable").tolist():
        if search.w[e] <= 0:
            break
        u, v = search.ui[e], search.uj[e]
        if u != v and search.rem[u] > 0 and search.rem[v] > 0:
            search.commit([], [e])
    for _ in range(max_rounds):
        if not search.improve():
            break
    return search.sel


class _LocalSearch:
    """Chosen edges per node, remaining capacity, and the improving-swap moves."""

    def __init__(self, n: int, ei: np.ndarray, ej: np.ndarray, w: np.ndarray, cap: np.ndarray):
        self.ea, self.eb, self.wa = ei, ej, w
        self.ui, self.uj, self.w = ei.tolist(), ej.tolist(), w.tolist()
        self.rem, self.sel = cap.tolist(), np.zeros(len(w), dtype=bool)
        self.at: list[list[int]] = [[] for _ in range(n)]
        self.adj: list[list[int]] = [[] for _ in range(n)]  # positive edges, heaviest first
        for e in np.argsort(-w, kind="stable").tolist():
            if self.w[e] > 0 and self.ui[e] != self.uj[e]:
                self.adj[self.ui[e]].append(e)
                self.adj[self.uj[e]].append(e)

    def commit(self, drop: list[int], add: list[int]) -> None:
        for e, on in [(d, False) for d in drop] + [(a, True) for a in add]:
            self.sel[e] = on
            for x in (self.ui[e], self.uj[e]):
                self.rem[x] += -1 if on else 1
                (self.at[x].append if on else self.at[x].remove)(e)

    def _lightest(self, x: int) -> int:
        return min(self.at[x], key=self.w.__getitem__) if self.rem[x] == 0 and self.at[x] else -1

    def improve(self) -> bool:
        """One pass over the unselected edges that might improve; True if any did."""
        if not self.w:
            return False
        rem = np.array(self.rem)
        drop = np.array([self._lightest(x) for x in range(rem.size)], dtype=np.int64)
        d = np.maximum(drop, 0)  # -1: a full node without edges (capacity 0), never helps
        other = np.where(drop >= 0, self.ea[d] + self.eb[d] - np.arange(drop.size), 0)
        ea, eb, wa = self.ea, self.eb, self.wa
        free = ~self.sel & (ea != eb) & (wa > 0)
        refill = np.zeros(rem.size)  # best free edge from x to a node with room: a bound
        np.maximum.at(refill, ea[free & (rem[eb] > 0)], wa[free & (rem[eb] > 0)])
        np.maximum.at(refill, eb[free & (rem[ea] > 0)], wa[free & (rem[ea] > 0)])
        cost = np.where(rem > 0, 0.0, np.where(drop >= 0, wa[d] - refill[other], np.inf))
        hope = free & (wa > cost[ea] + cost[eb] + _EPS)
        changed = False
        for e in hope.nonzero()[0][np.argsort(-self.wa[hope], kind="stable")].tolist():
            changed |= self._try(e)
        return changed

    def _try(self, e: int) -> bool:
        u, v = self.ui[e], self.uj[e]
        drop = [d for d in (self._lightest(u), self._lightest(v)) if d >= 0]
        if any(self.rem[x] == 0 and not self.at[x] for x in (u, v)) or len(set(drop)) < len(drop):
            return False  # a node with capacity 0, or one edge at both ends (parallel edges)
        left = {x: self.rem[x] for x in (u, v)}
        for d in drop:
            for x in (self.ui[d], self.uj[d]):
                left[x] = left.get(x, self.rem[x]) + 1
        left[u], left[v] = left[u] - 1, left[v] - 1
        gain, add = self.w[e] - sum(self.w[d] for d in drop), [e]
        for d in drop:
            x = self.ui[d] + self.uj[d] - (u if u in (self.ui[d], self.uj[d]) else v)
            f = self._refill(x, left, {u, v}, set(drop) | {e})
            if f >= 0:
                gain += self.w[f]
                add.append(f)
        if gain <= _EPS:
            return False
        self.commit(drop, add)
        return True

    def _refill(self, x: int, left: dict[int, int], avoid: set[int], skip: set[int]) -> int:
        """The heaviest free edge at freed node x to a node with room; updates ``left``."""
        if x in avoid or left.get(x, self.rem[x]) <= 0:
            return -1
        for f in self.adj[x]:
            y = self.ui[f] + self.uj[f] - x
            if self.sel[f] or f in skip or y in avoid or left.get(y, self.rem[y]) <= 0:
                continue
            left[x], left[y] = left.get(x, self.rem[x]) - 1, left.get(y, self.rem[y]) - 1
            skip.add(f)
            return f
        return -1


def exact_b_matching_small(
    n: int,
    edges_i: np.ndarray,
    edges_j: np.ndarray,
    weights: np.ndarray,
    capacity: np.ndarray,
    *,
    scale: float = 1e6,
    time_limit_s: float = 60.0,
) -> np.ndarray:
    """Maximum-weight b-matching, exactly: networkx blossom when every capacity is 1, else
    CP-SAT on integer weights ``round(w * scale)`` (exact up to that rounding). Small graphs."""
    ei, ej, w, cap = _check_edges(n, edges_i, edges_j, weights, capacity)
    usable = np.flatnonzero((w > 0) & (ei != ej))
    sel = np.zeros(len(w), dtype=bool)
    if usable.size == 0:
        return sel
    if np.all(cap[np.r_[ei[usable], ej[usable]]] == 1):
        import networkx as nx

        usable = _heaviest_per_pair(np.minimum(ei, ej), np.maximum(ei, ej), w, usable)
        edge_of = {(min(ei[e], ej[e]), max(ei[e], ej[e])): e for e in usable.tolist()}
        graph = nx.Graph()
        graph.add_weighted_edges_from((a, b, float(w[e])) for (a, b), e in edge_of.items())
        for a, b in nx.max_weight_matching(graph, maxcardinality=False):
            sel[edge_of[(min(a, b), max(a, b))]] = True
        return sel
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    x = {e: model.new_bool_var(f"e{e}") for e in usable.tolist()}
    for node in np.unique(np.r_[ei[usable], ej[usable]]).tolist():
        model.add(sum(var for e, var in x.items() if node in (ei[e], ej[e])) <= int(cap[node]))
    model.maximize(sum(int(round(w[e] * scale)) * var for e, var in x.items()))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = 1
    if solver.solve(model) != cp_model.OPTIMAL:
        raise InfeasibleBatch("the exact b-matching did not reach a proven optimum in time")
    for e, var in x.items():
        sel[e] = bool(solver.value(var))
    return sel


def bipartite_assignment(
    n_left: int,
    n_right: int,
    left: np.ndarray,
    right: np.ndarray,
    weights: np.ndarray,
    capacity_left: np.ndarray,
    capacity_right: np.ndarray,
    *,
    scale: float = 1e6,
) -> np.ndarray:
    """Exact maximum-weight assignment between two sides, with a capacity on every node.

    Min-cost flow: source -> left l (capacity_left[l]), l -> r (1, cost -round(w * scale)) for
    each positive edge, r -> sink (capacity_right[r]), plus a zero-cost source -> sink bypass
    for the whole supply. Flow may bypass, so nodes stay unmatched whenever matching them does
    not raise the total: the result is the maximum total weight (not maximum cardinality),
    exact for the integer-rounded weights. Duplicate (l, r) edges count once (the heaviest).
    Returns a bool mask over the given edges.
    """
    from ortools.graph.python import min_cost_flow

    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    cap_l, cap_r = _capacities(capacity_left, n_left), _capacities(capacity_right, n_right)
    if not (left.shape == right.shape == w.shape):
        raise InvalidQuery("left, right and weights must have the same length")
    if left.size and (left.min() < 0 or left.max() >= n_left or right.min() < 0 or right.max() >= n_right):
        raise InvalidQuery("an edge refers to a row outside its side")
    sel = np.zeros(len(w), dtype=bool)
    cand = _heaviest_per_pair(left, right, w, np.flatnonzero(w > 0))
    supply = int(cap_l.sum())
    if cand.size == 0 or supply == 0:
        return sel
    src, sink = n_left + n_right, n_left + n_right + 1
    cost = -np.rint(w[cand] * scale).astype(np.int64)
    tails = np.concatenate([np.full(n_left, src), left[cand], n_left + np.arange(n_right), [src]])
    heads = np.concatenate([np.arange(n_left), n_left + right[cand], np.full(n_right, sink), [sink]])
    caps = np.concatenate([cap_l, np.ones(cand.size, np.int64), cap_r, [supply]])
    costs = np.concatenate([np.zeros(n_left, np.int64), cost, np.zeros(n_right + 1, np.int64)])
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    flow.set_nodes_supplies(np.array([src, sink]), np.array([supply, -supply]))
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise InfeasibleBatch(f"the min-cost flow solver failed (status {status})")
    sel[cand] = flow.flows(arcs[n_left : n_left + cand.size]) > 0
    return sel


def unmatched_reasons(
    wanted: np.ndarray,
    edges_i: np.ndarray,
    edges_j: np.ndarray,
    selected: np.ndarray,
    capacity: np.ndarray,
    countries: np.ndarray,
    *,
    exclude_same_country: bool = True,
    blocked_pairs: Any = None,
    directed: bool = False,
    weak: tuple[np.ndarray, np.ndarray] | None = None,
    min_score: float | None = None,
) -> list[Unmatched]:
    """Every applicant with fewer selected partners than ``wanted``, with the first reason that
    applies. The edges are the candidate graph after all rules (undirected pairs, or with
    ``directed`` each row's own suggestions, e.g. a top-k result). Pool-level causes (no
    applicant in another country, conflicts with all of them) come from the counts; the rest
    from the candidates' remaining capacity (``capacity``; ignored when ``directed``). "Eligible
    partners" means the candidate graph: with a top-k graph, partners beyond each top-k are not
    considered, so a larger k can turn "capacity exhausted" into a match. ``weak`` are the candidate
    edges left out for a strength below ``min_score``: an applicant with no other candidate gets
    `too_weak(min_score)`."""
    codes = np.unique(np.asarray(countries), return_inverse=True)[1].reshape(-1)
    n, sel = codes.size, np.asarray(selected, dtype=bool)
    ei, ej = np.asarray(edges_i, dtype=np.int64), np.asarray(edges_j, dtype=np.int64)
    ends, near, far = (ei, sel, ej) if directed else (np.r_[ei, ej], np.r_[sel, sel], np.r_[ej, ei])
    deg, matched = np.bincount(ends, minlength=n), np.bincount(ends[near], minlength=n)
    spare = np.asarray(capacity, dtype=np.int64) - matched > 0
    has_free = np.bincount(ends, weights=~near & spare[far], minlength=n) > 0
    others = n - (np.bincount(codes)[codes] if exclude_same_country else np.ones(n, dtype=np.int64))
    blocked = _blocked_counts(blocked_pairs, codes, exclude_same_country)
    below = np.zeros(n, dtype=np.int64)
    if weak is not None and min_score is not None:
        wi, wj = np.asarray(weak[0], dtype=np.int64), np.asarray(weak[1], dtype=np.int64)
        below = np.bincount(wi if directed else np.r_[wi, wj], minlength=n)
    out = []
    for u in np.flatnonzero(matched < np.asarray(wanted)).tolist():
        if deg[u] == 0 and others[u] == 0:
            reason = NO_OTHER_COUNTRY if exclude_same_country else NO_OTHER_APPLICANT
        elif deg[u] == 0 and below[u] and min_score is not None:
            reason = too_weak(min_score)
        elif deg[u] == 0:
            reason = ALL_CONFLICTS if blocked[u] >= others[u] else RULES
        elif directed or deg[u] == matched[u]:
            reason = FEWER
        else:
            reason = NOT_CHOSEN if has_free[u] else CAPACITY
        out.append(Unmatched(u, int(wanted[u]), int(matched[u]), reason))
    return out


def require_complete(unmatched: list[Unmatched], ids: list[str] | None = None, *, show: int = 10) -> None:
    """Raise InfeasibleBatch naming who fell short and why, if anyone did."""
    if not unmatched:
        return
    groups: dict[str, list[str]] = {}
    for u in unmatched:
        groups.setdefault(u.reason, []).append(ids[u.row] if ids is not None else str(u.row))
    parts = []
    for reason, who in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        more = f", ... (+{len(who) - show})" if len(who) > show else ""
        noun = "applicant" if len(who) == 1 else "applicants"
        parts.append(f"{len(who)} {noun}: {reason}: {', '.join(who[:show])}{more}")
    raise InfeasibleBatch("; ".join(parts))


def _blocked_counts(blocked: Any, codes: np.ndarray, exclude_same: bool) -> Counter:
    """Per applicant, the distinct partners its conflicts rule out (beyond the country rule)."""
    pairs = np.unique(np.sort(as_pairs(blocked), axis=1), axis=0)
    keep = pairs[:, 0] != pairs[:, 1]
    if exclude_same:
        keep &= codes[pairs[:, 0]] != codes[pairs[:, 1]]
    return Counter(pairs[keep].reshape(-1).tolist())


def _heaviest_per_pair(a: np.ndarray, b: np.ndarray, w: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The given edges minus repeats of an (a, b) pair: the heaviest of each pair stays."""
    edges = edges[np.lexsort((-w[edges], b[edges], a[edges]))]
    new = np.r_[True, (a[edges][1:] != a[edges][:-1]) | (b[edges][1:] != b[edges][:-1])]
    return edges[new[: edges.size]]


def _capacities(capacity: np.ndarray, n: int) -> np.ndarray:
    cap = np.asarray(capacity)
    if cap.shape != (n,) or (cap.size and (cap.min() < 0 or not np.all(cap == np.round(cap)))):
        raise InvalidQuery(f"capacity must be {n} non-negative integers")
    return cap.astype(np.int64)


def _check_edges(n, edges_i, edges_j, weights, capacity):
    ei, ej = np.asarray(edges_i, dtype=np.int64), np.asarray(edges_j, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    if not (ei.shape == ej.shape == w.shape) or ei.ndim != 1:
        raise InvalidQuery("edges_i, edges_j and weights must be 1-D arrays of the same length")
    if ei.size and (min(ei.min(), ej.min()) < 0 or max(ei.max(), ej.max()) >= n):
        raise InvalidQuery(f"an edge refers to a row outside 0..{n - 1}")
    return ei, ej, w, _capacities(capacity, n)
