"""Grids of centre notes, random open-set EQ sets and the paper's fixed sets."""

from __future__ import annotations

import numpy as np
import pytest

from app.training.grids import (
    GENERAL_MIN_SPACING_OCTAVES,
    GRID_CONFIGS,
    TYPED_FREQUENCY_HZ,
    GridConfig,
    decode_operations,
    encode_operations,
    note_name,
    paper_fixed_sets,
    random_general_set,
    random_grid_set,
    random_typed_set,
    with_type_columns,
)


@pytest.mark.parametrize(
    ("config_id", "count", "first", "last"),
    [("F1W2", 10, "C1", "C10"), ("F1/2W1", 19, "C1", "C10"), ("F1/4W1/2", 38, "C1", "D#10")],
)
def test_grids_run_from_c1_to_below_20_khz(
    config_id: str, count: int, first: str, last: str
) -> None:
    config = GridConfig.parse(config_id)
    assert config.id == config_id
    assert len(config.notes_hz) == count
    assert config.notes_hz[0] == pytest.approx(32.703, abs=1e-3)
    assert config.notes_hz[-1] < 20_000
    assert config.note_names[0] == first and config.note_names[-1] == last


def test_nine_configurations_in_paper_order() -> None:
    assert [c.id for c in GRID_CONFIGS] == [
        "F1W1/2",
        "F1/2W1/2",
        "F1/4W1/2",
        "F1W1",
        "F1/2W1",
        "F1/4W1",
        "F1W2",
        "F1/2W2",
        "F1/4W2",
    ]


def test_note_names() -> None:
    assert note_name(frequency_hz=261.63) == "C4"
    assert note_name(frequency_hz=440.0) == "A4"


def test_random_grid_sets_are_on_the_grid(rng: np.random.Generator) -> None:
    config = GridConfig.parse("F1/2W1")
    sizes = set()
    for _ in range(300):
        ops = random_grid_set(config, rng=rng)
        sizes.add(len(ops))
        assert len({op.frequency_hz for op in ops}) == len(ops)
        assert all(np.isclose(config.notes_hz, op.frequency_hz).any() for op in ops)
        assert len({abs(op.gain_db) for op in ops}) <= 1
        assert all(abs(op.gain_db) in (3.0, 6.0, 9.0) and op.width_octaves == 1.0 for op in ops)
    assert sizes == set(range(8))


def test_random_general_sets_respect_their_space(rng: np.random.Generator) -> None:
    for _ in range(300):
        ops = random_general_set(rng=rng)
        assert len(ops) <= 5
        log_f = np.log2([op.frequency_hz for op in ops])
        assert np.all(np.diff(log_f) >= GENERAL_MIN_SPACING_OCTAVES - 1e-9)
        for op in ops:
            assert 30 <= op.frequency_hz <= 16_000 and 0.5 <= op.width_octaves <= 2
            assert 1.5 <= abs(op.gain_db) <= 12


def test_random_typed_sets_mix_every_type_within_its_space(rng: np.random.Generator) -> None:
    seen: set[str] = set()
    for _ in range(400):
        ops = random_typed_set(rng=rng)
        assert len(ops) <= 5
        log_f = np.log2([op.frequency_hz for op in ops])
        assert np.all(np.diff(log_f) >= GENERAL_MIN_SPACING_OCTAVES - 1e-9)
        kinds = [op.type for op in ops]
        assert all(kinds.count(kind) == 1 for kind in kinds if kind != "bell")
        for op in ops:
            low, high = TYPED_FREQUENCY_HZ[op.type]
            assert low <= op.frequency_hz <= high
            if op.is_pass:
                assert op.gain_db == 0.0 and op.order in (2, 4)
            else:
                assert 1.5 <= abs(op.gain_db) <= 12
            if op.type in ("low_shelf", "high_shelf"):
                assert 0.3 <= op.slope <= 1.0
        decoded = decode_operations(encode_operations(ops, rows=7))
        assert [op.type for op in decoded] == kinds
        for got, want in zip(decoded, ops, strict=True):
            assert got.frequency_hz == pytest.approx(want.frequency_hz, rel=1e-6)
            assert got.gain_db == pytest.approx(want.gain_db, abs=1e-5)
            assert (got.slope, got.order) == (pytest.approx(want.slope, rel=1e-6), want.order)
        seen |= set(kinds)
    assert seen == {"bell", "low_shelf", "high_shelf", "high_pass", "low_pass"}


def test_no_typed_set_shapes_what_its_pass_filters_remove(rng: np.random.Generator) -> None:
    held_a_pass = 0
    for _ in range(400):
        ops = random_typed_set(rng=rng)
        low = min((op.frequency_hz for op in ops if op.type == "high_pass"), default=0.0)
        high = min((op.frequency_hz for op in ops if op.type == "low_pass"), default=np.inf)
        held_a_pass += bool(low or np.isfinite(high))
        assert all(low <= op.frequency_hz <= high for op in ops if not op.is_pass)
    assert held_a_pass > 100


def test_positions_drawn_again_come_from_the_placement_stream() -> None:
    # The main stream advances as far whatever the placement stream draws: the redraws
    # spare it (what it draws next may still differ, see `random_typed_set`).
    redrawn = 0
    for seed in range(60):
        streams = [np.random.default_rng(seed) for _ in range(2)]
        first, second = (
            random_typed_set(rng=rng, placement_rng=np.random.default_rng(other))
            for rng, other in zip(streams, (1, 2), strict=True)
        )
        states = [rng.bit_generator.state["state"]["state"] for rng in streams]
        assert states[0] == states[1]
        redrawn += [op.frequency_hz for op in first] != [op.frequency_hz for op in second]
    assert redrawn > 0


def test_operations_of_older_datasets_read_as_bells() -> None:
    old = np.full((1, 3, 3), np.nan, dtype=np.float32)
    old[0, 0] = (1000.0, 6.0, 1.0)
    (bell,) = decode_operations(with_type_columns(old)[0])
    assert bell.type == "bell" and bell.width_octaves == 1.0
    assert np.isnan(with_type_columns(old)[0, 1, 3])


def test_paper_fixed_sets_are_distinct_boosts() -> None:
    sets = paper_fixed_sets(GridConfig.parse("F1W2"))
    assert len(sets) == 50 and sets[0] == []
    keys = {tuple(op.frequency_hz for op in ops) for ops in sets}
    assert len(keys) == 50
    assert all(op.gain_db == 6.0 for ops in sets for op in ops)
    assert sets == paper_fixed_sets(GridConfig.parse("F1W2"))
