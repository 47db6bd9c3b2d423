"""Batch top-k on a real Dask LocalCluster (two worker processes) equals the single-machine run:
the arrays, the batch results, the CLI's files; a bad --dask value or address is one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from matcher.assign.distributed import bands, dask_topk_pairs
from matcher.assign.programme import build_request, run_batch
from matcher.assign.topk import score_pairs, topk_pairs
from matcher.domain.errors import InvalidQuery, MatcherError
from matcher.service.bootstrap import model_id_for
from matcher.service.cluster import DaskTarget, dask_client, parse_dask
from matcher.service.config import Config
from matcher.testing import FakeEmbedder, free_port

from .conftest import ROOT, fake_services_at, small_pool

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    with dask_client(DaskTarget(workers=2)) as connected:  # a LocalCluster of two worker processes
        assert len(connected.scheduler_info()["workers"]) == 2
        yield connected


def pool(n: int, seed: int = 0, countries: str = "ABCDE") -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors with runs of exact duplicates (tied scores) and skewed countries."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 12)).astype(np.float32)
    x[40:52] = x[3]  # twelve copies of row 3: ties at every rank for their neighbours
    x[200:203] = x[7]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    share = 1.0 / np.arange(1, len(countries) + 1)
    return x, rng.choice(list(countries), size=n, p=share / share.sum())


def same(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> None:
    assert a[0].dtype == b[0].dtype and a[1].dtype == b[1].dtype
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("memory", [6_000, 60_000, 512 * 2**20])
@pytest.mark.parametrize("exclude_same", [True, False])
def test_dask_topk_equals_the_local_run(client, memory, exclude_same):
    x, c = pool(700, seed=memory % 5)
    blocked = [(0, 1), (3, 40), (5, 600), (41, 3), (650, 2)]
    done: list[tuple[int, int]] = []
    args = dict(countries=c, exclude_same_country=exclude_same, blocked_pairs=blocked, memory_bytes=memory)
    local = topk_pairs(x, 6, **args)
    spread = dask_topk_pairs(client, x, 6, **args, progress=lambda d, t: done.append((d, t)))
    same(local, spread)
    assert done and done[-1][0] == done[-1][1] and [d for d, _ in done] == sorted(d for d, _ in done)
    for left, right in zip(score_pairs(*local), score_pairs(*spread), strict=True):
        assert np.array_equal(left, right)
    assert (local[0] >= 0).sum() > 600 * 6  # the rules left most rows their k partners


@pytest.mark.parametrize("rule", ["rows", "country pairs", "callable"])
def test_dask_topk_equals_the_local_run_under_eligible_rules(client, rule):
    x, c = pool(500, seed=11)
    rng = np.random.default_rng(1)
    eligible = {
        "rows": rng.random(500) > 0.3,
        "country pairs": ~np.eye(5, dtype=bool) & (rng.random((5, 5)) > 0.2),
        "callable": lambda r, k: (r[:, None] % 3) != (k[None, :] % 3),  # asymmetric in neither direction
    }[rule]
    args = dict(countries=c, eligible=eligible, blocked_pairs=[(1, 2), (3, 44)], memory_bytes=9_000)
    same(topk_pairs(x, 5, **args), dask_topk_pairs(client, x, 5, **args))


def test_ties_go_to_the_lower_row_however_the_tiles_are_shared():
    x, c = pool(300, seed=2)
    idx, val = topk_pairs(x, 8, countries=c, memory_bytes=2_000, n_threads=1)
    for threads in (2, 3):
        same((idx, val), topk_pairs(x, 8, countries=c, memory_bytes=2_000, n_threads=threads))
    row = next(r for r in range(300) if c[r] != c[3] and 3 in idx[r])  # a row whose partners include the copies
    copies = [j for j in idx[row] if np.array_equal(x[j], x[3])]
    assert len(copies) >= 2 and copies == sorted(copies)
    eligible = [j for j in [3, *range(40, 52)] if c[j] != c[row]]
    assert copies == eligible[: len(copies)]  # the lowest rows among the tied ones


def test_bands_keep_tasks_small_and_workers_busy():
    assert bands(1, 2048, 2) == 1
    assert bands(49, 2048, 2) == 6  # 100k rows: 21 band pairs for two workers
    assert bands(196, 2048, 2) == 13  # 400k rows: bands of at most 32k rows
    assert bands(196, 2048, 16) == 16 and bands(400, 64, 64) == 32


def test_run_batch_on_the_cluster_equals_the_local_batch(client, tmp_path):
    services = fake_services_at(tmp_path / "store")
    try:
        services.engine.add(small_pool(64))
        corpus = services.engine.corpus()
        for mode, extra in (("topk", {"k": 4}), ("pairs", {"capacity": 2}),
                            ("bipartite", {"capacity": 2, "sides": ("TR,DE", "FR,PT,PL")})):
            request = build_request(mode, memory_bytes=3_000, **extra)  # type: ignore[arg-type]
            local, spread = run_batch(corpus, request), run_batch(corpus, request, client=client)
            assert local.pairs and local.pairs == spread.pairs, mode
            assert local.unmatched == spread.unmatched and local.capacity_use == spread.capacity_use
    finally:
        services.close()


def test_parse_dask_accepts_the_three_forms_and_names_the_syntax():
    assert parse_dask("local") == DaskTarget(workers=len(os.sched_getaffinity(0)))
    assert parse_dask("local:3") == DaskTarget(workers=3) and str(parse_dask("local:3")) == "local:3"
    assert parse_dask("tcp://10.0.0.5:8786") == DaskTarget(address="tcp://10.0.0.5:8786")
    assert parse_dask("tcp://scheduler.lan:8786").address == "tcp://scheduler.lan:8786"
    for bad in ("local:0", "local:two", "remote", "tcp://host", "tcp://host:99999", "http://host:8786", ""):
        with pytest.raises(InvalidQuery, match="local|tcp"):
            parse_dask(bad)


def test_an_unreachable_scheduler_is_a_matcher_error_naming_it():
    address = f"tcp://127.0.0.1:{free_port()}"
    start = time.monotonic()
    with pytest.raises(MatcherError, match=f"cannot reach the Dask scheduler at {address}"):
        with dask_client(parse_dask(address), timeout=1):
            pass
    assert time.monotonic() - start < 30


def test_batch_jobs_follow_matcher_dask(client, tmp_path):
    services = fake_services_at(tmp_path / "store")
    try:
        services.engine.add(small_pool(48))
        request = build_request("topk", k=3, memory_bytes=2_000)
        local = run_batch(services.engine.corpus(), request)
        services.batches.dask = client.scheduler.address  # MATCHER_DASK=tcp://...
        job = services.batches.start(services.engine.corpus, request, {"mode": "topk"}, None)
        deadline = time.monotonic() + 120
        while services.batches.get(job["id"])["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert services.batches.get(job["id"])["status"] == "done"
        rows = services.batches.result(job["id"])["pairs"]
        assert [(r["applicant_id"], r["partner_id"], r["score"]) for r in rows] == \
            [(p.applicant_id, p.partner_id, p.score) for p in local.pairs]
        services.batches.dask = "local:zero"
        with pytest.raises(InvalidQuery, match="MATCHER_DASK"):
            services.batches.start(services.engine.corpus, request, {"mode": "topk"}, None)
    finally:
        services.close()


def matcher(home, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MATCHER_HOME": str(home), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "matcher", *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=ROOT)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """A store as the CLI finds it, on the CLI's model id."""
    home = tmp_path_factory.mktemp("dask-cli") / "store"
    services = fake_services_at(home, FakeEmbedder(model_id=model_id_for(Config(home=home))))
    services.engine.add(small_pool(64))
    services.engine.corpus()
    services.close()
    return home


