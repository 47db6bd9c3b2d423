"""Capacitated pairing: greedy vs exact, bipartite flow vs brute force, and the reasons."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.assign.pairing import (
    ALL_CONFLICTS,
    CAPACITY,
    FEWER,
    NO_OTHER_COUNTRY,
    RULES,
    bipartite_assignment,
    exact_b_matching_small,
    greedy_b_matching,
    require_complete,
    total_weight,
    unmatched_reasons,
)
from matcher.assign.topk import score_pairs, topk_pairs
from matcher.domain.errors import InfeasibleBatch, InvalidQuery


def brute_best(n, ei, ej, w, cap):
    """Maximum total weight over all edge subsets that respect the capacities."""
    best = 0.0
    for chosen in itertools.product([False, True], repeat=len(w)):
        sel = np.array(chosen, dtype=bool)
        deg = np.bincount(np.concatenate([ei[sel], ej[sel]]), minlength=n)
        if np.all(deg <= cap):
            best = max(best, float(w[sel].sum()))
    return best


def degrees(n, ei, ej, sel):
    return np.bincount(np.concatenate([ei[sel], ej[sel]]), minlength=n)


@st.composite
def graphs(draw, max_n=8, max_m=14, max_cap=3):
    n = draw(st.integers(2, max_n))
    m = draw(st.integers(0, max_m))
    ei = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=np.int64)
    ej = np.array(draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m)), dtype=np.int64)
    keep = ei != ej
    w = np.array(draw(st.lists(st.floats(-0.3, 1.0), min_size=m, max_size=m)))[keep]
    cap = np.array(draw(st.lists(st.integers(1, max_cap), min_size=n, max_size=n)))
    return n, ei[keep], ej[keep], w, cap


@settings(max_examples=80, deadline=None)
@given(graphs())
def test_greedy_respects_capacity_and_half_of_optimum(graph):
    n, ei, ej, w, cap = graph
    sel = greedy_b_matching(n, ei, ej, w, cap)
    exact = exact_b_matching_small(n, ei, ej, w, cap)
    assert np.all(degrees(n, ei, ej, sel) <= cap)
    assert np.all(degrees(n, ei, ej, exact) <= cap)
    assert not np.any(sel & (w <= 0))
    assert total_weight(w, sel) >= 0.5 * total_weight(w, exact) - 1e-9
    assert total_weight(w, sel) <= total_weight(w, exact) + 1e-5


@settings(max_examples=40, deadline=None)
@given(graphs(max_n=6, max_m=10))
def test_exact_equals_brute_force(graph):
    n, ei, ej, w, cap = graph
    exact = exact_b_matching_small(n, ei, ej, w, cap)
    assert total_weight(w, exact) == pytest.approx(brute_best(n, ei, ej, w, cap), abs=1e-5)


@settings(max_examples=40, deadline=None)
@given(graphs(max_n=7, max_m=10, max_cap=1))
def test_unit_capacities_use_blossom_and_match_brute_force(graph):
    n, ei, ej, w, cap = graph
    exact = exact_b_matching_small(n, ei, ej, w, cap)
    assert total_weight(w, exact) == pytest.approx(brute_best(n, ei, ej, w, cap), abs=1e-9)


def test_local_swaps_beat_plain_greedy():
    # Greedy takes (1, 2) = 1.0 and blocks (0, 1) + (2, 3) = 1.8; one swap fixes it.
    ei, ej, w = np.array([1, 0, 2]), np.array([2, 1, 3]), np.array([1.0, 0.9, 0.9])
    cap = np.ones(4, dtype=int)
    plain = greedy_b_matching(4, ei, ej, w, cap, max_rounds=0)
    better = greedy_b_matching(4, ei, ej, w, cap)
    assert total_weight(w, plain) == pytest.approx(1.0)
    assert total_weight(w, better) == pytest.approx(1.8)


@st.composite
def two_sides(draw):
    nl, nr = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    m = draw(st.integers(0, 10))
    left = np.array(draw(st.lists(st.integers(0, nl - 1), min_size=m, max_size=m)), dtype=int)
    right = np.array(draw(st.lists(st.integers(0, nr - 1), min_size=m, max_size=m)), dtype=int)
    w = np.array(draw(st.lists(st.floats(-0.5, 1.0), min_size=m, max_size=m)))
    cl = np.array(draw(st.lists(st.integers(0, 3), min_size=nl, max_size=nl)))
    cr = np.array(draw(st.lists(st.integers(0, 3), min_size=nr, max_size=nr)))
    return nl, nr, left, right, w, cl, cr


@settings(max_examples=120, deadline=None)
@given(two_sides())
def test_bipartite_equals_brute_force(case):
    nl, nr, left, right, w, cl, cr = case
    sel = bipartite_assignment(nl, nr, left, right, w, cl, cr)
    assert np.all(np.bincount(left[sel], minlength=nl) <= cl)
    assert np.all(np.bincount(right[sel], minlength=nr) <= cr)
    pairs = list(zip(left[sel].tolist(), right[sel].tolist(), strict=True))
    assert len(pairs) == len(set(pairs))  # a duplicated candidate pair is used once
    best = {}
    for e, key in enumerate(zip(left.tolist(), right.tolist(), strict=True)):
        best[key] = max(best.get(key, -np.inf), w[e])
    keys = list(best)
    bl = np.array([a for a, _ in keys], dtype=int)
    br = np.array([nl + b for _, b in keys], dtype=int)
    bw = np.array([best[key] for key in keys])
    expected = brute_best(nl + nr, bl, br, bw, np.concatenate([cl, cr]))
    assert total_weight(w, sel) == pytest.approx(expected, abs=1e-5)


def test_bipartite_prefers_weight_over_cardinality():
    left, right, w = np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([1.0, 0.1, 0.1])
    sel = bipartite_assignment(2, 2, left, right, w, np.ones(2), np.ones(2))
    assert sel.tolist() == [True, False, False]


def test_bipartite_on_topk_candidates():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((80, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    side = np.repeat([0, 1], 40)
    ei, ej, w = score_pairs(*topk_pairs(x, 6, countries=side))
    cap = np.full(40, 2)
    sel = bipartite_assignment(40, 40, ei, ej - 40, w, cap, cap)
    general = exact_b_matching_small(80, ei, ej, w, np.full(80, 2))
    assert total_weight(w, sel) == pytest.approx(total_weight(w, general), abs=1e-4)


def test_invalid_capacity_is_rejected():
    with pytest.raises(InvalidQuery):
        bipartite_assignment(1, 1, np.array([0]), np.array([0]), np.array([1.0]), np.array([-1]), np.array([1]))
    with pytest.raises(InvalidQuery):
        greedy_b_matching(2, np.array([0]), np.array([5]), np.array([1.0]), np.ones(2))


def test_reasons_for_each_way_to_fall_short():
    #            0     1     2     3     4     5     6     7
    countries = ["TR", "DE", "DE", "FR", "AZ", "AZ", "KZ", "UZ"]
    # 0-1 paired; 2 wants one but its only candidate (0) is full; 3 wants two, has one candidate;
    # 4 and 5 are only in conflict with 6 and 7 (and 6, 7 with them); 5 also blocked by the rules.
    ei, ej = np.array([0, 0, 3]), np.array([1, 2, 1])
    w = np.array([0.9, 0.5, 0.4])
    cap = np.array([1, 2, 1, 2, 1, 1, 1, 1])
    sel = greedy_b_matching(8, ei, ej, w, cap)
    assert sel.tolist() == [True, False, True]
    blocked = [(4, 6), (4, 7), (6, 4), (4, 0), (4, 1), (4, 2), (4, 3)]
    wanted = np.array([1, 1, 1, 2, 1, 1, 0, 0])
    out = unmatched_reasons(wanted, ei, ej, sel, cap, np.array(countries), blocked_pairs=blocked)
    by_row = {u.row: u.reason for u in out}
    assert by_row == {2: CAPACITY, 3: FEWER, 4: ALL_CONFLICTS, 5: RULES}
    assert [u.matched for u in out] == [0, 1, 0, 0]


def test_reason_when_everyone_shares_a_country_and_topk_mode():
    c = np.array(["TR", "TR", "TR", "DE"])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    idx, val = topk_pairs(x, 2, countries=c)
    rows, ranks = np.nonzero(idx >= 0)
    out = unmatched_reasons(
        np.full(4, 2), rows, idx[rows, ranks], np.ones(rows.size, bool), np.full(4, 99), c, directed=True
    )
    assert {u.row: u.reason for u in out} == {0: FEWER, 1: FEWER, 2: FEWER}
    lone = unmatched_reasons(
        np.ones(2), np.array([], int), np.array([], int), np.array([], bool), np.ones(2), np.array(["AZ", "AZ"])
    )
    assert [u.reason for u in lone] == [NO_OTHER_COUNTRY, NO_OTHER_COUNTRY]
    with pytest.raises(InfeasibleBatch, match="2 applicants: no eligible partner in another country: az-1, az-2"):
        require_complete(lone, ["az-1", "az-2"])
    require_complete([])
