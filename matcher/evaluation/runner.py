"""Run the evaluations end to end: read, embed through the store's cache, score every variant."""

from __future__ import annotations

import csv
import dataclasses
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from matcher.domain.errors import MatcherError
from matcher.evaluation.calibration import PERCENTILES, partner_relevance, percentiles
from matcher.evaluation.consortia import evaluate, read_projects, temporal_split, tqdm_progress
from matcher.evaluation.metrics import ordering_loss
from matcher.index.corpus import build_corpus, corpus_texts
from matcher.ingest.readers import read_profiles
from matcher.rank.matching import score_rows
from matcher.score.query import PreparedQuery
from matcher.score.scoring import AGGREGATES, ScoringConfig
from matcher.service.engine import Engine

__all__ = ["consortia_report", "expertise_report", "sweep_variants"]


def sweep_variants(default: ScoringConfig) -> dict[str, ScoringConfig]:
    """The shipped default, the starting point (plain centroid), and one-knob-at-a-time changes."""
    r = dataclasses.replace
    base = r(default, activity_weight=0.0, partner_weight=0.0, lexical_weight=0.0)
    variants = {"shipped default": default, "centroid only (starting point)": r(base, aggregate="centroid")}
    for how in AGGREGATES:
        variants[f"no priors, aggregate={how}"] = r(base, aggregate=how)
    for how in AGGREGATES:
        variants[f"default, aggregate={how}"] = r(default, aggregate=how)
    for weight in (0.0, 0.15, 0.5):
        variants[f"default, lexical={weight}"] = r(default, lexical_weight=weight)
    for weight in (0.0, 0.1, 0.3, 0.5):
        variants[f"default, activity={weight}"] = r(default, activity_weight=weight)
    for weight in (0.02, 0.05, 0.1, 0.2):
        variants[f"default, partner={weight}"] = r(default, partner_weight=weight)
    for weight in (0.5, 0.85):
        variants[f"default, text_weight={weight}"] = r(default, text_weight=weight)
    variants["default, candidates=1000"] = r(default, candidates=1000)
    return variants


def consortia_report(
    engine: Engine, projects: Path, cut: date, until: date | None, variants: dict[str, ScoringConfig]
) -> dict[str, Any]:
    split = temporal_split(read_projects(projects), cut, until)
    if not split.profiles or not split.queries:
        raise MatcherError(f"the split at {cut} leaves {len(split.profiles)} profiles and {len(split.queries)} queries")
    vectors = engine.embedder.embed(corpus_texts(split.profiles), desc="embedding organisations' projects")
    corpus = build_corpus(split.profiles, vectors)
    query_vectors = engine.embedder.embed([q.project.text for q in split.queries], desc="embedding queries")
    results = {
        name: evaluate(corpus, split.queries, query_vectors, config, progress=tqdm_progress(name))
        for name, config in variants.items()
    }
    partners = partner_relevance(corpus, split.queries, query_vectors, engine.config.scoring)
    return {
        "split": {
            "cut": cut.isoformat(),
            "until": until.isoformat() if until else None,
            "organisations": len(split.profiles),
            "queries": len(split.queries),
        },
        "variants": results,
        "calibration": {  # the tables of matcher.score.strength (see matcher.evaluation.calibration)
            "percentiles": list(PERCENTILES),
            **{kind: list(percentiles(values)) for kind, values in partners.items()},
            "partners": {kind: len(values) for kind, values in partners.items()},
        },
    }


def read_judgments(path: Path) -> dict[str, list[tuple[str, str, float]]]:
    """CSV `profile_id, text_id, text, rating` -> per profile: (text_id, text, rating)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"profile_id", "text_id", "text", "rating"} - set(reader.fieldnames or [])
            if missing:
                raise MatcherError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            judged: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
            for row in reader:
                try:
                    rating = float(row["rating"])
                except ValueError:
                    raise MatcherError(f"{path}:{reader.line_num}: rating '{row['rating']}' is not a number") from None
                judged[row["profile_id"].strip()].append((row["text_id"], row["text"], rating))
    except FileNotFoundError:
        raise MatcherError(f"{path}: no such file") from None
    return judged


def expertise_report(
    engine: Engine, profiles: Path, judgments: Path, variants: dict[str, ScoringConfig]
) -> dict[str, Any]:
    read = read_profiles(profiles)
    if read.rejected:
        raise MatcherError(f"{profiles}: {len(read.rejected)} invalid record(s), first: {read.rejected[0]}")
    people = [p for _, p in read.profiles]
    corpus = build_corpus(people, engine.embedder.embed(corpus_texts(people), desc="embedding profiles"))
    judged = read_judgments(judgments)
    unknown = sorted(set(judged) - set(corpus.row_of))
    if unknown:
        raise MatcherError(f"judgments name profiles not in {profiles.name}: {', '.join(unknown[:5])}")
    texts = [text for rows in judged.values() for _, text, _ in rows]
    vectors = dict(zip(texts, engine.embedder.embed(texts, desc="embedding judged texts"), strict=True))
    out: dict[str, Any] = {"people": len(judged), "texts": len(texts), "variants": {}}
    for name, config in variants.items():
        per_person = []
        for pid, rows in judged.items():
            row = np.asarray([corpus.row_of[pid]])
            pairs = []
            for _, text, rating in rows:
                query = PreparedQuery(text=text, text_vector=vectors[text])
                pairs.append((rating, float(score_rows(corpus, row, query, config).scores[0])))
            per_person.append(pairs)
        loss, correct, n_pairs = ordering_loss(per_person)
        out["variants"][name] = {"loss": round(loss, 4), "correct_pairs": round(correct, 4), "pairs": n_pairs}
    return out
