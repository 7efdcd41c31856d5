"""The physics check settles what per-note probabilities leave open on fine grids of wide bells."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from app.audio.eq import EqOperation, response_db
from app.ml.features import CURRENT_SPEC, IMPRINT_OCTAVES, reference_levels_db
from app.ml.fitting import PhysicsCheck, bell_basis
from app.ml.grid import (
    BOOST,
    CUT,
    LEVEL_STEP_BANDS,
    NONE,
    WINDOW_BANDS,
    example_features,
    fit_log_likelihood,
    note_band_index,
    note_rows,
    search_classes,
)
from app.training.grids import GridConfig

CONFIG = GridConfig.parse("F1/4W2")
NOTES = CONFIG.notes_hz
BASIS = bell_basis(tuple(float(f) for f in NOTES), 2.0)


def difference_db(
    classes: np.ndarray, *, gain_db: float = 6.0, level_db: float = 1.5
) -> np.ndarray:
    """Exact band response of a set's bells, plus a level change."""
    ops = [
        EqOperation(float(NOTES[i]), gain_db if classes[i] == BOOST else -gain_db, 2.0)
        for i in np.flatnonzero(classes != NONE)
    ]
    bands = CURRENT_SPEC.spectrum.band_centres_hz
    return response_db(ops, frequency_hz=bands, sample_rate_hz=44_100) + level_db


def classes_of(boosts: list[int], cuts: list[int] = []) -> np.ndarray:  # noqa: B006
    classes = np.zeros(len(NOTES), dtype=np.int8)
    classes[boosts] = BOOST
    classes[cuts] = CUT
    return classes


def unsure_probabilities(believed: np.ndarray, *, unsure_notes: list[int]) -> np.ndarray:
    """Probabilities that favour `believed`, firmly except at `unsure_notes` (55 / 45)."""
    probabilities = np.full((len(NOTES), 3), 0.005)
    probabilities[np.arange(len(NOTES)), believed] = 0.99
    for note in unsure_notes:
        probabilities[note] = 0.0
        probabilities[note, believed[note]] = 0.55
        probabilities[note, BOOST if believed[note] == NONE else NONE] = 0.45
    return probabilities


def test_the_true_set_fits_better_than_its_look_alike() -> None:
    truth = classes_of([12], cuts=[25])
    look_alike = classes_of([11, 13], cuts=[25])
    band_db = difference_db(truth)
    assert fit_log_likelihood(
        truth, band_db, basis=BASIS, residual_scale_db=0.05
    ) > fit_log_likelihood(look_alike, band_db, basis=BASIS, residual_scale_db=0.05)


def test_a_bell_of_the_wrong_sign_is_penalised() -> None:
    band_db = difference_db(classes_of([12]))
    assert fit_log_likelihood(
        classes_of([12]), band_db, basis=BASIS, residual_scale_db=0.05
    ) > fit_log_likelihood(classes_of([], cuts=[12]), band_db, basis=BASIS, residual_scale_db=0.05)


@pytest.mark.parametrize(
    ("truth", "believed", "unsure"),
    [
        # one bell read as its two neighbours
        (classes_of([12], cuts=[25]), classes_of([11, 13], cuts=[25]), [11, 12, 13]),
        # a bell moved by one note
        (classes_of([8, 20]), classes_of([9, 20]), [8, 9]),
        # a weak bell missed
        (classes_of([5, 30]), classes_of([5]), [30]),
    ],
)
def test_search_recovers_the_set_that_adds_up(
    truth: np.ndarray, believed: np.ndarray, unsure: list[int]
) -> None:
    probabilities = unsure_probabilities(believed, unsure_notes=unsure)
    band_db = difference_db(truth)
    argmax = search_classes(probabilities, band_db, basis=BASIS, check=PhysicsCheck())
    np.testing.assert_array_equal(argmax, believed)
    found = search_classes(probabilities, band_db, basis=BASIS, check=PhysicsCheck(weight=0.1))
    np.testing.assert_array_equal(found, truth)


def test_search_keeps_a_firm_answer_that_the_physics_agrees_with() -> None:
    truth = classes_of([4, 16], cuts=[28])
    probabilities = unsure_probabilities(truth, unsure_notes=[])
    found = search_classes(
        probabilities, difference_db(truth), basis=BASIS, check=PhysicsCheck(weight=0.1)
    )
    np.testing.assert_array_equal(found, truth)


