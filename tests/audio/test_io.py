"""Decoding, mixing down and resampling uploads, and refusing every hostile input with its code."""

from __future__ import annotations

import io
import struct
import subprocess
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.audio.errors import AudioError, AudioErrorCode
from app.audio.io import (
    ANALYSIS_SAMPLE_RATE_HZ,
    Limits,
    check_header,
    load_audio,
    load_path,
    read_header,
    resample,
)

needs_ffmpeg = pytest.mark.needs("ffmpeg")


def sine(
    frequency_hz: float,
    *,
    duration_s: float = 6.0,
    sample_rate_hz: int = 44_100,
    level_db: float = -10.0,
) -> np.ndarray:
    """A float32 sine whose peak is ``level_db`` dBFS."""
    t = np.arange(int(duration_s * sample_rate_hz)) / sample_rate_hz
    return (10 ** (level_db / 20) * np.sin(2 * np.pi * frequency_hz * t)).astype(np.float32)


def rms_db(samples: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(samples, dtype=np.float64))))


def peak_frequency_hz(samples: np.ndarray, sample_rate_hz: int) -> float:
    """Frequency of the strongest component, refined by parabolic interpolation."""
    n = len(samples)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(n), 8 * n))
    k = int(np.argmax(spectrum))
    a, b, c = np.log(spectrum[k - 1 : k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sample_rate_hz / (8 * n)


def middle(
    samples: np.ndarray, *, seconds: float = 1.0, sample_rate_hz: int = 44_100
) -> np.ndarray:
    """A ``seconds`` long excerpt from the middle, away from codec and filter edges."""
    half = int(seconds * sample_rate_hz) // 2
    centre = len(samples) // 2
    return samples[centre - half : centre + half]


def encode(samples: np.ndarray, *, sample_rate_hz: int, format: str, subtype: str) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, sample_rate_hz, format=format, subtype=subtype)
    return buffer.getvalue()


def wav_bytes(
    *,
    channels: int = 1,
    sample_rate_hz: int = 44_100,
    bits: int = 16,
    audio_format: int = 1,
    data: bytes = b"",
    data_size: int | None = None,
) -> bytes:
    """A canonical 44-byte-header WAV file, with any field as hostile as wanted."""
    block_align = channels * bits // 8
    fmt = struct.pack(
        "<HHIIHH",
        audio_format,
        channels,
        sample_rate_hz,
        (sample_rate_hz * block_align) & 0xFFFFFFFF,
        block_align & 0xFFFF,
        bits,
    )
    size = len(data) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def ffmpeg_encode(tmp_path: Path, samples: np.ndarray, *args: str, suffix: str) -> bytes:
    """Encode with ffmpeg (an independent encoder, with its own tags and framing)."""
    source, target = tmp_path / "ffmpeg-in.wav", tmp_path / f"ffmpeg-out{suffix}"
    sf.write(source, samples, 44_100, subtype="PCM_16")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", source, *args, target], check=True)
    return target.read_bytes()


def ffmpeg_decode(tmp_path: Path, data: bytes, *, suffix: str) -> np.ndarray:
    """Decode with ffmpeg to mono float at 44.1 kHz, an independent reference."""
    source, target = tmp_path / f"ffmpeg-ref{suffix}", tmp_path / "ffmpeg-ref.wav"
    source.write_bytes(data)
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", source]
        + ["-ac", "1", "-ar", "44100", "-c:a", "pcm_f32le", target],
        check=True,
    )
    samples, _ = sf.read(target, dtype="float32")
    return np.asarray(samples)


# --- decoding ------------------------------------------------------------------------------------

