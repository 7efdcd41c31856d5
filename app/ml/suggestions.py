"""Suggestions: the moves that take the trainee's master back toward the professional one.

A model recognises the operations that turn the reference into the candidate.
The trainee should undo them, so each suggestion is the inverse operation
(cut where the candidate was boosted, boost where it was cut), scaled by a
strength setting and put into words with its frequency band: bass below
500 Hz, mids from 500 Hz to 2 kHz, treble above 2 kHz. Shelves and pass
filters are put in their own words: "Lower the low shelf: about 3 dB below
120 Hz", "Remove the high-pass at 30 Hz" (a pass filter has no inverse, so
the move is to take it out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from app.audio.eq import EqOperation, EqType

Band = Literal["bass", "mids", "treble"]
Action = Literal["increase", "decrease"]
#: What a suggestion is about: the recognised EQ or a whole-master measure.
Kind = Literal["eq", "loudness", "dynamics", "stereo"]

#: Upper edge of the bass band, Hz.
BASS_MAX_HZ = 500.0
#: Upper edge of the mids band, Hz.
MIDS_MAX_HZ = 2000.0
#: Scaled gains smaller than this (dB) are not worth suggesting.
MIN_SUGGESTED_GAIN_DB = 0.05


@dataclass(frozen=True, kw_only=True)
class Suggestion:
    """One move for the trainee, with its sentence.

    Parameters
    ----------
    band : {"bass", "mids", "treble"}
        Where the move sits.
    action : {"increase", "decrease"}
        Whether the band should get louder or quieter.
    frequency_hz : float
        Centre of the bell to use.
    gain_db : float
        Gain of the bell; negative cuts, positive boosts.
    width_octaves : float or None
        Width of the bell; None for other types.
    text : str
        The move in words, e.g. ``"Decrease bass: cut about 6 dB around 262 Hz"``.
    type : {"bell", "low_shelf", "high_shelf", "high_pass", "low_pass"}
        The operation the move is about; for a pass filter the move is to remove it.
    slope : float or None
        The shelf's slope ``S``; shelves only.
    order : int or None
        The pass filter's Butterworth order; pass filters only.
    kind : {"eq", "loudness", "dynamics", "stereo"}
        ``"eq"`` for every suggestion made here (the others are in
        `app.ml.master_suggestions`).
    """

    band: Band
    action: Action
    frequency_hz: float
    gain_db: float
    width_octaves: float | None
    text: str
    type: EqType = "bell"
    slope: float | None = None
    order: int | None = None
    kind: Kind = "eq"


def band_of(frequency_hz: float) -> Band:
    """Name the band a frequency belongs to.

    Parameters
    ----------
    frequency_hz : float
        A frequency in Hz.

    Returns
    -------
    {"bass", "mids", "treble"}
        ``"bass"`` below 500 Hz, ``"mids"`` from 500 Hz to 2 kHz, ``"treble"`` above.

    Examples
    --------
    >>> band_of(261.63), band_of(500.0), band_of(2000.0), band_of(4186.0)
    ('bass', 'mids', 'mids', 'treble')
    """
    if frequency_hz < BASS_MAX_HZ:
        return "bass"
    if frequency_hz <= MIDS_MAX_HZ:
        return "mids"
    return "treble"


def format_frequency(frequency_hz: float) -> str:
    """Write a frequency the way engineers say it.

    Parameters
    ----------
    frequency_hz : float
        A frequency in Hz.

    Returns
    -------
    str
        Whole hertz below 1 kHz, kilohertz with one decimal (dropped when zero) above.

    Examples
    --------
    >>> format_frequency(261.63), format_frequency(4186.0), format_frequency(2000.0)
    ('262 Hz', '4.2 kHz', '2 kHz')
    """
    if round(frequency_hz) < 1000:
        return f"{frequency_hz:.0f} Hz"
    return f"{_trim(frequency_hz / 1000, decimals=1)} kHz"


def format_gain(gain_db: float) -> str:
    """Write the size of a gain in dB, rounded to half a decibel (one decimal below 1 dB).

    Parameters
    ----------
    gain_db : float
        A gain; its sign is ignored.

    Returns
    -------
    str
        E.g. ``"6 dB"``, ``"4.5 dB"``, ``"0.3 dB"``.

    Examples
    --------
    >>> format_gain(-6.0), format_gain(4.7), format_gain(0.31)
    ('6 dB', '4.5 dB', '0.3 dB')
    """
    size = abs(gain_db)
    rounded = round(size * 2) / 2 if size >= 1 else round(size, 1)
    return f"{_trim(rounded, decimals=1)} dB"


def _trim(value: float, *, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def suggest(
    operations: Sequence[EqOperation], *, amount_percent: float = 100.0
) -> list[Suggestion]:
    """Turn recognised operations into the inverse moves, in words.

    Parameters
    ----------
    operations : sequence of EqOperation
        What was applied to the reference to obtain the candidate.
    amount_percent : float
        Strength of the suggestions, 0 to 100: the suggested gains are the
        inverse gains times ``amount_percent / 100``. Moves that end up smaller
        than 0.05 dB are left out, so 0 suggests nothing.

    Returns
    -------
    list of Suggestion
        One per operation, ordered by frequency (a pass filter's says to
        remove it, whatever the strength above 0).

    Raises
    ------
    ValueError
        When ``amount_percent`` lies outside 0 to 100.

    Examples
    --------
    >>> ops = [EqOperation(4186.0, -6.0, 2.0), EqOperation(261.63, 6.0, 2.0)]
    >>> for suggestion in suggest(ops):
    ...     print(suggestion.text)
    Decrease bass: cut about 6 dB around 262 Hz
    Increase treble: boost about 6 dB around 4.2 kHz
    >>> [s.gain_db for s in suggest(ops, amount_percent=50)]
    [-3.0, 3.0]
    >>> shelf = EqOperation(120.0, 3.0, type="low_shelf")
    >>> high_pass = EqOperation(30.0, 0.0, type="high_pass")
    >>> [s.text for s in suggest([shelf, high_pass])]
    ['Remove the high-pass at 30 Hz', 'Lower the low shelf: about 3 dB below 120 Hz']
    """
    if not 0.0 <= amount_percent <= 100.0:
        raise ValueError(f"amount_percent must lie between 0 and 100, got {amount_percent}")
    scale = amount_percent / 100.0
    suggestions = []
    for operation in sorted(operations, key=lambda op: op.frequency_hz):
        suggestion = _suggestion(operation, scale=scale)
        if suggestion is not None:
            suggestions.append(suggestion)
    return suggestions


#: How a sentence names each type other than the bell.
TYPE_WORDS: dict[EqType, str] = {
    "low_shelf": "low shelf",
    "high_shelf": "high shelf",
    "high_pass": "high-pass",
    "low_pass": "low-pass",
}


def _suggestion(operation: EqOperation, *, scale: float) -> Suggestion | None:
    """The inverse move of one operation at strength `scale`, or None when too small."""
    band = band_of(operation.frequency_hz)
    where = format_frequency(operation.frequency_hz)
    if operation.is_pass:
        if scale == 0:
            return None
        return Suggestion(
            band=band,
            action="increase",
            frequency_hz=operation.frequency_hz,
            gain_db=0.0,
            width_octaves=None,
            text=f"Remove the {TYPE_WORDS[operation.type]} at {where}",
            type=operation.type,
            order=operation.order,
        )
    gain_db = operation.inverse().gain_db * scale
    if abs(gain_db) < MIN_SUGGESTED_GAIN_DB:
        return None
    action: Action = "increase" if gain_db > 0 else "decrease"
    if operation.type == "bell":
        verb = "boost" if gain_db > 0 else "cut"
        text = f"{action.capitalize()} {band}: {verb} about {format_gain(gain_db)} around {where}"
        width_octaves: float | None = operation.width_octaves
        slope = None
    else:
        side = "below" if operation.type == "low_shelf" else "above"
        verb = "Raise" if gain_db > 0 else "Lower"
        text = (
            f"{verb} the {TYPE_WORDS[operation.type]}: about {format_gain(gain_db)} {side} {where}"
        )
        width_octaves, slope = None, operation.slope
    return Suggestion(
        band=band,
        action=action,
        frequency_hz=operation.frequency_hz,
        gain_db=gain_db,
        width_octaves=width_octaves,
        text=text,
        type=operation.type,
        slope=slope,
    )
