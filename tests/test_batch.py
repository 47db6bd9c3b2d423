"""Blockwise cross-border top-k against a full score matrix, and the batch report files."""

from __future__ import annotations

import csv

import numpy as np
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.assign.rows import (
    PAIR_COLUMNS,
    UNMATCHED_COLUMNS,
    PairRow,
    UnmatchedRow,
    pair_rows_from_edges,
    pair_rows_from_topk,
)
from matcher.assign.topk import score_pairs, topk_pairs
from matcher.domain.errors import InvalidQuery
from matcher.export.report import write_outputs


def pool(n: int, d: int = 8, seed: int = 0, alphabet: str = "ABCD"):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, rng.choice(list(alphabet), size=n)


def allowed_matrix(countries, exclude_same=True, blocked=(), rule=None):
    n = len(countries)
    ok = ~np.eye(n, dtype=bool)
    if exclude_same:
        ok &= countries[:, None] != countries[None, :]
    for i, j in blocked:
        ok[i, j] = ok[j, i] = False
    if rule is not None:
        ok &= rule
    return ok


def brute(x, k, ok):
    s = np.where(ok, x.astype(np.float64) @ x.T.astype(np.float64), -np.inf)
    order = np.argsort(-s, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(s, order, 1)
    pad = k - top.shape[1]
    return np.pad(top, ((0, 0), (0, max(pad, 0))), constant_values=-np.inf)


def check(x, k, ok, idx, val):
    """Same scores as brute force; every index eligible, distinct, with its true score."""
    n = len(x)
    assert idx.shape == val.shape == (n, k) and idx.dtype == np.int64 and val.dtype == np.float32
    expected = brute(x, k, ok)
    assert np.array_equal(np.isfinite(expected), idx >= 0)
    assert np.allclose(np.where(idx >= 0, val, 0), np.where(idx >= 0, expected, 0), atol=1e-5)
    assert np.all(np.diff(np.where(idx >= 0, val, -9), axis=1) <= 0)
    rows, cols = np.nonzero(idx >= 0)
    assert ok[rows, idx[rows, cols]].all()
    true = (x[rows] * x[idx[rows, cols]]).sum(axis=1)
    assert np.allclose(true, val[rows, cols], atol=1e-5)
    for r in range(n):
        found = idx[r][idx[r] >= 0]
        assert len(set(found.tolist())) == found.size


@pytest.mark.parametrize("memory", [1, 3_000, 40_000, 512 * 2**20])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("exclude_same", [True, False])
def test_topk_equals_brute_force_for_any_block_size(memory, threads, exclude_same):
    x, c = pool(157, seed=memory % 7)
    blocked = {(0, 1), (5, 90), (90, 5), (33, 140), (7, 7)}
    idx, val = topk_pairs(
        x,
        6,
        countries=c,
        memory_bytes=memory,
        n_threads=threads,
        exclude_same_country=exclude_same,
        blocked_pairs=blocked,
    )
    check(x, 6, allowed_matrix(c, exclude_same, blocked), idx, val)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 70),
    k=st.integers(1, 12),
    seed=st.integers(0, 10_000),
    memory=st.sampled_from([1, 5_000, 10**6]),
    threads=st.sampled_from([1, 2]),
    alphabet=st.sampled_from(["A", "AB", "ABCDE"]),
    exclude_same=st.booleans(),
)
def test_topk_properties(n, k, seed, memory, threads, alphabet, exclude_same):
    x, c = pool(n, d=4, seed=seed, alphabet=alphabet)
    idx, val = topk_pairs(x, k, countries=c, memory_bytes=memory, n_threads=threads, exclude_same_country=exclude_same)
    ok = allowed_matrix(c, exclude_same)
    check(x, k, ok, idx, val)
    assert not np.any(idx == np.arange(n)[:, None])
    if exclude_same:
        rows, cols = np.nonzero(idx >= 0)
        assert np.all(c[rows] != c[idx[rows, cols]])


def test_pads_with_minus_one_when_fewer_are_eligible():
    x, _ = pool(5)
    c = np.array(["TR", "TR", "TR", "DE", "FR"])
    idx, val = topk_pairs(x, 4, countries=c)
    assert (idx[0] >= 0).sum() == 2 and np.all(idx[0, 2:] == -1)
    assert np.all(np.isneginf(val[0, 2:]))
    assert (idx[3] >= 0).sum() == 4  # DE sees TR x3 and FR


def test_lone_country_gets_nothing():
    x, _ = pool(4)
    idx, _ = topk_pairs(x, 3, countries=np.array(["AZ"] * 4))
    assert np.all(idx == -1)


def test_similar_vectors_ties_and_duplicates():
    x = np.repeat(pool(3)[0], 20, axis=0)  # every vector 20 times: many exact ties
    c = np.array(list("AB") * 30)
    idx, val = topk_pairs(x, 7, countries=c, memory_bytes=2_000, n_threads=2)
    check(x, 7, allowed_matrix(c), idx, val)