#: (format, subtype, sample rate, level tolerance dB): lossless formats must be exact.
FORMATS = [
    pytest.param("WAV", "PCM_16", 44_100, 0.01, id="wav-int16"),
    pytest.param("WAV", "PCM_24", 44_100, 0.01, id="wav-int24"),
    pytest.param("WAV", "PCM_32", 44_100, 0.01, id="wav-int32"),
    pytest.param("WAV", "FLOAT", 44_100, 0.01, id="wav-float32"),
    pytest.param("FLAC", "PCM_16", 44_100, 0.01, id="flac-16"),
    pytest.param("FLAC", "PCM_24", 48_000, 0.01, id="flac-24-48k"),
    pytest.param("OGG", "VORBIS", 44_100, 0.3, id="ogg-vorbis"),
    pytest.param("OGG", "OPUS", 48_000, 0.3, id="opus"),
    pytest.param("MP3", "MPEG_LAYER_III", 44_100, 0.3, id="mp3"),
]


@pytest.mark.parametrize(("format", "subtype", "sample_rate_hz", "tolerance_db"), FORMATS)
@pytest.mark.parametrize("as_file_object", [False, True], ids=["path", "file-object"])
@pytest.mark.parametrize("channels", [1, 2])
def test_decodes_every_supported_format(
    tmp_path: Path,
    format: str,
    subtype: str,
    sample_rate_hz: int,
    tolerance_db: float,
    as_file_object: bool,
    channels: int,
) -> None:
    tone = sine(1000.0, sample_rate_hz=sample_rate_hz)
    audio = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    data = encode(audio, sample_rate_hz=sample_rate_hz, format=format, subtype=subtype)
    path = tmp_path / f"take.{format.lower()}"
    path.write_bytes(data)
    stream = io.BytesIO(data)
    if as_file_object:
        stream.seek(5)  # wherever the caller left it: decoding starts at 0 and puts it back
        decoded = load_audio(stream, name="take")
        assert stream.tell() == 5
    else:
        decoded = load_path(path)

    assert decoded.header.sample_rate_hz == sample_rate_hz
    assert decoded.header.channels == channels
    assert decoded.header.lossy == (format in ("OGG", "MP3"))
    assert decoded.sample_rate_hz == ANALYSIS_SAMPLE_RATE_HZ
    assert decoded.samples.dtype == np.float32 and decoded.samples.ndim == 1
    assert decoded.duration_s == pytest.approx(6.0, abs=0.05)
    excerpt = middle(decoded.samples)
    assert rms_db(excerpt) == pytest.approx(-10.0 - 3.0103, abs=tolerance_db)
    assert peak_frequency_hz(excerpt, ANALYSIS_SAMPLE_RATE_HZ) == pytest.approx(1000.0, abs=0.5)
    if sample_rate_hz == ANALYSIS_SAMPLE_RATE_HZ and tolerance_db < 0.1:
        np.testing.assert_allclose(decoded.samples, tone, atol=2e-4)


@pytest.mark.parametrize("container", ["ogg-vorbis", "ogg-opus", "mp3"])
def test_libsndfile_reports_the_exact_length_of_lossy_files(container: str) -> None:
    format, subtype, rate = {
        "ogg-vorbis": ("OGG", "VORBIS", 44_100),
        "ogg-opus": ("OGG", "OPUS", 48_000),
        "mp3": ("MP3", "MPEG_LAYER_III", 44_100),
    }[container]
    data = encode(
        sine(440.0, sample_rate_hz=rate), sample_rate_hz=rate, format=format, subtype=subtype
    )
    header = read_header(io.BytesIO(data))
    assert header.container == container
    # Vorbis and Opus: the last page's granule position; MP3: the Xing/LAME frame count.
    assert header.frames == 6 * rate


