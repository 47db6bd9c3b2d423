"""The matching state over time: snapshots, the delta of writes since, tombstones, merges, and
several processes on one store. The oracle is a fresh build of the same store (`build_corpus`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.domain.profiles import Profile, parse_profile
from matcher.index.corpus import Corpus, build_corpus
from matcher.index.segment import corpus_texts
from matcher.index.state import StatePolicy
from matcher.rank.matching import match
from matcher.score.query import PreparedQuery
from matcher.service.config import Config
from matcher.service.engine import Engine, MatchRequest
from matcher.testing import FakeEmbedder
from tests.conftest import TOPICS, fake_services_at, small_pool

NO_AUTO_MERGE = StatePolicy(fold_rows=10**9, refit_share=10**9)


def engine_on(home: Path, fake: FakeEmbedder | None = None, policy: StatePolicy | None = None) -> Engine:
    return fake_services_at(home, fake, policy).engine


def fresh_build(engine: Engine, *, same_fit: bool) -> Corpus:
    """The store as it is now, built from scratch (with the live state's fitted parts, or refitted)."""
    profiles = engine.store.profiles()
    vectors = engine.embedder.embed(corpus_texts(profiles))
    return build_corpus(profiles, vectors, fitted=engine.corpus().fitted if same_fit else None)


QUERIES = [
    MatchRequest(profile_id="p001", k=8),
    MatchRequest(text="groundwater aquifer contaminant transport in karst", k=8),
    MatchRequest(profile_id="p006", text="neural network training for crop yield", k=8, diversity=0.0),
    MatchRequest(profile_id="p003", k=6, countries=("DE", "FR", "TR"), exclude_coauthors=True),
]


def suggestions(engine: Engine, corpus: Corpus, request: MatchRequest) -> list[tuple[str, float]]:
    if request.profile_id is not None and request.profile_id not in corpus.row_of:
        return []
    return [(s.id, s.score) for s in match(corpus, engine.prepare(request, corpus), engine.config.scoring)]


def assert_same_suggestions(engine: Engine, oracle: Corpus) -> None:
    """Every query gives the same people with the same scores (ties within float rounding may
    come in either order)."""
    live = engine.corpus()
    for request in QUERIES:
        got, want = suggestions(engine, live, request), suggestions(engine, oracle, request)
        assert [round(s, 3) for _, s in got] == [round(s, 3) for _, s in want], request
        assert {i for i, _ in got} == {i for i, _ in want} or _tied(got, want), request


def _tied(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> bool:
    """The lists differ only by which of equally scored people made the cut."""
    differ = {i for i, _ in got} ^ {i for i, _ in want}
    cut = min(s for _, s in want)
    return all(abs(s - cut) < 1e-4 for i, s in got + want if i in differ)


def test_a_restart_loads_the_snapshot_without_parsing_a_profile(tmp_path, monkeypatch):
    first = engine_on(tmp_path)
    first.add(small_pool())
    before = [suggestions(first, first.corpus(), q) for q in QUERIES]
    first.store.close()

    def no_parsing(*args, **kwargs):
        raise AssertionError("a profile was parsed on restart")

    monkeypatch.setattr("matcher.store.sqlite.parse_profile", no_parsing)
    fake = FakeEmbedder()
    again = engine_on(tmp_path, fake)
    again.corpus()
    assert fake.calls == 0  # no text embedded: vectors come from the snapshot
    assert [suggestions(again, again.corpus(), q) for q in QUERIES] == before


def test_a_written_profile_is_in_the_delta_and_scores_as_in_a_fresh_build(tmp_path):
    engine = engine_on(tmp_path, policy=NO_AUTO_MERGE)
    pool = small_pool()
    engine.add(pool[:40])
    engine.corpus()  # the state is opened: later writes go to its delta
    engine.add(pool[40:])
    corpus = engine.corpus()
    assert len(corpus.base) == 40 and len(corpus.delta) == 8
    assert_same_suggestions(engine, fresh_build(engine, same_fit=True))
    found = [s.id for s in engine.match(MatchRequest(text=pool[44].works[0].text, k=3))]
    assert "p044" in found


def test_replacing_and_deleting_take_effect_at_once(tmp_path):
    engine = engine_on(tmp_path, policy=NO_AUTO_MERGE)
    pool = small_pool()
    engine.add(pool)
    engine.corpus()
    moved = dataclasses.replace(pool[5], country="KE", works=pool[9].works)
    engine.add([moved])
    engine.delete("p007")
    corpus = engine.corpus()
    assert corpus.countries[corpus.row_of["p005"]] == "KE" and corpus.n_active == 47
    assert "p007" not in corpus.row_of
    everyone = {s.id for s in engine.match(MatchRequest(text="groundwater aquifer nitrate transport", k=100))}
    assert "p007" not in everyone and list(everyone).count("p005") <= 1
    assert_same_suggestions(engine, fresh_build(engine, same_fit=True))


def test_another_process_writes_are_caught_up_by_reading_only_what_changed(tmp_path, monkeypatch):
    server = engine_on(tmp_path)
    server.add(small_pool(40))
    server.corpus()
    cli = engine_on(tmp_path)  # a second process on the same store, e.g. `matcher ingest`
    cli.add(small_pool(48)[40:])
    parsed: list[str] = []
    import matcher.store.sqlite as store_module

    original = store_module.parse_profile

    def counting(raw):
        parsed.append(raw["id"])
        return original(raw)

    monkeypatch.setattr(store_module, "parse_profile", counting)
    corpus = server.corpus()
    assert sorted(parsed) == [f"p{i:03d}" for i in range(40, 48)]  # only the changed profiles
    assert corpus.n_active == 48 and "p047" in corpus.row_of
    cli.delete("p002")
    corpus = server.corpus()
    assert corpus.n_active == 47 and "p002" not in corpus.row_of


def test_a_merge_folds_the_delta_and_changes_no_score(tmp_path):
    engine = engine_on(tmp_path, policy=NO_AUTO_MERGE)
    pool = small_pool()
    engine.add(pool[:40])
    engine.corpus()  # the state is opened: later writes go to its delta
    engine.add(pool[40:])
    engine.add([dataclasses.replace(pool[3], name="Renamed")])
    before = [suggestions(engine, engine.corpus(), q) for q in QUERIES]
    info = engine.state.snapshot
    assert len(engine.corpus().delta) == 9
    from matcher.index.state import merge

    merged = merge(engine.store, engine.embedder)
    assert merged is not None and merged.generation > info.generation and merged.rows == 48
    corpus = engine.corpus()
    assert len(corpus.delta) == 0 and len(corpus.base) == 48 and corpus.names[corpus.row_of["p003"]] == "Renamed"
    assert [suggestions(engine, corpus, q) for q in QUERIES] == before
    assert [p.name for p in engine.store.state_dir.rglob("g*") if p.is_dir()] == [merged.name]


def test_a_refit_equals_a_fresh_build(tmp_path):
    engine = engine_on(tmp_path, policy=NO_AUTO_MERGE)
    pool = small_pool()
    engine.add(pool[:20])
    engine.corpus()
    engine.add(pool[20:])
    from matcher.index.state import merge

    merge(engine.store, engine.embedder, refit=True)
    assert engine.corpus().fitted.fit_rows == 48
    assert_same_suggestions(engine, fresh_build(engine, same_fit=False))


def test_the_policy_merges_when_the_delta_grows_and_refits_when_the_pool_changed(tmp_path):
    engine = engine_on(tmp_path, policy=StatePolicy(fold_rows=5, fold_share=0.0, refit_share=0.5))
    pool = small_pool()
    engine.add(pool[:30])
    engine.corpus()
    engine.add(pool[30:34])
    assert len(engine.corpus().delta) == 4  # under the threshold
    engine.add(pool[34:40])  # 10 rows: a fold, without a refit (10 < 0.5 * 30)
    corpus = engine.corpus()
    assert len(corpus.delta) == 0 and corpus.fitted.fit_rows == 30 and engine.state.snapshot.changed_since_fit == 10
    engine.add(pool[40:])  # 18 rows since the fit of 30: a refit
    assert engine.corpus().fitted.fit_rows == 48


def test_a_damaged_snapshot_is_rebuilt_from_the_store(tmp_path):
    engine = engine_on(tmp_path)
    engine.add(small_pool())
    before = [suggestions(engine, engine.corpus(), q) for q in QUERIES]
    folder = engine.store.state_dir / engine.state.snapshots.root.name / engine.state.snapshot.name
    vectors = folder / "work_vectors.npy"
    data = bytearray(vectors.read_bytes())
    data[-5] ^= 0xFF
    vectors.write_bytes(bytes(data))
    again = engine_on(tmp_path)
    assert [suggestions(again, again.corpus(), q) for q in QUERIES] == before
    assert again.state.snapshot.name != engine.state.snapshot.name  # a new one was written


def test_a_snapshot_of_an_older_format_is_rebuilt_with_one_warning(tmp_path, caplog):
    """After an upgrade that changes the snapshot's columns, the store opens as before: the old
    snapshot is replaced by one built from the store, and the user is told once."""
    import json

    from matcher.index.snapshot import FORMAT

    engine = engine_on(tmp_path)
    engine.add(small_pool())
    before = [suggestions(engine, engine.corpus(), q) for q in QUERIES]
    meta = engine.store.state_dir / engine.state.snapshots.root.name / engine.state.snapshot.name / "meta.json"
    old = json.loads(meta.read_text())
    meta.write_text(json.dumps({**old, "format": FORMAT - 1}))
    with caplog.at_level("WARNING"):
        again = engine_on(tmp_path)
        assert [suggestions(again, again.corpus(), q) for q in QUERIES] == before
    assert again.state.snapshot.name != engine.state.snapshot.name
    told = [r.getMessage() for r in caplog.records if "rebuilding the matching state" in r.getMessage()]
    assert len(told) == 1 and f"has format {FORMAT - 1}, not {FORMAT}" in told[0]


def test_an_erasure_merge_leaves_nothing_of_the_profile_in_state_files(tmp_path):
    engine = engine_on(tmp_path)
    pool = small_pool()
    unique = parse_profile({"id": "zz-gone", "name": "Gone Person", "country": "PT", "works": [
        {"title": "Xylophagous beetle ecology", "abstract": "Xylophagous quokkastyle fieldwork"}]})
    engine.add([*pool, unique])
    assert engine.corpus().row_of.get("zz-gone") is not None
    engine.delete("zz-gone")  # inline: the merge runs before delete returns in a one-shot process
    for path in engine.store.state_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"zz-gone" not in data and b"Gone Person" not in data and b"quokkastyle" not in data, path


# -- any interleaving -----------------------------------------------------------------------------

POOL = small_pool(24)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 23)),
        st.tuples(st.just("replace"), st.integers(0, 23), st.sampled_from(sorted(TOPICS))),
        st.tuples(st.just("delete"), st.integers(0, 23)),
        st.tuples(st.just("merge"), st.booleans()),
        st.tuples(st.just("restart"), st.booleans()),
    ),
    min_size=1,
    max_size=12,
)


