"""EQ operations: the RBJ "Audio EQ Cookbook" bell and shelves, Butterworth pass filters.

A bell is a centre frequency, a gain (positive boosts, negative cuts) and a
bandwidth in octaves, exactly the cookbook's ``BW`` (the same as sox's
``equalizer FREQ WIDTHo GAIN``). Widths of 2, 1 and 1/2 octaves correspond to
Q 0.67, 1.41 and 2.87.

A shelf (``low_shelf``, ``high_shelf``) is the cookbook's shelving filter: its
corner frequency (where the gain is half the shelf's, in dB), its gain and its
slope ``S`` (1 is the steepest without overshoot; sox's ``bass`` and
``treble`` default to 0.5). `shelf_slope_from_q` converts a shelf's Q.

A pass filter (``high_pass``, ``low_pass``) is a Butterworth filter of order 2
(12 dB/octave) or 4 (24 dB/octave) with its -3 dB point at the frequency, made
of the cookbook's pass biquads (the bilinear transform warped at the cutoff,
as sox's ``highpass`` and ``lowpass`` are); its gain is 0.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from scipy import signal

EqType = Literal["bell", "low_shelf", "high_shelf", "high_pass", "low_pass"]
#: One biquad: ``b0 b1 b2 1 a1 a2``, normalised by ``a0`` (a row of scipy's ``sos``).
Section = tuple[float, float, float, float, float, float]
#: Slope of a shelf when none is given: sox's ``bass`` and ``treble`` default.
DEFAULT_SHELF_SLOPE = 0.5
#: Butterworth orders of the pass filters: 12 and 24 dB/octave.
PASS_ORDERS = (2, 4)


@dataclass(frozen=True)
class EqOperation:
    """One EQ operation: a bell (the default), a shelf or a pass filter.

    Parameters
    ----------
    frequency_hz : float
        Centre frequency (bell), corner frequency (shelf, where the gain is
        half the shelf's in dB) or cutoff (pass filter, -3 dB).
    gain_db : float
        Gain at the centre or of the shelf; positive boosts, negative cuts.
        Always 0 for pass filters.
    width_octaves : float
        Bandwidth in octaves between the half-gain (in dB) points; bells only.
    type : {"bell", "low_shelf", "high_shelf", "high_pass", "low_pass"}
        The kind of filter.
    slope : float
        The cookbook's shelf slope ``S``; shelves only.
    order : int
        Butterworth order, 2 (12 dB/octave) or 4 (24 dB/octave); pass filters only.
    """

    frequency_hz: float
    gain_db: float
    width_octaves: float = 1.0
    type: EqType = "bell"
    slope: float = DEFAULT_SHELF_SLOPE
    order: int = 2

    @property
    def q(self) -> float:
        """The analog-prototype Q matching `width_octaves`."""
        return 1.0 / (2.0 * math.sinh(math.log(2) / 2 * self.width_octaves))

    @property
    def is_pass(self) -> bool:
        """Whether this is a high-pass or low-pass filter."""
        return self.type in ("high_pass", "low_pass")

    def inverse(self) -> EqOperation:
        """The operation that undoes this one (bells and shelves are symmetric in dB).

        Raises
        ------
        ValueError
            For a pass filter, which removes what no filter brings back.
        """
        if self.is_pass:
            raise ValueError(f"a {self.type} filter cannot be undone by another filter")
        return replace(self, gain_db=-self.gain_db)


def shelf_slope_from_q(*, q: float, gain_db: float) -> float:
    """The cookbook shelf slope ``S`` of a shelf given by its Q.

    Parameters
    ----------
    q : float
        The shelf's Q (the cookbook's ``1/Q = sqrt((A + 1/A)(1/S - 1) + 2)``).
    gain_db : float
        The shelf's gain, which the relation depends on.

    Returns
    -------
    float
        The slope ``S``.

    Examples
    --------
    >>> round(shelf_slope_from_q(q=1 / math.sqrt(2), gain_db=6.0), 6)
    1.0
    """
    amplitude = 10.0 ** (gain_db / 40.0)
    if q <= 0:
        raise ValueError(f"shelf Q {q} must be positive")
    return 1.0 / ((1.0 / q**2 - 2.0) / (amplitude + 1.0 / amplitude) + 1.0)


def butterworth_qs(order: int) -> list[float]:
    """Q of each biquad of an even-order Butterworth filter, lowest first.

    Examples
    --------
    >>> [round(q, 4) for q in butterworth_qs(4)]
    [0.5412, 1.3066]
    """
    if order not in PASS_ORDERS:
        raise ValueError(f"pass filter order {order} must be one of {PASS_ORDERS}")
    return sorted(
        1.0 / (2.0 * math.sin((2 * k - 1) * math.pi / (2 * order)))
        for k in range(1, order // 2 + 1)
    )


def peaking_sos(operation: EqOperation, *, sample_rate_hz: float) -> list[Section]:
    """Second-order section of the RBJ cookbook peaking filter.

    Parameters
    ----------
    operation : EqOperation
        The bell.
    sample_rate_hz : float
        Rate of the audio it will filter.

    Returns
    -------
    list of Section
        One section: ``b0 b1 b2 1 a1 a2``, normalised by ``a0``.

    Examples
    --------
    >>> (section,) = peaking_sos(EqOperation(1000.0, 6.0, 1.0), sample_rate_hz=44_100)
    >>> len(section)
    6
    """
    _check_frequency(operation, sample_rate_hz=sample_rate_hz)
    if operation.width_octaves <= 0:
        raise ValueError(f"width {operation.width_octaves} octaves must be positive")
    amplitude = 10.0 ** (operation.gain_db / 40.0)
    w0 = 2.0 * math.pi * operation.frequency_hz / sample_rate_hz
    alpha = math.sin(w0) * math.sinh(math.log(2) / 2 * operation.width_octaves * w0 / math.sin(w0))
    cos_w0 = math.cos(w0)
    b = (1 + alpha * amplitude, -2 * cos_w0, 1 - alpha * amplitude)
    a = (1 + alpha / amplitude, -2 * cos_w0, 1 - alpha / amplitude)
    return [_section(b, a)]


def _check_frequency(operation: EqOperation, *, sample_rate_hz: float) -> None:
    nyquist_hz = sample_rate_hz / 2
    if not 0 < operation.frequency_hz < nyquist_hz:
        name = "centre" if operation.type == "bell" else "corner"
        raise ValueError(
            f"{name} frequency {operation.frequency_hz} Hz must lie between 0 and {nyquist_hz} Hz"
        )


def _section(b: Sequence[float], a: Sequence[float]) -> Section:
    a0 = a[0]
    return (b[0] / a0, b[1] / a0, b[2] / a0, 1.0, a[1] / a0, a[2] / a0)


def shelf_sos(operation: EqOperation, *, sample_rate_hz: float) -> list[Section]:
    """Second-order section of the RBJ cookbook low or high shelf.

    Parameters
    ----------
    operation : EqOperation
        A ``low_shelf`` or ``high_shelf`` with its gain and slope ``S``.
    sample_rate_hz : float
        Rate of the audio it will filter.

    Returns
    -------
    list of Section
        One section: ``b0 b1 b2 1 a1 a2``, normalised by ``a0``.

    Raises
    ------
    ValueError
        For another type, a frequency outside 0 to Nyquist, or a slope too
        steep for the gain (the cookbook's square root would be negative).

    Examples
    --------
    >>> op = EqOperation(120.0, 3.0, type="low_shelf", slope=0.5)
    >>> len(shelf_sos(op, sample_rate_hz=44_100))
    1
    """
    if operation.type not in ("low_shelf", "high_shelf"):
        raise ValueError(f"a {operation.type} is not a shelf")
    _check_frequency(operation, sample_rate_hz=sample_rate_hz)
    amplitude = 10.0 ** (operation.gain_db / 40.0)
    if operation.slope <= 0:
        raise ValueError(f"shelf slope {operation.slope} must be positive")
    under_root = (amplitude + 1 / amplitude) * (1 / operation.slope - 1) + 2
    if under_root < 0:
        raise ValueError(f"shelf slope {operation.slope} is too steep for {operation.gain_db} dB")
    w0 = 2.0 * math.pi * operation.frequency_hz / sample_rate_hz
    cos_w0 = math.cos(w0)
    # 2 sqrt(A) alpha, with the cookbook's alpha = sin(w0) / 2 * sqrt(under_root)
    two_root_a_alpha = math.sqrt(amplitude) * math.sin(w0) * math.sqrt(under_root)
    plus, minus = amplitude + 1, amplitude - 1
    sign = 1.0 if operation.type == "low_shelf" else -1.0
    b = (
        amplitude * (plus - sign * minus * cos_w0 + two_root_a_alpha),
        amplitude * (sign * 2 * (minus - sign * plus * cos_w0)),
        amplitude * (plus - sign * minus * cos_w0 - two_root_a_alpha),
    )
    a = (
        plus + sign * minus * cos_w0 + two_root_a_alpha,
        -sign * 2 * (minus + sign * plus * cos_w0),
        plus + sign * minus * cos_w0 - two_root_a_alpha,
    )
    return [_section(b, a)]


def pass_sos(operation: EqOperation, *, sample_rate_hz: float) -> list[Section]:
    """Second-order sections of a Butterworth high-pass or low-pass filter.

    One cookbook pass biquad per pair of poles, each with its Butterworth Q
    (`butterworth_qs`): the bilinear transform of the analog Butterworth
    filter, warped so that the response is -3 dB at the cutoff.

    Parameters
    ----------
    operation : EqOperation
        A ``high_pass`` or ``low_pass`` with its cutoff and order (2 or 4).
    sample_rate_hz : float
        Rate of the audio it will filter.

    Returns
    -------
    list of Section
        ``order // 2`` sections.

    Examples
    --------
    >>> op = EqOperation(30.0, 0.0, type="high_pass", order=4)
    >>> len(pass_sos(op, sample_rate_hz=48_000))
    2
    """
    if not operation.is_pass:
        raise ValueError(f"a {operation.type} is not a pass filter")
    _check_frequency(operation, sample_rate_hz=sample_rate_hz)
    w0 = 2.0 * math.pi * operation.frequency_hz / sample_rate_hz
    cos_w0 = math.cos(w0)
    sections = []
    for q in butterworth_qs(operation.order):
        alpha = math.sin(w0) / (2 * q)
        if operation.type == "low_pass":
            b = ((1 - cos_w0) / 2, 1 - cos_w0, (1 - cos_w0) / 2)
        else:
            b = ((1 + cos_w0) / 2, -(1 + cos_w0), (1 + cos_w0) / 2)
        a = (1 + alpha, -2 * cos_w0, 1 - alpha)
        sections.append(_section(b, a))
    return sections


def operation_sos(operation: EqOperation, *, sample_rate_hz: float) -> list[Section]:
    """Second-order sections of any operation."""
    if operation.type == "bell":
        return peaking_sos(operation, sample_rate_hz=sample_rate_hz)
    if operation.is_pass:
        return pass_sos(operation, sample_rate_hz=sample_rate_hz)
    return shelf_sos(operation, sample_rate_hz=sample_rate_hz)


def cascade_sos(operations: Sequence[EqOperation], *, sample_rate_hz: float) -> np.ndarray:
    """Stack the sections of several operations, shape ``(n, 6)``."""
    sections = [s for op in operations for s in operation_sos(op, sample_rate_hz=sample_rate_hz)]
    return np.array(sections, dtype=float).reshape(len(sections), 6)


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


@functools.lru_cache(maxsize=8)
def _unit_circle(frequency_hz: bytes, *, sample_rate_hz: float) -> np.ndarray:
    """``z^-1`` at the frequencies (float64 bytes): fits read one set of bands over and over."""
    z = np.exp(-1j * 2 * np.pi * np.frombuffer(frequency_hz) / sample_rate_hz)
    z.flags.writeable = False
    return z


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
    if not operations:
        return np.zeros_like(frequency_hz)
    z = _unit_circle(frequency_hz.tobytes(), sample_rate_hz=sample_rate_hz)
    z = z.reshape(frequency_hz.shape)
    total = np.zeros_like(frequency_hz)
    for op in operations:
        for b0, b1, b2, a0, a1, a2 in operation_sos(op, sample_rate_hz=sample_rate_hz):
            numerator = b0 + b1 * z + b2 * z * z
            denominator = a0 + a1 * z + a2 * z * z
            total += 20 * np.log10(np.abs(numerator) / np.abs(denominator))
    return total
