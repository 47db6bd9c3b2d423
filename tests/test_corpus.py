"""The compact corpus: the engine's streamed build (store read view, snapshot or cache) agrees with
`build_corpus` over the same profiles, and the per-row fields say what the profiles say."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.domain.profiles import parse_profile
from matcher.index.corpus import KEYWORDS_SUFFIX, build_corpus, corpus_texts
from tests.conftest import fake_services_at, small_pool


def _same(a, b) -> None:
    for column in ("ids", "names", "work_ids", "work_titles", "institution_names"):
        assert list(getattr(a, column)) == list(getattr(b, column)), column
    for column in ("countries", "kinds", "capacity", "institution_keys", "id_hashes", "work_offsets", "activity"):
        np.testing.assert_array_equal(getattr(a, column), getattr(b, column), err_msg=column)
    everyone = np.arange(len(a))
    np.testing.assert_array_equal(a.work_vectors.gather(slice(None)), b.work_vectors.gather(slice(None)))
    np.testing.assert_array_equal(a.summaries(everyone), b.summaries(everyone))
    for row in everyone.tolist():
        assert a.listed_rows(row).tolist() == b.listed_rows(row).tolist()
        assert a.listing_rows(row).tolist() == b.listing_rows(row).tolist()
        for x, y in zip(a.lexical.row(row), b.lexical.row(row), strict=True):
            np.testing.assert_array_equal(x, y)
    assert list(a.fitted.lexical.terms) == list(b.fitted.lexical.terms)


def test_engine_build_from_the_store_equals_build_corpus(fake_engine, tmp_path):

    streamed = fake_engine.corpus()
    profiles = fake_engine.store.profiles()
    direct = build_corpus(profiles, fake_engine.embedder.embed(corpus_texts(profiles)))
    _same(streamed, direct)
    fake = fake_engine.embedder.embedder
    restarted = fake_services_at(fake_engine.store.home, fake).engine
    _same(restarted.corpus(), direct)  # a restart: everything comes from the snapshot
    restarted.store.close()


def test_vectors_are_float16_and_summaries_unit_length(fake_engine):
    corpus = fake_engine.corpus()
    assert corpus.base.work_vectors.dtype == np.float16 and corpus.base.summary.dtype == np.float16
    norms = np.linalg.norm(corpus.summaries(np.arange(len(corpus))), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=2e-3)
    keywords = [i for i in corpus.work_ids if i.endswith(KEYWORDS_SUFFIX)]
    assert len(keywords) == len(corpus)  # every small-pool profile has keywords


def test_links_count_shared_works_in_both_directions():
    def person(pid: str, country: str, coauthors: list[list[str]]) -> object:
        works = [{"title": f"{pid} study {j}", "coauthors": c} for j, c in enumerate(coauthors)]
        return parse_profile({"id": pid, "name": pid, "country": country, "works": works})

    profiles = [
        person("a", "DE", [["b"], ["b", "c"], ["zz-not-in-the-pool"]]),
        person("b", "FR", [[]]),
        person("c", "TR", [["a"]]),
    ]
    vectors = np.eye(5, 8, dtype=np.float32)
    corpus = build_corpus(profiles, vectors)
    rows = np.arange(3)
    assert corpus.link_counts(0, rows).tolist() == [0, 2, 1]  # a lists b twice, c once
    assert corpus.link_counts(1, rows).tolist() == [1, 0, 0]  # b lists nobody; a lists b
    assert sorted(corpus.linked_rows(2).tolist()) == [0]
    assert corpus.listed_rows(0).tolist() == [1, 2] and corpus.listing_rows(0).tolist() == [2]


def test_vectors_must_match_the_texts():
    profiles = small_pool(4)
    n_texts = len(corpus_texts(profiles))
    with pytest.raises(ValueError, match=f"{n_texts} texts but {n_texts - 1} vectors"):
        build_corpus(profiles, np.ones((n_texts - 1, 8), dtype=np.float32))