@pytest.mark.parametrize("form", ["callable", "rows", "country-pairs"])
def test_extra_eligibility_rules(form):
    x, c = pool(90, seed=3)
    n = len(c)
    rng = np.random.default_rng(1)
    if form == "callable":  # asymmetric on purpose: row r may see col j when (r + 2 j) % 3 != 0
        rule = lambda r, j: (r[:, None] + 2 * j[None, :]) % 3 != 0  # noqa: E731
        dense = rule(np.arange(n), np.arange(n))
    elif form == "rows":
        rule = rng.random(n) < 0.7
        dense = np.broadcast_to(rule[None, :], (n, n))
    else:
        names = np.unique(c)
        rule = rng.random((len(names), len(names))) < 0.6
        code = np.searchsorted(names, c)
        dense = rule[code[:, None], code[None, :]]
    for memory in (1, 10**7):
        idx, val = topk_pairs(x, 5, countries=c, eligible=rule, memory_bytes=memory, n_threads=2)
        check(x, 5, allowed_matrix(c, rule=dense), idx, val)


def test_sparse_conflicts_and_progress():
    x, c = pool(120, seed=4)
    blocked = sp.coo_matrix((np.ones(3), ([1, 2, 3], [50, 60, 70])), shape=(120, 120))
    calls = []
    idx, val = topk_pairs(
        x,
        4,
        countries=c,
        blocked_pairs=blocked,
        memory_bytes=5_000,
        progress=lambda done, total: calls.append((done, total)),
    )
    check(x, 4, allowed_matrix(c, blocked=[(1, 50), (2, 60), (3, 70)]), idx, val)
    assert calls and calls[-1][0] == calls[-1][1] and len(calls) == calls[-1][1]


def test_rejects_bad_requests():
    x, c = pool(10)
    with pytest.raises(InvalidQuery):
        topk_pairs(x, 0, countries=c)
    with pytest.raises(InvalidQuery):
        topk_pairs(x, 3, countries=c[:5])
    with pytest.raises(InvalidQuery):
        topk_pairs(x, 3, countries=c, blocked_pairs=[(0, 99)])


def test_score_pairs_builds_undirected_unique_edges():
    x, c = pool(60, seed=5)
    idx, val = topk_pairs(x, 5, countries=c)
    ei, ej, w = score_pairs(idx, val)
    assert np.all(ei < ej)
    assert len(set(zip(ei.tolist(), ej.tolist(), strict=True))) == len(ei)
    assert np.allclose(w, (x[ei] * x[ej]).sum(axis=1), atol=1e-5)
    listed = {(min(r, j), max(r, j)) for r in range(60) for j in idx[r].tolist() if j >= 0}
    assert listed == set(zip(ei.tolist(), ej.tolist(), strict=True))
    ei2, _, w2 = score_pairs(idx, val, min_score=0.5)
    assert np.all(w2 >= 0.5) and len(ei2) <= len(ei)


def test_report_files(tmp_path):
    ids = ["tr-1", "de-<b>&2", "fr-3", "az-4"]
    countries = dict(zip(ids, ["TR", "DE", "FR", "AZ"], strict=True))
    edges = np.array([0, 0]), np.array([1, 2]), np.array([0.9, 0.4])
    rows = pair_rows_from_edges(ids, *edges, np.array([True, True]), "assigned")
    unmatched = [
        UnmatchedRow("az-4", 1, 0, "no eligible partner in another country"),
        UnmatchedRow("<script>x", 2, 1, "a & b"),
    ]
    use = {"tr-1": (2, 2), "de-<b>&2": (1, 3), "fr-3": (1, 1), "az-4": (0, 1)}
    paths = write_outputs(rows, unmatched, countries, use, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(paths)

    with paths["pairs.csv"].open(newline="") as fh:
        table = list(csv.reader(fh))
    assert tuple(table[0]) == PAIR_COLUMNS
    assert PAIR_COLUMNS[:7] == ("applicant_id", "partner_id", "score", "rank", "reason", "strength", "strength_label")
    assert ["tr-1", "de-<b>&2", "0.9", "1", "assigned", "1.0", "strong"] == table[1][:7]
    assert ["tr-1", "fr-3", "0.4", "2", "assigned", "0.239", "weak"] in [r[:7] for r in table] and len(table) == 5
    parquet = pq.read_table(paths["pairs.parquet"])
    assert tuple(parquet.column_names) == PAIR_COLUMNS and parquet.num_rows == 4
    with paths["unmatched.csv"].open(newline="") as fh:
        missing = list(csv.reader(fh))
    assert tuple(missing[0]) == UNMATCHED_COLUMNS and missing[1][:2] == ["az-4", "AZ"]
    assert len(missing) == 3

    page = paths["report.html"].read_text(encoding="utf-8")
    assert "id='country-matrix'" in page and "'col'>TR</th>" in page and "'row'>DE</th>" in page
    assert "id='unmatched-list'" in page and "az-4" in page
    assert "no eligible partner in another country" in page
    assert "id='score-histogram'" in page and "id='capacity'" in page
    assert "strong / good / weak partnerships<b>1 / 0 / 1</b>" in page  # two rows per partnership, counted once
    assert "&lt;script&gt;x" in page and "a &amp; b" in page and "<b>&2" not in page
    assert page.count("<script") == 1 and "http://" not in page and "<svg" not in page


def test_report_rows_from_topk_and_empty_report(tmp_path):
    x, c = pool(12, seed=6)
    idx, val = topk_pairs(x, 2, countries=c)
    ids = [f"p{i}" for i in range(12)]
    rows = pair_rows_from_topk(ids, idx, val, "top-k")
    assert all(isinstance(r, PairRow) and r.rank in (1, 2) for r in rows)
    assert len(rows) == int((idx >= 0).sum())
    paths = write_outputs([], [], {}, {}, tmp_path)
    assert pq.read_table(paths["pairs.parquet"]).num_rows == 0
    assert "Everyone got the partners" in paths["report.html"].read_text(encoding="utf-8")