def test_physics_check_round_trips_through_metadata() -> None:
    check = PhysicsCheck(weight=0.3, residual_scale_db=0.05)
    assert PhysicsCheck.from_dict(check.to_dict()) == check
    assert PhysicsCheck.from_dict(None) == PhysicsCheck()


def test_feature_options_reach_each_row_only_when_the_spec_asks(
    rng: np.random.Generator,
) -> None:
    spec = replace(CURRENT_SPEC, reference_levels=True, lossy_flag=True)
    references = rng.uniform(0.01, 1.0, (2, spec.spectrum.n_bins))
    candidates = references * rng.uniform(0.5, 2.0, references.shape)
    lossy = np.array([False, True])
    plain = example_features(references, candidates, notes_hz=NOTES, width_octaves=2.0)
    with_options = example_features(
        references, candidates, notes_hz=NOTES, width_octaves=2.0, spec=spec, candidate_lossy=lossy
    )
    np.testing.assert_array_equal(with_options[:, : plain.shape[1]], plain)
    levels = reference_levels_db(references, spec=spec)
    np.testing.assert_allclose(with_options[:, plain.shape[1] : -1], levels, rtol=1e-6)
    np.testing.assert_array_equal(with_options[:, -1], [0.0, 1.0])

    rows = note_rows(with_options, notes_hz=NOTES, spec=spec).reshape(2, len(NOTES), -1)
    plain_rows = note_rows(plain, notes_hz=NOTES).reshape(2, len(NOTES), -1)
    per_row = len(range(0, 2 * WINDOW_BANDS + 1, LEVEL_STEP_BANDS)) + 1
    assert rows.shape[2] == plain_rows.shape[2] + per_row
    np.testing.assert_array_equal(rows[..., : plain_rows.shape[2]], plain_rows)
    centre = plain_rows.shape[2] + WINDOW_BANDS // LEVEL_STEP_BANDS
    bands = note_band_index(NOTES)
    np.testing.assert_allclose(rows[:, :, centre], levels[:, bands], rtol=1e-6)
    # C1 sits near 20 Hz: its window starts before the spectrum does.
    assert np.isnan(rows[0, 0, plain_rows.shape[2]])
    np.testing.assert_array_equal(rows[:, :, -1], [[0.0] * len(NOTES), [1.0] * len(NOTES)])


def test_a_coherent_spec_reads_the_transfer_and_adds_the_imprint(
    rng: np.random.Generator,
) -> None:
    spec = replace(CURRENT_SPEC, reference_levels=True, lossy_flag=True, coherent=True)
    plain_spec = replace(spec, coherent=False)
    references = rng.uniform(0.01, 1.0, (2, spec.spectrum.n_bins))
    coherent = references * 10 ** (6.0 / 20)  # the EQ through the transfer: a level change
    candidates = coherent * rng.uniform(0.5, 2.0, references.shape)  # plus dynamics' imprint
    lossy = np.array([False, True])
    with pytest.raises(ValueError, match="coherent"):
        example_features(references, candidates, notes_hz=NOTES, width_octaves=2.0, spec=spec)
    features = example_features(
        references,
        candidates,
        notes_hz=NOTES,
        width_octaves=2.0,
        spec=spec,
        candidate_lossy=lossy,
        coherent_magnitudes=coherent,
    )
    as_if_clean = example_features(
        references,
        coherent,
        notes_hz=NOTES,
        width_octaves=2.0,
        spec=plain_spec,
        candidate_lossy=lossy,
    )
    np.testing.assert_array_equal(features[:, : as_if_clean.shape[1]], as_if_clean)
    imprint = features[:, as_if_clean.shape[1] :]
    assert imprint.shape == (2, IMPRINT_OCTAVES + 1)
    assert np.all(imprint[:, -1] > 1.0)  # the RMS of what the dynamics did, in dB
    np.testing.assert_allclose(features[:, : CURRENT_SPEC.n_bands], 0.0, atol=1e-3)

    rows = note_rows(features, notes_hz=NOTES, spec=spec).reshape(2, len(NOTES), -1)
    plain_rows = note_rows(as_if_clean, notes_hz=NOTES, spec=plain_spec).reshape(2, len(NOTES), -1)
    assert rows.shape[2] == plain_rows.shape[2] + IMPRINT_OCTAVES + 1
    np.testing.assert_array_equal(rows[..., : plain_rows.shape[2]], plain_rows)
    np.testing.assert_array_equal(rows[:, 3, plain_rows.shape[2] :], imprint)
