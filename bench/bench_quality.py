"""Match quality beyond relevance: how suggestions spread over people and countries.

Run from the project root: ``python -m bench.bench_quality`` (prints the section as JSON), or
``python -m bench.run quality`` to record it in bench/results.json.

The shipped demo pool (1,600 researchers, 57 countries, its shipped vectors: nothing is embedded)
goes into a fresh store; a top-k batch (k = 5, cross-border, conflicts excluded) runs once plain and
once with the fairness option (`matcher batch --fair`: at most 1.5 x the average exposure per person).

- exposure_gini_default / exposure_gini_fair: Gini of how often each person is suggested (people never
  suggested count as zeros).
- fair_relevance_ratio: mean similarity of the suggestions with the option on over the plain run's.
- field_precision_default / _fair: the share of suggestions that share a research field with the
  applicant, by the demo generator's planted truth (data/demo/truth.json): relevance judged by the
  ground truth rather than by the model's own similarity.
- exposure_most_suggested_default / _fair, exposure_never_suggested_default / _fair.
- widening_share_* and low_income_share_*: the share of suggestions going to widening and to low- and
  lower-middle-income countries (their share of the pool beside them), plain, fair, and fair with
  those countries preferred (`--prefer-countries widening,low-income`).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from matcher.assign.exposure import exposure_summary
from matcher.assign.programme import build_request, run_batch
from matcher.demo import shipped
from matcher.service.bootstrap import bootstrap
from matcher.service.config import load_config

__all__ = ["run"]

K = 5


def _figures(corpus: Any, fields: dict[str, set[str]], **options: Any) -> tuple[dict[str, Any], float, float]:
    result = run_batch(corpus, build_request("topk", k=K, **options))
    shared = [bool(fields[p.applicant_id] & fields[p.partner_id]) for p in result.pairs]
    return (exposure_summary((p.partner_id for p in result.pairs), result.countries),
            float(np.mean([p.score for p in result.pairs])), float(np.mean(shared)))


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as home:
        services = bootstrap(load_config(home=Path(home)))
        try:
            shipped.load(services.engine, say=lambda line: None)
            corpus = services.engine.corpus()
            truth = json.loads((shipped.DEMO_DIR / "truth.json").read_text())
            fields = {pid: set(t["fields"]) for pid, t in truth.items()}
            plain, plain_relevance, plain_fields = _figures(corpus, fields)
            fair, fair_relevance, fair_fields = _figures(corpus, fields, fair=True)
            preferred, preferred_relevance, _ = _figures(corpus, fields, fair=True,
                                                         prefer_countries=("widening", "low-income"))
        finally:
            services.close()
    out: dict[str, Any] = {
        "pool": len(plain["countries"]) and sum(c["applicants"] for c in plain["countries"]),
        "k": K,
        "exposure_gini_default": plain["gini"],
        "exposure_gini_fair": fair["gini"],
        "exposure_gini_drop": round(1 - fair["gini"] / plain["gini"], 4),
        "exposure_gini_fair_preferred": preferred["gini"],
        "fair_relevance_ratio": round(fair_relevance / plain_relevance, 4),
        "fair_preferred_relevance_ratio": round(preferred_relevance / plain_relevance, 4),
        "field_precision_default": round(plain_fields, 4),
        "field_precision_fair": round(fair_fields, 4),
        "exposure_most_suggested_default": plain["most_suggested"],
        "exposure_most_suggested_fair": fair["most_suggested"],
        "exposure_never_suggested_default": plain["never_suggested"],
        "exposure_never_suggested_fair": fair["never_suggested"],
    }
    for group in ("widening", "low_income"):
        out[f"{group}_pool_share"] = plain[group]["pool_share"]
        out[f"{group}_share_default"] = plain[group]["suggestion_share"]
        out[f"{group}_share_fair"] = fair[group]["suggestion_share"]
        out[f"{group}_share_fair_preferred"] = preferred[group]["suggestion_share"]
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
