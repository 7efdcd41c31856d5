"""Physics-informed fits of bell shapes to a band difference.

The dB responses of cascaded bells add, so a band difference is close to a
sum of bell shapes. These fits give CatBoost inputs that already speak in
operations (per-note amplitudes, residuals) and turn a recognised set into
gains, frequencies and widths.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import numpy as np
from scipy import optimize

from app.audio.eq import PASS_ORDERS, EqOperation, EqType, response_db
from app.ml.features import CURRENT_SPEC, FeatureSpec


@dataclass(frozen=True, kw_only=True)
class PhysicsCheck:
    """How much a set's fit to the band difference weighs against CatBoost's probabilities.

    CatBoost judges from features; the bells of a whole answer must also add
    up to the difference. On fine grids of wide bells, CatBoost can trade one
    bell for two neighbours that look alike locally, and the general model's
    count can be one off; the fit settles many such cases. ``weight`` 0 leaves
    CatBoost's answer alone.
    """

    weight: float = 0.0
    residual_scale_db: float = 0.05
    #: Log-likelihood each bell of an answer must earn: a fit with more bells is
    #: never worse, so without a price the check would favour too many.
    bell_cost: float = 0.0

    def to_dict(self) -> dict[str, float]:
        """JSON-ready form, stored in a model's metadata."""
        return {
            "physics_weight": self.weight,
            "residual_scale_db": self.residual_scale_db,
            "bell_cost": self.bell_cost,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PhysicsCheck:
        """Inverse of `to_dict`; no entry means the plain argmax."""
        if not data:
            return cls()
        return cls(
            weight=data["physics_weight"],
            residual_scale_db=data["residual_scale_db"],
            bell_cost=data.get("bell_cost", 0.0),
        )


#: Log-likelihood cost per dB that a fitted bell falls short of its minimum gain.
IMPLAUSIBLE_COST_PER_DB = 20.0


def robust_log_likelihood(residual_db: np.ndarray, *, residual_scale_db: float) -> float:
    """Cauchy log-likelihood (up to a constant) of a fit's per-band residuals.

    Each band's residual ``r`` scores ``-log(1 + (r / residual_scale_db)**2)``, so
    the few bands that no bell explains (a codec's low-pass, a limiter) cost
    little each, while a misfit across many bands costs a lot.

    Examples
    --------
    >>> robust_log_likelihood(np.zeros(120), residual_scale_db=0.1)
    -0.0
    """
    return float(-np.sum(np.log1p((np.asarray(residual_db) / residual_scale_db) ** 2)))


def implausibility(signed_gains_db: np.ndarray, *, min_gain_db: float) -> float:
    """Penalty for fitted bells of the wrong sign or weaker than `min_gain_db`.

    ``signed_gains_db`` are the gains times the sign the answer claims, so a
    credible bell is at least `min_gain_db`.
    """
    shortfall = np.clip(min_gain_db - np.asarray(signed_gains_db, dtype=float), 0.0, None)
    return IMPLAUSIBLE_COST_PER_DB * float(np.sum(shortfall))


#: Gain of the unit shapes: bells are measured at 6 dB and scaled down.
_SHAPE_GAIN_DB = 6.0


@cache
def bell_basis(
    centres_hz: tuple[float, ...], width_octaves: float, *, spec: FeatureSpec = CURRENT_SPEC
) -> np.ndarray:
    """Band responses of 1 dB-per-dB bells, shape ``(n_bands, len(centres_hz))``.

    Examples
    --------
    >>> basis = bell_basis((1000.0,), 1.0)
    >>> basis.shape, round(float(basis.max()), 2)
    ((120, 1), 1.0)
    """
    bands = spec.spectrum.band_centres_hz
    columns = [
        response_db(
            [EqOperation(f, _SHAPE_GAIN_DB, width_octaves)],
            frequency_hz=bands,
            sample_rate_hz=spec.sample_rate_hz,
        )
        / _SHAPE_GAIN_DB
        for f in centres_hz
    ]
    basis = np.stack(columns, axis=1)
    basis.setflags(write=False)
    return basis


def least_squares_amplitudes(
    band_db: np.ndarray,
    basis: np.ndarray,
    *,
    ridge: float = 0.05,
    free_level: bool = True,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Ridge least-squares amplitude (dB) of each basis bell.

    Parameters
    ----------
    band_db : np.ndarray
        Band difference, shape ``(n_bands,)``, or a batch ``(n, n_bands)``.
    basis : np.ndarray
        From `bell_basis`.
    ridge : float
        Tikhonov weight; keeps overlapping wide bells from trading huge opposite amplitudes.
    free_level : bool
        Fit a constant too. With wide bells covering the spectrum a constant and
        the sum of all bells are nearly the same thing, so the amplitudes then
        share an ambiguous common part; without it a level change leaks into them.
    weights : np.ndarray, optional
        Per-band weights, e.g. lower where the STFT blurs the bells.

    Returns
    -------
    np.ndarray
        Shape ``(n_centres,)`` or ``(n, n_centres)``.
    """
    n_bands, n_bells = basis.shape
    design = np.hstack([basis, np.ones((n_bands, 1))]) if free_level else basis
    regulariser = ridge * np.eye(design.shape[1])
    if free_level:
        regulariser[-1, -1] = 0.0
    weighted = design * (np.ones(n_bands) if weights is None else weights)[:, np.newaxis]
    solver = np.linalg.solve(weighted.T @ design + regulariser, weighted.T)
    amplitudes = np.atleast_2d(band_db) @ solver.T
    return amplitudes[..., :n_bells].reshape(*np.shape(band_db)[:-1], n_bells)


def low_band_weights(*, spec: FeatureSpec = CURRENT_SPEC, knee_hz: float = 120.0) -> np.ndarray:
    """Per-band fit weights that fall as ``(f / knee_hz)**2`` below the knee.

    Below about 120 Hz a 2048-point STFT blurs bells over several bands, so
    those bands are trusted less.
    """
    centres = spec.spectrum.band_centres_hz
    return np.clip(centres / knee_hz, 0.05, 1.0) ** 2


def fit_gains(
    band_db: np.ndarray,
    *,
    frequencies_hz: list[float],
    width_octaves: float,
    initial_gains_db: list[float],
    spec: FeatureSpec = CURRENT_SPEC,
) -> tuple[list[float], float]:
    """Gains of bells at known centres and width that best explain `band_db`.

    A nonlinear least-squares fit with the exact filter responses and a free
    level offset. Gains keep the sign of their initial value.

    Returns
    -------
    gains_db, level_db
    """
    if not frequencies_hz:
        return [], float(np.median(band_db))
    bands = spec.spectrum.band_centres_hz
    signs = np.sign(initial_gains_db)

    def residual(params: np.ndarray) -> np.ndarray:
        ops = [
            EqOperation(f, float(s * g), width_octaves)
            for f, g, s in zip(frequencies_hz, params[:-1], signs, strict=True)
        ]
        curve = response_db(ops, frequency_hz=bands, sample_rate_hz=spec.sample_rate_hz)
        return curve + params[-1] - band_db

    start = np.append(np.abs(initial_gains_db), 0.0)
    lower = np.append(np.full(len(frequencies_hz), 0.5), -12.0)
    upper = np.append(np.full(len(frequencies_hz), 18.0), 12.0)
    result = optimize.least_squares(residual, np.clip(start, lower, upper), bounds=(lower, upper))
    return [float(s * g) for s, g in zip(signs, result.x[:-1], strict=True)], float(result.x[-1])


#: Band differences and fitted curves are read no deeper than this (dB): a pass
#: filter's stop band sinks into the music's noise floor, which no response explains.
#: Where the music is quiet it measures only 15-20 dB deep, and at -30 dB the gap
#: was left for an extra operation to explain. 3 dB below the deepest bell or shelf
#: of the general space (`app.training.grids.GENERAL_MAX_GAIN_DB`, 12 dB); chosen on
#: the general model's tuning tracks against -30 (mixtures' count 57.2 to 62.8 %):
#: `models/REPORT.md`, "What was tried".
FIT_FLOOR_DB = -15.0
#: The floor of the pursuit that computes the general model's CatBoost features, as the
#: shipped model was trained (a refit at `FIT_FLOOR_DB` counted mixtures worse).
FEATURE_FLOOR_DB = -30.0
#: Shelf slopes and pass-filter orders of the general dictionary's atoms.
DICTIONARY_SHELF_SLOPES = (0.4, 0.7, 1.0)
#: Where the dictionary's shelf corners and pass-filter cut-offs lie (Hz).
LOW_SHELF_HZ, HIGH_SHELF_HZ = (30.0, 600.0), (1_200.0, 16_000.0)
HIGH_PASS_HZ, LOW_PASS_HZ = (20.0, 300.0), (2_500.0, 18_000.0)


def floored(values_db: np.ndarray, *, floor_db: float | None = None) -> np.ndarray:
    """`values_db` no deeper than `floor_db` (`FIT_FLOOR_DB` by default)."""
    return np.maximum(values_db, FIT_FLOOR_DB if floor_db is None else floor_db)


#: The levels `leveled_residual` weighs (dB), as far as a refined fit's free level reaches.
_LEVELS_DB = np.arange(-20.0, 20.0 + 1e-9, 0.05)


def leveled_residual(band_db: np.ndarray, *, curve_db: np.ndarray) -> np.ndarray:
    """A fitted curve's residual at its best level, both read no deeper than `FIT_FLOOR_DB`.

    Parameters
    ----------
    band_db : np.ndarray
        Level-aligned band difference, shape ``(n_bands,)``.
    curve_db : np.ndarray
        The fitted operations' curve on the same bands.

    Returns
    -------
    np.ndarray
        ``floored(band_db) - floored(curve_db + level)`` at the level (within 0.025 dB)
        of the smallest sum of absolute residuals: where neither is floored, the
        median of their difference, so a level change costs nothing. Taking the
        median after flooring instead counted the level as error in every band
        that both hold at the floor: a high-pass under a high-shelf cut of 5.7 dB,
        fitted exactly, left 5.3 dB there.
    """
    target = floored(np.asarray(band_db, dtype=float))
    residuals = target - floored(np.asarray(curve_db)[np.newaxis] + _LEVELS_DB[:, np.newaxis])
    return residuals[int(np.argmin(np.abs(residuals).sum(axis=1)))]


@dataclass(frozen=True)
class Dictionary:
    """Shapes of every operation type on fine grids of frequencies, for greedy pursuit.

    Bells, shelves (unit-gain shapes, scaled by the pursuit) and pass filters
    (their whole response: a pass filter has no gain, so its coefficient
    should come out near 1).
    """

    centres_hz: np.ndarray
    widths_octaves: np.ndarray
    atoms: np.ndarray  # (n_bands, n_atoms)
    #: Each atom's type (`app.audio.eq.EqType`), and its shelf slope or pass order.
    types: np.ndarray
    shapes: np.ndarray
    #: How deep its atoms, and the differences a pursuit reads with it, are read (dB;
    #: None: `FIT_FLOOR_DB`).
    floor_db: float | None = None

    def operation(self, index: int, *, gain_db: float) -> EqOperation:
        """The operation of atom `index` with pursuit coefficient `gain_db`."""
        kind = str(self.types[index])
        frequency = float(self.centres_hz[index])
        if kind in ("high_pass", "low_pass"):
            return EqOperation(frequency, 0.0, type=kind, order=int(self.shapes[index]))  # type: ignore[arg-type]
        if kind in ("low_shelf", "high_shelf"):
            return EqOperation(frequency, gain_db, type=kind, slope=float(self.shapes[index]))  # type: ignore[arg-type]
        return EqOperation(frequency, gain_db, float(self.widths_octaves[index]))


def _grid_hz(low_hz: float, high_hz: float, *, steps_per_octave: int) -> np.ndarray:
    count = int(np.floor(np.log2(high_hz / low_hz) * steps_per_octave)) + 1
    return low_hz * 2.0 ** (np.arange(count) / steps_per_octave)


def _atoms(
    operations: list[EqOperation],
    *,
    spec: FeatureSpec,
    unit_gain: bool,
    floor_db: float | None = None,
) -> np.ndarray:
    bands = spec.spectrum.band_centres_hz
    columns = [
        response_db([op], frequency_hz=bands, sample_rate_hz=spec.sample_rate_hz)
        for op in operations
    ]
    atoms = floored(np.stack(columns, axis=1), floor_db=floor_db)
    return atoms / _SHAPE_GAIN_DB if unit_gain else atoms


@cache
def general_dictionary(
    *,
    min_hz: float = 30.0,
    max_hz: float = 16_000.0,
    steps_per_octave: int = 12,
    types: tuple[str, ...] = ("bell",),
    spec: FeatureSpec = CURRENT_SPEC,
    floor_db: float | None = None,
) -> Dictionary:
    """Bells every 1/12 octave from `min_hz` to `max_hz`, widths 1/2 to 2 octaves.

    With more `types`, also shelves (corners every 1/12 octave, slopes
    `DICTIONARY_SHELF_SLOPES`) and pass filters (cut-offs every 1/12 octave,
    orders 2 and 4) over `LOW_SHELF_HZ`, `HIGH_SHELF_HZ`, `HIGH_PASS_HZ` and
    `LOW_PASS_HZ`. Shelves and pass filters are read no deeper than `floor_db`
    (`FIT_FLOOR_DB` by default), as is the difference a pursuit with it reads.
    """
    centres = _grid_hz(min_hz, max_hz, steps_per_octave=steps_per_octave)
    widths = np.array([0.5, 0.71, 1.0, 1.41, 2.0])
    parts = [
        (
            np.tile(centres, len(widths)),
            np.repeat(widths, len(centres)),
            np.hstack([bell_basis(tuple(centres.tolist()), float(w), spec=spec) for w in widths]),
            np.full(len(centres) * len(widths), "bell"),
            np.full(len(centres) * len(widths), np.nan),
        )
    ]
    ranges = {
        "low_shelf": LOW_SHELF_HZ,
        "high_shelf": HIGH_SHELF_HZ,
        "high_pass": HIGH_PASS_HZ,
        "low_pass": LOW_PASS_HZ,
    }
    for kind in types:
        if kind == "bell":
            continue
        corners = _grid_hz(*ranges[kind], steps_per_octave=steps_per_octave)
        is_pass = kind in ("high_pass", "low_pass")
        shapes = np.array(PASS_ORDERS if is_pass else DICTIONARY_SHELF_SLOPES, dtype=float)
        frequencies, kinds_shapes = np.repeat(corners, len(shapes)), np.tile(shapes, len(corners))
        operations = [
            EqOperation(float(f), 0.0, type=kind, order=int(v))  # type: ignore[arg-type]
            if is_pass
            else EqOperation(float(f), _SHAPE_GAIN_DB, type=kind, slope=float(v))  # type: ignore[arg-type]
            for f, v in zip(frequencies, kinds_shapes, strict=True)
        ]
        parts.append(
            (
                frequencies,
                np.ones(len(frequencies)),
                _atoms(operations, spec=spec, unit_gain=not is_pass, floor_db=floor_db),
                np.full(len(frequencies), kind),
                kinds_shapes,
            )
        )
    return Dictionary(
        centres_hz=np.concatenate([p[0] for p in parts]),
        widths_octaves=np.concatenate([p[1] for p in parts]),
        atoms=np.hstack([p[2] for p in parts]),
        types=np.concatenate([p[3] for p in parts]),
        shapes=np.concatenate([p[4] for p in parts]),
        floor_db=floor_db,
    )


def greedy_pursuit(
    band_db: np.ndarray,
    *,
    count: int,
    dictionary: Dictionary,
    min_spacing_octaves: float = 0.4,
    required: tuple[str, ...] = (),
    required_first: bool = True,
) -> tuple[list[EqOperation], list[float]]:
    """Orthogonal matching pursuit with the dictionary's atoms and a free constant.

    Atoms closer than `min_spacing_octaves` to a chosen one, and atoms of a
    type other than bell already chosen, are not chosen again. While a type of
    `required` has not been chosen, only atoms of those types are: from the
    first step, or with `required_first` false only in the last steps, as many
    as the types still missing.

    Returns
    -------
    operations, residual_rms_db
        The operations found after 1..`count` steps, and the RMS residual
        after 0..`count` steps.
    """
    atoms = dictionary.atoms
    band_db = floored(np.asarray(band_db, dtype=float), floor_db=dictionary.floor_db)
    norms = np.linalg.norm(atoms, axis=0)
    chosen: list[int] = []
    columns = np.ones((atoms.shape[0], 1))
    coefficients = np.linalg.lstsq(columns, band_db, rcond=None)[0]
    residual = band_db - columns @ coefficients
    residuals = [float(np.sqrt(np.mean(residual**2)))]
    log_centres = np.log2(dictionary.centres_hz)
    # A pass filter only takes away: its atom counts only where it matches with its own sign.
    is_pass = np.isin(dictionary.types, ("high_pass", "low_pass"))
    for _ in range(count):
        matches = atoms.T @ residual / norms
        scores = np.where(is_pass, matches, np.abs(matches))
        for index in chosen:
            scores[np.abs(log_centres - log_centres[index]) < min_spacing_octaves] = -np.inf
            if dictionary.types[index] != "bell":
                scores[dictionary.types == dictionary.types[index]] = -np.inf
        missing = set(required) - {str(dictionary.types[index]) for index in chosen}
        if missing and (required_first or count - len(chosen) <= len(missing)):
            scores[~np.isin(dictionary.types, list(missing))] = -np.inf
        best = int(np.argmax(scores))
        if not np.isfinite(scores[best]):
            break
        chosen.append(best)
        columns = np.hstack([atoms[:, chosen], np.ones((atoms.shape[0], 1))])
        coefficients = np.linalg.lstsq(columns, band_db, rcond=None)[0]
        residual = band_db - columns @ coefficients
        residuals.append(float(np.sqrt(np.mean(residual**2))))
    operations = [
        dictionary.operation(i, gain_db=float(g))
        for i, g in zip(chosen, coefficients[:-1], strict=True)
    ]
    return operations, residuals


#: Relative finite-difference step of `refine_operations`' Jacobian.
_JACOBIAN_STEP = 1e-7
#: Bounds of a refined shelf's slope S (the cookbook's: 1 is the steepest without overshoot).
SHELF_SLOPE_BOUNDS = (0.15, 1.0)
#: The most a refined bell or shelf may boost or cut (dB): the general space's operations
#: reach 12 dB. Deeper, a shelf cut is a pass filter, and bells reaching ±24 dB had come in
#: pairs that cancel, where a song held two operations close together.
MAX_FITTED_GAIN_DB = 15.0


#: Where the general space draws each type's frequency (Hz): bells' centres, shelves'
#: corners, pass filters' cut-offs (`app.training.grids.random_typed_set`).
TYPED_FREQUENCY_HZ: dict[EqType, tuple[float, float]] = {
    "bell": (30.0, 16_000.0),
    "low_shelf": (40.0, 400.0),
    "high_shelf": (2_000.0, 12_000.0),
    "high_pass": (25.0, 200.0),
    "low_pass": (4_000.0, 16_000.0),
}


def octaves_outside(op: EqOperation) -> float:
    """How far (octaves) `op`'s frequency lies outside its type's `TYPED_FREQUENCY_HZ`.

    Examples
    --------
    >>> octaves_outside(EqOperation(1_000.0, -4.0, type="high_shelf"))
    1.0
    >>> octaves_outside(EqOperation(8_000.0, -4.0, type="high_shelf"))
    0.0
    """
    low_hz, high_hz = TYPED_FREQUENCY_HZ[op.type]
    return float(max(0.0, np.log2(low_hz / op.frequency_hz), np.log2(op.frequency_hz / high_hz)))


#: Where a refined operation of each type but bells may lie (Hz).
TYPE_BOUNDS_HZ = {
    "low_shelf": (20.0, 1_000.0),
    "high_shelf": (1_000.0, 18_000.0),
    "high_pass": (20.0, 300.0),
    "low_pass": (2_500.0, 18_000.0),
}


def _parameters(
    op: EqOperation, *, min_hz: float, max_hz: float
) -> list[tuple[float, float, float]]:
    """(start, lower, upper) of each refined parameter of one operation."""
    low_hz, high_hz = TYPE_BOUNDS_HZ.get(op.type, (min_hz, max_hz))
    log2_hz = float(np.clip(np.log2(op.frequency_hz), np.log2(low_hz), np.log2(high_hz)))
    frequency = (log2_hz, float(np.log2(low_hz)), float(np.log2(high_hz)))
    if op.is_pass:
        return [frequency]
    gain = (
        (op.gain_db, -MAX_FITTED_GAIN_DB, -0.1)
        if op.gain_db < 0
        else (op.gain_db, 0.1, MAX_FITTED_GAIN_DB)
    )
    if op.type == "bell":
        shape = (float(np.log2(op.width_octaves)), float(np.log2(0.25)), float(np.log2(4.0)))
    else:
        low, high = np.log2(SHELF_SLOPE_BOUNDS)
        shape = (float(np.log2(op.slope)), float(low), float(high))
    return [frequency, gain, shape]


def _with_parameters(op: EqOperation, values: np.ndarray) -> EqOperation:
    frequency = float(2.0 ** values[0])
    if op.is_pass:
        return replace(op, frequency_hz=frequency)
    if op.type == "bell":
        return replace(
            op,
            frequency_hz=frequency,
            gain_db=float(values[1]),
            width_octaves=float(2.0 ** values[2]),
        )
    return replace(
        op, frequency_hz=frequency, gain_db=float(values[1]), slope=float(2.0 ** values[2])
    )


def refine_operations(
    band_db: np.ndarray,
    operations: list[EqOperation],
    *,
    spec: FeatureSpec = CURRENT_SPEC,
    min_hz: float = 20.0,
    max_hz: float = 20_000.0,
) -> tuple[list[EqOperation], float]:
    """Nonlinear least-squares refinement of every operation, its type and shape kept.

    A bell's frequency, gain and width, a shelf's corner, gain and slope, a
    pass filter's cut-off (its order kept), and a free level; curve and
    `band_db` are read no deeper than `FIT_FLOOR_DB`.

    Returns
    -------
    operations, residual_rms_db
    """
    bands = spec.spectrum.band_centres_hz
    target = floored(np.asarray(band_db, dtype=float))
    if not operations:
        level = float(np.mean(target))
        return [], float(np.sqrt(np.mean((target - level) ** 2)))
    bounds = [_parameters(op, min_hz=min_hz, max_hz=max_hz) for op in operations]
    slices, offset = [], 0
    for parameters in bounds:
        slices.append(slice(offset, offset + len(parameters)))
        offset += len(parameters)

    def unpack(params: np.ndarray) -> list[EqOperation]:
        return [_with_parameters(op, params[s]) for op, s in zip(operations, slices, strict=True)]

    def one_db(op: EqOperation) -> np.ndarray:
        return response_db([op], frequency_hz=bands, sample_rate_hz=spec.sample_rate_hz)

    def curve(params: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        each = [one_db(op) for op in unpack(params)]
        return sum(each, np.zeros(len(bands))) + params[-1], each

    def residual(params: np.ndarray) -> np.ndarray:
        total, _ = curve(params)
        return floored(total) - target

    def jacobian(params: np.ndarray) -> np.ndarray:
        # Each parameter moves one operation only: differentiate that one alone.
        total, each = curve(params)
        base = floored(total)
        columns = np.zeros((len(bands), len(params)))
        columns[:, -1] = (total > FIT_FLOOR_DB).astype(float)
        for index, op in enumerate(operations):
            others = total - each[index]
            for column in range(slices[index].start, slices[index].stop):
                step = _JACOBIAN_STEP * max(1.0, abs(float(params[column])))
                moved = params.copy()
                moved[column] += step
                moved_op = _with_parameters(op, moved[slices[index]])
                columns[:, column] = (floored(others + one_db(moved_op)) - base) / step
        return columns

    lower = np.array([b[1] for p in bounds for b in p] + [-20.0])
    upper = np.array([b[2] for p in bounds for b in p] + [20.0])
    start = np.array([b[0] for p in bounds for b in p] + [0.0])
    x0 = np.clip(start, lower + 1e-9, upper - 1e-9)
    result = optimize.least_squares(residual, x0, jac=jacobian, bounds=(lower, upper), max_nfev=200)
    return unpack(result.x), float(np.sqrt(np.mean(result.fun**2)))
