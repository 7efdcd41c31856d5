"""Generators of bad uploads, each with the status and the words its refusal must contain."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable

import numpy as np
import soundfile as sf

from ..conftest import SAMPLE_RATE_HZ, pink_noise


def wav_bytes(
    samples: np.ndarray, *, sample_rate_hz: int = SAMPLE_RATE_HZ, subtype: str = "PCM_16"
) -> bytes:
    """Encode samples as a WAV file in memory."""
    buffer = io.BytesIO()
    sf.write(buffer, samples, sample_rate_hz, format="WAV", subtype=subtype)
    return buffer.getvalue()


def noise(duration_s: float, *, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Pink noise at -12 dBFS."""
    return pink_noise(duration_s=duration_s, sample_rate_hz=sample_rate_hz, seed=7)


def empty() -> bytes:
    return b""


def text_file() -> bytes:
    return b"These are not the masters you are looking for.\n" * 100


def truncated_wav() -> bytes:
    return wav_bytes(noise(8.0))[: 44 + 2 * SAMPLE_RATE_HZ * 3]


def too_short() -> bytes:
    return wav_bytes(noise(1.0))


def low_sample_rate() -> bytes:
    return wav_bytes(noise(6.0, sample_rate_hz=4000), sample_rate_hz=4000)


def silent() -> bytes:
    return wav_bytes(np.zeros(6 * SAMPLE_RATE_HZ, dtype=np.float32))


def non_finite() -> bytes:
    samples = noise(6.0)
    samples[1000:1010] = np.nan
    return wav_bytes(samples, subtype="FLOAT")


def adpcm_wav() -> bytes:
    """A WAV header announcing IMA ADPCM (format 0x11), which the service does not take."""
    data = b"\x00" * 4096
    fmt = struct.pack("<HHIIHH", 0x11, 1, SAMPLE_RATE_HZ, SAMPLE_RATE_HZ, 1024, 4)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data))
    return b"RIFF" + struct.pack("<I", len(body) + len(data)) + body + data


def too_many_channels() -> bytes:
    return wav_bytes(np.tile(noise(1.0)[:, None], (1, 10)))


#: name -> (generator, status, words the detail must contain besides the file's name)
BAD_FILES: dict[str, tuple[Callable[[], bytes], int, list[str]]] = {
    "empty": (empty, 422, ["empty"]),
    "text": (text_file, 415, ["not a supported audio format", "WAV"]),
    "truncated": (truncated_wav, 422, ["truncated"]),
    "too_short": (too_short, 422, ["1.0 s", "minimum is 5 s"]),
    "low_sample_rate": (low_sample_rate, 422, ["4000 Hz", "8000"]),
    "silent": (silent, 422, ["silent"]),
    "non_finite": (non_finite, 422, ["NaN"]),
    "adpcm": (adpcm_wav, 415, ["sample format"]),
    "channels": (too_many_channels, 422, ["10 channels", "8"]),
}
