"""Safe decoding of user audio: header checks first, capped reads, resampling.

The order matters for a service that takes uploads from strangers: the
container header is read and checked against the limits (format, sample rate,
channels, duration, known length) before a single audio frame is decoded, and
the decoder is then asked for no more frames than the limit allows, so a file
that lies in its header cannot make the server decode hours of audio.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr

from app.audio.errors import AudioError, AudioErrorCode

#: Rate every analysis runs at.
ANALYSIS_SAMPLE_RATE_HZ = 44_100

Source = str | os.PathLike[str] | BinaryIO


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What an input file may be. The defaults are the service's."""

    min_sample_rate_hz: int = 8_000
    max_sample_rate_hz: int = 192_000
    min_channels: int = 1
    max_channels: int = 8
    min_duration_s: float = 5.0
    max_duration_s: float = 15 * 60.0
    #: Tolerated shortfall of decoded audio against the header's length.
    truncation_tolerance_s: float = 0.5


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, kw_only=True)
class AudioHeader:
    """What a file's header says, read before any decoding."""

    container: str  # "wav", "flac", "ogg-vorbis", "ogg-opus", "mp3"
    sample_rate_hz: int
    channels: int
    frames: int | None  # None when the header does not know the length

    @property
    def duration_s(self) -> float | None:
        """Length in seconds, when the header knows it."""
        return None if self.frames is None else self.frames / self.sample_rate_hz


@dataclass(frozen=True, kw_only=True)
class DecodedAudio:
    """Mono float32 audio at the analysis rate, with where it came from."""

    samples: np.ndarray
    sample_rate_hz: int
    header: AudioHeader

    @property
    def duration_s(self) -> float:
        """Length in seconds of the decoded audio."""
        return len(self.samples) / self.sample_rate_hz


def _fail(code: AudioErrorCode, name: str, text: str) -> AudioError:
    return AudioError(code, f"{name}: {text}")


@contextmanager
def _opened(source: Source) -> Iterator[BinaryIO]:
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as handle:
            yield handle
    else:
        start = source.tell()
        try:
            yield source
        finally:
            source.seek(start)


def _file_size(handle: BinaryIO) -> int:
    position = handle.tell()
    handle.seek(0, io.SEEK_END)
    size = handle.tell()
    handle.seek(position)
    return size


def _wav_header(handle: BinaryIO, *, name: str, file_size: int) -> AudioHeader:
    riff = handle.read(12)
    if len(riff) < 12 or riff[8:12] != b"WAVE":
        raise _fail(AudioErrorCode.CORRUPT, name, "is not a valid WAV file (no WAVE header).")
    channels = sample_rate = block_align = bits = None
    audio_format = 0
    while True:
        chunk = handle.read(8)
        if len(chunk) < 8:
            break
        chunk_id, chunk_size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if chunk_id == b"fmt ":
            body = handle.read(min(chunk_size, 64))
            if len(body) < 16:
                raise _fail(AudioErrorCode.CORRUPT, name, "has a truncated WAV format chunk.")
            audio_format, channels, sample_rate, _, block_align, bits = struct.unpack(
                "<HHIIHH", body[:16]
            )
            handle.seek(chunk_size - len(body) + (chunk_size & 1), io.SEEK_CUR)
        elif chunk_id == b"data":
            if channels is None or sample_rate is None or not block_align:
                raise _fail(
                    AudioErrorCode.CORRUPT, name, "has no WAV format chunk before its data."
                )
            if chunk_size in (0, 0xFFFFFFFF) and file_size - handle.tell() > 0:
                frames: int | None = None  # a streaming writer never filled the size in
            else:
                available = max(0, file_size - handle.tell())
                frames = min(chunk_size, available) // block_align
            if audio_format not in (1, 3, 0xFFFE) or bits not in (8, 16, 24, 32, 64):
                raise _fail(
                    AudioErrorCode.UNSUPPORTED_FORMAT,
                    name,
                    f"uses WAV sample format {audio_format} with {bits} bits; "
                    "supported are 8/16/24/32-bit integer and 32/64-bit float PCM.",
                )
            return AudioHeader(
                container="wav", sample_rate_hz=sample_rate, channels=channels, frames=frames
            )
        else:
            handle.seek(chunk_size + (chunk_size & 1), io.SEEK_CUR)
    if channels is not None and sample_rate is not None:
        return AudioHeader(container="wav", sample_rate_hz=sample_rate, channels=channels, frames=0)
    raise _fail(AudioErrorCode.CORRUPT, name, "is a WAV file without format or data chunk.")


