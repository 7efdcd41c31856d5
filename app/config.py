"""One place for settings, read from the environment and `.env`."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Service settings; every field can be set by an environment variable of the same name."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    DATA_DIR: Path = PROJECT_ROOT / "var"
    DATABASE_URL: str = ""
    MODELS_DIR: Path = PROJECT_ROOT / "models"
    #: A model id from MODELS_DIR/registry.json to serve by default; empty: the registry's default.
    DEFAULT_MODEL: str = ""
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
    #: Signs the signed-out CSRF cookie. Empty: a random key per process, which is right for one
    #: process; replicas behind one address must share a key (set it, e.g. `openssl rand -hex 32`).
    SECRET_KEY: str = Field(default="", validate_default=True)
    #: Loudness a streaming player normalises to, for the normalised gain of /rate.
    LOUDNESS_TARGET_LUFS: float = -14.0
    #: Seconds between sweeps that remove kept audio past its class's retention (also run at
    #: start-up); 0 turns the server's sweep off (`mastering-trainer audio purge` still works).
    AUDIO_PURGE_INTERVAL_S: float = Field(default=3600.0, ge=0)

    @field_validator("DATABASE_URL")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        """Use the psycopg 3 driver for plain PostgreSQL URLs."""
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @field_validator("SECRET_KEY")
    @classmethod
    def _random_secret_key(cls, value: str) -> str:
        """A random key when none is set, so no key is ever a known default."""
        return value or secrets.token_hex(32)

    @property
    def database_url(self) -> str:
        """The configured URL, or an SQLite file under `DATA_DIR`."""
        return self.DATABASE_URL or f"sqlite:///{self.DATA_DIR / 'mastering-trainer.sqlite3'}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings."""
    return Settings()