@needs_ffmpeg
@pytest.mark.parametrize(
    ("args", "suffix", "container"),
    [
        (("-b:a", "128k"), ".mp3", "mp3"),
        (("-b:a", "128k", "-write_xing", "0"), ".mp3", "mp3"),
        (("-c:a", "libvorbis"), ".ogg", "ogg-vorbis"),
        (("-c:a", "libopus"), ".opus", "ogg-opus"),
        (("-c:a", "flac"), ".flac", "flac"),
    ],
    ids=["mp3-id3-xing", "mp3-id3-no-xing", "vorbis", "opus", "flac"],
)
def test_decodes_files_made_by_ffmpeg(
    tmp_path: Path, args: tuple[str, ...], suffix: str, container: str
) -> None:
    data = ffmpeg_encode(tmp_path, sine(1000.0), *args, suffix=suffix)
    decoded = load_audio(io.BytesIO(data), name="ffmpeg")
    assert decoded.header.container == container
    # Without a Xing frame count libsndfile estimates MP3 length from the bitrate.
    assert decoded.duration_s == pytest.approx(6.0, abs=0.1)
    # ffmpeg's own decoder is the reference for level (its MP3 encoder loses ~0.45 dB).
    reference = ffmpeg_decode(tmp_path, data, suffix=suffix)
    excerpt = middle(decoded.samples)
    assert rms_db(excerpt) == pytest.approx(rms_db(middle(reference)), abs=0.05)
    assert rms_db(excerpt) == pytest.approx(-13.01, abs=0.6)
    assert peak_frequency_hz(excerpt, 44_100) == pytest.approx(1000.0, abs=0.5)


@pytest.mark.parametrize("channels", [2, 3, 6, 8])
def test_mixes_every_channel_down_to_their_mean(tmp_path: Path, channels: int) -> None:
    rng = np.random.default_rng(channels)
    audio = (0.1 * rng.standard_normal((6 * 44_100, channels))).astype(np.float32)
    path = tmp_path / "multi.wav"
    sf.write(path, audio, 44_100, subtype="FLOAT")
    decoded = load_path(path)
    np.testing.assert_allclose(decoded.samples, audio.mean(axis=1), atol=1e-6)


def test_decoding_reads_no_more_than_the_header_promises(tmp_path: Path) -> None:
    """A FLAC whose header says 6 s but holds 20 s gives 6 s: reads are capped by the header."""
    data = bytearray(
        encode(sine(440.0, duration_s=20.0), sample_rate_hz=44_100, format="FLAC", subtype="PCM_16")
    )
    patch_flac_total_samples(data, 6 * 44_100)
    decoded = load_audio(io.BytesIO(bytes(data)))
    assert len(decoded.samples) == 6 * 44_100


def test_memory_holds_one_mono_copy_at_the_analysis_rate() -> None:
    """A 192 kHz 4-channel file is mixed and resampled block by block as it decodes."""
    rate, seconds = 192_000, 20
    audio = (0.2 * np.random.default_rng(4).standard_normal((rate * seconds, 4))).astype(np.float32)
    stream = io.BytesIO(encode(audio, sample_rate_hz=rate, format="WAV", subtype="PCM_16"))
    del audio
    tracemalloc.start()
    try:
        decoded = load_audio(stream)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert decoded.samples.nbytes == 44_100 * seconds * 4
    assert decoded.channel_samples.shape == (len(decoded.samples), 4)
    # The mono mix and the kept channels at 44.1 kHz, and their resampled blocks: one float32
    # copy of the four channels at 192 kHz alone would take 61 MB.
    kept = decoded.samples.nbytes + decoded.channel_samples.nbytes
    assert peak_bytes < 2.5 * kept < rate * seconds * 4 * 4


# --- resampling ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sample_rate_hz", [8_000, 11_025, 16_000, 22_050, 32_000, 48_000, 88_200, 96_000, 192_000]
)
@pytest.mark.parametrize("frequency_hz", [100.0, 1000.0, 3500.0])
def test_resampling_keeps_frequency_and_level(
    tmp_path: Path, sample_rate_hz: int, frequency_hz: float
) -> None:
    path = tmp_path / "tone.wav"
    sf.write(
        path,
        sine(frequency_hz, duration_s=5.5, sample_rate_hz=sample_rate_hz),
        sample_rate_hz,
        subtype="FLOAT",
    )
    decoded = load_path(path)
    assert decoded.sample_rate_hz == 44_100
    assert len(decoded.samples) == pytest.approx(5.5 * 44_100, abs=2)
    excerpt = middle(decoded.samples)
    assert peak_frequency_hz(excerpt, 44_100) == pytest.approx(frequency_hz, abs=0.1)
    assert rms_db(excerpt) == pytest.approx(-13.0103, abs=0.01)


