"""`ops/rate_check.py`'s grid-gap summary, on answers written by hand."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from app.audio.eq import EqOperation
from app.training.grids import GridConfig
from tests.conftest import ops_script

NOTES_HZ = GridConfig.parse("F1W2").notes_hz


@pytest.fixture(scope="module")
def rate_check() -> ModuleType:
    return ops_script("rate_check")


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


def test_two_models_answers_on_the_same_renders_pair_pooled_with_mcnemar(
    rate_check: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def answers(found_limited: dict[int, float], found_clean: dict[int, float]) -> list[Any]:
        limited = _case(rate_check, "limiter", applied={2: 6.0}, found=found_limited)
        clean = _case(rate_check, "clean", applied={4: -3.0}, found=found_clean)
        limited.limiter_gain_reduction_db = 7.5
        return [limited, clean]

    files = {}
    for name, limited, clean in (
        ("old_a", {2: 6.1, 8: 3.0}, {4: -3.0}),  # a spurious bell through the limiter
        ("new_a", {2: 5.9}, {4: -2.8}),
        ("old_b", {}, {4: -3.2}),
        ("new_b", {2: 6.0}, {}),  # one won, one lost
    ):
        files[name] = tmp_path / f"{name}.json"
        rate_check.write_cases(files[name], answers(limited, clean))
    assert rate_check.read_cases(files["old_a"])[0].limiter_gain_reduction_db == 7.5

    argv = ["--pair", str(files["old_a"]), str(files["new_a"])]
    assert rate_check.main([*argv, "--pair", str(files["old_b"]), str(files["new_b"])]) == 0

    pooled = json.loads(capsys.readouterr().out)
    assert pooled["limiter"] == {
        "cases": 2,
        "first": 0.0,
        "second": 100.0,
        "won": 2,
        "lost": 0,
        "mcnemar_z": 1.41,
    }
    assert pooled["clean"] == {
        "cases": 2,
        "first": 100.0,
        "second": 50.0,
        "won": 0,
        "lost": 1,
        "mcnemar_z": -1.0,
    }
    assert set(pooled) == {"limiter", "clean"}  # no MP3 or level case was rated
    swapped = tmp_path / "swapped.json"
    swapped.write_text(json.dumps(json.loads(files["new_a"].read_text())[::-1]))
    with pytest.raises(ValueError, match="not the same renders"):
        rate_check.main(["--pair", str(files["old_a"]), str(swapped)])
