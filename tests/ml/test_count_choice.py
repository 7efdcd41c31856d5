"""The count chooser: its rows, and a fit that learns which count's fit is right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.audio.eq import EqOperation
from app.ml.count_choice import (
    COUNT_CHOOSER_FILE,
    ChoiceContext,
    CountCandidate,
    TypeChoice,
    across_fits,
    candidate_features,
    chooser_scores,
    example_rows,
    fit_chooser,
    residual_by_octave,
    type_choices,
)
from app.ml.recognition import load_scorer

CONTEXT = ChoiceContext(
    candidate_lossy=False,
    imprint_db=(0.0,) * 10 + (0.3,),
    type_choice=TypeChoice(types=("bell", "low_shelf")),
)
BELL = EqOperation(1000.0, 3.0, 1.0)
SHELF = EqOperation(120.0, -4.0, type="low_shelf")


def _candidate(count: int, residual_rms_db: float) -> CountCandidate:
    operations = [BELL] * (count - 1) + [SHELF] if count else []
    residual = np.resize([residual_rms_db, -residual_rms_db], 120)
    return CountCandidate(count, operations, residual, 0.0)


def test_rows_say_what_each_count_explains_and_what_one_more_would() -> None:
    candidates = [_candidate(1, 2.0), _candidate(2, 0.5), _candidate(3, 0.4)]
    probabilities = np.array([0.0, 0.2, 0.7, 0.1, 0.0, 0.0])
    rows = candidate_features(candidates, count_probabilities=probabilities, context=CONTEXT)
    assert rows.shape[0] == 3
    one, two, three = rows
    assert two[:6].tolist() == pytest.approx([2, 0, 0.7, 0.7, 0.2, 0.1])
    assert one[4] == 0.0  # no probability of -1 operations
    assert two[6] == pytest.approx(0.5)  # its RMS residual
    assert two[11] == pytest.approx(1.5)  # what its last operation explained (2.0 -> 0.5)
    assert two[16] == pytest.approx(0.1)  # what one more would (0.5 -> 0.4)
    assert np.isnan(one[11]) and np.isnan(three[16])  # counts 0 and 4 were not fitted
    # The weakest gain, the types, and no operation outside its type's range.
    assert three[23:29].tolist() == pytest.approx([3.0, 2, 1, 0, 0, 0])
    assert rows[:, 29:31].tolist() == [[1, 0]] * 3 and rows[0, 41] == pytest.approx(0.3)
    assert rows[0, 42:].tolist() == pytest.approx([0.0, 0.0, 0.5])  # the type model's own set


def test_each_row_sets_its_fit_against_the_example_s_other_sets_of_types() -> None:
    """A ranker scores rows alone: the columns after `candidate_features` tell each fit how
    far it lies from the best of every set, of its count and of one count either side."""
    bells = [_candidate(1, 2.0), _candidate(2, 1.0)]
    shelved = [_candidate(1, 1.5), _candidate(2, 0.25)]
    probabilities = np.array([0.0, 0.5, 0.5, 0.0, 0.0, 0.0])
    rows = example_rows([(bells, CONTEXT), (shelved, CONTEXT)], count_probabilities=probabilities)
    own = candidate_features(bells, count_probabilities=probabilities, context=CONTEXT)
    assert rows.shape == (4, own.shape[1] + 6 + 20)
    assert rows[:2, : own.shape[1]] == pytest.approx(own, nan_ok=True)
    across = rows[:, own.shape[1] : own.shape[1] + 6]
    assert across[:, 0] == pytest.approx(np.log(np.array([2.0, 1.0, 1.5, 0.25]) / 0.25), abs=0.01)
    assert across[:, 1] == pytest.approx(np.log([2.0 / 1.5, 4.0, 1.0, 1.0]), abs=0.01)
    assert across[1, 2] == pytest.approx(np.log(1.5 / 1.0), abs=0.01)  # best one fewer
    assert np.isnan(across[0, 2]) and np.isnan(across[3, 3])
    assert across[3, 4:].tolist() == [0.0, 0.0] and (across[:3, 4:] < 0).all()
    assert across_fits(shelved + bells)[0] == pytest.approx(across[2], nan_ok=True)
    by_octave = rows[:, own.shape[1] + 6 :]
    assert by_octave == pytest.approx(residual_by_octave(bells + shelved), nan_ok=True)


def test_rows_say_in_which_octave_a_fit_leaves_what_no_other_fit_does() -> None:
    """The residual a compressor leaves in the bass, which every fit leaves, reads 0 against
    the example's best there; a bell one fit misses at 1 kHz reads as that fit's alone."""
    shared = np.zeros(120)
    shared[:12] = 1.0  # 20-40 Hz: no fit explains it
    missing = shared.copy()
    missing[60:66] = 2.0  # half the 640-1280 Hz octave
    typed = shared[:96]  # a typed fit stops at the reference's top band
    fits = [CountCandidate(n, [], r, 0.0) for n, r in ((1, missing), (2, shared), (2, typed))]
    columns = residual_by_octave(fits)
    assert columns.shape == (3, 20)
    rms, over_least = columns[:, :10], columns[:, 10:]
    assert rms[:, 0] == pytest.approx([1.0, 1.0, 1.0]) and over_least[:, 0] == pytest.approx(0.0)
    assert rms[0, 5] == pytest.approx(np.sqrt(2.0)) == over_least[0, 5]
    assert over_least[1:, 5] == pytest.approx(0.0)
    assert np.isnan(rms[2, 8:]).all() and not np.isnan(rms[:2, 8:]).any()


def test_rows_say_how_far_operations_lie_outside_their_types_ranges() -> None:
    high_shelf = EqOperation(1_000.0, -4.0, type="high_shelf")  # an octave under 2 kHz
    bell = EqOperation(20_000.0, 3.0, 1.0)  # 0.32 octave over 16 kHz
    candidate = CountCandidate(2, [high_shelf, bell], np.zeros(120), 0.0)
    (row,) = candidate_features([candidate], count_probabilities=np.full(6, 1 / 6), context=CONTEXT)
    assert row[27:29].tolist() == pytest.approx([1.0 + np.log2(20 / 16), 1.0])


def test_the_alternative_flips_the_type_model_s_closest_call() -> None:
    typed = ("low_shelf", "high_shelf", "high_pass", "low_pass")
    own, other = type_choices(np.array([0.9, 0.45, 0.02, 0.95]), typed=typed, threshold=0.5)
    assert own == TypeChoice(
        types=("bell", "low_shelf", "low_pass"),
        log_probability=pytest.approx(np.log(0.9 * 0.55 * 0.98 * 0.95)),
        margin=pytest.approx(0.05),
    )
    assert other.types == ("bell", "low_shelf", "high_shelf", "low_pass") and other.flipped == 1
    assert other.log_probability == pytest.approx(np.log(0.9 * 0.45 * 0.98 * 0.95))
    # A type the model is sure of is never the one flipped, however many there are.
    _, other = type_choices(np.array([0.999, 0.001, 0.3, 0.999]), typed=typed, threshold=0.5)
    assert other.types == ("bell", "low_shelf", "high_pass", "low_pass")


def test_a_second_close_call_is_flipped_alone_and_with_the_first() -> None:
    typed = ("low_shelf", "high_shelf", "high_pass", "low_pass")
    choices = type_choices(np.array([0.9, 0.45, 0.02, 0.7]), typed=typed, threshold=0.5)
    assert [(c.types, c.flipped) for c in choices] == [
        (("bell", "low_shelf", "low_pass"), 0),
        (("bell", "low_shelf", "high_shelf", "low_pass"), 1),
        (("bell", "low_shelf"), 1),
        (("bell", "low_shelf", "high_shelf"), 2),
    ]
    assert choices[3].log_probability == pytest.approx(np.log(0.9 * 0.45 * 0.98 * 0.3))
    # With no margin the second close call stays as the model reads it.
    choices = type_choices(
        np.array([0.9, 0.45, 0.02, 0.7]), typed=typed, threshold=0.5, second_flip_margin=0.0
    )
    assert [c.flipped for c in choices] == [0, 1]


@pytest.mark.parametrize("loss", ["YetiRank", "Logloss"])
def test_a_fitted_chooser_picks_the_count_after_which_little_is_left(
    loss: str, tmp_path: Path
) -> None:
    """The right count is the one whose last operation explained much and one more little,
    whatever CatBoost's probabilities say; saved and loaded as the registry loads it, the
    chooser scores as it did, ranker or classifier."""
    rng = np.random.default_rng(0)

    def example(true_count: int) -> list[CountCandidate]:
        return [
            _candidate(count, (2.0 if count < true_count else 0.3) + rng.uniform(0, 0.2))
            for count in range(max(0, true_count - 1), true_count + 2)
        ]

    def noisy_probabilities() -> np.ndarray:
        return rng.dirichlet(np.ones(6))

    truths = rng.integers(1, 5, size=300)
    examples = [example(int(t)) for t in truths]
    probabilities = [noisy_probabilities() for _ in examples]
    rows = [
        example_rows([(found, CONTEXT)], count_probabilities=p)
        for found, p in zip(examples, probabilities, strict=True)
    ]
    right = [
        np.array([c.count == t for c in found]) for found, t in zip(examples, truths, strict=True)
    ]
    fitted = fit_chooser(rows[:200], right=right[:200], threads=1, loss=loss)
    fitted.save_model(str(tmp_path / COUNT_CHOOSER_FILE))
    chooser = load_scorer(tmp_path, name=COUNT_CHOOSER_FILE)
    assert chooser_scores(chooser, rows[200:]) == pytest.approx(chooser_scores(fitted, rows[200:]))
    picked = [
        found[int(np.argmax(chooser_scores(chooser, [r])))].count
        for found, r in zip(examples[200:], rows[200:], strict=True)
    ]
    argmax = [int(np.argmax(p)) for p in probabilities[200:]]
    assert np.mean(np.array(picked) == truths[200:]) > 0.95
    assert np.mean(np.array(argmax) == truths[200:]) < 0.5  # the probabilities alone do not


def test_a_chooser_of_several_seeds_scores_their_mean() -> None:
    """The shipped chooser averages rankers of several seeds into one model file."""
    rng = np.random.default_rng(1)
    rows = [rng.normal(size=(4, 12)).astype(np.float32) for _ in range(60)]
    right = [np.arange(4) == int(np.argmax(r[:, 0])) for r in rows]
    singles = [fit_chooser(rows, right=right, seeds=(seed,), threads=1) for seed in (0, 1)]
    both = fit_chooser(rows, right=right, seeds=(0, 1), threads=1)
    mean = np.mean([chooser_scores(single, rows) for single in singles], axis=0)
    assert chooser_scores(both, rows) == pytest.approx(mean, abs=1e-6)
    assert not np.allclose(*(chooser_scores(single, rows) for single in singles))
