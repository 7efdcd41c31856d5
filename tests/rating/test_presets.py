"""EQ presets: each format checked against its syntax and read back into the same filters."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.audio.eq import EqOperation, response_db
from app.rating.presets import PresetMove, moves_from_suggestions, preamp_db, render, to_apo

MOVES = [
    PresetMove(type="bell", frequency_hz=261.63, gain_db=-6.0, width_octaves=2.0),
    PresetMove(type="bell", frequency_hz=4186.0, gain_db=4.5, width_octaves=0.5),
    PresetMove(type="low_shelf", frequency_hz=80.0, gain_db=2.0, width_octaves=1.0),
    PresetMove(type="high_pass", frequency_hz=25.0, gain_db=0.0, width_octaves=1.0),
]

#: Equalizer APO's filter line (its documented config.txt syntax), one group per field.
APO_FILTER = re.compile(
    r"^Filter(?: (?P<n>\d+))?: ON (?P<kind>PK|LSC|HSC|HP|LP) Fc (?P<fc>[\d.]+) Hz"
    r"(?: Gain (?P<gain>-?[\d.]+) dB)?(?: BW Oct (?P<bw>[\d.]+)| Q (?P<q>[\d.]+))?$"
)
APO_KINDS = {
    "PK": "bell",
    "LSC": "low_shelf",
    "HSC": "high_shelf",
    "HP": "high_pass",
    "LP": "low_pass",
}


def parse_apo(text: str) -> tuple[float, list[dict[str, Any]]]:
    """Read APO text back: the preamp and each filter; fail on any line APO would not read."""
    preamp = None
    filters = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("Preamp:"):
            found = re.fullmatch(r"Preamp: (-?[\d.]+) dB", line)
            assert found, line
            preamp = float(found.group(1))
            continue
        found = APO_FILTER.match(line)
        assert found, f"not an Equalizer APO filter line: {line!r}"
        filters.append(
            {
                "type": APO_KINDS[found["kind"]],
                "frequency_hz": float(found["fc"]),
                "gain_db": float(found["gain"]) if found["gain"] else 0.0,
                "width_octaves": float(found["bw"]) if found["bw"] else None,
            }
        )
    assert preamp is not None, "APO text without a Preamp line"
    return preamp, filters


def test_apo_lines_parse_back_into_the_same_filters() -> None:
    preamp, filters = parse_apo(to_apo(MOVES, name="fix"))
    assert [f["type"] for f in filters] == [m.type for m in MOVES]
    for parsed, move in zip(filters, MOVES, strict=True):
        assert parsed["frequency_hz"] == pytest.approx(move.frequency_hz)
        if move.type != "high_pass":
            assert parsed["gain_db"] == pytest.approx(move.gain_db, abs=0.05)
        if move.type == "bell":
            assert parsed["width_octaves"] == pytest.approx(move.width_octaves, abs=1e-3)
    # The bells read back give the same response as the moves, to a hundredth of a dB.
    frequency_hz = np.geomspace(20, 20_000, 300)
    bells = [f for f in filters if f["type"] == "bell"]
    parsed_ops = [EqOperation(f["frequency_hz"], f["gain_db"], f["width_octaves"]) for f in bells]
    moves_ops = [EqOperation(m.frequency_hz, m.gain_db, m.width_octaves) for m in MOVES[:2]]
    np.testing.assert_allclose(
        response_db(parsed_ops, frequency_hz=frequency_hz, sample_rate_hz=48_000),
        response_db(moves_ops, frequency_hz=frequency_hz, sample_rate_hz=48_000),
        atol=0.01,
    )
    assert preamp == preamp_db(MOVES) < -6.0  # the 4.5 dB bell plus the 2 dB shelf


def test_preamp_is_zero_when_the_fix_only_cuts() -> None:
    cuts = [PresetMove(type="bell", frequency_hz=1000.0, gain_db=-6.0, width_octaves=1.0)]
    assert preamp_db(cuts) == 0.0


def test_json_holds_the_moves_as_the_api_gives_them() -> None:
    data = json.loads(render(MOVES, preset_format="json", name="fix"))
    assert data["name"] == "fix"
    assert [m["frequency_hz"] for m in data["moves"]] == [m.frequency_hz for m in MOVES]
    assert data["moves"][0]["q"] == pytest.approx(0.667, abs=1e-3)  # 2 octaves
    assert set(data["moves"][0]) == {"type", "frequency_hz", "gain_db", "width_octaves", "q"}


def test_plain_text_lists_every_move_with_q_and_width() -> None:
    lines = render(MOVES, preset_format="text", name="fix").splitlines()
    assert lines[0] == "fix" and lines[1].startswith("Preamp: -")
    assert lines[2] == "1. bell: 261.63 Hz, -6.0 dB, Q 0.67 (2 octaves)"
    assert lines[3] == "2. bell: 4186 Hz, +4.5 dB, Q 2.87 (0.5 octaves)"
    assert len(lines) == 2 + len(MOVES)


def test_only_eq_suggestions_become_moves() -> None:
    suggestions = [
        {"frequency_hz": 262.0, "gain_db": -6.0, "width_octaves": 2.0, "band": "bass"},
        {"kind": "loudness", "frequency_hz": 1000.0, "gain_db": 2.0, "band": "mids"},
        {"kind": "eq", "type": "high_shelf", "frequency_hz": 8000.0, "gain_db": 3.0},
    ]
    moves = moves_from_suggestions(suggestions)
    assert [(m.type, m.frequency_hz) for m in moves] == [("bell", 262.0), ("high_shelf", 8000.0)]


@pytest.mark.parametrize(
    ("preset_format", "media_type", "filename"),
    [
        ("apo", "text/plain", "mastering-fix-equalizer-apo.txt"),
        ("text", "text/plain", "mastering-fix.txt"),
        ("json", "application/json", "mastering-fix.json"),
    ],
)
def test_download_route_answers_each_format(
    client: TestClient, preset_format: str, media_type: str, filename: str
) -> None:
    response = client.get(
        f"/presets/fix.{preset_format}",
        params={"m": ["bell,261.63,-6,2", "high_shelf,8000,3,1"], "name": "Song A"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["content-disposition"] == f'attachment; filename="{filename}"'
    if preset_format == "apo":
        _, filters = parse_apo(response.text)
        assert [(f["type"], f["frequency_hz"]) for f in filters] == [
            ("bell", 261.63),
            ("high_shelf", 8000.0),
        ]


@pytest.mark.parametrize(
    ("path", "params", "status", "words"),
    [
        ("/presets/fix.apo", {"m": "bell,261.63,-6"}, 422, "type,frequency_hz,gain_db"),
        ("/presets/fix.apo", {"m": "bell,abc,-6,1"}, 422, "not a number"),
        ("/presets/fix.apo", {"m": "bell,1000,-60,1"}, 422, "gain_db -60 is outside -30 to 30"),
        ("/presets/fix.apo", {"m": "notch,1000,-6,1"}, 422, "not one of bell"),
        ("/presets/fix.apo", {"m": ["bell,1000,-6,1"] * 33}, 422, "at most 32 moves"),
        ("/presets/fix.xml", {}, 404, "not one of json, apo, text"),
    ],
)
def test_download_route_refuses_bad_moves(
    client: TestClient, path: str, params: dict[str, Any], status: int, words: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == status
    assert words in response.json()["detail"]
