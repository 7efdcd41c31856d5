"""Two grid models, each decoded as it ships, on the same validation examples.

A refit that reads other features than the model it replaces (a new `FeatureSpec`
option, such as `coherent`) gets no McNemar comparison in ``models/REPORT.md``: the
report reads the features its bundle holds. This reads the dataset's spectra instead,
gives each model the features its own metadata asks for, decodes with its own physics
check, and prints the exact-set accuracy over the validation examples and under each
nuisance, with McNemar's z of the second model against the first. Each model is a
folder holding ``model.cbm`` and ``metadata.json``; the first one shipped can be
checked out from git::

    mkdir -p var/exp/F1W2-before && for f in model.cbm metadata.json; do
      git show 7643d13:models/F1W2/$f > var/exp/F1W2-before/$f; done
    DATA_DIR=var python ops/grid_model_compare.py F1W2 var/exp/F1W2-before models/F1W2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import get_settings  # noqa: E402
from app.ml.features import CURRENT_SPEC  # noqa: E402
from app.ml.grid import GridModel, example_features, operations_to_classes  # noqa: E402
from app.ml.registry import check_feature_spec  # noqa: E402
from app.training import evaluate as ev  # noqa: E402
from app.training.cli import DEFAULT_MANIFEST  # noqa: E402
from app.training.corpus import CorpusLayout, read_manifest  # noqa: E402
from app.training.datasets import Dataset, load_dataset  # noqa: E402
from app.training.synth import Nuisance  # noqa: E402


def grid_model(folder: Path) -> GridModel:
    """The grid model in `folder`, its feature spec checked as the service checks it, read
    as fitted: a serving it was given in place of that (metadata ``serving``, retired at
    stops 64 and 67, which the service refuses) is left out, so that a model it replaced
    still compares (its folder from ``git show REV:models/...``)."""
    metadata = json.loads((folder / "metadata.json").read_text())
    metadata.pop("serving", None)
    check_feature_spec(metadata, model_id=str(metadata["id"]))
    return GridModel.load(folder, metadata)


def validation_of(dataset_id: str) -> Dataset:
    """The validation examples of a grid's dataset under ``DATA_DIR``."""
    layout = CorpusLayout(get_settings().DATA_DIR)
    tracks = read_manifest(DEFAULT_MANIFEST)
    return load_dataset(layout.datasets, dataset_id, tracks=tracks).validation


def decoded(model: GridModel, validation: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`model`'s per-note classes, decoded as it ships from the features its spec asks for,
    the true ones, and the band difference it read (dB), one row per example."""
    features = example_features(
        validation.reference_magnitude,
        validation.candidate_magnitude,
        notes_hz=model.notes_hz,
        width_octaves=model.width_octaves,
        spec=model.spec,
        candidate_lossy=validation.candidate_lossy,
        coherent_magnitudes=validation.coherent_magnitude,
    )
    band_db = features[:, : CURRENT_SPEC.n_bands]
    predicted = ev.grid_predictions(
        model.probabilities(features), band_db=band_db, basis=model.basis, check=model.physics
    )
    truth = operations_to_classes(validation.operations, notes_hz=model.notes_hz)
    return predicted, truth, band_db


def exact_right(model: GridModel, validation: Dataset) -> np.ndarray:
    """Whether `model`, reading the features its spec asks for, finds each example's exact set."""
    predicted, truth, _ = decoded(model, validation)
    return np.all(predicted == truth, axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", help="the dataset whose validation examples both read")
    parser.add_argument("first", type=Path, help="model folder (the one replaced)")
    parser.add_argument("second", type=Path, help="model folder (the refit)")
    args = parser.parse_args(argv)
    validation = validation_of(args.dataset)
    right = [exact_right(grid_model(folder), validation) for folder in (args.first, args.second)]
    groups = {
        "all": np.ones(len(validation), dtype=bool),
        "without_chain": ~validation.through_chain,
    } | {
        kind.name.lower(): validation.nuisance == kind
        for kind in Nuisance
        if np.any(validation.nuisance == kind)
    }
    summary = {
        name: {
            "examples": int(mask.sum()),
            "first_exact": ev.percent(right[0][mask]),
            "second_exact": ev.percent(right[1][mask]),
            "mcnemar_z": round(ev.mcnemar_z(right[1][mask], right[0][mask]), 2),
        }
        for name, mask in groups.items()
    }
    print(
        json.dumps(
            {"dataset": args.dataset, "first": str(args.first), "second": str(args.second)}
            | summary,
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
