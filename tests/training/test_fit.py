"""A fit stopped half-way resumes from its snapshot (`app.training.fit`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from catboost import CatBoostClassifier, CatBoostError

from app.training import fit, plan

ITERATIONS = 80
#: Late, so the resumed run is short: its time alone would read less than the first run's.
STOP_AT_ITERATION = 70


class StopHalfWay:
    """A CatBoost callback that fails mid-fit, as a killed session would."""

    def after_iteration(self, info: Any) -> bool:
        if info.iteration == STOP_AT_ITERATION:
            raise RuntimeError("session ended")
        return True


def classifier(train_dir: Path) -> CatBoostClassifier:
    return CatBoostClassifier(
        loss_function="MultiClass",
        iterations=ITERATIONS,
        depth=4,
        random_seed=0,
        verbose=0,
        thread_count=1,
        train_dir=str(train_dir),
    )


@pytest.fixture
def rows() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 6))
    y = (x[:, 0] + rng.normal(size=2000) > 0).astype(int) + (x[:, 1] > 1)
    return x, y


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_a_stopped_fit_resumes_to_the_unbroken_model(
    tmp_path: Path,
    rows: tuple[np.ndarray, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
    relative: bool,
) -> None:
    """Also with the folders given relative to the working directory, as `DATA_DIR=var`
    gives them, where CatBoost would read a relative snapshot path from its logs folder."""
    x, y = rows
    bundle = tmp_path / "bundle.npz"
    bundle.write_bytes(b"")
    monkeypatch.setattr(fit, "SNAPSHOT_INTERVAL_S", 0)
    monkeypatch.chdir(tmp_path)
    folder = Path(".") if relative else tmp_path
    target = {"bundle_path": bundle, "target_dir": folder}
    with pytest.raises(CatBoostError, match="session ended"):
        fit.fit_resumably(
            classifier(folder / "info"),
            x,
            y,
            **target,
            fit_options={"callbacks": [StopHalfWay()]},
        )
    assert len(list(tmp_path.glob("fit-*.cbsnapshot"))) == 1

    seconds_before_the_stop = fit._logged_seconds(tmp_path / "info" / "time_left.tsv")
    assert seconds_before_the_stop is not None and seconds_before_the_stop > 0

    resumed = classifier(folder / "info")
    was_resumed, seconds = fit.fit_resumably(resumed, x, y, **target, fit_options={})
    assert was_resumed is True
    assert seconds is not None and seconds > seconds_before_the_stop  # both runs count
    assert list(tmp_path.glob("fit-*.cbsnapshot")) == [] and not (tmp_path / "info").exists()

    unbroken = classifier(tmp_path / "unbroken")
    unbroken.fit(x, y)
    assert resumed.tree_count_ == unbroken.tree_count_ == ITERATIONS
    np.testing.assert_allclose(resumed.predict_proba(x), unbroken.predict_proba(x))


def test_a_snapshot_of_other_data_or_parameters_is_dropped(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.npz"
    bundle.write_bytes(b"")
    target = {"target_dir": tmp_path, "bundle_path": bundle}
    snapshot = fit.resumable_snapshot(classifier(tmp_path / "info"), **target)
    snapshot.write_bytes(b"progress")
    elsewhere = classifier(tmp_path / "other-logs").set_params(thread_count=2)
    assert fit.resumable_snapshot(elsewhere, **target) == snapshot  # CatBoost resumes so
    assert snapshot.is_file()

    other_params = classifier(tmp_path / "info").set_params(depth=5)
    assert fit.resumable_snapshot(other_params, **target) != snapshot
    assert not snapshot.exists()

    snapshot.write_bytes(b"progress")
    bundle.write_bytes(b"rebuilt")  # a bundle newer than the snapshot holds other data
    later = snapshot.stat().st_mtime + 10
    os.utime(bundle, (later, later))
    assert fit.resumable_snapshot(classifier(tmp_path / "info"), **target) == snapshot
    assert not snapshot.exists()


def test_a_fit_is_redone_for_a_newer_bundle_or_other_parameters(tmp_path: Path) -> None:
    bundle = tmp_path / "F1W2.npz"
    bundle.write_bytes(b"")
    where = {"fitted_dir": tmp_path / "fitted", "bundle_path": bundle}
    assert not fit.fit_is_current(**where)
    fit_json = tmp_path / "fitted" / "F1W2" / "fit.json"
    fit_json.parent.mkdir(parents=True)
    params = fit.fit_params("grid", iterations=15)
    fit_json.write_text(json.dumps({"kind": "grid", "params": params}))
    assert fit.fit_is_current(**where, iterations=15)
    assert not fit.fit_is_current(**where)  # the default rounds refit it
    assert fit.fit_is_current(**where, same_params=False)
    later = fit_json.stat().st_mtime + 10
    os.utime(bundle, (later, later))
    assert not fit.fit_is_current(**where, iterations=15, same_params=False)


def test_a_dataset_with_rounds_of_its_own_in_the_plan_is_current_at_them(tmp_path: Path) -> None:
    rounds = plan.boosting_rounds("F1/2W2")
    assert rounds is not None and rounds > fit.PARAMS["grid"]["iterations"]
    assert plan.boosting_rounds("F1W2") is None
    bundle = tmp_path / "F1_2W2.npz"
    bundle.write_bytes(b"")
    where = {"fitted_dir": tmp_path / "fitted", "bundle_path": bundle}
    fit_json = tmp_path / "fitted" / "F1_2W2" / "fit.json"
    fit_json.parent.mkdir(parents=True)
    for iterations, current in ((None, False), (rounds, True)):
        params = fit.fit_params("grid", iterations=iterations)
        fit_json.write_text(json.dumps({"dataset": "F1/2W2", "kind": "grid", "params": params}))
        assert fit.fit_is_current(**where) is current