def _flac_header(handle: BinaryIO, *, name: str) -> AudioHeader:
    handle.read(4)
    block = handle.read(4 + 34)
    if len(block) < 38 or block[0] & 0x7F != 0:
        raise _fail(AudioErrorCode.CORRUPT, name, "is a FLAC file without a STREAMINFO block.")
    info = int.from_bytes(block[4 + 10 : 4 + 18], "big")
    sample_rate = info >> 44
    channels = ((info >> 41) & 0x7) + 1
    total = info & ((1 << 36) - 1)
    return AudioHeader(
        container="flac", sample_rate_hz=sample_rate, channels=channels, frames=total or None
    )


def _sniff(handle: BinaryIO, *, name: str, file_size: int) -> AudioHeader | str:
    """Return a parsed header (WAV, FLAC) or the container name for libsndfile to read."""
    head = handle.read(64)
    handle.seek(0)
    if not head:
        raise _fail(AudioErrorCode.EMPTY, name, "is empty (0 bytes).")
    if head[:4] == b"RIFF":
        return _wav_header(handle, name=name, file_size=file_size)
    if head[:4] == b"fLaC":
        return _flac_header(handle, name=name)
    if head[:4] == b"OggS":
        if b"OpusHead" in head:
            return "ogg-opus"
        if b"\x01vorbis" in head:
            return "ogg-vorbis"
        raise _fail(
            AudioErrorCode.UNSUPPORTED_FORMAT, name, "is an Ogg file with neither Vorbis nor Opus."
        )
    if head[:3] == b"ID3" or _is_mpeg_layer3_frame(head[:4]):
        return "mp3"
    raise _fail(
        AudioErrorCode.UNSUPPORTED_FORMAT,
        name,
        "is not a supported audio format; use WAV, FLAC, Ogg Vorbis, Opus or MP3.",
    )


def _is_mpeg_layer3_frame(header: bytes) -> bool:
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return False
    version, layer = (header[1] >> 3) & 0x3, (header[1] >> 1) & 0x3
    bitrate, rate = header[2] >> 4, (header[2] >> 2) & 0x3
    return version != 1 and layer == 1 and bitrate not in (0, 15) and rate != 3


def read_header(source: Source, *, name: str = "file") -> AudioHeader:
    """Read and return what the file's header says, without decoding audio.

    Parameters
    ----------
    source : path or binary file object
        The audio file.
    name : str
        How error messages call the file, e.g. ``"reference"``.

    Returns
    -------
    AudioHeader

    Raises
    ------
    AudioError
        When the file is empty, of an unsupported format or its header is unreadable.
    """
    with _opened(source) as handle:
        size = _file_size(handle)
        sniffed = _sniff(handle, name=name, file_size=size)
        if isinstance(sniffed, AudioHeader):
            return sniffed
        handle.seek(0)
        try:
            info = sf.info(handle)
        except (sf.LibsndfileError, RuntimeError, ValueError) as error:
            raise _fail(
                AudioErrorCode.CORRUPT, name, f"has an unreadable {sniffed} header ({error})."
            ) from error
        frames = info.frames if 0 < info.frames < 2**62 else None
        return AudioHeader(
            container=sniffed,
            sample_rate_hz=int(info.samplerate),
            channels=int(info.channels),
            frames=frames,
        )


