"""Settings of the HTTP layer (prefix MATCHER_), read once by `create_app`."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ApiConfig", "load_api_config"]


class _ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MATCHER_", extra="ignore")

    rate_limit_per_minute: int = 600
    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 33_554_432
    cors_origins: str = ""  # comma-separated; CORS is closed when empty


@dataclass(frozen=True)
class ApiConfig:
    rate_limit_per_minute: int = 600
    max_body_bytes: int = 1_048_576
    max_upload_bytes: int = 33_554_432
    cors_origins: tuple[str, ...] = ()


def load_api_config() -> ApiConfig:
    s = _ApiSettings()
    origins = tuple(o.strip() for o in s.cors_origins.split(",") if o.strip())
    return ApiConfig(s.rate_limit_per_minute, s.max_body_bytes, s.max_upload_bytes, origins)
