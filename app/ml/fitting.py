"""Physics-informed fits of bell shapes to a band difference.

The dB responses of cascaded bells add, so a band difference is close to a
sum of bell shapes. These fits give CatBoost inputs that already speak in
operations (per-note amplitudes, residuals) and turn a recognised set into
gains, frequencies and widths.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from scipy import optimize

from app.audio.eq import EqOperation, response_db
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


@dataclass(frozen=True)
class Dictionary:
    """Bell shapes on a fine grid of centres and a few widths, for greedy pursuit."""

    centres_hz: np.ndarray
    widths_octaves: np.ndarray
    atoms: np.ndarray  # (n_bands, n_atoms), unit-gain shapes


@cache
def general_dictionary(
    *,
    min_hz: float = 30.0,
    max_hz: float = 16_000.0,
    steps_per_octave: int = 12,
    spec: FeatureSpec = CURRENT_SPEC,
) -> Dictionary:
    """Atoms every 1/12 octave from `min_hz` to `max_hz`, widths 1/2 to 2 octaves."""
    count = int(np.floor(np.log2(max_hz / min_hz) * steps_per_octave)) + 1
    centres = min_hz * 2.0 ** (np.arange(count) / steps_per_octave)
    widths = np.array([0.5, 0.71, 1.0, 1.41, 2.0])
    atoms = np.hstack([bell_basis(tuple(centres.tolist()), float(w), spec=spec) for w in widths])
    return Dictionary(
        centres_hz=np.tile(centres, len(widths)),
        widths_octaves=np.repeat(widths, len(centres)),
        atoms=atoms,
    )


def greedy_pursuit(
    band_db: np.ndarray, *, count: int, dictionary: Dictionary, min_spacing_octaves: float = 0.4
) -> tuple[list[EqOperation], list[float]]:
    """Orthogonal matching pursuit with bell atoms and a free constant.

    Returns
    -------
    operations, residual_rms_db
        The operations found after 1..`count` steps, and the RMS residual
        after 0..`count` steps.
    """
    atoms = dictionary.atoms
    norms = np.linalg.norm(atoms, axis=0)
    chosen: list[int] = []
    columns = np.ones((atoms.shape[0], 1))
    coefficients = np.linalg.lstsq(columns, band_db, rcond=None)[0]
    residual = band_db - columns @ coefficients
    residuals = [float(np.sqrt(np.mean(residual**2)))]
    log_centres = np.log2(dictionary.centres_hz)
    for _ in range(count):
        scores = np.abs(atoms.T @ residual) / norms
        for index in chosen:
            scores[np.abs(log_centres - log_centres[index]) < min_spacing_octaves] = -np.inf
        best = int(np.argmax(scores))
        if not np.isfinite(scores[best]):
            break
        chosen.append(best)
        columns = np.hstack([atoms[:, chosen], np.ones((atoms.shape[0], 1))])
        coefficients = np.linalg.lstsq(columns, band_db, rcond=None)[0]
        residual = band_db - columns @ coefficients
        residuals.append(float(np.sqrt(np.mean(residual**2))))
    operations = [
        EqOperation(float(dictionary.centres_hz[i]), float(g), float(dictionary.widths_octaves[i]))
        for i, g in zip(chosen, coefficients[:-1], strict=True)
    ]
    return operations, residuals


#: Relative finite-difference step of `refine_operations`' Jacobian.
_JACOBIAN_STEP = 1e-7


def refine_operations(
    band_db: np.ndarray,
    operations: list[EqOperation],
    *,
    spec: FeatureSpec = CURRENT_SPEC,
    min_hz: float = 20.0,
    max_hz: float = 20_000.0,
) -> tuple[list[EqOperation], float]:
    """Nonlinear least-squares refinement of frequency, gain and width of every bell.

    Returns
    -------
    operations, residual_rms_db
    """
    bands = spec.spectrum.band_centres_hz
    if not operations:
        level = float(np.mean(band_db))
        return [], float(np.sqrt(np.mean((band_db - level) ** 2)))

    def operation(params: np.ndarray, index: int) -> EqOperation:
        log2_frequency, gain, log2_width = params[3 * index : 3 * index + 3]
        return EqOperation(float(2.0**log2_frequency), float(gain), float(2.0**log2_width))

    def unpack(params: np.ndarray) -> list[EqOperation]:
        return [operation(params, i) for i in range(len(operations))]

    def bell_db(params: np.ndarray, index: int) -> np.ndarray:
        return response_db(
            [operation(params, index)], frequency_hz=bands, sample_rate_hz=spec.sample_rate_hz
        )

    def residual(params: np.ndarray) -> np.ndarray:
        curve = sum((bell_db(params, i) for i in range(len(operations))), np.zeros(len(bands)))
        return curve + params[-1] - band_db

    def jacobian(params: np.ndarray) -> np.ndarray:
        # Each parameter moves one bell only: differentiate that bell alone.
        columns = np.ones((len(bands), len(params)))
        for index in range(len(operations)):
            bell = bell_db(params, index)
            for offset in range(3):
                column = 3 * index + offset
                step = _JACOBIAN_STEP * max(1.0, abs(float(params[column])))
                moved = params.copy()
                moved[column] += step
                columns[:, column] = (bell_db(moved, index) - bell) / step
        return columns

    start = [
        v
        for op in operations
        for v in (np.log2(op.frequency_hz), op.gain_db, np.log2(op.width_octaves))
    ]
    lower = [
        v
        for op in operations
        for v in (np.log2(min_hz), -24.0 if op.gain_db < 0 else 0.1, np.log2(0.25))
    ]
    upper = [
        v
        for op in operations
        for v in (np.log2(max_hz), -0.1 if op.gain_db < 0 else 24.0, np.log2(4.0))
    ]
    x0 = np.clip(
        np.append(start, 0.0), np.append(lower, -20.0) + 1e-9, np.append(upper, 20.0) - 1e-9
    )
    result = optimize.least_squares(
        residual,
        x0,
        jac=jacobian,
        bounds=(np.append(lower, -20.0), np.append(upper, 20.0)),
        max_nfev=200,
    )
    return unpack(result.x), float(np.sqrt(np.mean(result.fun**2)))
