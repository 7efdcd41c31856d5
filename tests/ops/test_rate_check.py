"""`ops/rate_check.py`'s grid-gap summary, on answers written by hand."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from app.audio.eq import EqOperation
from app.training.grids import GridConfig

NOTES_HZ = GridConfig.parse("F1W2").notes_hz


@pytest.fixture(scope="module")
def rate_check() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "ops" / "rate_check.py"
    spec = importlib.util.spec_from_file_location("rate_check", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _case(
    rate_check: ModuleType, variant: str, *, applied: dict[int, float], found: dict[int, float]
) -> Any:
    case = rate_check.Case(
        "song",
        f"grid {variant}",
        [EqOperation(float(NOTES_HZ[n]), g, 2.0) for n, g in applied.items()],
        model="F1W2",
    )
    # Answers a little off the note, as the service rounds and fits them.
    case.answer = [
        {"frequency_hz": float(NOTES_HZ[n]) * 1.02, "gain_db": g} for n, g in found.items()
    ]
    return case


def test_the_grid_gap_counts_each_misread_note_per_variant(rate_check: ModuleType) -> None:
    cases = [
        _case(rate_check, "clean", applied={0: 6.0, 5: -3.0}, found={0: 5.8, 5: -3.1}),
        _case(rate_check, "mp3 as wav", applied={3: 3.0}, found={3: 2.9, 9: -7.6}),
        _case(rate_check, "level", applied={0: -9.0}, found={0: 8.0}),
        _case(rate_check, "limiter", applied={1: 6.0, 9: 3.0}, found={1: 6.2}),
    ]

    figures = rate_check.summarise_grid_gap(cases)["models"]["F1W2"]

    assert [figures[v] for v in rate_check.GRID_VARIANTS] == [100.0, 0.0, 0.0, 0.0]
    counts = figures["wrong_note_counts"]
    assert counts["clean"] == [0] * len(NOTES_HZ)  # nothing misread: no note counted
    assert counts["mp3 as wav"] == [0] * 9 + [1]  # a spurious cut at C10
    assert counts["level"] == [1] + [0] * 9  # the sign flipped at C1
    assert counts["limiter"] == [0] * 9 + [1]  # C10 missed


def test_the_grid_gap_is_also_read_on_songs_whose_reference_holds_the_top_octave(
    rate_check: ModuleType,
) -> None:
    full = _case(rate_check, "mp3 as wav", applied={9: 3.0}, found={9: 3.1})
    short = _case(rate_check, "mp3 as wav", applied={9: 3.0}, found={})
    short.song, short.reference_top_hz = "lossy-sourced song", 15_300.0

    summary = rate_check.summarise_grid_gap([full, short])

    assert summary["songs"] == 2 and summary["songs_with_full_band_reference"] == 1
    figures = summary["models"]["F1W2"]
    assert figures["mp3 as wav"] == 50.0
    assert figures["by_reference"]["full band"]["mp3 as wav"] == 100.0
    assert figures["by_reference"]["stops short"]["mp3 as wav"] == 0.0
    assert figures["by_reference"]["full band"]["clean"] is None  # no such case
