"""One place for settings, read from the environment and `.env`."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Service settings; every field can be set by an environment variable of the same name."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    DATA_DIR: Path = PROJECT_ROOT / "var"
    DATABASE_URL: str = ""
    MODELS_DIR: Path = PROJECT_ROOT / "models"
    DEFAULT_MODEL: str = "general"
    MAX_UPLOAD_MB: int = 200
    MAX_CONCURRENT_ANALYSES: int = os.cpu_count() or 2
    MAX_QUEUED_ANALYSES: int = 4
    #: Uploads (multipart bodies) being received at once; past that, 503 with Retry-After.
    MAX_UPLOADS_IN_FLIGHT: int = 16
    #: A request body that sends nothing for this long, or takes longer in all, answers 408.
    UPLOAD_IDLE_TIMEOUT_S: float = 30.0
    UPLOAD_TOTAL_TIMEOUT_S: float = 600.0
    #: Believe X-Forwarded-Host (same-origin checks) only behind a proxy that sets it.
    TRUST_PROXY_HEADERS: bool = False
    ANONYMOUS_RATE: bool = True
    SECRET_KEY: str = "change-me-in-production"
    #: Loudness a streaming player normalises to, for the normalised gain of /rate.
    LOUDNESS_TARGET_LUFS: float = -14.0

    @field_validator("DATABASE_URL")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        """Use the psycopg 3 driver for plain PostgreSQL URLs."""
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @property
    def database_url(self) -> str:
        """The configured URL, or an SQLite file under `DATA_DIR`."""
        return self.DATABASE_URL or f"sqlite:///{self.DATA_DIR / 'mastering-trainer.sqlite3'}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings."""
    return Settings()
