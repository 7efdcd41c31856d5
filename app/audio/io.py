"""Safe decoding of user audio: header checks first, capped reads, resampling.

The order matters for a service that takes uploads from strangers: the
container header is read and checked against the limits (format, sample rate,
channels, duration, known length) before a single audio frame is decoded, and
the decoder is then asked for no more frames than the limit allows, so a file
that lies in its header cannot make the server decode hours of audio.
"""

from __future__ import annotations

import io
import math
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


#: Containers whose audio is lossy-coded.
LOSSY_CONTAINERS = frozenset({"mp3", "ogg-vorbis", "ogg-opus"})


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

    @property
    def lossy(self) -> bool:
        """Whether the audio went through a lossy codec, whose noise it now carries."""
        return self.container in LOSSY_CONTAINERS


@dataclass(frozen=True, kw_only=True)
class DecodedAudio:
    """Float32 audio at the analysis rate, with where it came from.

    ``samples`` is the mono mix (the mean of the channels) the EQ features
    read; ``channels`` holds every channel, shape ``(frames, channels)``, for
    the measures that need them (loudness, true peak, stereo). For a mono file
    ``channels`` is a view of ``samples``.
    """

    samples: np.ndarray
    sample_rate_hz: int
    header: AudioHeader
    channels: np.ndarray | None = None

    @property
    def channel_samples(self) -> np.ndarray:
        """Every channel, shape ``(frames, channels)`` (the mono mix when none were kept)."""
        return self.samples[:, None] if self.channels is None else self.channels

    @property
    def duration_s(self) -> float:
        """Length in seconds of the decoded audio."""
        return len(self.samples) / self.sample_rate_hz


def _fail(code: AudioErrorCode, name: str, text: str) -> AudioError:
    return AudioError(code, f"{name}: {text}")


@contextmanager
def _opened(source: Source, *, name: str) -> Iterator[BinaryIO]:
    if isinstance(source, str | os.PathLike):
        try:
            handle = open(source, "rb")  # closed by the with below
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise _fail(
                AudioErrorCode.UNREADABLE, name, f"could not be opened ({reason})."
            ) from error
        with handle:
            yield handle
    else:
        start = source.tell()
        source.seek(0)
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


#: Chunks a WAV file may hold before its data chunk; a crafted file with
#: millions of tiny chunks must not keep the header parser busy.
_MAX_WAV_CHUNKS = 1_000