@pytest.mark.parametrize(
    ("from_hz", "frequency_hz"), [(96_000, 30_000.0), (192_000, 70_000.0), (48_000, 23_000.0)]
)
def test_resampling_filters_what_would_alias(from_hz: int, frequency_hz: float) -> None:
    """A proper resampler removes content above the new Nyquist; naive decimation folds it down."""
    tone = sine(frequency_hz, duration_s=2.0, sample_rate_hz=from_hz, level_db=0.0)
    out = resample(tone, from_hz=from_hz, to_hz=44_100)
    assert out.dtype == np.float32
    assert rms_db(middle(out)) < -90.0


def test_resampling_a_stereo_block_keeps_its_shape() -> None:
    stereo = np.stack([sine(500.0, sample_rate_hz=48_000)] * 2, axis=1)
    out = resample(stereo, from_hz=48_000, to_hz=44_100)
    assert out.shape == (6 * 44_100, 2)
    assert resample(out, from_hz=44_100, to_hz=44_100) is not None


# --- hostile input -------------------------------------------------------------------------------


def patch_flac_total_samples(data: bytearray, total_samples: int) -> None:
    """Overwrite STREAMINFO's 36-bit total sample count (bytes 18-25 of a plain FLAC file)."""
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0
    packed = int.from_bytes(data[18:26], "big")
    packed = (packed & ~((1 << 36) - 1)) | total_samples
    data[18:26] = packed.to_bytes(8, "big")


def flac_of_unknown_length() -> bytes:
    data = bytearray(encode(sine(440.0), sample_rate_hz=44_100, format="FLAC", subtype="PCM_16"))
    patch_flac_total_samples(data, 0)
    return bytes(data)


def flac_over_15_min_by_header() -> bytes:
    data = bytearray(encode(sine(440.0), sample_rate_hz=44_100, format="FLAC", subtype="PCM_16"))
    patch_flac_total_samples(data, 16 * 60 * 44_100)
    return bytes(data)


def nine_channel_wav() -> bytes:
    return encode(
        np.tile(sine(440.0)[:, None], (1, 9)), sample_rate_hz=44_100, format="WAV", subtype="PCM_16"
    )


def float_wav_with(value: float) -> bytes:
    tone = sine(440.0)
    tone[44_100 * 3] = value
    return encode(tone, sample_rate_hz=44_100, format="WAV", subtype="FLOAT")


def cut_in_half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def lossy(format: str, subtype: str, rate: int = 44_100) -> bytes:
    return encode(
        sine(440.0, duration_s=12.0, sample_rate_hz=rate),
        sample_rate_hz=rate,
        format=format,
        subtype=subtype,
    )


TONE_16 = pcm16(sine(440.0))

