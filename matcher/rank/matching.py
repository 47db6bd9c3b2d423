"""Partner suggestions for one query: candidates from the index, rules, re-scoring, diversity.

Pure: takes a `Corpus` and a `PreparedQuery` (texts already embedded) and returns suggestions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from matcher.domain.profiles import ROLES
from matcher.embed.base import normalise_rows
from matcher.index.corpus import Corpus
from matcher.index.segment import SME_NOT_SAID, SME_YES
from matcher.rank.explain import Explanation, explain
from matcher.rank.notes import Listed, order_notes
from matcher.score.diversity import mmr
from matcher.score.query import PreparedQuery
from matcher.score.rules import conflicts, eligible_mask
from matcher.score.scoring import ScoringConfig, activity, profile_relevance, text_relevance
from matcher.score.signals import recency, role_lift, role_prior
from matcher.score.strength import blended_strength, label

__all__ = ["MAX_K", "Scored", "Suggestion", "candidate_rows", "match", "no_close_match", "rank", "score_rows"]

MAX_K = 100
DEFAULT_SCORING = ScoringConfig()


@dataclass(frozen=True)
class Suggestion:
    id: str
    name: str
    country: str
    institution: str
    kind: str
    score: float  # the ranking score: relevance blended with the lexical score, plus the priors
    relevance: float
    lexical: float
    explanation: Explanation
    strength: float = 0.0  # how close, comparable across queries (matcher.score.strength)
    strength_label: str = "weak"  # strong, good or weak
    rank_note: str | None = None  # why this suggestion is out of score order (the diversity re-rank)
    role: str | None = None  # an organisation's role (CORDIS activityType) when its profile gives one
    sme: bool | None = None  # a small or medium-sized enterprise, as the profile says (None: it does not say)


def candidate_rows(corpus: Corpus, mask: np.ndarray, vector: np.ndarray, n: int) -> np.ndarray:
    """The `n` eligible rows nearest to `vector` by summary cosine, from the index (which is told
    what the rules allow, and never asked for every row's score)."""
    return corpus.search(vector, n, mask)


def partner_mask(corpus: Corpus, requester: int) -> np.ndarray:
    """Rows that worked with the requester before (co-authors, co-participants), either direction."""
    mask = np.zeros(len(corpus), dtype=bool)
    mask[corpus.linked_rows(requester)] = True
    return mask


def partner_strength(corpus: Corpus, requester: int, rows: np.ndarray) -> np.ndarray:
    """How much each row worked with the requester before: log-scaled count of shared works, in [0, 1]
    (1 from three shared works on). Links may be listed on either side."""
    return np.minimum(1.0, np.log1p(corpus.link_counts(requester, rows)) / np.log1p(3.0))


def _retrieval_vector(corpus: Corpus, query: PreparedQuery, config: ScoringConfig) -> np.ndarray:
    if query.requester is None:
        assert query.text_vector is not None
        return query.text_vector
    mine = corpus.summaries(query.requester)
    if query.text_vector is None:
        return mine
    w = config.text_weight
    return normalise_rows((w * query.text_vector + (1 - w) * mine)[None, :])[0]


@dataclass(frozen=True)
class Scored:
    """Scores of candidate rows for one query, with what the explanations need."""

    rows: np.ndarray
    scores: np.ndarray
    dense: np.ndarray
    lexical: np.ndarray
    text_sims: np.ndarray | None
    profile_sims: np.ndarray | None
    query_terms: sparse.csr_matrix | None
    strength: np.ndarray
    activity: np.ndarray  # the activity prior's part of `scores`
    recency: np.ndarray | None = None  # the recency bonus's part of `scores` (None: off)
    role: np.ndarray | None = None  # the role prior's part of `scores` (None: off)


def lexical_scores(corpus: Corpus, terms: sparse.csr_matrix, rows: np.ndarray, config: ScoringConfig) -> np.ndarray:
    """The lexical score of each row for a query's terms: TF-IDF cosine, or normalised BM25."""
    if config.lexical == "bm25":
        return corpus.lexical.saturated_scores(
            terms, rows, corpus.lexical_norms, corpus.lexical_lengths, corpus.average_length,
            k1=config.bm25_k1, b=config.bm25_b,
        )
    return corpus.lexical.scores(terms, rows)


def score_rows(
    corpus: Corpus, rows: np.ndarray, query: PreparedQuery, config: ScoringConfig = DEFAULT_SCORING
) -> Scored:
    """Relevance of the given rows: dense (per-work, aggregated) and lexical, plus the priors; and
    the strength of each (from the dense parts alone: see `matcher.score.strength`)."""
    dense = np.zeros(len(rows), dtype=np.float32)
    lexical = np.zeros(len(rows), dtype=np.float32)
    text_sims = profile_sims = text_part = profile_part = None
    query_terms: sparse.csr_matrix | None = None
    # the text's share when a query has both a profile and a text; a query with one has it all
    share = config.text_weight if query.requester is not None and query.text_vector is not None else 1.0
    if query.text_vector is not None:
        text_part, text_sims = text_relevance(corpus, rows, query.text_vector, config)
        query_terms = corpus.lexical.transform([query.text or ""])
        dense += share * text_part
        lexical += share * lexical_scores(corpus, query_terms, rows, config)
    if query.requester is not None:
        profile_part, profile_sims = profile_relevance(corpus, rows, query.requester, config)
        mine = corpus.lexical.row_matrix(query.requester)
        query_terms = mine if query_terms is None else query_terms + mine
        weight = 1.0 if text_part is None else 1 - share
        dense += weight * profile_part
        lexical += weight * lexical_scores(corpus, mine, rows, config)
    scores = (1 - config.lexical_weight) * dense + config.lexical_weight * lexical
    prior = np.zeros(len(rows), dtype=np.float32)
    if config.activity_weight:
        prior += config.activity_weight * activity(corpus.work_offsets[rows + 1] - corpus.work_offsets[rows], config)
    scores += prior
    recent = role = None
    if config.recency_weight:
        recent = config.recency_weight * recency(corpus.last_years[rows], corpus.newest_year, config.recency_half_life)
        scores += recent
    if config.role_weight:
        requester = None if query.requester is None else int(corpus.role_categories[query.requester])
        role = config.role_weight * role_prior(role_lift(*corpus.role_links), corpus.role_categories[rows], requester)
        scores += role
    if config.partner_weight and query.requester is not None:
        scores += config.partner_weight * partner_strength(corpus, query.requester, rows)
    strength = blended_strength(text_part, profile_part, share).astype(np.float32)
    return Scored(rows, scores, dense, lexical, text_sims, profile_sims, query_terms, strength, prior, recent, role)


def rank(
    corpus: Corpus, query: PreparedQuery, config: ScoringConfig = DEFAULT_SCORING
) -> tuple[Scored, np.ndarray] | None:
    """Candidates scored, and the positions (into `Scored.rows`) of the k chosen, best first."""
    if query.requester is None and query.text_vector is None:
        raise ValueError("a query needs a requester, a text, or both")
    k = max(0, min(query.k, MAX_K))
    mask = eligible_mask(corpus, query.rules, query.requester)
    if k == 0 or not mask.any():
        return None
    rows = candidate_rows(corpus, mask, _retrieval_vector(corpus, query, config), max(config.candidates, 5 * k))
    if config.partner_weight and query.requester is not None:  # earlier partners compete even if far
        rows = np.union1d(rows, np.flatnonzero(mask & partner_mask(corpus, query.requester)))
    scored = score_rows(corpus, rows, query, config)
    order = np.argsort(-scored.scores, kind="stable")[: max(5 * k, 50)]
    chosen = order[mmr(scored.scores[order], corpus.summaries(rows[order]), k, query.diversity)]
    return scored, chosen


def match(corpus: Corpus, query: PreparedQuery, config: ScoringConfig = DEFAULT_SCORING) -> list[Suggestion]:
    """Up to `k` suggestions, best first, each satisfying every rule, each with its explanation, its
    strength, and a note when the diversity re-rank put it out of score order."""
    ranked = rank(corpus, query, config)
    if ranked is None:
        return []
    scored, chosen = ranked
    rows = scored.rows
    _, starts = corpus.works_of(rows)
    coauthor = same = np.zeros(len(rows), dtype=bool)
    if query.requester is not None:
        coauthor, same = np.zeros(len(rows), dtype=bool), np.zeros(len(rows), dtype=bool)
        coauthor[chosen], same[chosen] = conflicts(corpus, query.requester, rows[chosen])
    shown = rows[chosen]
    works = np.asarray([corpus.work_count(r) - int(corpus.has_keywords[r] and corpus.work_count(r) > 1) for r in shown])
    notes = order_notes(Listed(
        scores=scored.scores[chosen], strength=scored.strength[chosen],
        lexical=config.lexical_weight * scored.lexical[chosen], activity=scored.activity[chosen], works=works,
        vectors=corpus.summaries(shown), names=[corpus.names[r] for r in shown],
        recency=None if scored.recency is None else scored.recency[chosen],
        role=None if scored.role is None else scored.role[chosen],
    ))
    out = []
    for i, note in zip(chosen.tolist(), notes, strict=True):
        row, strength = int(rows[i]), float(scored.strength[i])
        out.append(Suggestion(
            id=corpus.ids[row],
            name=corpus.names[row],
            country=str(corpus.countries[row]),
            institution=corpus.institution_names[row],
            kind=str(corpus.kinds[row]),
            score=round(float(scored.scores[i]), 4),
            relevance=round(float(scored.dense[i]), 4),
            lexical=round(float(scored.lexical[i]), 4),
            explanation=explain(
                corpus, query, row,
                work_range=(int(starts[i]), int(starts[i]) + corpus.work_count(row)),
                text_sims=scored.text_sims, profile_sims=scored.profile_sims, query_terms=scored.query_terms,
                flags=(bool(coauthor[i]), bool(same[i])), strength=label(strength),
            ),
            strength=round(strength, 3),
            strength_label=label(strength),
            rank_note=note,
            role=ROLES[int(corpus.roles[row]) - 1] if corpus.roles[row] else None,
            sme=None if corpus.sme[row] == SME_NOT_SAID else bool(corpus.sme[row] == SME_YES),
        ))
    return out


def no_close_match(suggestions: Sequence[Suggestion]) -> str | None:
    """A note for a list whose strongest suggestion is weak: the pool has nobody close to the query."""
    if not suggestions:
        return None
    best = max(suggestions, key=lambda s: s.strength)
    if best.strength_label != "weak":
        return None
    return (f"no close match in this pool; closest: {best.name} ({best.country}), strength {best.strength:.2f} "
            "(weak: less close than most real partners are)")