def _wav_header(handle: BinaryIO, *, name: str, file_size: int) -> AudioHeader:
    riff = handle.read(12)
    if len(riff) < 12 or riff[8:12] != b"WAVE":
        raise _fail(AudioErrorCode.CORRUPT, name, "is not a valid WAV file (no WAVE header).")
    channels = sample_rate = bits = None
    audio_format = 0
    for _ in range(_MAX_WAV_CHUNKS):
        chunk = handle.read(8)
        if len(chunk) < 8:
            break
        chunk_id, chunk_size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if chunk_id == b"fmt ":
            body = handle.read(min(chunk_size, 64))
            if len(body) < 16:
                raise _fail(AudioErrorCode.CORRUPT, name, "has a truncated WAV format chunk.")
            audio_format, channels, sample_rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            handle.seek(chunk_size - len(body) + (chunk_size & 1), io.SEEK_CUR)
        elif chunk_id == b"data":
            if channels is None or sample_rate is None or bits is None:
                raise _fail(
                    AudioErrorCode.CORRUPT, name, "has no WAV format chunk before its data."
                )
            if audio_format not in (1, 3, 0xFFFE) or bits not in (8, 16, 24, 32, 64):
                raise _fail(
                    AudioErrorCode.UNSUPPORTED_FORMAT,
                    name,
                    f"uses WAV sample format {audio_format} with {bits} bits; "
                    "supported are 8/16/24/32-bit integer and 32/64-bit float PCM.",
                )
            available = max(0, file_size - handle.tell())
            frame_bytes = channels * (bits // 8)
            frames: int | None
            if frame_bytes == 0 or available == 0:
                frames = 0  # no channels (refused as such) or a header without audio
            elif chunk_size in (0, 0xFFFFFFFF):
                frames = None  # a streaming writer never filled the size in
            else:
                # What the header promises: a longer promise than the file holds is
                # refused by the duration limit or, after decoding, as truncation.
                frames = chunk_size // frame_bytes
            return AudioHeader(
                container="wav", sample_rate_hz=sample_rate, channels=channels, frames=frames
            )
        else:
            handle.seek(chunk_size + (chunk_size & 1), io.SEEK_CUR)
    if channels is not None and sample_rate is not None:
        return AudioHeader(container="wav", sample_rate_hz=sample_rate, channels=channels, frames=0)
    raise _fail(AudioErrorCode.CORRUPT, name, "is a WAV file without format or data chunk.")


def _flac_header(handle: BinaryIO, *, name: str, offset: int) -> AudioHeader:
    handle.seek(offset + 4)
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


def _id3_size(head: bytes) -> int:
    """Bytes taken by a leading ID3v2 tag (0 when there is none)."""
    if head[:3] != b"ID3" or len(head) < 10:
        return 0
    size = 0
    for byte in head[6:10]:
        size = (size << 7) | (byte & 0x7F)
    footer = 10 if head[5] & 0x10 else 0
    return 10 + size + footer


def _sniff(handle: BinaryIO, *, name: str, file_size: int) -> AudioHeader | str:
    """Return a parsed header (WAV, FLAC) or the container name for libsndfile to read."""
    head = handle.read(64)
    if not head:
        raise _fail(AudioErrorCode.EMPTY, name, "is empty (0 bytes).")
    offset = _id3_size(head)
    if offset:
        handle.seek(offset)
        head = handle.read(64)
    handle.seek(0)
    if head[:4] == b"RIFF" and not offset:
        return _wav_header(handle, name=name, file_size=file_size)
    if head[:4] == b"fLaC":
        return _flac_header(handle, name=name, offset=offset)
    if head[:4] == b"OggS" and not offset:
        if b"OpusHead" in head:
            return "ogg-opus"
        if b"\x01vorbis" in head:
            return "ogg-vorbis"
        raise _fail(
            AudioErrorCode.UNSUPPORTED_FORMAT, name, "is an Ogg file with neither Vorbis nor Opus."
        )
    if _mp3_frame_length(head[:4]) is not None:
        return "mp3"
    if offset:
        raise _fail(
            AudioErrorCode.CORRUPT, name, "has an ID3 tag but no MP3 or FLAC audio after it."
        )
    raise _fail(
        AudioErrorCode.UNSUPPORTED_FORMAT,
        name,
        "is not a supported audio format; use WAV, FLAC, Ogg Vorbis, Opus or MP3.",
    )


#: Layer III bitrates in kbit/s by bitrate index: MPEG-1, then MPEG-2 and 2.5.
_MP3_KBPS = (
    (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
)
#: Sample rates by version bits (3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5) and rate index.
_MP3_RATES_HZ = {
    3: (44_100, 48_000, 32_000),
    2: (22_050, 24_000, 16_000),
    0: (11_025, 12_000, 8_000),
}


def _mp3_frame_length(header: bytes) -> int | None:
    """Length in bytes of the MPEG-1/2/2.5 Layer III frame this header starts, if it is one."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version, layer = (header[1] >> 3) & 0x3, (header[1] >> 1) & 0x3
    bitrate, rate = header[2] >> 4, (header[2] >> 2) & 0x3
    if version == 1 or layer != 1 or bitrate in (0, 15) or rate == 3:
        return None
    kbps = _MP3_KBPS[0 if version == 3 else 1][bitrate]
    coefficient = 144 if version == 3 else 72
    padding = (header[2] >> 1) & 0x1
    return coefficient * kbps * 1000 // _MP3_RATES_HZ[version][rate] + padding


def _mp3_is_truncated(handle: BinaryIO, *, file_size: int, max_frames: int) -> bool:
    """Walk the MP3 frames: is the last one cut short by the end of the file?

    The walk stops at the first bytes that are not a frame header (a trailing
    tag, say) or once ``max_frames`` audio frames lie behind it, so its cost
    is bounded by the duration limit, not by the file.
    """
    handle.seek(0)
    position = _id3_size(handle.read(10))
    samples = 0
    while samples < max_frames:
        handle.seek(position)
        header = handle.read(4)
        length = _mp3_frame_length(header)
        if length is None:
            # Fewer than 4 bytes left that start like a frame: cut inside a header.
            return 0 < len(header) < 4 and header[0] == 0xFF
        if position + length > file_size:
            return True
        position += length
        samples += 1152 if (header[1] >> 3) & 0x3 == 3 else 576
    return False


#: Longest Ogg page: 27-byte header, 255 lacing values, 255 segments of 255 bytes.
_OGG_MAX_PAGE_BYTES = 27 + 255 + 255 * 255


def _ogg_is_truncated(handle: BinaryIO, *, file_size: int) -> bool:
    """Does the file lack a complete last Ogg page with the end-of-stream flag?"""
    tail_bytes = min(file_size, _OGG_MAX_PAGE_BYTES)
    handle.seek(file_size - tail_bytes)
    tail = handle.read(tail_bytes)
    index = tail.rfind(b"OggS")
    while index >= 0:
        table = index + 27
        if table <= len(tail) and tail[index + 4] == 0:
            segments = tail[index + 26]
            if table + segments <= len(tail):
                end = table + segments + sum(tail[table : table + segments])
                if end == len(tail):
                    return not tail[index + 5] & 0x04
        index = tail.rfind(b"OggS", 0, index)
    return True


#: What libsndfile must find in a file sniffed as each container.
_SNDFILE_FORMATS = {
    "ogg-vorbis": ("OGG", "VORBIS"),
    "ogg-opus": ("OGG", "OPUS"),
    "mp3": ("MP3", None),
}


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
    with _opened(source, name=name) as handle:
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
        expected_format, expected_subtype = _SNDFILE_FORMATS[sniffed]
        if info.format != expected_format or expected_subtype not in (None, info.subtype):
            raise _fail(
                AudioErrorCode.CORRUPT,
                name,
                f"looks like {sniffed} but decodes as {info.format} {info.subtype}.",
            )
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


def _check_complete(handle: BinaryIO, *, header: AudioHeader, name: str, limits: Limits) -> None:
    """Refuse an Ogg or MP3 file whose end is missing (their headers may not say)."""
    size = _file_size(handle)
    if header.container.startswith("ogg"):
        truncated = _ogg_is_truncated(handle, file_size=size)
        what = "its Ogg stream ends without its final page"
    elif header.container == "mp3":
        cap = int(limits.max_duration_s * header.sample_rate_hz) + 1
        truncated = _mp3_is_truncated(handle, file_size=size, max_frames=cap)
        what = "its last MP3 frame is cut short"
    else:
        return
    handle.seek(0)
    if truncated:
        raise _fail(
            AudioErrorCode.CORRUPT,
            name,
            f"is truncated: {what}; re-export it as a complete file.",
        )


#: Frames decoded at a time: a few hundred kB, so channels are mixed while in cache.
_DECODE_BLOCK_FRAMES = 1 << 15


def _decode_mono(
    handle: BinaryIO, *, header: AudioHeader, name: str, limits: Limits, sample_rate_hz: int
) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Decode at most the header's frames (and the duration cap) at ``sample_rate_hz``.

    Blocks are mixed to mono and resampled as they are decoded, and the
    channels of a file with more than one are kept beside the mix (resampled
    by their own stream, so the mix is exactly what it was before channels
    were kept). Returns the mono mix, the channels (None for a mono file) and
    the peak of the mono mix before resampling.
    """
    assert header.frames is not None
    rate, channels = header.sample_rate_hz, header.channels
    cap = int(limits.max_duration_s * rate) + 1
    wanted = min(header.frames, cap)
    # libsndfile 1.2.2's MP3 decoder returns misplaced samples when a file is
    # read in more than one call, so an MP3 is decoded in one block.
    block_frames = min(wanted if header.container == "mp3" else _DECODE_BLOCK_FRAMES, wanted)
    resampler = (
        None
        if rate == sample_rate_hz
        else soxr.ResampleStream(rate, sample_rate_hz, 1, dtype="float32", quality="HQ")
    )
    # Without resampling, blocks are mixed straight into the result.
    mono = np.empty(wanted if resampler is None else block_frames, dtype=np.float32)
    parts: list[np.ndarray] = []
    keep = channels > 1
    multi_resampler = (
        soxr.ResampleStream(rate, sample_rate_hz, channels, dtype="float32", quality="HQ")
        if keep and resampler is not None
        else None
    )
    kept = np.empty(
        (wanted if resampler is None else block_frames, channels) if keep else (0, 1),
        dtype=np.float32,
    )
    kept_parts: list[np.ndarray] = []
    filled = 0
    peak = 0.0
    try:
        with sf.SoundFile(handle) as sound:
            if sound.samplerate != rate or sound.channels != channels:
                raise _fail(AudioErrorCode.CORRUPT, name, "has contradictory header fields.")
            # 16-bit PCM is read as integers, several times faster than libsndfile's
            # conversion, and scaled here by the same 1/32768: the result is the same.
            integer = sound.subtype == "PCM_16"
            scale = np.float32((1.0 / 32768.0 if integer else 1.0) / channels)
            channel_scale = np.float32(1.0 / 32768.0 if integer else 1.0)
            block = np.empty((block_frames, channels), dtype=np.int16 if integer else np.float32)
            while filled < wanted:
                count = min(block_frames, wanted - filled)
                data = sound.read(count, dtype=block.dtype.name, out=block[:count])
                got = len(data)
                if got == 0:
                    break
                target = mono[filled : filled + got] if resampler is None else mono[:got]
                if channels == 1:
                    np.multiply(data[:, 0], scale, out=target, dtype=np.float32)
                else:
                    np.add(data[:, 0], data[:, 1], out=target, dtype=np.float32)
                    for channel in range(2, channels):
                        target += data[:, channel]
                    target *= scale
                # A NaN or infinity in any channel survives the mix to mono.
                block_peak = float(np.max(np.abs(target)))
                if not math.isfinite(block_peak):
                    raise _fail(
                        AudioErrorCode.NON_FINITE,
                        name,
                        "contains NaN or infinite samples; only finite audio.",
                    )
                peak = max(peak, block_peak)
                if keep:
                    kept_target = kept[filled : filled + got] if resampler is None else kept[:got]
                    np.multiply(data, channel_scale, out=kept_target, dtype=np.float32)
                    if multi_resampler is not None:
                        kept_parts.append(multi_resampler.resample_chunk(kept_target, last=False))
                if resampler is not None:
                    parts.append(resampler.resample_chunk(target, last=False))
                filled += got
                if got < count:
                    break
    except (sf.LibsndfileError, RuntimeError) as error:
        raise _fail(AudioErrorCode.CORRUPT, name, f"could not be decoded ({error}).") from error
    decoded_s = filled / rate
    if header.frames / rate - decoded_s > limits.truncation_tolerance_s:
        raise _fail(
            AudioErrorCode.CORRUPT,
            name,
            f"is truncated: its header promises {header.frames / rate:.1f} s "
            f"but only {decoded_s:.1f} s could be decoded.",
        )
    if resampler is None:
        return mono[:filled], kept[:filled] if keep else None, peak
    parts.append(resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
    samples = np.concatenate(parts).astype(np.float32, copy=False)
    if multi_resampler is None:
        return samples, None, peak
    kept_parts.append(
        multi_resampler.resample_chunk(np.zeros((0, channels), dtype=np.float32), last=True)
    )
    resampled = np.concatenate(kept_parts).astype(np.float32, copy=False)
    # Both streams run the same filter; trim any sample of difference in length.
    return samples, _fit_length(resampled, frames=len(samples)), peak


def _fit_length(channels: np.ndarray, *, frames: int) -> np.ndarray:
    """Cut or zero-pad ``channels`` to ``frames`` rows."""
    if len(channels) >= frames:
        return channels[:frames]
    padding = np.zeros((frames - len(channels), channels.shape[1]), dtype=channels.dtype)
    return np.concatenate([channels, padding])


def load_audio(
    source: Source,
    *,
    name: str = "file",
    sample_rate_hz: int = ANALYSIS_SAMPLE_RATE_HZ,
    limits: Limits = DEFAULT_LIMITS,
) -> DecodedAudio:
    """Check, decode, mix to mono (keeping the channels) and resample an audio file.

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
        Mono float32 samples (the mean of the channels, i.e. the mid signal),
        and the channels themselves when there is more than one.

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
    with _opened(source, name=name) as handle:
        # An Ogg or MP3 length comes from the file's last page or from its bitrate,
        # so a cut file would pass for a short one: look for the cut first.
        _check_complete(handle, header=header, name=name, limits=limits)
    check_header(header, name=name, limits=limits)
    with _opened(source, name=name) as handle:
        mono, kept, peak = _decode_mono(
            handle, header=header, name=name, limits=limits, sample_rate_hz=sample_rate_hz
        )
    if peak < 1e-5:
        raise _fail(
            AudioErrorCode.SILENT,
            name,
            "is digitally silent (its mono mix peaks below -100 dBFS); nothing to analyse.",
        )
    return DecodedAudio(samples=mono, sample_rate_hz=sample_rate_hz, header=header, channels=kept)


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
