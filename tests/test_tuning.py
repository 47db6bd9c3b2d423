"""`matcher tune`: pairs from the pool's history, batches without repeats, and a real (small) training run."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from matcher.domain.profiles import Profile, Work
from matcher.embed.combined import CombinedEmbedder
from matcher.embed.tuning import KINDS, _batches, training_pairs
from matcher.testing import FakeEmbedder

CORDIS = Path(__file__).resolve().parents[2] / "shared" / "data" / "cordis-horizon-sample"


def _org(pid: str, works: list[tuple[str, str, str]], partners: tuple[str, ...] = ()) -> Profile:
    return Profile(id=pid, name=pid, country="DE", kind="organisation", works=tuple(
        Work(id=wid, title=title, abstract=abstract, coauthors=partners) for wid, title, abstract in works))


def test_pairs_come_from_one_profile_from_partners_and_from_title_and_abstract():
    a = _org("a", [("w1", "Hydrogen storage", "Salt caverns for hydrogen."), ("w2", "Fuel cells", "")], ("b",))
    b = _org("b", [("w1", "Hydrogen storage", "Salt caverns for hydrogen."), ("w3", "Grid batteries", "Li-ion.")])
    pairs = training_pairs([a, b], max_pairs=100)
    assert set(pairs) == set(KINDS)
    w1, w2, w3 = (w.text for w in (*a.works, b.works[1]))
    assert sorted(pairs["same_profile"]) == sorted({tuple(sorted((w1, w2))), tuple(sorted((w1, w3)))})
    assert pairs["partners"] == [tuple(sorted((w2, w3)))]  # a's other work with b's other work, not the shared one
    assert sorted(pairs["title_abstract"]) == [("Grid batteries", "Li-ion."),
                                               ("Hydrogen storage", "Salt caverns for hydrogen.")]
    capped = training_pairs([a, b], max_pairs=2)
    assert sum(len(v) for v in capped.values()) == 2 and training_pairs([a, b], max_pairs=2) == capped


def test_batches_never_hold_one_text_twice():
    rng = random.Random(1)
    pairs = [(rng.randrange(60), rng.randrange(60, 120)) for _ in range(500)]
    batches = _batches(pairs, 16, random.Random(0))
    for batch in batches:
        texts = [t for pair in batch for t in pair]
        assert len(texts) == len(set(texts)) and 2 <= len(batch) <= 16
    assert sum(len(b) for b in batches) >= 0.9 * len(pairs)


def test_the_quality_mode_averages_cosines():
    one, two = FakeEmbedder(dim=16, model_id="fake-16"), FakeEmbedder(dim=8, model_id="fake-8")
    both = CombinedEmbedder([one, two])
    texts = ["solar cells", "perovskite solar cells", "rural sociology"]
    v = both.embed(texts)
    assert v.shape == (3, 24) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    a, b = one.embed(texts), two.embed(texts)
    assert np.allclose(v @ v.T, (a @ a.T + b @ b.T) / 2, atol=1e-5)
    assert both.model_id == f"mean({one.model_id} | {two.model_id})"


def _tune(home: Path, out: Path, monkeypatch) -> dict:
    from matcher.cli import app

    monkeypatch.setenv("MATCHER_HOME", str(home))
    result = CliRunner().invoke(app, ["tune", "--max-pairs", "96", "--batch-size", "16", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[result.stdout.index("{"):])


def _check_model(out: Path) -> None:
    from matcher.embed.sentence import SentenceTransformerEmbedder

    tuned = SentenceTransformerEmbedder(out, backend="torch")
    base = SentenceTransformerEmbedder(None, backend="torch")
    texts = ["offshore wind turbine blades", "a survey of soil microbiomes"]
    t, b = tuned.embed(texts), base.embed(texts)
    cos = (t * b).sum(axis=1)
    assert (cos > 0.8).all() and (cos < 0.99999).all()  # moved, but still the same model family
    assert tuned.encoder_.max_seq_length == base.encoder_.max_seq_length  # its full window kept for use


@pytest.mark.integration
def test_tune_on_the_demo_pool(demo_services, tmp_path, monkeypatch):
    report = _tune(demo_services.config.home, tmp_path / "tuned", monkeypatch)
    assert sum(report["pairs"].values()) == 96 and report["steps"] >= 5
    assert report["loss_last"] < report["loss_first"] * 1.5
    assert (tmp_path / "tuned" / "tune.json").exists()
    _check_model(tmp_path / "tuned")
    # the int8 export (the default backend) takes the tuned folder as it takes the packaged model
    from matcher.embed.sentence import SentenceTransformerEmbedder

    texts = ["offshore wind turbine blades", "a survey of soil microbiomes"]
    int8 = SentenceTransformerEmbedder(tmp_path / "tuned", backend="onnx-int8", models_dir=tmp_path / "exports")
    fp32 = SentenceTransformerEmbedder(tmp_path / "tuned", backend="torch")
    assert ((int8.embed(texts) * fp32.embed(texts)).sum(axis=1) > 0.98).all()
    # the quality mode: the shipped model and the tuned one averaged, through the real bootstrap
    from matcher.service.bootstrap import bootstrap
    from matcher.service.config import Config, load_config

    monkeypatch.setenv("MATCHER_MODELS", f"packaged,{tmp_path / 'tuned'}")
    config = load_config(home=tmp_path / "quality")
    assert config.models == (None, tmp_path / "tuned")
    services = bootstrap(Config(home=config.home, models=config.models, backend="torch"))
    try:
        vectors = services.engine.embedder.embed(["offshore wind turbine blades"])
        assert vectors.shape == (1, 768) and np.isclose(np.linalg.norm(vectors), 1, atol=1e-5)
        assert services.engine.embedder.model_id.startswith("mean(sentence-transformers/all-MiniLM-L6-v2 | local:")
    finally:
        services.close()


@pytest.mark.integration
@pytest.mark.skipif(not CORDIS.exists(), reason="the CORDIS sample is not here")
def test_tune_on_a_cordis_store(tmp_path, monkeypatch):
    from matcher.cli import app

    home = tmp_path / "store"
    monkeypatch.setenv("MATCHER_HOME", str(home))
    ingest = CliRunner().invoke(app, ["ingest", str(CORDIS), "--format", "cordis"])
    assert ingest.exit_code == 0, ingest.output
    report = _tune(home, tmp_path / "tuned", monkeypatch)
    assert report["pairs"]["title_abstract"] > 0 and report["texts"] > 32
    _check_model(tmp_path / "tuned")


def test_the_quality_mode_setting_is_checked(tmp_path):
    from matcher.domain.errors import MatcherError
    from matcher.service.config import parse_models

    assert parse_models(None) == () and parse_models("packaged, default") == (None, None)
    with pytest.raises(MatcherError, match="two or more"):
        parse_models("packaged")
    with pytest.raises(MatcherError, match="no sentence-transformers model at"):
        parse_models(f"packaged,{tmp_path}")


def test_tune_refuses_an_empty_store(tmp_path, monkeypatch):
    from matcher.cli import app

    monkeypatch.setenv("MATCHER_HOME", str(tmp_path / "empty"))
    empty = CliRunner().invoke(app, ["tune", "--out", str(tmp_path / "x")])
    assert empty.exit_code == 1 and "no profiles to learn from" in empty.output
