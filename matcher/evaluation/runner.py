"""Run the evaluations end to end: read, embed through the store's cache, score every variant."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import torch

from matcher.domain.errors import MatcherError
from matcher.embed.backends import default_models_dir, usable_cpus
from matcher.embed.sentence import packaged_model_path
from matcher.embed.tuning import TuneConfig, training_pairs, tune_model
from matcher.evaluation.calibration import PERCENTILES, partner_relevance, percentiles
from matcher.evaluation.consortia import Split, evaluate, evaluate_fair, read_source, temporal_split, tqdm_progress
from matcher.evaluation.metrics import ordering_loss
from matcher.index.corpus import build_corpus, corpus_texts
from matcher.ingest.readers import read_profiles
from matcher.rank.matching import score_rows
from matcher.score.query import PreparedQuery
from matcher.score.scoring import AGGREGATES, ScoringConfig
from matcher.service.bootstrap import configure_threads, model_embedder
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
    for candidates in (100, 1000):
        variants[f"default, candidates={candidates}"] = r(default, candidates=candidates)
    # non-text signals (issue: better partners): BM25 normalised by the query, recency, role
    for weight in (0.15, 0.3, 0.5):
        variants[f"default, lexical=bm25 {weight}"] = r(default, lexical="bm25", lexical_weight=weight)
    for weight in (0.05, 0.1):
        variants[f"default, recency={weight}"] = r(default, recency_weight=weight)
    for weight in (0.02, 0.05, 0.1):
        variants[f"default, role={weight}"] = r(default, role_weight=weight)
    return variants


def tuned_for_split(engine: Engine, split: Split, tune: TuneConfig) -> tuple[Path, dict[str, Any]]:
    """A model tuned on the split's history only (profiles built from projects before the cut), kept
    under models/ by what it was trained on, so a re-run reuses it."""
    pairs = training_pairs(split.profiles, max_pairs=tune.max_pairs, seed=tune.seed)
    base = engine.config.model_path or packaged_model_path()
    digest = hashlib.sha256(json.dumps([str(base), dataclasses.asdict(tune), pairs]).encode()).hexdigest()[:12]
    folder = default_models_dir() / f"eval-tuned-{digest}"
    if (folder / "tune.json").exists():
        return folder, json.loads((folder / "tune.json").read_text())
    torch.set_num_threads(engine.config.threads or usable_cpus())
    try:
        report = tune_model(base, pairs, folder, tune)
    finally:
        configure_threads(engine.config)
    return folder, dataclasses.asdict(report)


def consortia_report(
    engine: Engine, projects: Path, cut: date, until: date | None, variants: dict[str, ScoringConfig],
    *, tune: TuneConfig | None = None, diversities: tuple[float, ...] = (),
) -> dict[str, Any]:
    """Every variant on the shipped model (with the diversity re-rank off, as a list's recall is
    meant), and the first variant with each of `diversities`; with `tune`, also on a model tuned on
    the history before the cut, and on the two averaged (the quality mode)."""
    source = read_source(projects)
    split = temporal_split(source.projects, cut, until, source.roles)
    if not split.profiles or not split.queries:
        raise MatcherError(f"the split at {cut} leaves {len(split.profiles)} profiles and {len(split.queries)} queries")
    texts = corpus_texts(split.profiles)
    queries = [q.project.text for q in split.queries]
    vectors = engine.embedder.embed(texts, desc="embedding organisations' projects")
    corpus = build_corpus(split.profiles, vectors)
    query_vectors = engine.embedder.embed(queries, desc="embedding queries")
    results = {
        name: evaluate(corpus, split.queries, query_vectors, config, progress=tqdm_progress(name))
        for name, config in variants.items()
    }
    first_name, first = next(iter(variants.items()))
    for diversity in diversities:
        name = f"{first_name}, diversity={diversity}"
        results[name] = evaluate(corpus, split.queries, query_vectors, first, diversity=diversity,
                                 progress=tqdm_progress(name))
    tuned: dict[str, Any] | None = None
    if tune is not None:
        folder, training = tuned_for_split(engine, split, tune)
        other = model_embedder(engine.config, engine.store, folder, progress=True)
        t_vectors = other.embed(texts, desc="embedding with the tuned model")
        t_queries = other.embed(queries, desc="embedding queries with the tuned model")
        half = 1 / np.sqrt(2)
        both = {
            "tuned": (t_vectors, t_queries),
            "mean(shipped, tuned)": (np.hstack([vectors, t_vectors]) * half,
                                     np.hstack([query_vectors, t_queries]) * half),
        }
        for label, (docs, asked) in both.items():
            tuned_corpus = build_corpus(split.profiles, docs.astype(np.float32))
            for name, config in variants.items():
                results[f"{label}: {name}"] = evaluate(tuned_corpus, split.queries, asked.astype(np.float32), config,
                                                       progress=tqdm_progress(f"{label}: {name}"))
        tuned = {"model": str(folder), "training": training}
    partners = partner_relevance(corpus, split.queries, query_vectors, engine.config.scoring)
    fairness = evaluate_fair(corpus, split.queries, query_vectors, engine.config.scoring, caps=(3, 5))
    return {
        "split": {
            "cut": cut.isoformat(),
            "until": until.isoformat() if until else None,
            "organisations": len(split.profiles),
            "queries": len(split.queries),
            "roles": "given (activityType)" if source.roles is not None else "guessed from legal names",
            "with_role": sum(p.role is not None for p in split.profiles),
        },
        "variants": results,
        **({"tuned": tuned} if tuned is not None else {}),
        "fairness": fairness,  # the fairness option's relevance cost (matcher batch --fair)
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
