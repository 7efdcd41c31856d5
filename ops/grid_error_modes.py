"""Where a grid model's wrong sets lie: how many bells, and how near the truth they sound.

For the validation examples of a grid's dataset without a nuisance (or every one, with
``--all``), this decodes the model as it ships (`ops/grid_model_compare.py`) and prints:
how many it gets wrong for each true count of bells; of the wrong sets, how many have the
wrong count; how far each wrong set's curve, its gains fitted to the true EQ's noise-free
curve, stays from that curve (RMS over the bands, dB); and how often the wrong set fits the
band difference the model read at least as well as the true set does (least squares, a
level free), so that no decoder choosing the best-fitting set finds the truth there::

    DATA_DIR=var python ops/grid_error_modes.py F1/4W2 models/F1_4W2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.ml.grid import nearest_note  # noqa: E402
from app.training.synth import Nuisance  # noqa: E402
from ops.grid_model_compare import decoded, grid_model, validation_of  # noqa: E402

#: Curve distances (dB RMS) the wrong sets are counted under.
NEAR_DB = (0.1, 0.25, 0.5, 1.0)


def true_gains_db(operations: np.ndarray, *, notes_hz: np.ndarray) -> np.ndarray:
    """Each example's gain per note (dB), its bells placed on the nearest note."""
    gains = np.zeros((len(operations), len(notes_hz)))
    for row, ops in enumerate(operations):
        for frequency_hz, gain_db in ops[~np.isnan(ops[:, 0]), :2]:
            gains[row, nearest_note(frequency_hz, notes_hz=notes_hz)] += gain_db
    return gains


def fit_rms_db(basis: np.ndarray, notes: np.ndarray, curve_db: np.ndarray, *, level: bool) -> float:
    """RMS (dB) of `curve_db` less its least-squares fit by the bells on `notes` (and a
    level, with `level`)."""
    columns = [basis[:, notes]] + ([np.ones((len(basis), 1))] if level else [])
    design = np.hstack(columns)
    if design.shape[1] == 0:
        return float(np.sqrt(np.mean(curve_db**2)))
    amplitudes, *_ = np.linalg.lstsq(design, curve_db, rcond=None)
    return float(np.sqrt(np.mean((design @ amplitudes - curve_db) ** 2)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", help="the grid's dataset, whose validation examples it reads")
    parser.add_argument("model", type=Path, help="model folder")
    parser.add_argument("--all", action="store_true", help="every example, nuisances too")
    args = parser.parse_args(argv)
    validation = validation_of(args.dataset)
    model = grid_model(args.model)
    predicted, truth, band_db = decoded(model, validation)
    chosen = np.ones(len(validation), bool) if args.all else validation.nuisance == Nuisance.NONE
    wrong = chosen & ~np.all(predicted == truth, axis=1)
    counts = np.count_nonzero(truth, axis=1)
    basis = model.basis
    curves_db = true_gains_db(validation.operations, notes_hz=np.asarray(model.notes_hz)) @ basis.T
    off_db, prefers_wrong = [], 0
    for row in np.flatnonzero(wrong):
        answer, true_notes = np.flatnonzero(predicted[row]), np.flatnonzero(truth[row])
        off_db.append(fit_rms_db(basis, answer, curves_db[row], level=False))
        measured = band_db[row].astype(float)
        answer_rms = fit_rms_db(basis, answer, measured, level=True)
        prefers_wrong += answer_rms <= fit_rms_db(basis, true_notes, measured, level=True)
    off = np.array(off_db)
    summary = {
        "dataset": args.dataset,
        "examples": int(chosen.sum()),
        "wrong": int(wrong.sum()),
        "wrong_by_true_count": {
            int(k): f"{int((wrong & (counts == k)).sum())} of {int((chosen & (counts == k)).sum())}"
            for k in np.unique(counts[chosen])
        },
        "wrong_count_share": round(
            100 * float(np.mean(counts[wrong] != np.count_nonzero(predicted[wrong], axis=1))), 1
        ),
        "curve_within_db_share": {
            f"{x:g}": round(100 * float(np.mean(off < x)), 1) for x in NEAR_DB
        },
        "curve_off_db_median": round(float(np.median(off)), 3),
        "fits_the_difference_as_well": int(prefers_wrong),
        "fits_the_difference_as_well_share": round(100 * prefers_wrong / max(len(off), 1), 1),
        "command": "python ops/grid_error_modes.py " + " ".join(argv or sys.argv[1:]),
    }
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
