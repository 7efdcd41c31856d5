"""Typed refusals of audio input, each with a user-facing sentence.

Modelled on matchering's numbered outcome codes: every way an upload can be
unusable has a code, an HTTP status for the web layer to use, and a sentence
that names the file and the limit it broke.
"""

from __future__ import annotations

from enum import IntEnum

from app.errors import ServiceError


class AudioErrorCode(IntEnum):
    """Numbered reasons an audio file is refused."""

    EMPTY = 1001
    UNSUPPORTED_FORMAT = 1002
    CORRUPT = 1003
    SAMPLE_RATE = 1004
    CHANNELS = 1005
    TOO_SHORT = 1006
    TOO_LONG = 1007
    UNKNOWN_LENGTH = 1008
    NON_FINITE = 1009
    SILENT = 1010
    TOO_LARGE = 1011
    UNREADABLE = 1012


#: HTTP status the web layer answers for each code.
HTTP_STATUS: dict[AudioErrorCode, int] = {
    AudioErrorCode.EMPTY: 422,
    AudioErrorCode.UNSUPPORTED_FORMAT: 415,
    AudioErrorCode.CORRUPT: 422,
    AudioErrorCode.SAMPLE_RATE: 422,
    AudioErrorCode.CHANNELS: 422,
    AudioErrorCode.TOO_SHORT: 422,
    AudioErrorCode.TOO_LONG: 422,
    AudioErrorCode.UNKNOWN_LENGTH: 422,
    AudioErrorCode.NON_FINITE: 422,
    AudioErrorCode.SILENT: 422,
    AudioErrorCode.TOO_LARGE: 413,
    AudioErrorCode.UNREADABLE: 422,
}


class AudioError(ServiceError, ValueError):
    """An audio file that cannot be analysed; its HTTP status follows from its code.

    Parameters
    ----------
    code : AudioErrorCode
        Why the file is refused.
    message : str
        A sentence naming the file and the limit, shown to the user as is.
    """

    def __init__(self, code: AudioErrorCode, message: str) -> None:
        super().__init__(message, status_code=HTTP_STATUS[code])
        self.code = code
