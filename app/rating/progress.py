"""Where each rating stands: receiving, queued, analysing, done.

The page sends a random progress id of its own making as the form's first field
(`progress_id`) and, while its POST is in flight, reads `GET /rate/progress/{id}`. The id
reads "receiving" from the moment its field has arrived, so a form that sends it before
the files is known while they arrive; sent after them, it is unknown (404) until then.
The stages are kept in memory, per process, for at most `max_entries` ids and `ttl_s`
seconds each: nothing is stored, and an id tells nothing but the stage of one analysis.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Literal, cast

from pydantic import BaseModel

from app.errors import ServiceError

Stage = Literal["receiving", "queued", "analysing", "done"]
#: A progress id: what the page's `crypto.getRandomValues` makes, in URL-safe characters.
PROGRESS_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
PROGRESS_ID_PATTERN = PROGRESS_ID.pattern


class ProgressOut(BaseModel):
    """`GET /rate/progress/{id}`: the analysis's stage."""

    stage: Stage


def parse_progress_id(value: str | None) -> str | None:
    """The form's `progress_id`, None when absent; a malformed one is refused (422)."""
    if value is None or not value.strip():
        return None
    if not PROGRESS_ID.fullmatch(value.strip()):
        raise ServiceError(
            "progress_id must be 16 to 64 letters, digits, '-' or '_' (a random id the page "
            "makes); leave it out to rate without progress."
        )
    return value.strip()


class ProgressBoard:
    """The stage of each analysis by progress id: bounded, expiring, safe across threads.

    Parameters
    ----------
    max_entries : int
        Most ids remembered; the least recently updated are forgotten first.
    ttl_s : float
        Seconds an id is remembered after its last update.
    clock : callable
        Monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        ttl_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._stages: OrderedDict[str, tuple[Stage, float]] = OrderedDict()

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._stages)

    def _expire(self, now: float) -> None:
        while self._stages:
            oldest, (_, updated) = next(iter(self._stages.items()))
            if now - updated < self.ttl_s:
                break
            del self._stages[oldest]

    def set(self, progress_id: str, stage: Stage) -> None:
        """Record the stage of the analysis `progress_id`."""
        with self._lock:
            now = self._clock()
            self._stages[progress_id] = (stage, now)
            self._stages.move_to_end(progress_id)
            self._expire(now)
            while len(self._stages) > self.max_entries:
                self._stages.popitem(last=False)

    def get(self, progress_id: str) -> Stage | None:
        """The stage of `progress_id`, or None when unknown or forgotten."""
        with self._lock:
            self._expire(self._clock())
            found = self._stages.get(progress_id)
        return None if found is None else found[0]

    def on_form_field(self, name: str, value: str) -> None:
        """Record "receiving" for a well-formed `progress_id` field (`receive_form`'s hook)."""
        if name == "progress_id" and PROGRESS_ID.fullmatch(value.strip()):
            self.set(value.strip(), "receiving")

    def reporter(self, progress_id: str | None) -> Callable[[str], None] | None:
        """A callback recording stages of `progress_id` (`rate_in_pool`'s `on_stage`)."""
        if progress_id is None:
            return None

        def report(stage: str) -> None:
            if stage in ("queued", "analysing", "done"):
                self.set(progress_id, cast(Stage, stage))

        return report
