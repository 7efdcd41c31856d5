"""Settings of the accounts domain, read from the environment and `.env` like `app.config`."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class AccountSettings(BaseSettings):
    """Password hashing cost, session lifetime and login throttling."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    #: argon2id cost (OWASP: m=19 MiB, t=2, p=1 at least; these are stronger).
    ARGON2_TIME_COST: int = 3
    ARGON2_MEMORY_COST_KIB: int = 65_536
    ARGON2_PARALLELISM: int = 2
    MIN_PASSWORD_LENGTH: int = 10
    SESSION_LIFETIME_HOURS: int = 24 * 14
    #: Failed sign-ins of one account before it is locked for a while.
    LOGIN_MAX_FAILURES: int = 5
    #: First lock, seconds; every further failure doubles it up to the maximum.
    LOGIN_LOCKOUT_S: int = 60
    LOGIN_LOCKOUT_MAX_S: int = 3600


@lru_cache
def get_account_settings() -> AccountSettings:
    """The process-wide account settings."""
    return AccountSettings()
