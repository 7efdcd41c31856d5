"""Sign-in throttling and the cap on concurrent password hashing.

Failed sign-ins are counted in memory, per process, under two keys:

- the client address, across every email it tries (`LOGIN_MAX_FAILURES_PER_ADDRESS`);
- the client address with the email it tries (`LOGIN_MAX_FAILURES`), whether or not an
  account has that email, so the answers never tell who has an account.

Past a limit, that key is locked for `LOGIN_LOCKOUT_S`, doubling with every further
failure up to `LOGIN_LOCKOUT_MAX_S`; a key's failures are forgotten `LOGIN_FAILURE_WINDOW_S`
after its last one. No lock is per account alone: someone guessing from another address
cannot lock the owner out, and the owner's right password from their own address passes.
A success clears only its own (address, email) key.

Every argon2 hash or verification takes one of `MAX_CONCURRENT_PASSWORD_HASHES` slots
(each costs `ARGON2_MEMORY_COST_KIB` of memory); when none frees up within
`PASSWORD_HASH_WAIT_S` the request is refused with `PasswordHashingBusy` (503).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

from app.accounts.settings import AccountSettings
from app.errors import ServiceError

#: Most keys remembered; the oldest are forgotten first.
MAX_KEYS = 100_000


class LoginThrottled(ServiceError):
    """Too many failed sign-ins from this address; try again after `retry_after_s` (429)."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            f"Too many failed sign-ins from here; try again in {retry_after_s} s.",
            status_code=429,
            headers={"Retry-After": str(retry_after_s)},
        )
        self.retry_after_s = retry_after_s


class PasswordHashingBusy(ServiceError):
    """Every password-hashing slot is taken; try again after `retry_after_s` (503)."""

    def __init__(self, retry_after_s: int = 1) -> None:
        super().__init__(
            "The server is checking too many passwords at once; try again in a few seconds.",
            status_code=503,
            headers={"Retry-After": str(retry_after_s)},
        )
        self.retry_after_s = retry_after_s


@dataclass
class _Failures:
    count: int = 0
    last_s: float = 0.0
    locked_until_s: float = 0.0


class LoginThrottle:
    """Failure counts per client address and per (address, email), in memory."""

    def __init__(
        self, settings: AccountSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: OrderedDict[tuple[str, ...], _Failures] = OrderedDict()

    def _limits(self, address: str, email: str) -> list[tuple[tuple[str, ...], int]]:
        return [
            (("address", address), self.settings.LOGIN_MAX_FAILURES_PER_ADDRESS),
            (("account", address, email), self.settings.LOGIN_MAX_FAILURES),
        ]

    def _entry(self, key: tuple[str, ...], now: float) -> _Failures | None:
        entry = self._keys.get(key)
        if entry is not None and now >= entry.locked_until_s:
            if now - entry.last_s > self.settings.LOGIN_FAILURE_WINDOW_S:
                del self._keys[key]
                return None
        return entry

    def check(self, *, address: str, email: str) -> None:
        """Raise `LoginThrottled` while this address, or this address with this email, is locked."""
        now = self.clock()
        with self._lock:
            waits = [
                entry.locked_until_s - now
                for key, _ in self._limits(address, email)
                if (entry := self._entry(key, now)) is not None and entry.locked_until_s > now
            ]
        if waits:
            raise LoginThrottled(max(1, math.ceil(max(waits))))

    def failed(self, *, address: str, email: str) -> None:
        """Count a failed sign-in, locking the keys past their limits."""
        now = self.clock()
        with self._lock:
            for key, limit in self._limits(address, email):
                entry = self._entry(key, now) or _Failures()
                entry.count += 1
                entry.last_s = now
                excess = entry.count - limit
                if excess >= 0:
                    lock_s = min(
                        self.settings.LOGIN_LOCKOUT_S * 2 ** min(excess, 20),
                        self.settings.LOGIN_LOCKOUT_MAX_S,
                    )
                    entry.locked_until_s = now + lock_s
                self._keys[key] = entry
                self._keys.move_to_end(key)
            while len(self._keys) > MAX_KEYS:
                self._keys.popitem(last=False)

    def succeeded(self, *, address: str, email: str) -> None:
        """Forget the failures of this address with this email (not the address's own)."""
        with self._lock:
            self._keys.pop(("account", address, email), None)


@lru_cache(maxsize=8)
def _slots(size: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(max(1, size))


def hashing_slots(settings: AccountSettings) -> threading.BoundedSemaphore:
    """The process-wide semaphore bounding concurrent password hashing."""
    return _slots(settings.MAX_CONCURRENT_PASSWORD_HASHES)


@contextmanager
def hashing_slot(settings: AccountSettings) -> Iterator[None]:
    """Hold one password-hashing slot, or raise `PasswordHashingBusy`."""
    slots = hashing_slots(settings)
    if not slots.acquire(timeout=settings.PASSWORD_HASH_WAIT_S):
        raise PasswordHashingBusy(max(1, math.ceil(settings.PASSWORD_HASH_WAIT_S)))
    try:
        yield
    finally:
        slots.release()