def test_cli_batch_with_dask_writes_the_same_files(home, tmp_path):
    common = ["batch", "--mode", "pairs", "--capacity", "2", "--memory", "3K"]
    plain = matcher(home, *common, "--out", str(tmp_path / "plain"))
    spread = matcher(home, *common, "--dask", "local:2", "--out", str(tmp_path / "dask"))
    assert plain.returncode == 0 and spread.returncode == 0, spread.stderr
    for name in ("pairs.csv", "unmatched.csv"):
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes(), name
    assert (tmp_path / "plain" / "pairs.csv").read_text().count("\n") > 40
    assert "partnerships" in spread.stderr and "Traceback" not in spread.stderr, spread.stderr


@pytest.mark.parametrize(("value", "code", "says"), [
    ("local:none", 2, "error: dask 'local:none': the number of workers after 'local:' must be a positive integer"),
    ("somewhere", 2, "error: dask 'somewhere' must be local, local:N (N worker processes) or tcp://HOST:PORT"),
    ("tcp://127.0.0.1:{port}", 1, "error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}: "),
])
def test_cli_bad_dask_value_or_address_is_one_clear_line(home, tmp_path, value, code, says):
    port = free_port()
    done = matcher(home, "batch", "--out", str(tmp_path / "out"), "--dask", value.format(port=port))
    assert done.returncode == code
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(says.format(port=port)), done.stderr


def test_the_default_path_does_not_import_dask():
    code = (
        "import sys\n"
        "import numpy as np\n"
        "import api.app, matcher.cli.main, matcher.service.bootstrap\n"
        "from matcher.assign.topk import topk_pairs\n"
        "x = np.eye(4, dtype=np.float32)\n"
        "topk_pairs(x, 2, countries=np.array(['A', 'B', 'A', 'B']))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_batch_help_teaches_dask_with_examples():
    from typer.testing import CliRunner

    from matcher.cli.main import app

    result = CliRunner().invoke(app, ["batch", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "--dask" in result.stdout and "local:N" in result.stdout and "tcp://HOST:PORT" in result.stdout
    examples = result.stdout[result.stdout.index("Examples"):]
    assert "matcher batch --mode pairs --dask local " in examples and "--dask tcp://" in examples
