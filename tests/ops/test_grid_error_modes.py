"""`ops/grid_error_modes.py`'s curve fits, on bells placed by hand."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from app.ml.fitting import bell_basis
from app.training.grids import GridConfig
from tests.conftest import ops_script

GRID = GridConfig.parse("F1/4W2")
NOTES_HZ = np.asarray(GRID.notes_hz)
BASIS = bell_basis(tuple(float(f) for f in NOTES_HZ), 2.0)


@pytest.fixture(scope="module")
def error_modes() -> ModuleType:
    return ops_script("grid_error_modes")


def test_true_gains_sit_on_the_nearest_note_and_empty_rows_add_nothing(
    error_modes: ModuleType,
) -> None:
    empty = [np.nan] * 5
    operations = np.array(
        [
            [[NOTES_HZ[10] * 1.01, 6.0, 2.0, 0.0, np.nan], [NOTES_HZ[12], -3.0, 2.0, 0.0, np.nan]]
            + [empty] * 5
        ]
    )
    gains = error_modes.true_gains_db(operations, notes_hz=NOTES_HZ)
    expected = np.zeros((1, len(NOTES_HZ)))
    expected[0, 10], expected[0, 12] = 6.0, -3.0
    np.testing.assert_array_equal(gains, expected)


def test_a_set_missing_a_neighbouring_bell_fits_its_curve_worse(error_modes: ModuleType) -> None:
    gains = np.zeros(len(NOTES_HZ))
    gains[[20, 21]] = 6.0, 6.0  # two 2-octave bells a quarter octave apart
    curve_db = BASIS @ gains
    both = error_modes.fit_rms_db(BASIS, np.array([20, 21]), curve_db, level=False)
    one = error_modes.fit_rms_db(BASIS, np.array([20]), curve_db, level=False)
    none = error_modes.fit_rms_db(BASIS, np.array([], dtype=int), curve_db, level=False)
    assert both < 1e-9
    # One bell of twice the gain comes within a fraction of a decibel: the ambiguity measured.
    assert 0.01 < one < 0.5 < none
    level = error_modes.fit_rms_db(BASIS, np.array([20, 21]), curve_db + 2.0, level=True)
    assert (
        level
        < 1e-9
        < error_modes.fit_rms_db(BASIS, np.array([20, 21]), curve_db + 2.0, level=False)
    )
