"""The one exception root of the service's refusals.

Every request the service refuses on purpose (a bad upload, a busy pool, an unknown class)
raises a `ServiceError` with an HTTP status and a sentence for the user; one handler in
`app.main` turns it into the ``{"detail": ...}`` answer (or an error page for a browser's
page). This module imports nothing from the app, so every layer, `app.audio` included, may
derive its errors from it.
"""

from __future__ import annotations

from collections.abc import Mapping


class ServiceError(Exception):
    """A refusal with an HTTP status, a sentence naming what and why, and optional headers.

    Parameters
    ----------
    detail : str
        The sentence shown to the user as is.
    status_code : int, optional
        The HTTP status; the class's `default_status` when omitted.
    headers : Mapping[str, str], optional
        Headers of the answer, e.g. ``Retry-After``.
    """

    #: The status of this kind of refusal when none is given.
    default_status = 422

    def __init__(
        self,
        detail: str,
        *,
        status_code: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = self.default_status if status_code is None else status_code
        self.headers = dict(headers or {})

    @property
    def message(self) -> str:
        """The sentence for the user (the name older callers read)."""
        return self.detail

    @property
    def http_status(self) -> int:
        """The HTTP status (the name older callers read)."""
        return self.status_code
