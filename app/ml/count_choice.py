"""The general model's choice among its fits of nearby counts.

For each example the general model fits CatBoost's most likely count of
operations and the two counts either side (`app.ml.general.checked_candidates`).
A `PhysicsCheck` weighs each fit's robust log-likelihood against CatBoost's
probability with three numbers chosen on tuning tracks; the count chooser is a
small CatBoost model, fitted on the tuning tracks' candidates to rank each
example's, that reads more of what separates a right count from a wrong one:
how much the last operation of a fit explains and how much one more would, how
weak its weakest operation is, what types it holds and how far they lie outside
the ranges the general space draws them from, and how much a compressor or a
limiter reshaped the candidate (`app.ml.features.imprint_features`). It also
weighs the fits of several sets of types (`type_choices`): the type model's, and
the sets with its closest calls flipped, since the type model's mistakes are
mostly its close calls; each fit's row also sets it against the best fits of all
those sets (`across_fits`), since a ranker scores each row alone, and says in which
octaves it leaves its residual, against the least any of them leaves there
(`residual_by_octave`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from catboost import CatBoost, CatBoostClassifier, CatBoostRanker, Pool, sum_models

from app.audio.eq import EqOperation, EqType
from app.ml.features import IMPRINT_OCTAVES, octave_means
from app.ml.fitting import PhysicsCheck, octaves_outside, robust_log_likelihood

#: The count chooser's file in a general model's folder (absent: the physics check decides).
COUNT_CHOOSER_FILE = "count_chooser.cbm"
#: Residuals within this are explained (dB).
EXPLAINED_DB = (0.2, 0.5)


@dataclass(frozen=True)
class CountCandidate:
    """The operations fitted for one count, and what they leave unexplained."""

    count: int
    operations: list[EqOperation]
    residual_db: np.ndarray
    implausibility: float

    def score(self, *, count_probabilities: np.ndarray, check: PhysicsCheck) -> float:
        """``log p(count) + weight * (robust log-likelihood - implausibility - bell costs)``."""
        fit = robust_log_likelihood(self.residual_db, residual_scale_db=check.residual_scale_db)
        prior = float(np.log(count_probabilities[self.count] + 1e-6))
        return prior + check.weight * (fit - self.implausibility - check.bell_cost * self.count)


@dataclass(frozen=True, kw_only=True)
class TypeChoice:
    """A set of types whose fits the chooser weighs."""

    types: tuple[EqType, ...]
    #: How many of the type model's closest calls it flips (`type_choices`; 0: its own set).
    flipped: int = 0
    #: The type model's log-probability of exactly this set.
    log_probability: float = 0.0
    #: How far the least certain type's probability lies from the threshold.
    margin: float = 0.5


#: Where the type model's second least certain type lies within this of the threshold,
#: the sets with it flipped (alone and with the least certain) are weighed too. The type
#: model's set or the one with its least certain type flipped holds the true set of 90.9 %
#: of the validation mixtures without the master chain and 87.0 % of those through it;
#: with the second flip on the 15 % of examples this margin admits, 96.3 and 94.2 %
#: (every four sets on every example would reach 98.8 and 97.9 %). On every second
#: validation example, 4 chooser seeds (`ops/chooser_study.py --every 2 --seeds 4`):
#: mixtures' count 78.71 -> 80.50 %, their types 64.70 -> 66.99 %.
SECOND_FLIP_MARGIN = 0.4


def type_choices(
    type_probabilities: np.ndarray,
    *,
    typed: tuple[EqType, ...],
    threshold: float,
    second_flip_margin: float = SECOND_FLIP_MARGIN,
) -> list[TypeChoice]:
    """The type model's set of types and its alternatives: its closest calls flipped.

    Parameters
    ----------
    type_probabilities : np.ndarray
        Each of `typed`'s probability of being present.
    typed : tuple of EqType
        The types the type model tells present or absent (every type but bells).
    threshold : float
        A type is in the model's own set where its probability is above this.
    second_flip_margin : float
        How close to `threshold` the second least certain type must lie to be flipped
        too (0: never).

    Returns
    -------
    list of TypeChoice
        The model's set, then the set with its least certain type flipped; where the
        second least certain lies within `second_flip_margin` of the threshold, then
        the sets with it flipped, alone and with the first. All hold bells. What the
        chooser makes of them is measured by `mastering-trainer evaluate` (the count
        chooser's rows of ``models/REPORT.md``) and ``ops/chooser_study.py``.

    Examples
    --------
    >>> own, other = type_choices(np.array([0.9, 0.4]), typed=("low_shelf", "high_pass"),
    ...                           threshold=0.5)
    >>> own.types, other.types, other.flipped
    (('bell', 'low_shelf'), ('bell', 'low_shelf', 'high_pass'), 1)
    """
    p = np.clip(np.asarray(type_probabilities, dtype=float), 1e-4, 1 - 1e-4)
    present = p > threshold
    closest = np.argsort(np.abs(p - threshold), kind="stable")
    margin = float(abs(p[closest[0]] - threshold))
    flips: list[tuple[int, ...]] = [(), (int(closest[0]),)]
    if len(p) > 1 and abs(p[closest[1]] - threshold) < second_flip_margin:
        flips += [(int(closest[1]),), (int(closest[0]), int(closest[1]))]
    choices = []
    for flipped in flips:
        mask = present.copy()
        mask[list(flipped)] = ~mask[list(flipped)]
        log_probability = float(np.sum(np.where(mask, np.log(p), np.log(1 - p))))
        types = ("bell", *(kind for kind, keep in zip(typed, mask, strict=True) if keep))
        choices.append(
            TypeChoice(
                types=types,
                flipped=len(flipped),
                log_probability=log_probability,
                margin=margin,
            )
        )
    return choices


@dataclass(frozen=True, kw_only=True)
class ChoiceContext:
    """What the chooser knows of an example beyond its candidates."""

    candidate_lossy: bool
    #: `app.ml.features.imprint_features` (dB: per octave, then the RMS; zeros without
    #: the coherent spectra).
    imprint_db: tuple[float, ...]
    #: The candidates were fitted with the type set of `TypeChoice` (the type model's, or
    #: an alternative with its closest calls flipped).
    type_choice: TypeChoice = field(default_factory=lambda: TypeChoice(types=("bell",)))

    @property
    def typed_count(self) -> int:
        """How many shelves and pass filters the candidates were fitted with."""
        return len(self.type_choice.types) - 1

    def as_row(self) -> list[float]:
        """The context's columns."""
        choice = self.type_choice
        return [
            float(self.typed_count),
            float(self.candidate_lossy),
            *self.imprint_db,
            float(choice.flipped),
            choice.log_probability,
            choice.margin,
        ]


def _rms_db(candidate: CountCandidate) -> float:
    """The RMS of a fit's residual."""
    return float(np.sqrt(np.mean(np.square(candidate.residual_db))))


def _fit_stats(candidate: CountCandidate) -> list[float]:
    """RMS, 90th percentile and largest |residual|, and the fractions within `EXPLAINED_DB`."""
    magnitude = np.abs(candidate.residual_db)
    return [
        _rms_db(candidate),
        float(np.percentile(magnitude, 90)),
        float(magnitude.max()),
        *(float(np.mean(magnitude <= limit)) for limit in EXPLAINED_DB),
    ]


def _operation_stats(operations: list[EqOperation]) -> list[float]:
    """The weakest bell or shelf's |gain| (NaN for none); how many bells, shelves and pass
    filters; and the total and the most octaves that operations lie outside their types'
    ranges (`app.ml.fitting.octaves_outside`: a high shelf at 1 kHz, a bell at 20 kHz)."""
    gains = [abs(op.gain_db) for op in operations if not op.is_pass]
    outside = [octaves_outside(op) for op in operations] or [0.0]
    return [
        min(gains) if gains else np.nan,
        float(sum(op.type == "bell" for op in operations)),
        float(sum(op.type.endswith("shelf") for op in operations)),
        float(sum(op.is_pass for op in operations)),
        sum(outside),
        max(outside),
    ]


def _probability(count_probabilities: np.ndarray, count: int) -> float:
    """CatBoost's probability of `count` operations (0 outside its range)."""
    inside = 0 <= count < len(count_probabilities)
    return float(count_probabilities[count]) if inside else 0.0


def candidate_features(
    candidates: Sequence[CountCandidate],
    *,
    count_probabilities: np.ndarray,
    context: ChoiceContext,
) -> np.ndarray:
    """One row per candidate of one example, for the count chooser.

    Parameters
    ----------
    candidates : sequence of CountCandidate
        The example's fits, one per count.
    count_probabilities : np.ndarray
        CatBoost's probability of 0..MAX_OPERATIONS operations.
    context : ChoiceContext
        The example's context.

    Returns
    -------
    np.ndarray
        Shape ``(len(candidates), n_columns)``: the count, its distance from
        CatBoost's most likely one, its probability, the largest, and those of
        one operation fewer and one more; `_fit_stats`,
        and their change from the fit one operation smaller and to the fit one
        larger (NaN where that count was not fitted); the robust log-likelihood
        and the implausibility; `_operation_stats`; then the context.
    """
    stats = {c.count: np.array(_fit_stats(c)) for c in candidates}
    missing = np.full(len(EXPLAINED_DB) + 3, np.nan)
    rows = []
    for candidate in candidates:
        count = candidate.count
        own = stats[count]
        gained = stats[count - 1] - own if count - 1 in stats else missing
        to_gain = own - stats[count + 1] if count + 1 in stats else missing
        rows.append(
            [
                float(count),
                float(count - int(np.argmax(count_probabilities))),
                float(count_probabilities[count]),
                float(np.max(count_probabilities)),
                *(_probability(count_probabilities, count + step) for step in (-1, 1)),
                *own,
                *gained,
                *to_gain,
                robust_log_likelihood(candidate.residual_db, residual_scale_db=0.1),
                candidate.implausibility,
                *_operation_stats(candidate.operations),
                *context.as_row(),
            ]
        )
    return np.array(rows, dtype=np.float32)


#: The floor under each fit's RMS residual in `across_fits`' log ratios (dB).
RMS_FLOOR_DB = 1e-3
#: The residual scales of the robust log-likelihoods `across_fits` sets against the best (dB).
ACROSS_FITS_SCALES_DB = (0.1, 0.3)


def across_fits(candidates: Sequence[CountCandidate]) -> np.ndarray:
    """Columns that set each of one example's fits against all of its fits.

    `candidate_features` describes a fit beside the fits of one count either side
    of the same set of types; a ranker scores each row alone, so what it learns of
    the example's other sets of types is only what these columns tell it.

    Parameters
    ----------
    candidates : sequence of CountCandidate
        Every fit of one example, of every set of types it weighs.

    Returns
    -------
    np.ndarray
        Shape ``(len(candidates), 6)``: the log of the fit's RMS residual over the
        smallest of any fit's and over the smallest of the fits of its count; the
        log of the smallest RMS of the fits one operation smaller and one larger over
        its own (NaN where no such fit); and its robust log-likelihood at each of
        `ACROSS_FITS_SCALES_DB` less the best fit's.

    Examples
    --------
    >>> fits = [CountCandidate(n, [], np.full(4, r), 0.0) for n, r in ((1, 2.0), (2, 0.5))]
    >>> np.round(across_fits(fits)[:, :4], 2)
    array([[ 1.38,  0.  ,   nan, -1.38],
           [ 0.  ,  0.  ,  1.38,   nan]])
    """
    rms_db = np.array([_rms_db(c) for c in candidates]) + RMS_FLOOR_DB
    counts = np.array([c.count for c in candidates])

    def smallest_rms_db(count: int) -> float:
        of_count = rms_db[counts == count]
        return float(of_count.min()) if len(of_count) else np.nan

    columns = [
        np.log(rms_db / rms_db.min()),
        np.log(rms_db / [smallest_rms_db(int(n)) for n in counts]),
        *(np.log([smallest_rms_db(int(n) + step) for n in counts] / rms_db) for step in (-1, 1)),
    ]
    for scale_db in ACROSS_FITS_SCALES_DB:
        fit = np.array(
            [robust_log_likelihood(c.residual_db, residual_scale_db=scale_db) for c in candidates]
        )
        columns.append(fit - fit.max())
    return np.column_stack(columns)


#: `residual_by_octave` reads each fit's residual in this many octaves.
RESIDUAL_OCTAVES = IMPRINT_OCTAVES


def residual_by_octave(candidates: Sequence[CountCandidate]) -> np.ndarray:
    """Where each of one example's fits leaves its residual, octave by octave.

    The other columns summarise a fit's residual over every band, so a fit that
    leaves 1 dB in the bottom octave, where a compressor's pumping lands, reads
    like one that leaves it where an operation is missing. Set against the
    smallest any fit leaves in the same octave, the residual also tells what no
    fit of the example explains there (noise, the dynamics) from what this fit
    alone leaves.

    Parameters
    ----------
    candidates : sequence of CountCandidate
        Every fit of one example, of every set of types it weighs; residuals in
        the bands of `app.ml.features.CURRENT_SPEC`, from its lowest.

    Returns
    -------
    np.ndarray
        Shape ``(len(candidates), 2 * RESIDUAL_OCTAVES)``: the RMS residual in each
        octave (dB; NaN where the fit's residual stops below it), then the same
        less the smallest of the example's fits in that octave.

    Examples
    --------
    >>> fits = [CountCandidate(n, [], np.full(24, r), 0.0) for n, r in ((1, 2.0), (2, 0.5))]
    >>> residual_by_octave(fits)[:, [0, 1, 2, 10, 11]]
    array([[2. , 2. , nan, 1.5, 1.5],
           [0.5, 0.5, nan, 0. , 0. ]])
    """
    rms_db = np.array(
        [
            np.sqrt(octave_means(np.square(c.residual_db), octaves=RESIDUAL_OCTAVES))
            for c in candidates
        ]
    ).reshape(len(candidates), RESIDUAL_OCTAVES)
    least_db = np.fmin.reduce(rms_db, axis=0, initial=np.nan)
    return np.hstack([rms_db, rms_db - least_db])


def example_rows(
    sets: Sequence[tuple[Sequence[CountCandidate], ChoiceContext]],
    *,
    count_probabilities: np.ndarray,
) -> np.ndarray:
    """The count chooser's rows of one example: every set's `candidate_features`, in
    order, each followed by its `across_fits` and `residual_by_octave` columns.

    Parameters
    ----------
    sets : sequence of (sequence of CountCandidate, ChoiceContext)
        Per set of types the example weighs, its fits and its context.
    count_probabilities : np.ndarray
        CatBoost's probability of 0..MAX_OPERATIONS operations.
    """
    rows = np.vstack(
        [
            candidate_features(found, count_probabilities=count_probabilities, context=context)
            for found, context in sets
        ]
    )
    everything = [candidate for found, _ in sets for candidate in found]
    return np.hstack([rows, across_fits(everything), residual_by_octave(everything)]).astype(
        np.float32
    )


#: The count chooser's CatBoost loss. It ranks each example's candidates, rather than
#: judging each alone ("Logloss"): on every second validation example, over 4 seeds, the
#: count over all 82.67 -> 83.06 %, mixtures' types 59.84 -> 62.22 %, the high shelf's type
#: 96.33 -> 98.53 %, through the chain 64.60 -> 62.86 % (`ops/chooser_study.py --loss`).
CHOOSER_LOSS = "YetiRank"

#: The count chooser averages the scores of rankers fitted with these seeds. On every
#: second validation example (`ops/chooser_study.py --every 2 --seeds 3 --ensemble 4`,
#: against ``--seeds 4``; means), one ranker -> four: count over all 85.42 -> 85.75 %,
#: mixtures' types 66.99 -> 67.71 %, through the chain 64.88 -> 65.70 % (its range over
#: seeds 3.46 -> 1.15 points), the chain alone 93.48 % both (range 1.09 -> 0).
CHOOSER_SEEDS = (0, 1, 2, 3)


def fit_chooser(
    rows: list[np.ndarray],
    *,
    right: list[np.ndarray],
    seeds: Sequence[int] = CHOOSER_SEEDS,
    threads: int = 2,
    loss: str = CHOOSER_LOSS,
) -> CatBoost:
    """The count chooser, fitted on tuning examples' candidate rows.

    Parameters
    ----------
    rows : list of np.ndarray
        Per example, `candidate_features` of its candidates.
    right : list of np.ndarray
        Per example, whether each candidate is right: its count and its types.
    seeds : sequence of int
        CatBoost's random seeds: one model per seed, their raw scores averaged
        (`catboost.sum_models`).
    threads : int
        CatBoost's threads.
    loss : str
        A CatBoost ranking loss, each example's candidates a group, or ``"Logloss"``
        for a classifier of each candidate alone.

    Returns
    -------
    CatBoost
        Small models (depth 6, 600 trees each): their training rows are about ten
        thousand. `chooser_scores` reads them.
    """
    features, labels = np.vstack(rows), np.concatenate(right).astype(int)
    groups = np.repeat(np.arange(len(rows)), [len(r) for r in rows])
    parameters: dict[str, Any] = {
        "iterations": 600,
        "depth": 6,
        "learning_rate": 0.05,
        "thread_count": threads,
        "verbose": False,
        "allow_writing_files": False,
    }
    models: list[CatBoost] = []
    for seed in seeds:
        if loss == "Logloss":
            model: CatBoost = CatBoostClassifier(random_seed=seed, **parameters)
            model.fit(features, labels)
        else:
            model = CatBoostRanker(loss_function=loss, random_seed=seed, **parameters)
            model.fit(Pool(features, labels, group_id=groups))
        models.append(model)
    if len(models) == 1:
        return models[0]
    return sum_models(models, weights=[1 / len(models)] * len(models))


def chooser_scores(chooser: CatBoost, rows: Sequence[np.ndarray]) -> np.ndarray:
    """The count chooser's score of each candidate row: an example's highest is its pick.

    A ranker's score, or a classifier's log-odds of the candidate being right.
    """
    features = np.vstack(rows)
    if isinstance(chooser, CatBoostRanker):
        return np.asarray(chooser.predict(features))
    return np.asarray(chooser.predict(features, prediction_type="RawFormulaVal"))
