"""The loudness meter against the EBU test cases, pyloudnorm and ffmpeg's ebur128 on real music."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from app.audio.loudness import (
    block_true_peaks,
    frame_spectra,
    k_weighting_sos,
    measure_loudness,
)

DATA = Path(__file__).resolve().parent.parent / "data"
CLIPS = sorted(DATA.glob("*.flac"))
FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed")


def stereo_sine(
    levels_dbfs: list[tuple[float, float]], *, sample_rate_hz: int = 48_000, frequency_hz=1000.0
) -> np.ndarray:
    """A 1 kHz stereo sine in segments of (level dBFS, seconds), as EBU Tech 3341/3342 build it."""
    parts = []
    start = 0
    for level_dbfs, seconds in levels_dbfs:
        n = int(round(seconds * sample_rate_hz))
        t = (start + np.arange(n)) / sample_rate_hz
        parts.append(10 ** (level_dbfs / 20) * np.sin(2 * np.pi * frequency_hz * t))
        start += n
    tone = np.concatenate(parts)
    return np.stack([tone, tone], axis=1)


def test_k_weighting_matches_the_coefficients_printed_in_bs1770() -> None:
    sos = k_weighting_sos(sample_rate_hz=48_000)
    np.testing.assert_allclose(
        sos[0], [1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0,
                 -1.69065929318241, 0.73248077421585], atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(
        sos[1], [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621], atol=1e-6
    )


# EBU Tech 3341 (integrated loudness, -23 LUFS expected, +-0.1 LU) cases that can be synthesised.
EBU_3341 = {
    "case 1: -23 dBFS": ([(-23.0, 20.0)], -23.0),
    "case 2: -33 dBFS": ([(-33.0, 20.0)], -33.0),
    "case 3: relative gate": ([(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)], -23.0),
    "case 4: both gates": (
        [(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)],
        -23.0,
    ),
    "case 5: steps": ([(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)], -23.0),
}


@pytest.mark.parametrize("sample_rate_hz", [44_100, 48_000])
@pytest.mark.parametrize("case", list(EBU_3341))
def test_ebu_3341_integrated_loudness(case: str, sample_rate_hz: int) -> None:
    segments, expected_lufs = EBU_3341[case]
    audio = stereo_sine(segments, sample_rate_hz=sample_rate_hz)
    measured = measure_loudness(audio, sample_rate_hz=sample_rate_hz)
    assert measured.integrated_lufs == pytest.approx(expected_lufs, abs=0.1)


def test_ebu_3341_short_term_and_momentary_of_a_steady_tone() -> None:
    measured = measure_loudness(stereo_sine([(-23.0, 20.0)]), sample_rate_hz=48_000)
    assert measured.momentary_max_lufs == pytest.approx(-23.0, abs=0.1)
    assert measured.short_term_max_lufs == pytest.approx(-23.0, abs=0.1)
    assert np.all(np.abs(measured.short_term_lufs - -23.0) < 0.1)


# EBU Tech 3342 loudness range cases (expected LRA +-1 LU).
EBU_3342 = {
    "case 1": ([(-20.0, 20.0), (-30.0, 20.0)], 10.0),
    "case 2": ([(-20.0, 20.0), (-15.0, 20.0)], 5.0),
    "case 3": ([(-40.0, 20.0), (-20.0, 20.0)], 20.0),
    "case 4": ([(-50.0, 20.0), (-35.0, 20.0), (-20.0, 20.0), (-35.0, 20.0), (-50.0, 20.0)], 15.0),
}


@pytest.mark.parametrize("case", list(EBU_3342))
def test_ebu_3342_loudness_range(case: str) -> None:
    segments, expected_lu = EBU_3342[case]
    measured = measure_loudness(stereo_sine(segments), sample_rate_hz=48_000)
    assert measured.loudness_range_lu == pytest.approx(expected_lu, abs=1.0)


@pytest.mark.parametrize("frequency_hz", [997.0, 4000.0, 8000.0, 11025.0])
@pytest.mark.parametrize("phase", [0.0, 0.4, math.pi / 4])
def test_true_peak_finds_the_peak_between_samples(frequency_hz: float, phase: float) -> None:
    """A quarter-rate sine at 45 degrees has samples 3 dB under its peak; the meter finds it."""
    rate = 44_100
    t = np.arange(rate) / rate
    tone = 0.5 * np.sin(2 * np.pi * frequency_hz * t + phase)
    # Faded in and out: an abrupt start overshoots (Gibbs) in any true-peak meter.
    fade = np.hanning(2 * 2205)
    tone[:2205] *= fade[:2205]
    tone[-2205:] *= fade[2205:]
    measured = measure_loudness(tone.astype(np.float32), sample_rate_hz=rate)
    assert measured.true_peak_dbtp == pytest.approx(20 * math.log10(0.5), abs=0.2)
    assert measured.true_peak_dbtp >= measured.sample_peak_dbfs - 1e-6


def test_true_peak_of_each_block_is_at_least_its_sample_peak(rng: np.random.Generator) -> None:
    samples = rng.standard_normal(44_100).astype(np.float32)
    sample_peaks, true_peaks = block_true_peaks(samples.reshape(10, -1))
    np.testing.assert_allclose(sample_peaks, np.abs(samples).reshape(10, -1).max(axis=1))
    assert np.all(true_peaks >= sample_peaks)


def test_silence_reads_minus_infinity_without_warnings() -> None:
    measured = measure_loudness(np.zeros((44_100 * 5, 2), np.float32), sample_rate_hz=44_100)
    assert measured.integrated_lufs == -math.inf
    assert measured.loudness_range_lu == 0.0


@pytest.mark.parametrize("clip", CLIPS, ids=[c.name for c in CLIPS])
def test_integrated_loudness_agrees_with_pyloudnorm(clip: Path) -> None:
    audio, rate = sf.read(clip, dtype="float64")
    expected = pyloudnorm.Meter(rate).integrated_loudness(audio)
    measured = measure_loudness(audio.astype(np.float32), sample_rate_hz=rate)
    assert measured.integrated_lufs == pytest.approx(expected, abs=0.1)


def test_frame_spectra_hold_the_signals_energy(rng: np.random.Generator) -> None:
    audio = rng.standard_normal((44_100, 2)).astype(np.float32)
    frames = frame_spectra(audio, sample_rate_hz=44_100)
    energy = (frames.power.sum(axis=1) * frames.bin_weights).sum(axis=1)
    np.testing.assert_allclose(energy, (audio.astype(np.float64) ** 2).sum(axis=0), rtol=1e-4)


def ebur128(path: Path) -> dict[str, float]:
    """ffmpeg's ebur128 (peak=true) final integrated loudness, LRA and true peak (dBTP)."""
    run = subprocess.run(
        [FFMPEG or "ffmpeg", "-nostats", "-hide_banner", "-i", str(path), "-af",
         "ebur128=metadata=1:peak=true,ametadata=mode=print:file=-", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    last: dict[str, float] = {}
    for key, value in re.findall(r"lavfi\.r128\.(I|LRA|true_peak)=(-?[\d.]+)", run.stdout):
        last[key] = float(value)
    return {
        "integrated_lufs": last["I"],
        "loudness_range_lu": last["LRA"],
        "true_peak_dbtp": 20 * math.log10(last["true_peak"]),
    }


def limited(clip: Path, tmp_path: Path, *, threshold_db: float) -> Path:
    """The clip through pedalboard's limiter (JUCE's, no true-peak control): inter-sample overs."""
    pedalboard = pytest.importorskip("pedalboard")
    audio, rate = sf.read(clip, dtype="float32")
    out = pedalboard.Limiter(threshold_db=threshold_db, release_ms=100)(audio.T.copy(), rate).T
    path = tmp_path / f"limited-{clip.stem}.wav"
    sf.write(path, out, rate, subtype="FLOAT")
    return path


@needs_ffmpeg
@pytest.mark.parametrize("clip", CLIPS, ids=[c.name for c in CLIPS])
@pytest.mark.parametrize("threshold_db", [None, -8.0])
def test_agrees_with_ffmpeg_ebur128_on_real_music(
    clip: Path, threshold_db: float | None, tmp_path: Path
) -> None:
    """Within 0.1 LU integrated, 0.2 dB true peak and 0.5 LU loudness range."""
    path = clip if threshold_db is None else limited(clip, tmp_path, threshold_db=threshold_db)
    audio, rate = sf.read(path, dtype="float32")
    measured = measure_loudness(audio, sample_rate_hz=rate)
    expected = ebur128(path)
    assert measured.integrated_lufs == pytest.approx(expected["integrated_lufs"], abs=0.1)
    assert measured.true_peak_dbtp == pytest.approx(expected["true_peak_dbtp"], abs=0.2)
    assert measured.loudness_range_lu == pytest.approx(expected["loudness_range_lu"], abs=0.5)
