"""Split texts that are longer than a model's window into chunks, instead of cutting them silently."""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["chunk_text", "split_sentences"]

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[A-Z0-9\"'(\[])|\n+")


def split_sentences(text: str) -> list[str]:
    """Sentences (or clauses ended by ';'), stripped, in order; never empty for a non-empty text."""
    parts = [p.strip() for p in _SENTENCE_END.split(text) if p and p.strip()]
    return parts or ([text.strip()] if text.strip() else [])


def chunk_text(text: str, count_tokens: Callable[[str], int], limit: int) -> list[str]:
    """Pack whole sentences into chunks of at most `limit` tokens; split a longer sentence by words.

    Short texts come back as a single chunk, unchanged.
    """
    if count_tokens(text) <= limit:
        return [text]
    pieces: list[str] = []
    for sentence in split_sentences(text):
        if count_tokens(sentence) <= limit:
            pieces.append(sentence)
        else:
            pieces.extend(_split_words(sentence, count_tokens, limit))
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current} {piece}".strip()
        if current and count_tokens(candidate) > limit:
            chunks.append(current)
            current = piece
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks


def _split_words(sentence: str, count_tokens: Callable[[str], int], limit: int) -> list[str]:
    out: list[str] = []
    current: list[str] = []
    for word in sentence.split():
        if current and count_tokens(" ".join([*current, word])) > limit:
            out.append(" ".join(current))
            current = []
        current.append(word)
    if current:
        out.append(" ".join(current))
    return out
