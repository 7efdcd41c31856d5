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
    #: Failed sign-ins from one client address for one email before that pair is locked
    #: (see `app.accounts.throttle`).
    LOGIN_MAX_FAILURES: int = 5
    #: First lock, seconds; every further failure doubles it up to the maximum.
    LOGIN_LOCKOUT_S: int = 60
    LOGIN_LOCKOUT_MAX_S: int = 3600
    #: Failed sign-ins from one client address, whatever the emails, before it is locked.
    LOGIN_MAX_FAILURES_PER_ADDRESS: int = 20
    #: A key's failures are forgotten this long after its last one, seconds.
    LOGIN_FAILURE_WINDOW_S: int = 900
    #: Password hashes computed at once (each takes ARGON2_MEMORY_COST_KIB of memory).
    MAX_CONCURRENT_PASSWORD_HASHES: int = 2
    #: How long a sign-in waits for a hashing slot before 503, seconds.
    PASSWORD_HASH_WAIT_S: float = 2.0


@lru_cache
def get_account_settings() -> AccountSettings:
    """The process-wide account settings."""
    return AccountSettings()