def check_header(header: AudioHeader, *, name: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Raise `AudioError` when the header breaks one of the limits."""
    rate = header.sample_rate_hz
    if not limits.min_sample_rate_hz <= rate <= limits.max_sample_rate_hz:
        raise _fail(
            AudioErrorCode.SAMPLE_RATE,
            name,
            f"has a sample rate of {rate} Hz; allowed are {limits.min_sample_rate_hz} "
            f"to {limits.max_sample_rate_hz} Hz.",
        )
    if not limits.min_channels <= header.channels <= limits.max_channels:
        raise _fail(
            AudioErrorCode.CHANNELS,
            name,
            f"has {header.channels} channels; allowed are {limits.min_channels} "
            f"to {limits.max_channels}.",
        )
    if header.frames is None:
        raise _fail(
            AudioErrorCode.UNKNOWN_LENGTH,
            name,
            "does not state its length in its header; re-export it as a complete file.",
        )
    if header.frames == 0:
        raise _fail(AudioErrorCode.EMPTY, name, "has a header but no audio frames.")
    _check_duration(header.frames / rate, name=name, limits=limits)


def _check_duration(duration_s: float, *, name: str, limits: Limits) -> None:
    if duration_s < limits.min_duration_s:
        raise _fail(
            AudioErrorCode.TOO_SHORT,
            name,
            f"lasts {duration_s:.1f} s; the minimum is {limits.min_duration_s:g} s.",
        )
    if duration_s > limits.max_duration_s:
        raise _fail(
            AudioErrorCode.TOO_LONG,
            name,
            f"lasts {duration_s / 60:.1f} min; the maximum is {limits.max_duration_s / 60:g} min.",
        )


def _decode(handle: BinaryIO, *, header: AudioHeader, name: str, limits: Limits) -> np.ndarray:
    assert header.frames is not None
    cap = int(limits.max_duration_s * header.sample_rate_hz) + 1
    try:
        with sf.SoundFile(handle) as sound:
            if sound.samplerate != header.sample_rate_hz or sound.channels != header.channels:
                raise _fail(AudioErrorCode.CORRUPT, name, "has contradictory header fields.")
            data = sound.read(frames=min(header.frames, cap), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise _fail(AudioErrorCode.CORRUPT, name, f"could not be decoded ({error}).") from error
    decoded_s = len(data) / header.sample_rate_hz
    if header.frames / header.sample_rate_hz - decoded_s > limits.truncation_tolerance_s:
        raise _fail(
            AudioErrorCode.CORRUPT,
            name,
            f"is truncated: its header promises {header.frames / header.sample_rate_hz:.1f} s "
            f"but only {decoded_s:.1f} s could be decoded.",
        )
    return data


def load_audio(
    source: Source,
    *,
    name: str = "file",
    sample_rate_hz: int = ANALYSIS_SAMPLE_RATE_HZ,
    limits: Limits = DEFAULT_LIMITS,
) -> DecodedAudio:
    """Check, decode, mix to mono and resample an audio file.

    Parameters
    ----------
    source : path or binary file object
        WAV (8/16/24/32-bit integer, 32/64-bit float), FLAC, Ogg Vorbis, Opus or MP3.
    name : str
        How error messages call the file, e.g. ``"reference"``.
    sample_rate_hz : int
        Rate of the returned samples.
    limits : Limits
        What the file may be.

    Returns
    -------
    DecodedAudio
        Mono float32 samples (the mean of the channels, i.e. the mid signal).

    Raises
    ------
    AudioError
        With a sentence naming ``name`` and the limit, for every unusable input.

    Examples
    --------
    >>> import io, numpy as np, soundfile as sf
    >>> buffer = io.BytesIO()
    >>> tone = 0.1 * np.sin(2 * np.pi * 440 * np.arange(6 * 48_000) / 48_000)
    >>> sf.write(buffer, tone, 48_000, format="WAV")
    >>> _ = buffer.seek(0)
    >>> load_audio(buffer, name="demo").sample_rate_hz
    44100
    """
    header = read_header(source, name=name)
    check_header(header, name=name, limits=limits)
    with _opened(source) as handle:
        data = _decode(handle, header=header, name=name, limits=limits)
    mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(mono).all() or not np.isfinite(data).all():
        raise _fail(
            AudioErrorCode.NON_FINITE, name, "contains NaN or infinite samples; only finite audio."
        )
    if float(np.max(np.abs(data))) < 1e-5:
        raise _fail(AudioErrorCode.SILENT, name, "is digitally silent (peak below -100 dBFS).")
    if header.sample_rate_hz != sample_rate_hz:
        mono = resample(mono, from_hz=header.sample_rate_hz, to_hz=sample_rate_hz)
    return DecodedAudio(samples=mono, sample_rate_hz=sample_rate_hz, header=header)


def resample(samples: np.ndarray, *, from_hz: int, to_hz: int) -> np.ndarray:
    """Resample with soxr's high-quality polyphase resampler.

    Parameters
    ----------
    samples : np.ndarray
        Audio, shape ``(n,)`` or ``(n, channels)``.
    from_hz, to_hz : int
        Source and target sample rates.

    Returns
    -------
    np.ndarray
        float32 audio at ``to_hz``.
    """
    if from_hz == to_hz:
        return np.asarray(samples, dtype=np.float32)
    out = soxr.resample(np.asarray(samples, dtype=np.float32), from_hz, to_hz, quality="HQ")
    return np.asarray(out, dtype=np.float32)


def load_path(path: Path | str, **kwargs: object) -> DecodedAudio:
    """Shorthand for `load_audio` naming the file by its base name."""
    return load_audio(path, name=Path(path).name, **kwargs)  # type: ignore[arg-type]