def _replaced(profile: Profile, topic: str) -> Profile:
    words = TOPICS[topic]
    works = tuple(dataclasses.replace(w, abstract=" ".join(words[::-1]) + " " + w.abstract) for w in profile.works)
    return dataclasses.replace(profile, works=works, keywords=(topic,))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_any_interleaving_gives_the_suggestions_of_a_fresh_build(tmp_path_factory, ops):
    from matcher.index.state import merge

    home = tmp_path_factory.mktemp("state")
    engine = engine_on(home, policy=NO_AUTO_MERGE)
    engine.add(POOL[:12])
    engine.corpus()
    for op in ops:
        kind = op[0]
        if kind == "add":
            engine.add([POOL[op[1]]])
        elif kind == "replace" and engine.store.exists(POOL[op[1]].id):
            engine.add([_replaced(engine.store.get(POOL[op[1]].id), op[2])])
        elif kind == "delete" and engine.store.exists(POOL[op[1]].id) and engine.store.count() > 1:
            engine.delete(POOL[op[1]].id)
        elif kind == "merge":
            merge(engine.store, engine.embedder, refit=op[1])
        elif kind == "restart":
            fake = engine.embedder.embedder
            engine.store.close()
            engine = engine_on(home, fake, policy=NO_AUTO_MERGE)
    queries_ok = {q.profile_id for q in QUERIES if q.profile_id} <= {p.id for p in engine.store.profiles()}
    corpus = engine.corpus()
    assert corpus.n_active == engine.store.count()
    assert sorted(corpus.row_of) == sorted(p.id for p in engine.store.profiles())
    if queries_ok:
        assert_same_suggestions(engine, fresh_build(engine, same_fit=True))
    merge(engine.store, engine.embedder, refit=True)
    if queries_ok:
        assert_same_suggestions(engine, fresh_build(engine, same_fit=False))
    engine.store.close()


