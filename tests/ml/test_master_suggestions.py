"""The whole-master suggestion rules: the same file gets none, a level change only loudness."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.audio.measures import MasterMeasures, measure_master
from app.ml.master_suggestions import master_suggestions

pedalboard = pytest.importorskip("pedalboard")

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def music() -> tuple[np.ndarray, int]:
    """Real stereo music, its peak at -8 dBFS."""
    audio, rate = sf.read(DATA / "hexahop-game1.flac", dtype="float32")
    return audio * np.float32(10 ** (-8 / 20) / np.max(np.abs(audio))), rate


def measured(audio: np.ndarray, rate: int) -> MasterMeasures:
    return measure_master(audio, sample_rate_hz=rate)


def kinds(reference: MasterMeasures, candidate: MasterMeasures) -> list[str]:
    return [s.kind for s in master_suggestions(reference, candidate, target_lufs=-14.0)]


def test_the_same_file_gets_no_suggestion(music: tuple[np.ndarray, int]) -> None:
    audio, rate = music
    assert kinds(measured(audio, rate), measured(audio.copy(), rate)) == []


@pytest.mark.parametrize("gain_db", [-6.0, -1.5, 1.5, 6.0])
def test_a_level_change_gets_only_a_loudness_suggestion(
    music: tuple[np.ndarray, int], gain_db: float
) -> None:
    audio, rate = music
    reference = measured(audio, rate)
    candidate = measured(audio * np.float32(10 ** (gain_db / 20)), rate)
    moves = master_suggestions(reference, candidate, target_lufs=-14.0)
    assert [m.kind for m in moves] == ["loudness"]
    assert moves[0].gain_db == pytest.approx(-gain_db, abs=0.05)
    assert moves[0].action == ("decrease" if gain_db > 0 else "increase")


def test_half_a_decibel_is_not_worth_a_word(music: tuple[np.ndarray, int]) -> None:
    audio, rate = music
    quieter = audio * np.float32(10 ** (-0.5 / 20))
    assert kinds(measured(audio, rate), measured(quieter, rate)) == []


def test_a_louder_limited_candidate_hears_about_loudness_peaks_and_limiting(
    music: tuple[np.ndarray, int],
) -> None:
    """The issue's case: gain and a -1 dB limiter leave inter-sample overs above -1 dBTP."""
    audio, rate = music
    board = pedalboard.Pedalboard(
        [pedalboard.Gain(gain_db=16.0), pedalboard.Limiter(threshold_db=-1.0)]
    )
    loud = board(audio.T.copy(), rate).T
    reference, candidate = measured(audio, rate), measured(loud, rate)
    moves = master_suggestions(reference, candidate, target_lufs=-14.0)
    texts = " ".join(m.text for m in moves)
    assert [m.kind for m in moves][:3] == ["loudness", "loudness", "dynamics"], texts
    assert moves[0].action == "decrease" and "louder than the reference" in moves[0].text
    assert "true peak reaches" in moves[1].text and "dBTP" in moves[1].text
    assert candidate.loudness.true_peak_dbtp > -1.0
    assert moves[2].text.startswith("Limit and compress less: the candidate is limited")


def test_a_wider_top_end_gets_stereo_suggestions_from_2_khz_up(
    music: tuple[np.ndarray, int],
) -> None:
    audio, rate = music
    mid = (audio[:, 0] + audio[:, 1]) / 2
    side = (audio[:, 0] - audio[:, 1]) / 2
    shelf = pedalboard.HighShelfFilter(cutoff_frequency_hz=2000.0, gain_db=6.0)
    side = shelf(side[None, :].copy(), rate)[0]
    wider = np.stack([mid + side, mid - side], axis=1).astype(np.float32)
    moves = master_suggestions(measured(audio, rate), measured(wider, rate), target_lufs=-14.0)
    stereo = [m for m in moves if m.kind == "stereo"]
    assert stereo and all(m.frequency_hz >= 2000 and m.action == "decrease" for m in stereo)
    assert {m.band for m in stereo} >= {"treble"}
    assert stereo[0].text.startswith("Narrow the stereo image around")


def test_an_out_of_phase_channel_is_a_mono_problem(music: tuple[np.ndarray, int]) -> None:
    audio, rate = music
    flipped = audio * np.array([1.0, -1.0], dtype=np.float32)
    moves = master_suggestions(measured(audio, rate), measured(flipped, rate), target_lufs=-14.0)
    warnings = [m for m in moves if m.text.startswith("Check mono compatibility")]
    assert warnings, [m.text for m in moves]
