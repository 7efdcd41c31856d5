"""Recognitions past a band limit, the module layout, and compressed model files."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from catboost import CatBoostClassifier

from app.audio.eq import EqOperation
from app.ml.grid import GridModel
from app.ml.registry import (
    COMPRESSED_MODEL_FILE,
    MODEL_FILE,
    ModelLoadError,
    Recognition,
    curve_db,
    load_classifier,
    load_model,
    load_registry,
    model_file,
    write_registry,
)

REPO = Path(__file__).resolve().parents[2]


def test_operations_far_past_a_band_limit_are_dropped_with_their_confidence() -> None:
    operations = [EqOperation(262.0, 6.0, 2.0), EqOperation(19_000.0, -2.0, 1.0)]
    recognition = Recognition(
        model_id="m", operations=operations, curve_db=curve_db(operations), confidence=[0.9, 0.4]
    )
    seen = recognition.seen_below(12_000.0)
    assert seen.operations == operations[:1] and seen.confidence == [0.9]
    np.testing.assert_allclose(seen.curve_db, curve_db(operations[:1]))
    assert seen.curve_db[-1] == pytest.approx(0.0, abs=0.05)


@pytest.mark.parametrize("band_limit_hz", [None, 16_000.0])
def test_a_recognition_within_the_limit_is_kept_as_it_is(band_limit_hz: float | None) -> None:
    operations = [EqOperation(262.0, 6.0, 2.0), EqOperation(16_744.0, -6.0, 2.0)]
    recognition = Recognition(model_id="m", operations=operations, curve_db=curve_db(operations))
    assert recognition.seen_below(band_limit_hz) is recognition


def test_the_model_kinds_import_without_the_registry() -> None:
    # the registry imports the kinds; the kinds' shared types live in app.ml.recognition
    code = (
        "import sys, app.ml.grid, app.ml.general; "
        "assert 'app.ml.registry' not in sys.modules, 'a model kind imports the registry'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def _tiny_classifier(folder: Path) -> tuple[CatBoostClassifier, np.ndarray]:
    rows = np.random.default_rng(5).standard_normal((60, 4))
    classifier = CatBoostClassifier(iterations=5, depth=2, verbose=False, thread_count=1)
    classifier.fit(rows, (rows[:, 0] > 0).astype(int))
    folder.mkdir()
    classifier.save_model(str(folder / MODEL_FILE))
    return classifier, rows


def test_a_gzip_compressed_model_file_is_read_as_the_plain_one(tmp_path: Path) -> None:
    classifier, rows = _tiny_classifier(tmp_path / "plain")
    packed = tmp_path / "packed"
    packed.mkdir()
    (packed / COMPRESSED_MODEL_FILE).write_bytes(
        gzip.compress((tmp_path / "plain" / MODEL_FILE).read_bytes())
    )
    assert model_file(packed).name == "model.cbm.gz"
    np.testing.assert_array_equal(
        load_classifier(packed).predict_proba(rows), classifier.predict_proba(rows)
    )
    with pytest.raises(ModelLoadError, match="no model.cbm or model.cbm.gz"):
        load_classifier(tmp_path)


def test_a_shipped_compressed_model_serves_as_its_plain_file(tmp_path: Path) -> None:
    shipped = REPO / "models" / "F1W1_2"
    assert model_file(shipped).name == COMPRESSED_MODEL_FILE  # as `train` installs it
    folder = tmp_path / "F1W1_2"
    folder.mkdir()
    shutil.copyfile(shipped / "metadata.json", folder / "metadata.json")
    (folder / MODEL_FILE).write_bytes(
        gzip.decompress((shipped / COMPRESSED_MODEL_FILE).read_bytes())
    )
    write_registry(tmp_path, model_ids=["F1W1/2"], default_id="F1W1/2")
    plain = load_registry(tmp_path).get()
    compressed = load_model(shipped)
    assert isinstance(compressed, GridModel) and isinstance(plain, GridModel)
    rows = np.random.default_rng(3).standard_normal((4, len(plain.classifier.feature_names_)))
    np.testing.assert_array_equal(
        compressed.classifier.predict_proba(rows), plain.classifier.predict_proba(rows)
    )


@pytest.mark.parametrize("retired", ["demodulated", "demodulated_under_dynamics"])
def test_a_model_of_a_retired_serving_is_refused_by_name(tmp_path: Path, retired: str) -> None:
    """Served the demodulated transfer in place of what it was fitted on (always until
    stop 64, under dynamics until stop 67), such a folder asks for a refit instead of
    failing with a stack trace."""
    shipped = REPO / "models" / "F1W1_2"
    folder = tmp_path / "F1W1_2"
    shutil.copytree(shipped, folder)
    metadata = json.loads((folder / "metadata.json").read_text())
    (folder / "metadata.json").write_text(json.dumps({**metadata, "serving": retired}))
    write_registry(tmp_path, model_ids=["F1W1/2"], default_id="F1W1/2")
    with pytest.raises(ModelLoadError, match=f"F1W1/2: serving '{retired}' is no longer served"):
        load_registry(tmp_path)
    assert isinstance(load_model(shipped), GridModel)
