"""The erasure phase of `make soak`: after an acknowledged erasure and a kill -9, does any file
under MATCHER_HOME still hold the erased person?

A real server (`matcher serve`, the packaged model) on the demo pool. Profiles with distinctive
names, emails and abstracts are created; each is listed as a co-author (by id and by name) by a
profile that stays, gets an owner key labelled with its name, is named in kept batch results (the
whole store, and a pool given by ids) and is matched by its abstract. Then every one is erased
(`DELETE /v1/profiles/{id}`, timed), the server is killed with SIGKILL at once, and every file under
the store (the database, its -wal and -shm, snapshots, batch results, lock files) is searched,
bytes, for each erased value; again after a one-shot command has opened the store. The figure is
how many files hold any erased value (0). tests/test_erasure.py runs a small round.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from matcher.testing import free_port

__all__ = ["ErasureRound", "erasure", "erasure_round", "files_holding"]

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ErasureRound:
    erased: tuple[str, ...]
    delete_seconds: tuple[float, ...]
    residue: dict[str, list[str]] = field(default_factory=dict)  # file -> the erased values it holds
    kept_listing: dict[str, list[str]] = field(default_factory=dict)  # a kept profile's co-authors after


def _person(i: int, tag: str) -> dict[str, object]:
    return {
        "id": f"erase-{tag}-{i:03d}",
        "name": f"Quillonia Vexmarrow {tag} {i:03d}",
        "country": ["PT", "KE", "TR", "PL"][i % 4],
        "institution": f"Institute of Zarquon Studies {tag}",
        "email": f"q.vexmarrow.{tag}.{i:03d}@erasure.example",
        "gender": "nonbinary",
        "works": [{
            "title": f"Glaciovolcanic tephra layering {tag} {i:03d}",
            "abstract": f"Snorqueline{tag}{i:03d} isotopic dating of glaciovolcanic tephra in the Vatnajokull "
                        f"ice cap, with groundwater recharge and drought adaptation of alpine crops ({tag} {i:03d}).",
        }],
    }


def secrets_of(person: dict[str, object]) -> list[str]:
    """What must leave every file: id, name, email, the work's title and abstract, a word of it."""
    work = person["works"][0]  # type: ignore[index]
    abstract = str(work["abstract"])
    return [str(person["id"]), str(person["name"]), str(person["email"]), str(work["title"]), abstract,
            abstract.split()[0]]


def files_holding(home: Path, values: list[str]) -> dict[str, list[str]]:
    """Every file under `home` (any name, hidden ones too) whose bytes hold any of `values`."""
    needles = [(v, v.encode("utf-8")) for v in values]
    found: dict[str, list[str]] = {}
    for path in sorted(home.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            hits = [v for v, b in needles if b in data]
            if hits:
                found[str(path.relative_to(home))] = hits
    return found


def _cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "matcher", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout


def _wait_for_job(client: httpx.Client, job_id: str, timeout: float = 300) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/v1/batches/{job_id}").json()
        if status["status"] in ("done", "failed"):
            return status  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise RuntimeError(f"batch job {job_id} did not finish in {timeout} s")


def erasure_round(home: Path, n_erased: int = 2, *, whole_store_batches: int = 1, tag: str = "zq") -> ErasureRound:
    """One round on a fresh store at `home` (see the module)."""
    env = {**os.environ, "MATCHER_HOME": str(home), "MATCHER_RATE_LIMIT_PER_MINUTE": "10000000",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    _cli(env, "demo")
    admin = _cli(env, "keys", "create", "--scope", "admin").strip().splitlines()[-1]
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "matcher", "serve", "--port", str(port)], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    people = [_person(i, tag) for i in range(n_erased)]
    timings: list[float] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": admin}, timeout=300) as client:
            for _ in range(600):
                try:
                    client.get("/health", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.2)
            for n, person in enumerate(people):
                assert client.post("/v1/profiles", json=person).status_code == 201
                keeper = {"id": f"colleague-{n:03d}", "name": f"Kept Colleague {n:03d}", "country": "DE",
                          "works": [{"title": "Tephra chronology of Iceland", "abstract": "tephra layers and ice cores",
                                     "coauthors": [person["id"], person["name"]]}]}
                assert client.post("/v1/profiles", json=keeper).status_code == 201
                owner = client.post("/v1/keys", json={"scope": "owner", "owner": person["id"], "label": person["name"]})
                assert owner.status_code in (200, 201), owner.text
                client.post("/v1/match", json={"text": person["works"][0]["abstract"], "k": 5})  # type: ignore[index]
            ids = [str(p["id"]) for p in people]
            jobs = [client.post("/v1/batches", json={"mode": "topk", "k": 5}).json()["id"]
                    for _ in range(whole_store_batches)]
            colleagues = [f"colleague-{n:03d}" for n in range(len(people))]
            jobs.append(client.post("/v1/batches", json={"mode": "topk", "k": 3, "pool_ids": [
                *ids, *colleagues, "tr-0001", "de-0001"]}).json()["id"])
            for job in jobs:
                assert _wait_for_job(client, job)["status"] == "done"
                assert client.get(f"/v1/batches/{job}/result", params={"format": "csv"}).status_code == 200
            for person in people:
                started = time.perf_counter()
                response = client.delete(f"/v1/profiles/{person['id']}")
                timings.append(time.perf_counter() - started)
                assert response.status_code == 204, response.text
            kept = {c: [a for w in client.get(f"/v1/profiles/{c}").json()["works"] for a in w["coauthors"]]
                    for c in colleagues}
        os.kill(server.pid, signal.SIGKILL)
        server.wait(30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(30)
    values = [v for person in people for v in secrets_of(person)]
    residue = files_holding(home, values)
    _cli(env, "keys", "list")  # a one-shot command opens the store again (and recovers its log)
    for name, hits in files_holding(home, values).items():
        residue.setdefault(name, hits)
    return ErasureRound(tuple(str(p["id"]) for p in people), tuple(timings), residue, kept)


def erasure(n_erased: int = 5, whole_store_batches: int = 5) -> dict[str, object]:
    """The soak figures: files holding an erased value (0), and how long the erasures took."""
    with tempfile.TemporaryDirectory() as home:
        result = erasure_round(Path(home) / "store", n_erased, whole_store_batches=whole_store_batches)
    return {
        "erasure_residue_files": len(result.residue),
        "erasure_profiles": len(result.erased),
        "erasure_delete_max_s": round(max(result.delete_seconds), 3),
    }


if __name__ == "__main__":
    print(json.dumps(erasure(), indent=2))