#: name, the file's bytes, the code it must get, a fragment naming the limit.
HOSTILE: list[tuple[str, Callable[[], bytes], AudioErrorCode, str]] = [
    ("zero-bytes", lambda: b"", AudioErrorCode.EMPTY, "0 bytes"),
    (
        "random-bytes",
        lambda: np.random.default_rng(1).bytes(100_000),
        AudioErrorCode.UNSUPPORTED_FORMAT,
        "WAV, FLAC",
    ),
    (
        "text-file",
        lambda: b"Title,Artist\nSong,Band\n" * 500,
        AudioErrorCode.UNSUPPORTED_FORMAT,
        "WAV, FLAC",
    ),
    (
        "html-page",
        lambda: b"<!doctype html><html><body>not audio</body></html>",
        AudioErrorCode.UNSUPPORTED_FORMAT,
        "WAV, FLAC",
    ),
    ("header-only-wav", lambda: wav_bytes(), AudioErrorCode.EMPTY, "no audio"),
    (
        "header-only-wav-claiming-10s",
        lambda: wav_bytes(data_size=10 * 88_200),
        AudioErrorCode.EMPTY,
        "no audio",
    ),
    (
        "riff-without-wave",
        lambda: b"RIFF\x10\x00\x00\x00WAVX" + b"\x00" * 100,
        AudioErrorCode.CORRUPT,
        "WAVE",
    ),
    (
        "wav-without-fmt",
        lambda: b"RIFF\x10\x00\x00\x00WAVEdata\x04\x00\x00\x00" + b"\x00" * 4,
        AudioErrorCode.CORRUPT,
        "format chunk",
    ),
    (
        "wav-adpcm",
        lambda: wav_bytes(audio_format=2, bits=4, data=TONE_16),
        AudioErrorCode.UNSUPPORTED_FORMAT,
        "sample format",
    ),
    (
        "under-5s",
        lambda: wav_bytes(data=pcm16(sine(440.0, duration_s=4.9))),
        AudioErrorCode.TOO_SHORT,
        "minimum is 5 s",
    ),
    (
        "over-15min-by-wav-header",
        lambda: wav_bytes(data=TONE_16, data_size=16 * 60 * 88_200),
        AudioErrorCode.TOO_LONG,
        "maximum is 15 min",
    ),
    (
        "over-15min-by-flac-header",
        flac_over_15_min_by_header,
        AudioErrorCode.TOO_LONG,
        "maximum is 15 min",
    ),
    ("flac-unknown-length", flac_of_unknown_length, AudioErrorCode.UNKNOWN_LENGTH, "length"),
    (
        "wav-streaming-size",
        lambda: wav_bytes(data=TONE_16, data_size=0xFFFFFFFF),
        AudioErrorCode.UNKNOWN_LENGTH,
        "length",
    ),
    (
        "rate-1hz",
        lambda: wav_bytes(sample_rate_hz=1, data=TONE_16),
        AudioErrorCode.SAMPLE_RATE,
        "8000 to 192000 Hz",
    ),
    (
        "rate-10mhz",
        lambda: wav_bytes(sample_rate_hz=10_000_000, data=TONE_16),
        AudioErrorCode.SAMPLE_RATE,
        "8000 to 192000 Hz",
    ),
    (
        "rate-0",
        lambda: wav_bytes(sample_rate_hz=0, data=TONE_16),
        AudioErrorCode.SAMPLE_RATE,
        "8000 to 192000 Hz",
    ),
    ("channels-0", lambda: wav_bytes(channels=0, data=TONE_16), AudioErrorCode.CHANNELS, "1 to 8"),
    (
        "channels-9-crafted",
        lambda: wav_bytes(channels=9, data=TONE_16 * 9),
        AudioErrorCode.CHANNELS,
        "1 to 8",
    ),
    ("channels-9-real", nine_channel_wav, AudioErrorCode.CHANNELS, "1 to 8"),
    (
        "channels-65535",
        lambda: wav_bytes(channels=65_535, bits=8, data=TONE_16),
        AudioErrorCode.CHANNELS,
        "1 to 8",
    ),
    ("nan", lambda: float_wav_with(float("nan")), AudioErrorCode.NON_FINITE, "NaN or infinite"),
    (
        "plus-inf",
        lambda: float_wav_with(float("inf")),
        AudioErrorCode.NON_FINITE,
        "NaN or infinite",
    ),
    (
        "minus-inf",
        lambda: float_wav_with(float("-inf")),
        AudioErrorCode.NON_FINITE,
        "NaN or infinite",
    ),
    (
        "digital-silence",
        lambda: wav_bytes(data=bytes(6 * 88_200)),
        AudioErrorCode.SILENT,
        "-100 dBFS",
    ),
    (
        "truncated-wav",
        lambda: wav_bytes(data=TONE_16, data_size=10 * 88_200),
        AudioErrorCode.CORRUPT,
        "truncated",
    ),
    (
        "truncated-flac",
        lambda: cut_in_half(lossy("FLAC", "PCM_16")),
        AudioErrorCode.CORRUPT,
        "decoded",
    ),
    (
        "truncated-mp3",
        lambda: cut_in_half(lossy("MP3", "MPEG_LAYER_III")),
        AudioErrorCode.CORRUPT,
        "truncated",
    ),
    (
        "truncated-ogg-vorbis",
        lambda: cut_in_half(lossy("OGG", "VORBIS")),
        AudioErrorCode.CORRUPT,
        "truncated",
    ),
    (
        "truncated-opus",
        lambda: cut_in_half(lossy("OGG", "OPUS", 48_000)),
        AudioErrorCode.CORRUPT,
        "truncated",
    ),
    (
        "ogg-of-speex-or-other",
        lambda: b"OggS\x00\x02" + bytes(22) + b"\x01\x13Speex   " + bytes(100),
        AudioErrorCode.UNSUPPORTED_FORMAT,
        "Vorbis nor Opus",
    ),
    (
        "id3-then-nothing",
        lambda: b"ID3\x04\x00\x00\x00\x00\x00\x10" + bytes(16) + b"plain text",
        AudioErrorCode.CORRUPT,
        "ID3",
    ),
]


