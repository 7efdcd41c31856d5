"""What a dataset says about its examples' sets."""

from __future__ import annotations

import numpy as np

from app.training.datasets import Dataset


def _dataset(sets: list[list[tuple[float, float, float]]]) -> Dataset:
    operations = np.full((len(sets), 7, 3), np.nan, dtype=np.float32)
    for row, ops in enumerate(sets):
        for column, op in enumerate(ops):
            operations[row, column] = op
    n = len(sets)
    return Dataset(
        dataset_id="general",
        reference_magnitude=np.empty((n, 0)),
        candidate_magnitude=np.empty((n, 0)),
        operations=operations,
        nuisance=np.zeros(n, dtype=np.int8),
        nuisance_value=np.zeros(n, dtype=np.float32),
        track_md5=np.array(["a"] * n),
        is_validation=np.ones(n, dtype=bool),
    )


def test_closest_spacing_and_gain_of_each_set() -> None:
    dataset = _dataset(
        [
            [],
            [(1000.0, -3.0, 1.0)],
            [(4000.0, 6.0, 1.0), (100.0, 3.0, 2.0), (1000.0 * 2**0.75, -9.0, 0.5)],
        ]
    )
    np.testing.assert_allclose(dataset.closest_spacing_octaves, [np.inf, np.inf, 1.25], rtol=1e-5)
    np.testing.assert_array_equal(dataset.n_operations, [0, 1, 3])
    np.testing.assert_allclose(dataset.gain_magnitude_db, [0.0, 3.0, 9.0])
