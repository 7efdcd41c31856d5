"""Grid models: which notes of a configuration's grid were boosted or cut, and by how much.

Open-set: any subset of the grid's notes, each with a direction, is a valid
answer, not one of a fixed list of sets. One CatBoost model, shared by every
note of the grid, looks at the band difference through a window centred on a
note (three octaves each side, in 1/12-octave bands), at the least-squares
amplitudes of that note's bell and its neighbours', and at where the note lies,
and says "none", "boost" or "cut". Sharing the model across notes is the
convolutional trick: every example teaches it about every note. The gains of
the reported notes come from a nonlinear least-squares fit of the exact bells.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from catboost import CatBoostClassifier

from app.audio.eq import EqOperation
from app.audio.spectrum import Comparison
from app.audio.transfer import coherent_candidate_of
from app.ml.features import (
    CURRENT_SPEC,
    IMPRINT_OCTAVES,
    FeatureSpec,
    band_features,
    imprint_columns,
    option_columns,
    read_candidates,
)
from app.ml.fitting import (
    PhysicsCheck,
    bell_basis,
    fit_gains,
    implausibility,
    least_squares_amplitudes,
    low_band_weights,
    robust_log_likelihood,
)
from app.ml.recognition import ModelLoadError, Recognition, curve_db, load_classifier

#: Bands each side of a note that its row sees (3 octaves of 1/12-octave bands).
WINDOW_BANDS = 36
#: Neighbouring notes each side whose fitted amplitudes a row sees.
NEIGHBOUR_NOTES = 2
#: With `FeatureSpec.reference_levels`, a row also sees the reference's level
#: in every this many bands of its window (1/4 octave).
LEVEL_STEP_BANDS = 3
NONE, BOOST, CUT = 0, 1, 2


def example_features(
    reference_magnitudes: np.ndarray,
    candidate_magnitudes: np.ndarray,
    *,
    notes_hz: np.ndarray,
    width_octaves: float,
    spec: FeatureSpec = CURRENT_SPEC,
    candidate_lossy: np.ndarray | None = None,
    coherent_magnitudes: np.ndarray | None = None,
) -> np.ndarray:
    """Per-example inputs: band features, fitted note amplitudes, fit residual.

    Parameters
    ----------
    reference_magnitudes, candidate_magnitudes : np.ndarray
        Average spectra, shape ``(n, n_fft // 2 + 1)``.
    notes_hz : np.ndarray
        The grid's centre frequencies.
    width_octaves : float
        The grid's bell width.
    spec : FeatureSpec
        Band layout and options.
    candidate_lossy : np.ndarray, optional
        Whether each candidate was decoded from a lossy format (default: none was).
    coherent_magnitudes : np.ndarray, optional
        The candidates through the static transfer (`app.audio.transfer`); with
        `spec.coherent` the band features and fits read these.

    Returns
    -------
    np.ndarray
        Shape ``(n, n_bands + 1 + 2 * len(notes_hz) + 2)``: the level-aligned band
        difference, the level, each note's ridge least-squares amplitude in dB
        fitted with a free level and the RMS residual of that fit, then the
        amplitudes fitted to the raw difference without a level (low bands
        down-weighted) and that fit's residual; with `spec.reference_levels`,
        then the reference's band levels (`reference_levels_db`); with
        `spec.lossy_flag`, then 1 for a lossy candidate, else 0; with
        `spec.coherent`, then `app.ml.features.imprint_features`.
    """
    read = read_candidates(candidate_magnitudes, coherent_magnitudes, spec=spec)
    bands = np.stack(
        [
            band_features(ref, cand, spec=spec)
            for ref, cand in zip(reference_magnitudes, read, strict=True)
        ]
    )
    n_bands = spec.n_bands
    band_db = bands[:, :n_bands]
    basis = bell_basis(tuple(float(f) for f in notes_hz), float(width_octaves), spec=spec)
    amplitudes = least_squares_amplitudes(band_db, basis)
    fitted = amplitudes @ basis.T
    offset = np.mean(band_db - fitted, axis=1, keepdims=True)
    residual = np.sqrt(np.mean((band_db - fitted - offset) ** 2, axis=1, keepdims=True))
    raw_db = band_db + bands[:, n_bands : n_bands + 1]
    weights = low_band_weights(spec=spec)
    raw_amplitudes = least_squares_amplitudes(raw_db, basis, free_level=False, weights=weights)
    raw_residual = np.sqrt(
        np.mean(weights * (raw_db - raw_amplitudes @ basis.T) ** 2, axis=1, keepdims=True)
    )
    options = option_columns(reference_magnitudes, spec=spec, lossy=candidate_lossy)
    options += imprint_columns(reference_magnitudes, candidate_magnitudes, read, spec=spec)
    return np.hstack([bands, amplitudes, residual, raw_amplitudes, raw_residual, *options]).astype(
        np.float32
    )


def note_band_index(notes_hz: np.ndarray, *, spec: FeatureSpec = CURRENT_SPEC) -> np.ndarray:
    """Index of the band holding each note."""
    position = np.log2(np.asarray(notes_hz) / spec.min_frequency_hz) * spec.bands_per_octave
    return np.clip(np.floor(position).astype(int), 0, spec.n_bands - 1)


def note_rows(
    features: np.ndarray, *, notes_hz: np.ndarray, spec: FeatureSpec = CURRENT_SPEC
) -> np.ndarray:
    """Expand per-example features into one row per (example, note).

    Each row holds the band window around the note (NaN past the spectrum's
    ends), both fits' amplitudes of the note and its neighbours (NaN past the
    grid's ends), the note's log-frequency and grid position, the level and the
    fits' residuals; with `spec.reference_levels`, then the reference's level
    every `LEVEL_STEP_BANDS` bands across the window; with `spec.lossy_flag`,
    then the lossy flag; with `spec.coherent`, then the example's imprint
    (`app.ml.features.imprint_features`).

    Returns
    -------
    np.ndarray
        Shape ``(n * len(notes_hz), row_width)``, example-major.
    """
    n_notes, n_bands = len(notes_hz), spec.n_bands
    band_db = features[:, :n_bands]
    start = n_bands + 1
    amplitudes = features[:, start : start + n_notes]
    raw_amplitudes = features[:, start + n_notes + 1 : start + 2 * n_notes + 1]
    per_example_columns = [n_bands, start + n_notes, start + 2 * n_notes + 1]
    window = note_band_index(notes_hz, spec=spec)[:, np.newaxis] + np.arange(2 * WINDOW_BANDS + 1)
    windows = _band_windows(band_db, window=window)  # (n, notes, 2K + 1)
    neighbour_index = np.arange(n_notes)[:, np.newaxis] + np.arange(2 * NEIGHBOUR_NOTES + 1)
    neighbours = [
        np.pad(a, ((0, 0), (NEIGHBOUR_NOTES, NEIGHBOUR_NOTES)), constant_values=np.nan)[
            :, neighbour_index
        ]
        for a in (amplitudes, raw_amplitudes)
    ]
    n = len(features)
    position = np.broadcast_to(np.log2(notes_hz / notes_hz[0]), (n, n_notes))
    index = np.broadcast_to(np.arange(n_notes) / max(1, n_notes - 1), (n, n_notes))
    per_example = np.broadcast_to(
        features[:, per_example_columns][:, np.newaxis], (n, n_notes, len(per_example_columns))
    )
    parts = [windows, *neighbours, position[..., np.newaxis], index[..., np.newaxis], per_example]
    options = start + 2 * n_notes + 2
    if spec.reference_levels:
        levels = features[:, options : options + n_bands]
        parts.append(_band_windows(levels, window=window[:, ::LEVEL_STEP_BANDS]))
        options += n_bands
    if spec.lossy_flag:
        parts.append(np.broadcast_to(features[:, options, np.newaxis, np.newaxis], (n, n_notes, 1)))
        options += 1
    if spec.coherent:
        imprint = features[:, options : options + IMPRINT_OCTAVES + 1]
        parts.append(np.broadcast_to(imprint[:, np.newaxis], (n, n_notes, imprint.shape[1])))
    return np.concatenate(parts, axis=2).reshape(n * n_notes, -1).astype(np.float32)


def _band_windows(values: np.ndarray, *, window: np.ndarray) -> np.ndarray:
    """``values[:, window]`` for band indices offset by `WINDOW_BANDS`, NaN past the ends."""
    padded = np.pad(values, ((0, 0), (WINDOW_BANDS, WINDOW_BANDS)), constant_values=np.nan)
    return padded[:, window]


def operations_to_classes(operations: np.ndarray, *, notes_hz: np.ndarray) -> np.ndarray:
    """Per-note class (0 none, 1 boost, 2 cut) of each example, shape ``(n, n_notes)``.

    Parameters
    ----------
    operations : np.ndarray
        Shape ``(n, max_ops, k)``, NaN-padded: frequency and gain first (then
        width, and type and shape where k is 5).
    """
    classes = np.zeros((len(operations), len(notes_hz)), dtype=np.int8)
    for row, ops in enumerate(operations):
        for frequency_hz, gain_db in ops[~np.isnan(ops[:, 0]), :2]:
            classes[row, nearest_note(frequency_hz, notes_hz=notes_hz)] = (
                BOOST if gain_db > 0 else CUT
            )
    return classes


def nearest_note(frequency_hz: float, *, notes_hz: np.ndarray) -> int:
    """Index of the grid note nearest `frequency_hz` in octaves."""
    return int(np.argmin(np.abs(np.log2(notes_hz / frequency_hz))))


def decode(probabilities: np.ndarray) -> np.ndarray:
    """Most likely class of every note; ``probabilities`` has shape ``(..., 3)``."""
    return np.argmax(probabilities, axis=-1).astype(np.int8)


#: A fitted bell weaker than this (dB), or of the wrong sign, is not a credible operation.
MIN_FITTED_GAIN_DB = 1.5
#: Notes whose classes a search changes two at a time: the least certain ones.
_PAIR_NOTES = 10


def fit_log_likelihood(
    classes: np.ndarray, band_db: np.ndarray, *, basis: np.ndarray, residual_scale_db: float
) -> float:
    """Robust log-likelihood of the best fit of a set's bells to a band difference.

    Parameters
    ----------
    classes : np.ndarray
        Per-note class (0 none, 1 boost, 2 cut), shape ``(n_notes,)``.
    band_db : np.ndarray
        Band difference, shape ``(n_bands,)``.
    basis : np.ndarray
        Unit bells of the grid's notes (`app.ml.fitting.bell_basis`).
    residual_scale_db : float
        Scale of the robust loss.

    Returns
    -------
    float
        `app.ml.fitting.robust_log_likelihood` of the residual, less the
        `app.ml.fitting.implausibility` of amplitudes of the wrong sign or
        weaker than `MIN_FITTED_GAIN_DB`.
    """
    return _set_scorer(band_db, basis=basis, residual_scale_db=residual_scale_db)(classes)


def _set_scorer(
    band_db: np.ndarray, *, basis: np.ndarray, residual_scale_db: float
) -> Callable[[np.ndarray], float]:
    """`fit_log_likelihood` for many sets of one example: the normal equations of every
    bell and the level are formed once, and each set solves its own small block."""
    design = np.hstack([basis, np.ones((len(band_db), 1))])
    gram, projection = design.T @ design, design.T @ band_db
    level_column = basis.shape[1]

    def score(classes: np.ndarray) -> float:
        active = np.flatnonzero(classes != NONE)
        columns = np.append(active, level_column)
        coefficients = np.linalg.solve(gram[np.ix_(columns, columns)], projection[columns])
        residual = band_db - design[:, columns] @ coefficients
        signed_gains_db = np.where(classes[active] == BOOST, 1.0, -1.0) * coefficients[:-1]
        return robust_log_likelihood(
            residual, residual_scale_db=residual_scale_db
        ) - implausibility(signed_gains_db, min_gain_db=MIN_FITTED_GAIN_DB)

    return score


def _neighbour_sets(classes: np.ndarray, probabilities: np.ndarray) -> list[np.ndarray]:
    """Sets one move away: a note's class changed, an operation moved to a neighbouring
    note, or two of the least certain notes changed together."""
    n_notes = len(classes)
    plausible = probabilities > 1e-3
    moves: list[dict[int, int]] = []
    for note in range(n_notes):
        for label in np.flatnonzero(plausible[note]).tolist():
            if label != classes[note]:
                moves.append({note: label})
        if classes[note] != NONE:
            for other in (note - 1, note + 1):
                if 0 <= other < n_notes and classes[other] == NONE:
                    moves.append({note: NONE, other: int(classes[note])})
    uncertain = [
        note
        for note in np.argsort(probabilities.max(axis=1))[:_PAIR_NOTES].tolist()
        if probabilities[note].max() < 0.98
    ]
    for i, first in enumerate(uncertain):
        for second in uncertain[i + 1 :]:
            for a in np.flatnonzero(plausible[first]).tolist():
                for b in np.flatnonzero(plausible[second]).tolist():
                    if a != classes[first] and b != classes[second]:
                        moves.append({first: a, second: b})
    sets = []
    for move in moves:
        changed = classes.copy()
        for note, label in move.items():
            changed[note] = label
        sets.append(changed)
    return sets


def search_classes(
    probabilities: np.ndarray,
    band_db: np.ndarray,
    *,
    basis: np.ndarray,
    check: PhysicsCheck,
    max_steps: int = 12,
) -> np.ndarray:
    """The set of per-note classes that best agrees with CatBoost and with the physics.

    Climbs from the per-note argmax, one move at a time (see `_neighbour_sets`),
    to a set that maximises ``sum(log p) + check.weight * fit_log_likelihood``.

    Parameters
    ----------
    probabilities : np.ndarray
        One example's class probabilities, shape ``(n_notes, 3)``.
    band_db : np.ndarray
        Its level-aligned band difference, shape ``(n_bands,)``.
    basis : np.ndarray
        Unit bells of the grid's notes.
    check : PhysicsCheck
        Weight 0 returns the argmax unchanged.

    Returns
    -------
    np.ndarray
        Per-note classes, shape ``(n_notes,)``.
    """
    classes = decode(probabilities)
    if check.weight <= 0:
        return classes
    log_p = np.log(probabilities + 1e-6)
    notes = np.arange(len(classes))
    fit_score = _set_scorer(band_db, basis=basis, residual_scale_db=check.residual_scale_db)

    def score(candidate: np.ndarray) -> float:
        bells = np.count_nonzero(candidate != NONE)
        fit = fit_score(candidate) - check.bell_cost * bells
        return float(log_p[notes, candidate].sum()) + check.weight * fit

    best = score(classes)
    for _ in range(max_steps):
        scored = [(score(c), c) for c in _neighbour_sets(classes, probabilities)]
        if not scored:
            break
        top_score, top = max(scored, key=lambda pair: pair[0])
        if top_score <= best + 1e-9:
            break
        best, classes = top_score, top
    return classes


#: The one metadata ``serving`` a grid model loads with: what it was fitted on. Some grids
#: were once served the demodulated transfer in its place (``demodulated``, stops 56-63;
#: ``demodulated_under_dynamics``, stops 57-66; models/REPORT.md, 'What was tried') until
#: every grid was refitted on it; a model folder of either no longer loads
#: (`ModelLoadError`).
AS_FITTED = "as_fitted"


@dataclass
class GridModel:
    """A trained grid model, ready to recognise."""

    id: str
    metadata: dict[str, Any]
    classifier: CatBoostClassifier
    notes_hz: np.ndarray
    width_octaves: float
    physics: PhysicsCheck = PhysicsCheck()
    spec: FeatureSpec = CURRENT_SPEC

    @classmethod
    def load(cls, folder: Path, metadata: dict[str, Any]) -> GridModel:
        """Load ``model.cbm`` and the grid from ``metadata.json``."""
        classifier = load_classifier(folder)
        stored = metadata.get("serving", AS_FITTED)
        if stored != AS_FITTED:
            raise ModelLoadError(
                f"model {metadata['id']}: serving {stored!r} is no longer served (only "
                f"{AS_FITTED!r}); refit it with `mastering-trainer train`"
            )
        return cls(
            id=str(metadata["id"]),
            metadata=metadata,
            classifier=classifier,
            notes_hz=np.asarray(metadata["grid"]["notes_hz"], dtype=float),
            width_octaves=float(metadata["grid"]["width_octaves"]),
            physics=PhysicsCheck.from_dict(metadata.get("decode")),
            spec=FeatureSpec.from_dict(metadata["feature_spec"]),
        )

    @property
    def basis(self) -> np.ndarray:
        """Unit bells of the grid's notes."""
        return bell_basis(tuple(float(f) for f in self.notes_hz), self.width_octaves)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities, shape ``(n, n_notes, 3)``, from per-example features."""
        rows = note_rows(features, notes_hz=self.notes_hz, spec=self.spec)
        flat = np.asarray(self.classifier.predict_proba(rows))
        return flat.reshape(len(features), len(self.notes_hz), 3)

    def classes_to_operations(
        self, classes: np.ndarray, *, band_db: np.ndarray
    ) -> list[EqOperation]:
        """Operations of one example's per-note classes, gains fitted to `band_db`."""
        notes = [int(i) for i in np.flatnonzero(classes != NONE)]
        signs = [1.0 if classes[i] == BOOST else -1.0 for i in notes]
        gains, _ = fit_gains(
            band_db,
            frequencies_hz=[float(self.notes_hz[i]) for i in notes],
            width_octaves=self.width_octaves,
            initial_gains_db=[6.0 * s for s in signs],
        )
        return [
            EqOperation(float(self.notes_hz[i]), round(g, 1), self.width_octaves)
            for i, g in zip(notes, gains, strict=True)
        ]

    def recognise(self, comparison: Comparison) -> Recognition:
        """Recognise the grid operations that turn the reference into the candidate."""
        coherent = (
            coherent_candidate_of(comparison, demodulate=self.spec.demodulated)
            if self.spec.coherent
            else None
        )
        features = example_features(
            comparison.reference_magnitude[np.newaxis],
            comparison.candidate_magnitude[np.newaxis],
            notes_hz=self.notes_hz,
            width_octaves=self.width_octaves,
            spec=self.spec,
            candidate_lossy=np.array([comparison.candidate_lossy]),
            coherent_magnitudes=None if coherent is None else coherent[np.newaxis],
        )
        probabilities = self.probabilities(features)[0]
        band_db = features[0, : CURRENT_SPEC.n_bands].astype(float)
        classes = search_classes(probabilities, band_db, basis=self.basis, check=self.physics)
        operations = self.classes_to_operations(classes, band_db=band_db)
        confidence = [float(probabilities[i, classes[i]]) for i in np.flatnonzero(classes != NONE)]
        curve = curve_db(operations)
        return Recognition(
            model_id=self.id,
            operations=operations,
            curve_db=curve,
            confidence=confidence,
            read_difference_db=band_db if coherent is not None else None,
        )
