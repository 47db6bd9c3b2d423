"""Embedding throughput and fidelity per backend (torch fp32, ONNX Runtime fp32, ONNX Runtime int8).

Run from the project root: ``python -m bench.run embedding`` (or ``python -m bench.bench_embedding``).
Texts/s through ``SentenceTransformerEmbedder.embed`` (chunking included) for ~200-token
abstracts (two demo abstracts joined) and ~10-token keyword strings (three demo keywords), each a
median, min and max over REPS repetitions. The backends are interleaved within every repetition,
in a rotating order, so a noisy shared machine slows them alike; compare the ratios, not the
absolute rates. Fidelity is measured against torch fp32 on QUALITY_TEXTS demo texts: mean and min
cosine between the two vectors of each text, and the overlap of each text's 10 nearest neighbours.
The ONNX files are exported into a fresh temporary folder, so the first-use time is a clean clone's.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from matcher.demo import shipped as demo_store  # noqa: E402
from matcher.embed.backends import BACKENDS, DEFAULT_BACKEND, Backend, usable_cpus  # noqa: E402
from matcher.embed.sentence import SentenceTransformerEmbedder  # noqa: E402
from matcher.index.corpus import corpus_texts  # noqa: E402
from matcher.ingest.readers import read_profiles  # noqa: E402

__all__ = ["run"]

REPS = 5
N_ABSTRACTS = 96
N_KEYWORDS = 384
QUALITY_TEXTS = 2_000
MIN_COSINE = 0.98
MIN_OVERLAP = 0.9


def _texts() -> tuple[list[str], list[str], list[str]]:
    profiles = [p for _, p in read_profiles(demo_store.DEMO_DIR / "profiles.jsonl").profiles]
    abstracts = [w.abstract for p in profiles for w in p.works if w.abstract]
    pairs = [f"{a} {b}" for a, b in zip(abstracts[0::2], abstracts[1::2], strict=False)][:N_ABSTRACTS]
    keywords = ["; ".join(p.keywords[:3]) for p in profiles if len(p.keywords) >= 3][:N_KEYWORDS]
    corpus = corpus_texts(profiles)
    rng = np.random.default_rng(0)
    quality = [corpus[i] for i in sorted(rng.choice(len(corpus), min(QUALITY_TEXTS, len(corpus)), replace=False))]
    return pairs, keywords, quality


def _rate(embedder: SentenceTransformerEmbedder, texts: list[str]) -> float:
    start = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - start)


def _neighbours(vectors: np.ndarray, k: int = 10) -> np.ndarray:
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    return np.argpartition(-sims, k, axis=1)[:, :k]


def _fidelity(reference: np.ndarray, vectors: np.ndarray, ref_top: np.ndarray) -> dict[str, float]:
    cosines = np.sum(reference * vectors, axis=1)
    top = _neighbours(vectors)
    overlap = np.mean([len(set(a) & set(b)) / len(a) for a, b in zip(ref_top, top, strict=True)])
    return {"mean_cosine": float(cosines.mean()), "min_cosine": float(cosines.min()), "overlap": float(overlap)}


def _stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def run() -> dict[str, object]:
    abstracts, keywords, quality = _texts()
    models_dir = Path(tempfile.mkdtemp(prefix="matcher-models-"))
    out: dict[str, object] = {}
    try:
        embedders: dict[str, SentenceTransformerEmbedder] = {}
        backends: tuple[Backend, ...] = ("onnx-int8", "onnx", "torch")
        for backend in backends:  # int8 first: its first use is the whole export
            start = time.perf_counter()
            embedders[backend] = SentenceTransformerEmbedder(backend=backend, models_dir=models_dir)
            out[f"first_use_s_{_key(backend)}"] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        SentenceTransformerEmbedder(backend="onnx-int8", models_dir=models_dir)
        out["cached_load_s_onnx_int8"] = round(time.perf_counter() - start, 2)

        tokenizer = embedders["torch"].encoder_.tokenizer
        out["abstract_tokens_mean"] = round(float(np.mean([len(tokenizer.tokenize(t)) for t in abstracts])), 1)
        out["keyword_tokens_mean"] = round(float(np.mean([len(tokenizer.tokenize(t)) for t in keywords])), 1)
        out.update(abstracts=len(abstracts), keywords=len(keywords), repetitions=REPS, threads=usable_cpus())

        for embedder in embedders.values():  # warm up (allocators, ORT arenas)
            embedder.embed(abstracts[:8] + keywords[:8])
        rates: dict[tuple[str, str], list[float]] = {(b, kind): [] for b in BACKENDS for kind in ("abs", "kw")}
        order = list(BACKENDS)
        for rep in range(REPS):
            for backend in order[rep % len(order):] + order[: rep % len(order)]:
                rates[(backend, "abs")].append(_rate(embedders[backend], abstracts))
                rates[(backend, "kw")].append(_rate(embedders[backend], keywords))
        for (backend, kind), values in rates.items():
            label = "abstracts" if kind == "abs" else "keywords"
            for stat, value in _stats(values).items():
                out[f"{label}_per_s_{stat}_{_key(backend)}"] = round(value, 1)
        fp32 = statistics.median(rates[("torch", "abs")])
        for backend in BACKENDS:
            out[f"speedup_abstracts_{_key(backend)}"] = round(statistics.median(rates[(backend, "abs")]) / fp32, 2)

        reference = embedders["torch"].embed(quality)
        ref_top = _neighbours(reference)
        fidelity = {"torch": {"mean_cosine": 1.0, "min_cosine": 1.0, "overlap": 1.0}}
        for backend in BACKENDS[1:]:
            fidelity[backend] = _fidelity(reference, embedders[backend].embed(quality), ref_top)
            for name, value in fidelity[backend].items():
                out[f"{name}_to_fp32_{_key(backend)}"] = round(value, 4)
        out["quality_texts"] = len(quality)

        within = [b for b, f in fidelity.items() if f["mean_cosine"] >= MIN_COSINE and f["overlap"] >= MIN_OVERLAP]
        out["fastest_within_bounds_this_run"] = max(within, key=lambda b: statistics.median(rates[(b, "abs")]))
        out["default_backend"] = DEFAULT_BACKEND
        out["speedup_over_fp32_abstracts"] = out[f"speedup_abstracts_{_key(DEFAULT_BACKEND)}"]
        out["mean_cosine_to_fp32"] = round(fidelity[DEFAULT_BACKEND]["mean_cosine"], 4)
        out["top10_overlap_with_fp32"] = round(fidelity[DEFAULT_BACKEND]["overlap"], 4)
        out["load_average_1m"] = round(os.getloadavg()[0], 2)
    finally:
        shutil.rmtree(models_dir, ignore_errors=True)
    return out


def _key(backend: str) -> str:
    return backend.replace("-", "_")


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2, sort_keys=True))
