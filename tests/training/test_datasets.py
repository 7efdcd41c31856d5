"""What a dataset says about its examples' sets."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from app.audio.spectrum import average_spectrum, band_difference_db, band_limit_index
from app.ml.features import CURRENT_SPEC
from app.training.datasets import (
    LOW_PASS_HZ,
    TRAIN_LOW_PASS_HZ,
    Dataset,
    told_lossy,
    train_low_pass_hz,
)
from app.training.synth import Nuisance

from ..conftest import SAMPLE_RATE_HZ


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
        coherent_magnitude=np.empty((n, 0)),
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


def test_low_passed_candidates_lose_everything_above_the_cutoff_and_nothing_below(
    pink: np.ndarray,
) -> None:
    spectrum = average_spectrum(pink[: 5 * SAMPLE_RATE_HZ])
    dataset = replace(
        _dataset([[], []]),
        reference_magnitude=np.stack([spectrum, spectrum]),
        candidate_magnitude=np.stack([spectrum, spectrum * 0.5]),
        coherent_magnitude=np.stack([spectrum, spectrum * 0.5]),
    )
    low_passed = dataset.low_passed(cutoff_hz=LOW_PASS_HZ)
    np.testing.assert_array_equal(low_passed.reference_magnitude, dataset.reference_magnitude)
    np.testing.assert_array_equal(low_passed.coherent_magnitude, low_passed.candidate_magnitude)
    band_db = band_difference_db(spectrum, low_passed.candidate_magnitude[1])
    centres_hz = CURRENT_SPEC.spectrum.band_centres_hz
    np.testing.assert_allclose(band_db[centres_hz < 15_000], -6.02, atol=0.01)
    assert np.all(band_db[centres_hz > 17_000] < -60)  # down to the -120 dB floor
    first = band_limit_index(band_db)
    assert LOW_PASS_HZ * 2**-0.25 < CURRENT_SPEC.spectrum.band_edges_hz[first] <= LOW_PASS_HZ


def test_a_cutoff_per_example_low_passes_only_the_examples_that_have_one(
    pink: np.ndarray,
) -> None:
    spectrum = average_spectrum(pink[: 5 * SAMPLE_RATE_HZ])
    dataset = replace(
        _dataset([[], [], []]),
        reference_magnitude=np.stack([spectrum] * 3),
        candidate_magnitude=np.stack([spectrum] * 3),
        coherent_magnitude=np.stack([spectrum] * 3),
    )
    low_passed = dataset.low_passed(cutoff_hz=np.array([np.inf, 11_000.0, 16_000.0]))
    np.testing.assert_array_equal(low_passed.candidate_magnitude[0], spectrum)
    for row, cutoff_hz in ((1, 11_000.0), (2, 16_000.0)):
        band_db = band_difference_db(spectrum, low_passed.candidate_magnitude[row])
        first = band_limit_index(band_db)
        assert cutoff_hz * 2**-0.25 < CURRENT_SPEC.spectrum.band_edges_hz[first] <= cutoff_hz


def test_training_low_passes_pick_a_share_of_training_examples_only() -> None:
    dataset = replace(
        _dataset([[]] * 400), is_validation=np.arange(400) % 4 == 0
    )  # 300 training examples
    cutoffs_hz = train_low_pass_hz(dataset, share=0.2)
    chosen = np.isfinite(cutoffs_hz)
    assert chosen.sum() == 60 and not np.any(chosen & dataset.is_validation)
    assert set(cutoffs_hz[chosen]) <= set(TRAIN_LOW_PASS_HZ)
    assert len(set(cutoffs_hz[chosen])) > 4  # drawn, not one cut-off for all
    np.testing.assert_array_equal(cutoffs_hz, train_low_pass_hz(dataset, share=0.2))
    assert not np.array_equal(cutoffs_hz, train_low_pass_hz(dataset, share=0.2, seed=1))


def test_a_share_of_the_lossy_training_candidates_goes_untold() -> None:
    # 400 examples, every fourth a validation one; every tenth lossy-coded, and 60
    # training examples low-passed as MP3 uploads.
    dataset = replace(
        _dataset([[]] * 400),
        is_validation=np.arange(400) % 4 == 0,
        nuisance=np.where(np.arange(400) % 10 == 0, Nuisance.LOSSY, Nuisance.NONE).astype(np.int8),
    )
    cutoffs_hz = train_low_pass_hz(dataset, share=0.2)
    lossy = dataset.candidate_lossy | np.isfinite(cutoffs_hz)
    everyone = told_lossy(dataset, cutoffs_hz=cutoffs_hz, unflagged_share=0.0)
    np.testing.assert_array_equal(everyone, lossy)
    told = told_lossy(dataset, cutoffs_hz=cutoffs_hz, unflagged_share=0.5)
    assert not np.any(told & ~lossy)  # only lossy candidates are ever told
    training = lossy & ~dataset.is_validation
    assert (~told[training]).sum() == round(training.sum() / 2)  # half go untold
    np.testing.assert_array_equal(told[dataset.is_validation], lossy[dataset.is_validation])
    np.testing.assert_array_equal(
        told, told_lossy(dataset, cutoffs_hz=cutoffs_hz, unflagged_share=0.5)
    )
