"""The continuous distance beside the count: RMS of the level-aligned band difference."""

from __future__ import annotations

import numpy as np
import pytest

from app.audio.eq import EqOperation, apply
from app.audio.spectrum import compare, distance_db
from tests.conftest import SAMPLE_RATE_HZ, low_passed


def _distance(reference: np.ndarray, candidate: np.ndarray) -> float:
    return distance_db(compare(reference, candidate, align_time=False))


def _bell(samples: np.ndarray, gain_db: float) -> np.ndarray:
    operation = EqOperation(frequency_hz=1000.0, gain_db=gain_db, width_octaves=1.0)
    return apply(samples, [operation], sample_rate_hz=SAMPLE_RATE_HZ)


def test_same_master_louder_is_no_distance(pink: np.ndarray) -> None:
    assert _distance(pink, pink * 2.0) < 0.1


def test_distance_grows_with_the_gain_of_the_move(pink: np.ndarray) -> None:
    """Two attempts both one bell away (rating 1) still read apart: 6 dB off, then 3 dB off."""
    six, three = _distance(pink, _bell(pink, 6.0)), _distance(pink, _bell(pink, 3.0))
    assert 0.5 < three < six
    assert six / three == pytest.approx(2.0, rel=0.15)


def test_bands_past_a_lossy_band_limit_do_not_count(pink: np.ndarray) -> None:
    lossy = low_passed(pink, cutoff_hz=16_000.0, sample_rate_hz=SAMPLE_RATE_HZ)
    assert _distance(pink, lossy) < 0.5
