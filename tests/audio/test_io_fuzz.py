"""Bounded fuzzing of audio decoding: mutated WAV, FLAC, Ogg and MP3 files either decode or are
refused with an `AudioError`, never another exception. `make fuzz` runs more examples
(FUZZ_EXAMPLES, default 25 in `make test`)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from app.audio.errors import AudioError
from app.audio.io import DecodedAudio, load_audio
from tests.fuzzing import fuzz_settings

from ..conftest import pink_noise

FUZZ = fuzz_settings(HealthCheck.data_too_large)
SAMPLE_RATE_HZ = 8_000


def _encoded(format_: str, subtype: str | None) -> bytes:
    samples = pink_noise(duration_s=5.5, sample_rate_hz=SAMPLE_RATE_HZ, seed=3)
    buffer = io.BytesIO()
    sf.write(
        buffer,
        np.stack([samples, samples], axis=1),
        SAMPLE_RATE_HZ,
        format=format_,
        subtype=subtype,
    )
    return buffer.getvalue()


SEEDS = {
    "wav": _encoded("WAV", "PCM_16"),
    "flac": _encoded("FLAC", "PCM_16"),
    "ogg": _encoded("OGG", "VORBIS"),
    "mp3": _encoded("MP3", "MPEG_LAYER_III"),
}


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """`seed` with a few bytes overwritten, a slice inserted or removed, or cut short."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        kind = draw(st.sampled_from(["overwrite", "head", "insert", "delete", "truncate"]))
        position = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[position : position + len(chunk)] = chunk
        elif kind == "head":  # the headers are where parsers go wrong
            position = draw(st.integers(0, min(len(data), 256) - 1))
            data[position] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 4096))]
        else:
            del data[position:]
    return bytes(data)


def _decodes_or_refuses(data: bytes) -> None:
    try:
        decoded = load_audio(io.BytesIO(data), name="candidate", sample_rate_hz=SAMPLE_RATE_HZ)
    except AudioError as error:
        assert "candidate" in error.message
        return
    assert isinstance(decoded, DecodedAudio)
    assert np.all(np.isfinite(decoded.samples))


@pytest.mark.parametrize("kind", sorted(SEEDS))
@FUZZ
@given(data=st.data())
def test_a_mutated_file_decodes_or_is_refused(kind: str, data: st.DataObject) -> None:
    _decodes_or_refuses(data.draw(mutated(SEEDS[kind])))


@FUZZ
@given(data=st.binary(max_size=4096))
def test_arbitrary_bytes_are_refused_cleanly(data: bytes) -> None:
    _decodes_or_refuses(data)