@pytest.mark.parametrize(
    ("maker", "code", "fragment"),
    [pytest.param(*case[1:], id=case[0]) for case in HOSTILE],
)
@pytest.mark.parametrize("as_file_object", [False, True], ids=["path", "file-object"])
def test_hostile_input_gets_its_typed_error(
    tmp_path: Path,
    maker: Callable[[], bytes],
    code: AudioErrorCode,
    fragment: str,
    as_file_object: bool,
) -> None:
    data = maker()
    path = tmp_path / "upload-7.bin"
    path.write_bytes(data)
    with pytest.raises(AudioError) as caught:
        if as_file_object:
            load_audio(io.BytesIO(data), name="upload-7.bin")
        else:
            load_path(path)
    error = caught.value
    assert error.code == code, error.message
    assert error.message.startswith("upload-7.bin: ")
    assert fragment in error.message
    assert error.http_status in (413, 415, 422)


@needs_ffmpeg
@pytest.mark.parametrize(
    ("args", "suffix"),
    [
        (("-b:a", "128k"), ".mp3"),
        (("-b:a", "128k", "-write_xing", "0"), ".mp3"),
        (("-c:a", "libvorbis"), ".ogg"),
        (("-c:a", "libopus"), ".opus"),
        (("-c:a", "flac"), ".flac"),
    ],
    ids=["mp3-id3-xing", "mp3-id3-no-xing", "vorbis", "opus", "flac"],
)
@pytest.mark.parametrize("kept", [0.5, 0.8, 0.97])
def test_truncated_files_from_ffmpeg_are_refused(
    tmp_path: Path, args: tuple[str, ...], suffix: str, kept: float
) -> None:
    data = ffmpeg_encode(tmp_path, sine(1000.0, duration_s=12.0), *args, suffix=suffix)
    with pytest.raises(AudioError) as caught:
        load_audio(io.BytesIO(data[: int(len(data) * kept)]), name="cut")
    assert caught.value.code == AudioErrorCode.CORRUPT


def test_a_missing_file_or_a_folder_is_unreadable(tmp_path: Path) -> None:
    for path, reason in ((tmp_path / "gone.wav", "No such file"), (tmp_path, "directory")):
        with pytest.raises(AudioError) as caught:
            load_path(path)
        assert caught.value.code == AudioErrorCode.UNREADABLE
        assert caught.value.message.startswith(f"{path.name}: could not be opened")
        assert reason in caught.value.message


def test_check_header_names_the_limits_it_was_given() -> None:
    header = read_header(io.BytesIO(wav_bytes(data=TONE_16)))
    assert header.duration_s == pytest.approx(6.0)
    check_header(header, name="ok")
    with pytest.raises(AudioError, match="x: lasts 6.0 s; the minimum is 10 s"):
        check_header(header, name="x", limits=Limits(min_duration_s=10.0))


def test_header_is_checked_before_any_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file over the limits by its header is refused without ever opening a decoder."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the decoder was opened")

    monkeypatch.setattr(sf, "SoundFile", refuse)
    with pytest.raises(AudioError) as caught:
        load_audio(io.BytesIO(wav_bytes(data=TONE_16, data_size=16 * 60 * 88_200)))
    assert caught.value.code == AudioErrorCode.TOO_LONG


