"""Crest factors, PSR and the limiting estimate; width and correlation per octave band."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.audio.dynamics import limiting_difference_db
from app.audio.loudness import frame_spectra
from app.audio.measures import MasterMeasures, measure_master
from app.audio.stereo import OCTAVE_CENTRES_HZ, measure_stereo

pedalboard = pytest.importorskip("pedalboard")

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def music() -> tuple[np.ndarray, int]:
    """Seven seconds of real, dynamic stereo music, its peak at -1 dBFS."""
    audio, rate = sf.read(DATA / "hexahop-game1.flac", dtype="float32")
    return audio * np.float32(10 ** (-1 / 20) / np.max(np.abs(audio))), rate


def measured(audio: np.ndarray, rate: int) -> MasterMeasures:
    return measure_master(audio, sample_rate_hz=rate)


def through(board: object, audio: np.ndarray, rate: int) -> np.ndarray:
    return board(audio.T.copy(), rate).T  # type: ignore[operator]


def test_a_gain_change_leaves_the_dynamics_alone(music: tuple[np.ndarray, int]) -> None:
    audio, rate = music
    reference, louder = measured(audio, rate), measured(audio * np.float32(2.0), rate)
    assert louder.loudness.integrated_lufs - reference.loudness.integrated_lufs == pytest.approx(
        6.02, abs=0.01
    )
    assert limiting_difference_db(
        reference=reference.dynamics, candidate=louder.dynamics
    ) == pytest.approx(0.0, abs=0.05)
    for ref, cand in zip(reference.dynamics.bands, louder.dynamics.bands, strict=True):
        assert cand.crest_db == pytest.approx(ref.crest_db, abs=0.01)


def test_harder_limiting_reads_as_more_limiting(music: tuple[np.ndarray, int]) -> None:
    """pedalboard's Limiter at the peak level, driven 3 to 12 dB: the estimate follows the drive."""
    audio, rate = music
    reference = measured(audio, rate)
    estimates = []
    for drive_db in (0.0, 3.0, 6.0, 9.0, 12.0):
        board = pedalboard.Pedalboard(
            [pedalboard.Gain(gain_db=drive_db), pedalboard.Limiter(threshold_db=-1.0)]
        )
        candidate = measured(through(board, audio, rate), rate)
        estimates.append(
            limiting_difference_db(reference=reference.dynamics, candidate=candidate.dynamics)
        )
    # JUCE's limiter has a 4:1 compressor at -10 dBFS before its brick wall: it
    # squashes even undriven, then every 3 dB of drive takes about 1 dB more.
    assert 2.0 < estimates[0] < 6.0, estimates
    assert np.all(np.diff(estimates) > 0.5), estimates
    assert estimates[-1] - estimates[0] > 3.0, estimates


def test_a_fast_compressor_reads_as_more_compression(music: tuple[np.ndarray, int]) -> None:
    audio, rate = music
    reference = measured(audio, rate)
    board = pedalboard.Compressor(threshold_db=-30.0, ratio=8.0, attack_ms=0.5, release_ms=50.0)
    candidate = measured(through(board, audio, rate), rate)
    assert limiting_difference_db(reference=reference.dynamics, candidate=candidate.dynamics) > 1.0
    crest_drop = [
        ref.crest_db - cand.crest_db
        for ref, cand in zip(reference.dynamics.bands, candidate.dynamics.bands, strict=True)
    ]
    assert np.median(crest_drop) > 1.0, crest_drop


def mid_side_wider_above(audio: np.ndarray, rate: int, *, cutoff_hz: float, gain_db: float):
    """Boost the side signal above `cutoff_hz` with pedalboard's high shelf on S."""
    mid = (audio[:, 0] + audio[:, 1]) / 2
    side = (audio[:, 0] - audio[:, 1]) / 2
    shelf = pedalboard.HighShelfFilter(cutoff_frequency_hz=cutoff_hz, gain_db=gain_db)
    side = shelf(side[None, :].copy(), rate)[0]
    return np.stack([mid + side, mid - side], axis=1).astype(np.float32)


def test_a_side_boost_above_2khz_widens_only_the_bands_above(
    music: tuple[np.ndarray, int],
) -> None:
    audio, rate = music
    reference = measure_stereo(frame_spectra(audio, sample_rate_hz=rate))
    wider = mid_side_wider_above(audio, rate, cutoff_hz=2000.0, gain_db=6.0)
    candidate = measure_stereo(frame_spectra(wider, sample_rate_hz=rate))
    assert reference is not None and candidate is not None
    for nominal, ref, cand in zip(OCTAVE_CENTRES_HZ, reference.bands, candidate.bands, strict=True):
        change = cand.width_db - ref.width_db
        # The 16 kHz band of this Vorbis-coded clip holds almost nothing but noise.
        if 4000 <= nominal <= 8000:
            assert change > 4.5, (nominal, change)
        elif nominal <= 500:
            assert abs(change) < 0.5, (nominal, change)


def test_width_and_correlation_of_known_images(rng: np.random.Generator) -> None:
    rate = 44_100
    noise = rng.standard_normal((2, 5 * rate)).astype(np.float32)
    cases = {
        "dual mono": (np.stack([noise[0], noise[0]], 1), -60.0, 1.0),
        "independent": (np.stack([noise[0], noise[1]], 1), 0.0, 0.0),
        "side only": (np.stack([noise[0], -noise[0]], 1), 60.0, -1.0),
        "panned": (np.stack([1.5 * noise[0], 0.5 * noise[0]], 1), -6.02, 1.0),
    }
    for name, (audio, width_db, correlation) in cases.items():
        stereo = measure_stereo(frame_spectra(audio, sample_rate_hz=rate))
        assert stereo is not None
        assert stereo.correlation == pytest.approx(correlation, abs=0.05), name
        band = stereo.bands[4]
        assert band.width_db == pytest.approx(width_db, abs=0.5 if abs(width_db) < 60 else 25), name
        assert band.mono_problem == (correlation < -0.5), name


def test_a_mono_file_has_no_stereo_image() -> None:
    tone = np.sin(np.arange(44_100 * 5) / 10).astype(np.float32)
    assert measure_master(tone[:, None], sample_rate_hz=44_100).stereo is None
