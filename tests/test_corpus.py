"""The compact corpus: the engine's streamed build (store read view, snapshot or cache) agrees with
`build_corpus` over the same profiles, and the per-row fields say what the profiles say."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.corpus import KEYWORDS_SUFFIX, build_corpus, corpus_texts
from matcher.profiles import parse_profile
from tests.conftest import small_pool


def _same(a, b) -> None:
    assert a.ids == b.ids and a.names == b.names and a.work_ids == b.work_ids and a.work_titles == b.work_titles
    assert a.institution_names == b.institution_names and a.institutions == b.institutions
    np.testing.assert_array_equal(a.countries, b.countries)
    np.testing.assert_array_equal(a.capacity, b.capacity)
    np.testing.assert_array_equal(a.work_offsets, b.work_offsets)
    np.testing.assert_array_equal(a.work_vectors, b.work_vectors)
    np.testing.assert_array_equal(a.summary, b.summary)
    assert (a.links != b.links).nnz == 0
    assert (a.lexical.matrix_ != b.lexical.matrix_).nnz == 0
    assert list(a.lexical.terms_) == list(b.lexical.terms_)


def test_engine_build_from_the_store_equals_build_corpus(fake_engine):
    streamed = fake_engine.corpus()
    profiles = fake_engine.store.profiles()
    direct = build_corpus(profiles, fake_engine.embedder.embed(corpus_texts(profiles)))
    _same(streamed, direct)
    fake_engine._corpus = None  # a restart: the vectors now come from the snapshot
    _same(fake_engine.corpus(), direct)


def test_vectors_are_float16_and_summaries_unit_length(fake_engine):
    corpus = fake_engine.corpus()
    assert corpus.work_vectors.dtype == np.float16 and corpus.summary.dtype == np.float16
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
    assert corpus.links.shape == (3, 3)


def test_vectors_must_match_the_texts():
    profiles = small_pool(4)
    n_texts = len(corpus_texts(profiles))
    with pytest.raises(ValueError, match=f"{n_texts} texts but {n_texts - 1} vectors"):
        build_corpus(profiles, np.ones((n_texts - 1, 8), dtype=np.float32))