VALID_FILES = {
    "wav": lambda: wav_bytes(data=TONE_16),
    "flac": lambda: encode(sine(440.0), sample_rate_hz=44_100, format="FLAC", subtype="PCM_16"),
    "ogg": lambda: encode(sine(440.0), sample_rate_hz=44_100, format="OGG", subtype="VORBIS"),
    "opus": lambda: encode(
        sine(440.0, sample_rate_hz=48_000), sample_rate_hz=48_000, format="OGG", subtype="OPUS"
    ),
    "mp3": lambda: encode(
        sine(440.0), sample_rate_hz=44_100, format="MP3", subtype="MPEG_LAYER_III"
    ),
}


@pytest.mark.parametrize("kind", sorted(VALID_FILES))
def test_damaged_files_never_raise_anything_but_audio_error(kind: str) -> None:
    """Fuzz: overwrite bytes in the header region and the body of a valid file, or cut it."""
    valid = VALID_FILES[kind]()
    rng = np.random.default_rng(sum(map(ord, kind)))
    for trial in range(60):
        data = bytearray(valid)
        region = 64 if trial % 2 else len(data)
        for position in rng.integers(0, min(region, len(data)), size=int(rng.integers(1, 8))):
            data[position] = int(rng.integers(0, 256))
        if trial % 3 == 0:
            data = data[: int(rng.integers(1, len(data)))]
        try:
            decoded = load_audio(io.BytesIO(bytes(data)), name="fuzz")
        except AudioError as error:
            assert error.message.startswith("fuzz: ")
        else:
            assert np.isfinite(decoded.samples).all()


@pytest.mark.parametrize(
    "magic", [b"RIFF", b"RIFF\x00\x00\x00\x00WAVE", b"fLaC", b"OggS", b"ID3", b"\xff\xfb\x90\x64"]
)
def test_random_bytes_behind_a_magic_number_get_audio_error(magic: bytes) -> None:
    rng = np.random.default_rng(len(magic))
    for _ in range(20):
        data = magic + rng.bytes(int(rng.integers(0, 5_000)))
        with pytest.raises(AudioError):
            load_audio(io.BytesIO(data), name="noise")


# --- channels kept beside the mono mix -----------------------------------------------------------


def test_the_mono_mix_is_bit_for_bit_what_the_eq_features_read(rng: np.random.Generator) -> None:
    """Keeping the channels leaves the mono mix exactly as before: (L + R) / 2 of the PCM."""
    pcm = rng.integers(-20_000, 20_000, size=(6 * 44_100, 2), dtype=np.int16)
    decoded = load_audio(
        io.BytesIO(encode(pcm, sample_rate_hz=44_100, format="WAV", subtype="PCM_16"))
    )
    mono = np.add(pcm[:, 0], pcm[:, 1], dtype=np.float32) * np.float32(1 / 32768 / 2)
    np.testing.assert_array_equal(decoded.samples, mono)
    np.testing.assert_array_equal(decoded.channel_samples, pcm.astype(np.float32) / 32768)


def test_resampled_channels_mix_to_the_resampled_mono(rng: np.random.Generator) -> None:
    audio = (0.3 * rng.standard_normal((6 * 48_000, 2))).astype(np.float32)
    decoded = load_audio(
        io.BytesIO(encode(audio, sample_rate_hz=48_000, format="WAV", subtype="FLOAT"))
    )
    assert decoded.channel_samples.shape == (len(decoded.samples), 2)
    np.testing.assert_allclose(decoded.channel_samples.mean(axis=1), decoded.samples, atol=2e-6)


def test_a_mono_file_keeps_one_channel_without_a_copy() -> None:
    decoded = load_audio(
        io.BytesIO(encode(sine(440.0), sample_rate_hz=44_100, format="WAV", subtype="PCM_16"))
    )
    assert decoded.channels is None
    assert decoded.channel_samples.shape == (len(decoded.samples), 1)
    assert np.shares_memory(decoded.channel_samples, decoded.samples)
