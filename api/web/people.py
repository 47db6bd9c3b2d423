"""Finding people by name or id as one types: the pages' search-as-you-type and the resolution of
what someone typed into a profile id.

It reads the matching state (every active profile's id, name, country, institution) and keeps a
folded copy of the names per state generation, so a keystroke costs one scan of a list of strings.
"""

from __future__ import annotations

import heapq
import threading
import unicodedata
from dataclasses import dataclass

from matcher.index.corpus import Corpus

__all__ = ["Person", "PeopleIndex", "Unresolved"]


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    country: str
    institution: str


class Unresolved(ValueError):
    """What was typed names nobody, or several people; the message says which and what to do."""


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


class PeopleIndex:
    """Name search over the current matching state (rebuilt when its generation changes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[int, int] | None = None
        self._rows: list[int] = []
        self._folded: list[str] = []

    def _refresh(self, corpus: Corpus) -> None:
        key = (id(corpus), corpus.generation)
        with self._lock:
            if key == self._key:
                return
            rows = [int(r) for r in corpus.active.nonzero()[0]]
            folded = [f"{_fold(corpus.names[r])} {corpus.ids[r].casefold()}" for r in rows]
            self._rows, self._folded, self._key = rows, folded, key

    def _person(self, corpus: Corpus, row: int) -> Person:
        return Person(corpus.ids[row], corpus.names[row], str(corpus.countries[row]), corpus.institution_names[row])

    def search(self, corpus: Corpus, query: str, limit: int = 8) -> list[Person]:
        """People whose name or id holds every word of `query` (accents and case ignored): the
        name itself first, then names that start with it, then names with words that do."""
        words = _fold(query).split()
        if not words:
            return []
        self._refresh(corpus)
        rows, folded = self._rows, self._folded
        hits = [i for i, text in enumerate(folded) if all(w in text for w in words)]
        wanted = " ".join(words)

        def rank(i: int) -> tuple[int, str]:
            name = folded[i].rsplit(" ", 1)[0]
            parts = name.split()
            if name == wanted:
                return 0, name
            if name.startswith(wanted):
                return 1, name
            return (2 if all(any(p.startswith(w) for p in parts) for w in words) else 3), name

        return [self._person(corpus, rows[i]) for i in heapq.nsmallest(limit, hits, key=rank)]

    def resolve(self, corpus: Corpus, typed: str) -> Person:
        """The one person `typed` (an id, or a whole name) names."""
        typed = typed.strip()
        row = corpus.row_of.get(typed)
        if row is not None:
            return self._person(corpus, row)
        wanted = _fold(typed)
        self._refresh(corpus)
        exact = [self._rows[i] for i, text in enumerate(self._folded) if text.rsplit(" ", 1)[0] == wanted]
        if len(exact) == 1:
            return self._person(corpus, exact[0])
        if exact:
            shown = "; ".join(f"{corpus.names[r]} ({corpus.countries[r]}, id {corpus.ids[r]})" for r in exact[:5])
            raise Unresolved(f"Several people are called “{typed}”: {shown}. Type the id of the one you mean.")
        close = self.search(corpus, typed, limit=3)
        hint = (" Did you mean " + " or ".join(f"{p.name} (id {p.id})" for p in close) + "?") if close else ""
        raise Unresolved(f"Nobody called “{typed}” is in the pool.{hint} Type a full name or an id.")