def test_prepared_queries_see_one_view(fake_engine):
    """A query keeps the view it started with while writes make new ones."""
    corpus = fake_engine.corpus()
    query = fake_engine.prepare(MatchRequest(profile_id="p001", k=5), corpus)
    fake_engine.delete("p029")
    assert "p029" in [s.id for s in match(corpus, query)]
    assert "p029" not in [s.id for s in fake_engine.match(MatchRequest(profile_id="p001", k=5))]
    assert isinstance(query, PreparedQuery) and np.all(corpus.active)


def test_state_commands_report_and_merge(tmp_path):
    """`matcher state status` and `merge` on a store written under the configured model's id (the
    vectors are cached, so the CLI never loads the model)."""
    import json
    import subprocess
    import sys

    from matcher.service.bootstrap import model_id_for

    fake = FakeEmbedder(model_id=model_id_for(Config(home=tmp_path)))
    engine = engine_on(tmp_path, fake, NO_AUTO_MERGE)
    engine.add(small_pool(40))
    engine.corpus()
    engine.add(small_pool(48)[40:])
    engine.store.close()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = {"MATCHER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
        return subprocess.run([sys.executable, "-m", "matcher", "state", *args], capture_output=True, text=True,
                              env=env, timeout=120)

    status = json.loads(cli("status", "--json").stdout)
    assert status["profiles"] == 48 and status["base_rows"] == 40 and status["delta_rows"] == 8
    assert status["snapshot_generation"] == 40 and status["store_generation"] == 48 and not status["merge_due"]
    merged = cli("merge")
    assert merged.returncode == 0 and "48 profiles" in merged.stdout, merged.stderr
    status = json.loads(cli("status", "--json").stdout)
    assert status["base_rows"] == 48 and status["delta_rows"] == 0 and status["snapshot_generation"] == 48


def test_erasure_from_the_command_line_reaches_the_state_files(tmp_path):
    import subprocess
    import sys

    from matcher.service.bootstrap import model_id_for

    fake = FakeEmbedder(model_id=model_id_for(Config(home=tmp_path)))
    engine = engine_on(tmp_path, fake)
    gone = parse_profile({"id": "zz-gone", "name": "Quintessa Gone", "country": "PT", "works": [
        {"title": "Xylophagous beetles", "abstract": "quokkastyle fieldwork in dead wood"}]})
    engine.add([*small_pool(), gone])
    engine.corpus()
    engine.store.close()
    env = {"MATCHER_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "matcher", "erase", "zz-gone", "--yes"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0 and "erased zz-gone" in done.stdout, done.stderr
    files = b"".join(p.read_bytes() for p in (tmp_path / "state").rglob("*") if p.is_file())
    assert files and b"zz-gone" not in files and b"Quintessa" not in files and b"quokkastyle" not in files
    again = subprocess.run([sys.executable, "-m", "matcher", "erase", "zz-gone", "--yes"], capture_output=True,
                           text=True, env=env, timeout=120)
    assert again.returncode == 1 and "zz-gone" in again.stderr
