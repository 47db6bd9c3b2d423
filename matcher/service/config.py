"""Settings are read once, at the edge (CLI, `create_app`), into a plain frozen `Config`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import PositiveInt
from pydantic_settings import BaseSettings, SettingsConfigDict

from matcher.domain.errors import MatcherError
from matcher.embed.backends import DEFAULT_BACKEND, Backend
from matcher.ingest.bounds import ReadLimits
from matcher.score.scoring import ScoringConfig
from matcher.store.postgres import is_postgres_url

__all__ = ["Config", "Settings", "load_config", "parse_models"]


class Settings(BaseSettings):
    """Environment variables (prefix `MATCHER_`), e.g. MATCHER_HOME, MATCHER_MODEL_PATH."""

    model_config = SettingsConfigDict(env_prefix="MATCHER_", extra="ignore")

    home: Path = Path("data/store")
    # MATCHER_STORE=postgresql://user:pass@host/db: profiles, keys, jobs and audit rows in PostgreSQL
    # (shared by every process); unset, they stay in SQLite under MATCHER_HOME
    store: str | None = None
    model_path: Path | None = None
    model_id: str | None = None
    # MATCHER_MODELS: the quality mode, several models averaged, e.g. "packaged,models/tuned-20261207-0800"
    models: str | None = None
    batch_size: int = 32
    threads: int | None = None
    backend: Backend = DEFAULT_BACKEND  # MATCHER_BACKEND=torch|onnx|onnx-int8, see matcher/backends.py
    aggregate: str = ScoringConfig.aggregate
    lexical_weight: float = ScoringConfig.lexical_weight
    activity_weight: float = ScoringConfig.activity_weight
    partner_weight: float = ScoringConfig.partner_weight
    lexical: str = ScoringConfig.lexical  # MATCHER_LEXICAL=tfidf|bm25 (see docs/EVALUATION.md)
    recency_weight: float = ScoringConfig.recency_weight
    role_weight: float = ScoringConfig.role_weight
    diversity: float = 0.1
    # what one input may hold (see matcher/ingest/bounds.py): MATCHER_MAX_LINE_BYTES, ...
    max_line_bytes: PositiveInt = ReadLimits.line_bytes  # a JSON Lines record, a CSV line or record
    max_field_bytes: PositiveInt = ReadLimits.field_bytes  # a CSV cell
    max_document_bytes: PositiveInt = ReadLimits.document_bytes  # a JSON document read whole
    max_zip_ratio: PositiveInt = ReadLimits.zip_ratio  # how much a zip member may expand
    max_unpacked_bytes: PositiveInt = ReadLimits.unpacked_bytes  # a zip's members together
    index: str = "exact"  # MATCHER_INDEX=exact|exact-single|sklearn|pgvector, see matcher/index/vectors.py
    # MATCHER_INDEX_URL=postgresql://...: the database of MATCHER_INDEX=pgvector (default: MATCHER_STORE's)
    index_url: str | None = None
    result_retention_days: float = 30.0  # MATCHER_RESULT_RETENTION_DAYS: days a batch result is kept (0: for ever)
    dask: str | None = None  # MATCHER_DASK=local|local:N|tcp://HOST:PORT: batch jobs' top-k on a Dask cluster


@dataclass(frozen=True)
class Config:
    home: Path
    store: str | None = None  # a postgresql:// URL, or None for the SQLite store in `home`
    model_path: Path | None = None
    model_id: str | None = None
    models: tuple[Path | None, ...] = ()  # two or more: the quality mode (None: the packaged model)
    batch_size: int = 32
    threads: int | None = None
    backend: Backend = DEFAULT_BACKEND
    diversity: float = 0.1
    index: str = "exact"
    index_url: str | None = None
    read_limits: ReadLimits = field(default_factory=ReadLimits)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    result_retention_days: float = 30.0
    dask: str | None = None


PACKAGED = ("packaged", "default", "all-minilm-l6-v2")


def parse_models(text: str | None) -> tuple[Path | None, ...]:
    """MATCHER_MODELS: comma-separated model folders; `packaged` names the shipped all-MiniLM-L6-v2."""
    if not text or not text.strip():
        return ()
    parts = [part.strip() for part in text.split(",") if part.strip()]
    models = tuple(None if part.lower() in PACKAGED else Path(part).expanduser() for part in parts)
    if len(models) < 2:
        raise MatcherError(f"MATCHER_MODELS='{text}': the quality mode averages two or more models "
                           "(e.g. packaged,models/tuned-20261207-0800); for one model use MATCHER_MODEL_PATH")
    for model in models:
        if model is not None and not (model / "modules.json").exists() and not (model / "config.json").exists():
            raise MatcherError(f"MATCHER_MODELS: no sentence-transformers model at {model}")
    return models


def load_config(**overrides: object) -> Config:
    """Read the environment once; keyword overrides (from CLI flags) win over it."""
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    return Config(
        home=settings.home.expanduser(),
        store=settings.store or None,
        model_path=settings.model_path,
        model_id=settings.model_id,
        models=parse_models(settings.models),
        batch_size=settings.batch_size,
        threads=settings.threads,
        backend=settings.backend,
        diversity=settings.diversity,
        index=settings.index,
        index_url=settings.index_url or (settings.store if is_postgres_url(settings.store) else None),
        read_limits=ReadLimits(
            line_bytes=settings.max_line_bytes, field_bytes=settings.max_field_bytes,
            document_bytes=settings.max_document_bytes, zip_ratio=settings.max_zip_ratio,
            unpacked_bytes=settings.max_unpacked_bytes,
        ),
        result_retention_days=settings.result_retention_days,
        dask=settings.dask or None,
        scoring=ScoringConfig(
            aggregate=settings.aggregate,
            lexical_weight=settings.lexical_weight,
            activity_weight=settings.activity_weight,
            partner_weight=settings.partner_weight,
            lexical=settings.lexical,
            recency_weight=settings.recency_weight,
            role_weight=settings.role_weight,
        ),
    )
