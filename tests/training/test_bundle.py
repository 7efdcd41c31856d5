"""The typed bundle record: what it reads and writes is the bundle file as it was."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from app.ml.features import CURRENT_SPEC, PER_MODEL
from app.training.bundle import Bundle, spec_of
from app.training.train import bundle_dataset, export_for_fit


def _grid_bundle() -> Bundle:
    rng = np.random.default_rng(4)
    n = 12
    return Bundle(
        dataset_id="F1W2",
        kind="grid",
        features=rng.standard_normal((n, 5)).astype(np.float32),
        targets=rng.integers(0, 3, (n, 3)).astype(np.int8),
        is_validation=np.arange(n) % 5 == 0,
        spec=replace(
            CURRENT_SPEC,
            lossy_flag=True,
            reference_levels=True,
            demodulated=True,
            demodulation_version=3,
        ),
        groups=np.arange(n, dtype=np.int32),
        notes_hz=np.array([100.0, 200.0, 400.0]),
        operations=np.full((n, 2, 3), np.nan),
        nuisance=np.zeros(n, dtype=np.int8),
        nuisance_value=np.zeros(n),
        track_md5=np.array([f"{i:032x}" for i in range(n)]),
        train_low_pass_hz=np.full(n, np.inf),
        validation_low_pass_features=rng.standard_normal((3, 5)).astype(np.float32),
        limiter_version=2,
        unflagged_lossy_share=0.5,
    )


def test_a_bundle_file_round_trips_with_the_files_keys(tmp_path: Path) -> None:
    bundle = _grid_bundle()
    path = bundle.save(tmp_path / "F1W2.npz")
    with np.load(path) as data:
        keys = set(data.files)
    assert keys == {
        "dataset_id", "kind", "features", "targets", "is_validation", "groups", "notes_hz",
        "operations", "nuisance", "nuisance_value", "track_md5", "train_low_pass_hz",
        "validation_low_pass_features", "limiter_version", "unflagged_lossy_share", *PER_MODEL,
    }  # fmt: skip
    loaded = Bundle.load(path)
    assert (loaded.dataset_id, loaded.kind, loaded.spec) == ("F1W2", "grid", bundle.spec)
    assert (loaded.limiter_version, loaded.unflagged_lossy_share) == (2, 0.5)
    for name, array in bundle.arrays().items():
        np.testing.assert_array_equal(loaded.arrays()[name], array)
    assert loaded.validation.dtype == bool and loaded.validation.sum() == 3


def test_an_older_bundle_without_options_reads_as_the_current_spec() -> None:
    assert spec_of({"dataset_id": np.array("x")}) == CURRENT_SPEC


def test_an_older_bundle_read_examples_of_pedalboards_limiter() -> None:
    arrays = _grid_bundle().arrays()
    del arrays["limiter_version"]
    assert Bundle.from_arrays(arrays).limiter_version == 1


def test_an_older_bundle_told_every_lossy_candidate() -> None:
    arrays = _grid_bundle().arrays()
    del arrays["unflagged_lossy_share"]
    assert Bundle.from_arrays(arrays).unflagged_lossy_share == 0.0


def test_a_copy_for_a_fit_holds_what_the_fit_reads_in_half_precision(tmp_path: Path) -> None:
    source = tmp_path / "bundle"
    source.mkdir()
    _grid_bundle().save(source / "F1W2.npz")
    replace(_grid_bundle(), dataset_id="paper-F1W2", kind="paper").save(source / "paper.npz")
    (written,) = export_for_fit(source, tmp_path / "out", kinds=("grid",))
    slim = Bundle.load(written)
    assert slim.features.dtype == np.float16 and slim.spec == _grid_bundle().spec
    assert slim.operations is None and slim.validation_low_pass_features is None
    np.testing.assert_array_equal(slim.notes_hz, [100.0, 200.0, 400.0])
    with pytest.raises(ValueError, match="holds no examples' truth"):
        bundle_dataset(slim)


def test_a_bundle_without_grid_notes_says_so() -> None:
    general = replace(_grid_bundle(), dataset_id="general", kind="general", notes_hz=None)
    with pytest.raises(ValueError, match="general .general. has no grid notes"):
        _ = general.grid_notes_hz
