"""The suggested fix as an EQ preset to download: JSON, Equalizer APO text, or plain text.

A preset is the list of EQ moves the rating suggests (the `suggestions` of `POST /rate` whose
kind is EQ), written for a parametric equaliser. Bells keep the cookbook's bandwidth in octaves
(Equalizer APO reads ``BW Oct`` with the same RBJ definition as `app.audio.eq`), and the plain
text gives Q beside it for equalisers that only take Q.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from app.audio.eq import EqOperation, response_db
from app.errors import ServiceError

Format = Literal["json", "apo", "text"]
FORMATS: dict[str, tuple[str, str]] = {
    "json": ("application/json", "json"),
    "apo": ("text/plain; charset=utf-8", "txt"),
    "text": ("text/plain; charset=utf-8", "txt"),
}
MOVE_TYPES = ("bell", "low_shelf", "high_shelf", "high_pass", "low_pass")
APO_TYPES = {
    "bell": "PK",
    "low_shelf": "LSC",
    "high_shelf": "HSC",
    "high_pass": "HP",
    "low_pass": "LP",
}
#: The preset's limits: anything outside is refused, not clipped.
MAX_MOVES = 32
FREQUENCY_RANGE_HZ = (10.0, 24_000.0)
GAIN_RANGE_DB = (-30.0, 30.0)
WIDTH_RANGE_OCTAVES = (0.05, 8.0)
#: Where the preamp looks for the cascade's highest boost.
_CHECK_HZ = np.geomspace(20.0, 20_000.0, 400)


class PresetError(ServiceError, ValueError):
    """A move that cannot go into a preset, with a sentence for the user."""


@dataclass(frozen=True, kw_only=True)
class PresetMove:
    """One filter of the preset."""

    type: str
    frequency_hz: float
    gain_db: float
    width_octaves: float

    @property
    def q(self) -> float:
        """The analog-prototype Q matching `width_octaves` (`EqOperation.q`)."""
        return EqOperation(self.frequency_hz, self.gain_db, self.width_octaves).q


def check_move(move: PresetMove) -> PresetMove:
    """Return `move` or raise `PresetError` naming the field and its limit."""
    if move.type not in MOVE_TYPES:
        raise PresetError(f"move type {move.type!r} is not one of {', '.join(MOVE_TYPES)}.")
    for name, value, (low, high) in (
        ("frequency_hz", move.frequency_hz, FREQUENCY_RANGE_HZ),
        ("gain_db", move.gain_db, GAIN_RANGE_DB),
        ("width_octaves", move.width_octaves, WIDTH_RANGE_OCTAVES),
    ):
        if not (math.isfinite(value) and low <= value <= high):
            raise PresetError(f"{name} {value:g} is outside {low:g} to {high:g}.")
    return move


def moves_from_suggestions(suggestions: Iterable[Mapping[str, Any]]) -> list[PresetMove]:
    """The EQ moves among a rating's suggestions (loudness, dynamics and stereo ones are not EQ)."""
    return [
        check_move(
            PresetMove(
                type=str(s.get("type") or "bell"),
                frequency_hz=float(s["frequency_hz"]),
                gain_db=float(s["gain_db"]),
                width_octaves=float(s.get("width_octaves") or 1.0),
            )
        )
        for s in suggestions
        if (s.get("kind") or "eq") == "eq"
    ]


def preamp_db(moves: Sequence[PresetMove], *, sample_rate_hz: float = 48_000) -> float:
    """Negative of the bells' highest summed boost (0 when they only cut): no clipping."""
    bells = [
        EqOperation(m.frequency_hz, m.gain_db, m.width_octaves)
        for m in moves
        if m.type == "bell" and m.frequency_hz < sample_rate_hz / 2
    ]
    shelves = sum(max(m.gain_db, 0.0) for m in moves if m.type.endswith("shelf"))
    peak = float(np.max(response_db(bells, frequency_hz=_CHECK_HZ, sample_rate_hz=sample_rate_hz)))
    return -round(max(peak, 0.0) + shelves, 1)


def to_json(moves: Sequence[PresetMove], *, name: str) -> str:
    """The moves as the API gives them, with the preamp."""
    return json.dumps(
        {
            "name": name,
            "preamp_db": preamp_db(moves),
            "moves": [{**asdict(m), "q": round(m.q, 3)} for m in moves],
        },
        indent=2,
    )


def to_apo(moves: Sequence[PresetMove], *, name: str) -> str:
    """Equalizer APO's configuration text (config.txt syntax)."""
    lines = [f"# {_one_line(name)}", f"Preamp: {preamp_db(moves):.1f} dB"]
    for number, m in enumerate(moves, start=1):
        head = f"Filter {number}: ON {APO_TYPES[m.type]} Fc {m.frequency_hz:g} Hz"
        if m.type == "bell":
            lines.append(f"{head} Gain {m.gain_db:.1f} dB BW Oct {m.width_octaves:.3f}")
        elif m.type.endswith("shelf"):
            lines.append(f"{head} Gain {m.gain_db:.1f} dB")
        else:
            lines.append(head)
    return "\n".join(lines) + "\n"


def to_text(moves: Sequence[PresetMove], *, name: str) -> str:
    """A plain list for any parametric EQ: type, frequency, gain, Q and width."""
    lines = [_one_line(name), f"Preamp: {preamp_db(moves):+.1f} dB"]
    for number, m in enumerate(moves, start=1):
        label = m.type.replace("_", " ")
        lines.append(
            f"{number}. {label}: {m.frequency_hz:g} Hz, {m.gain_db:+.1f} dB, "
            f"Q {m.q:.2f} ({m.width_octaves:g} octaves)"
        )
    if not moves:
        lines.append("No EQ move: the masters already share the same EQ.")
    return "\n".join(lines) + "\n"


def render(moves: Sequence[PresetMove], *, preset_format: str, name: str) -> str:
    """The preset in one of `FORMATS`."""
    writers = {"json": to_json, "apo": to_apo, "text": to_text}
    return writers[preset_format](moves, name=name)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]
