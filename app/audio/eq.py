"""Peaking EQ operations: the RBJ "Audio EQ Cookbook" bell filter.

An operation is a centre frequency, a gain (positive boosts, negative cuts) and
a bandwidth in octaves, exactly the cookbook's ``BW`` (the same as sox's
``equalizer FREQ WIDTHo GAIN``). Widths of 2, 1 and 1/2 octaves correspond to
Q 0.67, 1.41 and 2.87.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import signal


@dataclass(frozen=True)
class EqOperation:
    """One peaking bell.

    Parameters
    ----------
    frequency_hz : float
        Centre frequency.
    gain_db : float
        Gain at the centre; positive boosts, negative cuts.
    width_octaves : float
        Bandwidth in octaves between the half-gain (in dB) points.
    """

    frequency_hz: float
    gain_db: float
    width_octaves: float

    @property
    def q(self) -> float:
        """The analog-prototype Q matching `width_octaves`."""
        return 1.0 / (2.0 * math.sinh(math.log(2) / 2 * self.width_octaves))

    def inverse(self) -> EqOperation:
        """The operation that undoes this one (the RBJ bell is symmetric in dB)."""
        return EqOperation(self.frequency_hz, -self.gain_db, self.width_octaves)


def peaking_sos(operation: EqOperation, *, sample_rate_hz: float) -> np.ndarray:
    """Second-order section of the RBJ cookbook peaking filter.

    Parameters
    ----------
    operation : EqOperation
        The bell.
    sample_rate_hz : float
        Rate of the audio it will filter.

    Returns
    -------
    np.ndarray
        Shape ``(1, 6)``: ``b0 b1 b2 1 a1 a2``, normalised by ``a0``.

    Examples
    --------
    >>> sos = peaking_sos(EqOperation(1000.0, 6.0, 1.0), sample_rate_hz=44_100)
    >>> sos.shape
    (1, 6)
    """
    nyquist_hz = sample_rate_hz / 2
    if not 0 < operation.frequency_hz < nyquist_hz:
        raise ValueError(
            f"centre frequency {operation.frequency_hz} Hz must lie between 0 and {nyquist_hz} Hz"
        )
    if operation.width_octaves <= 0:
        raise ValueError(f"width {operation.width_octaves} octaves must be positive")
    amplitude = 10.0 ** (operation.gain_db / 40.0)
    w0 = 2.0 * math.pi * operation.frequency_hz / sample_rate_hz
    alpha = math.sin(w0) * math.sinh(math.log(2) / 2 * operation.width_octaves * w0 / math.sin(w0))
    cos_w0 = math.cos(w0)
    b = np.array([1 + alpha * amplitude, -2 * cos_w0, 1 - alpha * amplitude])
    a = np.array([1 + alpha / amplitude, -2 * cos_w0, 1 - alpha / amplitude])
    return np.concatenate([b / a[0], a / a[0]])[np.newaxis, :]


def cascade_sos(operations: Sequence[EqOperation], *, sample_rate_hz: float) -> np.ndarray:
    """Stack the sections of several operations, shape ``(n, 6)``."""
    if not operations:
        return np.zeros((0, 6))
    return np.vstack([peaking_sos(op, sample_rate_hz=sample_rate_hz) for op in operations])


def apply(
    samples: np.ndarray, operations: Sequence[EqOperation], *, sample_rate_hz: float
) -> np.ndarray:
    """Filter audio through the operations in series.

    Parameters
    ----------
    samples : np.ndarray
        Shape ``(n,)`` (mono) or ``(n, channels)``.
    operations : sequence of EqOperation
        Applied one after the other (order does not change the result).
    sample_rate_hz : float
        Rate of ``samples``.

    Returns
    -------
    np.ndarray
        Filtered audio, same shape and dtype as ``samples``.
    """
    if not operations:
        return samples.copy()
    sos = cascade_sos(operations, sample_rate_hz=sample_rate_hz)
    return signal.sosfilt(sos, samples, axis=0).astype(samples.dtype, copy=False)


def response_db(
    operations: Sequence[EqOperation], *, frequency_hz: np.ndarray, sample_rate_hz: float
) -> np.ndarray:
    """Exact magnitude response in dB of the cascade at the given frequencies.

    Parameters
    ----------
    operations : sequence of EqOperation
        The cascade; an empty one is flat (0 dB).
    frequency_hz : np.ndarray
        Where to evaluate, in Hz (below the Nyquist frequency).
    sample_rate_hz : float
        Rate the digital filters run at.

    Returns
    -------
    np.ndarray
        Gain in dB, same shape as ``frequency_hz``.

    Examples
    --------
    >>> op = EqOperation(1000.0, -6.0, 1.0)
    >>> gain = response_db([op], frequency_hz=np.array([1000.0]), sample_rate_hz=44_100)
    >>> round(float(gain[0]), 3)
    -6.0
    """
    frequency_hz = np.asarray(frequency_hz, dtype=float)
    total = np.zeros_like(frequency_hz)
    if not operations:
        return total
    z = np.exp(-1j * 2 * np.pi * frequency_hz / sample_rate_hz)
    for section in cascade_sos(operations, sample_rate_hz=sample_rate_hz):
        b, a = section[:3], section[3:]
        numerator = b[0] + b[1] * z + b[2] * z * z
        denominator = a[0] + a[1] * z + a[2] * z * z
        total += 20 * np.log10(np.abs(numerator) / np.abs(denominator))
    return total
