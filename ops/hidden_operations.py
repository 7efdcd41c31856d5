"""How the general model reads mixtures that shape what their own pass filters remove.

Until stop 41 the general space could place a bell or a shelf below its set's high-pass
or above its low-pass (`app.training.grids.audible_placement` now redraws those). This
prints, for the validation mixtures of a chooser study's cache (``ops/chooser_study.py``,
every second example), how many held such an operation and how often the shipped chooser
got their count and types right, against the rest. It reads the bundle and the cache the
study wrote for that bundle; with stop 40's (kept aside before the rebuild)::

    DATA_DIR=var python ops/hidden_operations.py \
        --bundle var/exp/bundle40_general.npz \
        --cache var/chooser_study_every_2_c1434f1a0676.pkl
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np

from app.audio.eq import EqOperation
from app.ml.count_choice import chooser_scores, fit_chooser
from app.training import evaluate as ev
from app.training.bundle import Bundle
from app.training.grids import audible_placement, decode_operations
from app.training.train import bundle_dataset


def audible(truth: list[EqOperation]) -> bool:
    """Whether no bell or shelf of `truth` lies beyond one of its pass filters' cut-offs."""
    return audible_placement(
        [op.type for op in truth],
        positions_octaves=np.log2([op.frequency_hz for op in truth]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    args = parser.parse_args()
    bundle = Bundle.load(args.bundle)
    fits = pickle.loads(args.cache.read_bytes())
    validation = bundle.validation.copy()
    validation[np.flatnonzero(validation)[np.arange(validation.sum()) % 2 > 0]] = False
    dataset = bundle_dataset(bundle).subset(validation)
    chooser = fit_chooser(fits["tune"].rows, right=fits["tune"].right)
    picked = ev.chosen(
        fits["validation"].candidates, right=chooser_scores(chooser, fits["validation"].rows)
    )
    hidden = np.array([not audible(decode_operations(row)) for row in dataset.operations])
    for name, among in (("with such an operation", hidden), ("the rest", ~hidden)):
        figures = ev.typed_figures(
            dataset.subset(among),
            [c.operations for c, keep in zip(picked, among, strict=True) if keep],
        )
        mixed, through = figures["mixed"], figures["mixed_through_chain"]
        print(
            f"{name}: mixtures without the chain {mixed['examples']}, count right"
            f" {mixed['count_right']} %, all types {mixed['all_types_right']} %; through"
            f" the chain {through['examples']}, count right {through['count_right']} %"
        )


if __name__ == "__main__":
    main()
