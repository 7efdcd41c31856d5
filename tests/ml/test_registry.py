"""A recognition keeps only the operations that can be seen below a band limit."""

from __future__ import annotations

import numpy as np
import pytest

from app.audio.eq import EqOperation
from app.ml.registry import Recognition, curve_db


def test_operations_far_past_a_band_limit_are_dropped_with_their_confidence() -> None:
    operations = [EqOperation(262.0, 6.0, 2.0), EqOperation(19_000.0, -2.0, 1.0)]
    recognition = Recognition(
        model_id="m", operations=operations, curve_db=curve_db(operations), confidence=[0.9, 0.4]
    )
    seen = recognition.seen_below(12_000.0)
    assert seen.operations == operations[:1] and seen.confidence == [0.9]
    np.testing.assert_allclose(seen.curve_db, curve_db(operations[:1]))
    assert seen.curve_db[-1] == pytest.approx(0.0, abs=0.05)


@pytest.mark.parametrize("band_limit_hz", [None, 16_000.0])
def test_a_recognition_within_the_limit_is_kept_as_it_is(band_limit_hz: float | None) -> None:
    operations = [EqOperation(262.0, 6.0, 2.0), EqOperation(16_744.0, -6.0, 2.0)]
    recognition = Recognition(model_id="m", operations=operations, curve_db=curve_db(operations))
    assert recognition.seen_below(band_limit_hz) is recognition
