from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from matcher.embed.chunking import chunk_text, split_sentences


def words(text: str) -> int:
    return len(text.split())


def test_short_text_is_one_chunk():
    assert chunk_text("Short text here.", words, 10) == ["Short text here."]


def test_long_text_is_split_on_sentences_and_keeps_every_word():
    text = " ".join(f"Sentence number {i} has six words." for i in range(20))
    chunks = chunk_text(text, words, 25)
    assert len(chunks) > 1
    assert all(words(c) <= 25 for c in chunks)
    assert " ".join(chunks).split() == text.split()


@given(
    st.lists(st.sampled_from(["alpha", "beta.", "Gamma", "delta;", "Eps!"]), min_size=1, max_size=200),
    st.integers(1, 30),
)
def test_chunks_respect_the_limit_and_lose_nothing(tokens, limit):
    text = " ".join(tokens)
    chunks = chunk_text(text, words, limit)
    assert all(words(c) <= limit for c in chunks)
    assert " ".join(chunks).split() == text.split()


def test_split_sentences():
    parts = split_sentences("One two. Three four; Five six! 7 eight")
    assert parts == ["One two.", "Three four;", "Five six!", "7 eight"]
