"""Why a candidate was suggested: the works and aspects it matched, shared terms, the admitting rule."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from matcher.index.corpus import Corpus
from matcher.score.query import PreparedQuery
from matcher.score.rules import admitting_rule

__all__ = ["AspectMatch", "Explanation", "MatchedWork", "explain"]

COMPLEMENT_MARGIN = 0.05


@dataclass(frozen=True)
class MatchedWork:
    work_id: str
    title: str
    similarity: float
    matched: str  # what it matched: "your text" or the requester's work title


@dataclass(frozen=True)
class AspectMatch:
    aspect: str
    similarity: float
    work_title: str
    requester_similarity: float | None = None
    complements: bool = False  # the candidate covers this aspect clearly better than the requester


@dataclass(frozen=True)
class Explanation:
    summary: str
    matched_works: tuple[MatchedWork, ...]
    aspects: tuple[AspectMatch, ...]
    shared_terms: tuple[str, ...]
    complementary_terms: tuple[str, ...]
    rule: str
    coauthor: bool
    same_institution: bool


def _real_works(corpus: Corpus, row: int) -> np.ndarray:
    """Positions (within the row's segment) of its works, leaving out the keywords pseudo-work (always
    last) when the profile has real works: a title explains a match better than a keyword list."""
    count = corpus.work_count(row)
    return np.arange(count - 1 if corpus.has_keywords[row] and count > 1 else count, dtype=np.int64)


def _works_matching_text(corpus: Corpus, row: int, sims: np.ndarray) -> list[MatchedWork]:
    base = corpus.work_range(row)[0]
    real = _real_works(corpus, row)
    best = real[np.argsort(-sims[real], kind="stable")[:3]]
    return [
        MatchedWork(corpus.work_ids[base + j], corpus.work_titles[base + j], round(float(sims[j]), 3), "your text")
        for j in best
    ]


def _works_matching_profile(corpus: Corpus, row: int, requester: int, sims: np.ndarray) -> list[MatchedWork]:
    base = corpus.work_range(row)[0]
    mine = corpus.work_range(requester)[0]
    theirs, ours = _real_works(corpus, row), _real_works(corpus, requester)
    sub = sims[np.ix_(theirs, ours)]
    flat = np.argsort(-sub, axis=None, kind="stable")
    out: list[MatchedWork] = []
    used: set[int] = set()
    for position in flat:
        a, b = np.unravel_index(position, sub.shape)
        j, m = int(theirs[a]), int(ours[b])
        if j in used:
            continue
        used.add(j)
        out.append(
            MatchedWork(
                corpus.work_ids[base + j], corpus.work_titles[base + j],
                round(float(sims[j, m]), 3), corpus.work_titles[mine + m],
            )
        )
        if len(out) == 3:
            break
    return out


def _aspects(corpus: Corpus, query: PreparedQuery, row: int) -> list[AspectMatch]:
    if query.aspect_vectors is None or not query.aspects:
        return []
    lo, hi = corpus.work_range(row)
    cov = corpus.work_sims(slice(lo, hi), query.aspect_vectors)  # (works, aspects)
    best = cov.argmax(axis=0)
    mine = None
    if query.requester is not None:
        r_lo, r_hi = corpus.work_range(query.requester)
        mine = corpus.work_sims(slice(r_lo, r_hi), query.aspect_vectors).max(axis=0)
    out = [
        AspectMatch(
            aspect=text,
            similarity=round(float(cov[best[a], a]), 3),
            work_title=corpus.work_titles[lo + int(best[a])],
            requester_similarity=None if mine is None else round(float(mine[a]), 3),
            complements=mine is not None and float(cov[best[a], a]) > float(mine[a]) + COMPLEMENT_MARGIN,
        )
        for a, text in enumerate(query.aspects)
    ]
    return sorted(out, key=lambda m: -m.similarity)


def explain(
    corpus: Corpus,
    query: PreparedQuery,
    row: int,
    *,
    work_range: tuple[int, int],
    text_sims: np.ndarray | None,
    profile_sims: np.ndarray | None,
    query_terms: sparse.csr_matrix | None,
    flags: tuple[bool, bool] = (False, False),
    strength: str = "strong",
) -> Explanation:
    """Why `row` was suggested. `flags`: whether it is the requester's co-author and colleague (see
    `rules.conflicts`, computed once for all the suggestions of a query); `strength`: the match's
    strength label, which sets how the closest work is described (close, related, or weak)."""
    lo, hi = work_range
    works: list[MatchedWork] = []
    if text_sims is not None:
        works += _works_matching_text(corpus, row, text_sims[lo:hi])
    if profile_sims is not None and query.requester is not None:
        works += _works_matching_profile(corpus, row, query.requester, profile_sims[lo:hi])
    shared = corpus.lexical.shared_terms(query_terms, row) if query_terms is not None else []
    distinct = corpus.lexical.distinctive_terms(row, query_terms)
    rule = admitting_rule(corpus, query.rules, query.requester, row)
    coauthor, same = flags
    aspects = _aspects(corpus, query, row)
    return Explanation(
        summary=_summary(works, aspects, shared, rule, coauthor, same, strength),
        matched_works=tuple(works),
        aspects=tuple(aspects),
        shared_terms=tuple(shared),
        complementary_terms=tuple(distinct),
        rule=rule,
        coauthor=coauthor,
        same_institution=same,
    )


_CLOSENESS = {"strong": "is close to", "good": "is related to"}


def _summary(
    works: list[MatchedWork], aspects: list[AspectMatch], shared: list[str], rule: str, coauthor: bool, same: bool,
    strength: str = "strong",
) -> str:
    parts: list[str] = []
    if works:
        top = max(works, key=lambda w: w.similarity)
        via = "your text" if top.matched == "your text" else f"your work '{top.matched}'"
        if strength in _CLOSENESS:
            parts.append(f"'{top.title}' {_CLOSENESS[strength]} {via} ({top.similarity:.2f})")
        else:
            parts.append(f"weak match: the nearest work, '{top.title}', is only loosely related to {via} "
                         f"({top.similarity:.2f})")
    adds = [a.aspect for a in aspects if a.complements]
    if adds:
        parts.append(f"adds what you lack on: {'; '.join(_short(a) for a in adds[:2])}")
    if shared:
        parts.append(f"shared terms: {', '.join(shared)}")
    parts.append(rule)
    if coauthor:
        parts.append("note: a co-author of yours")
    if same:
        parts.append("note: at your institution")
    return "; ".join(parts)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
