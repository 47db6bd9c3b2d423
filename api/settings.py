"""Settings of the HTTP layer (prefix MATCHER_), read once by `create_app`."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ApiConfig", "load_api_config"]


class _ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MATCHER_", extra="ignore")

    rate_limit_per_minute: int = 600
    rate_limit_unit_s: float = 0.1
    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 33_554_432
    cors_origins: str = ""  # comma-separated; CORS is closed when empty
    queue_depth: int = 64
    heavy_slots: int = 1
    heavy_queue_depth: int = 4
    heavy_nice: int = 10


@dataclass(frozen=True)
class ApiConfig:
    rate_limit_per_minute: int = 600
    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 33_554_432
    cors_origins: tuple[str, ...] = ()
    rate_limit_unit_s: float = 0.1  # a request pays one token per this many seconds of compute
    queue_depth: int = 64  # matches waiting for a compute slot
    heavy_slots: int = 1  # consortia and imports computing at once
    heavy_queue_depth: int = 4  # ... and waiting
    heavy_nice: int = 10  # CPU priority of their threads (0 = as the rest)


def load_api_config() -> ApiConfig:
    s = _ApiSettings()
    origins = tuple(o.strip() for o in s.cors_origins.split(",") if o.strip())
    return ApiConfig(s.rate_limit_per_minute, s.max_body_bytes, s.max_upload_bytes, origins, s.rate_limit_unit_s,
                     s.queue_depth, s.heavy_slots, s.heavy_queue_depth, s.heavy_nice)
