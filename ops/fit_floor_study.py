"""The general model's answers on its tuning tracks at other depths of the fits' floor.

`app.ml.fitting.FIT_FLOOR_DB` is how deep the fits read the band difference and their
curves. A pass filter's stop band sinks into the music's noise floor 15-20 dB down where
the music is quiet, and whatever of it the floor lets through is left for an extra
operation to explain. This study decodes the tuning examples of the general bundle as
`mastering-trainer evaluate` does (the installed model and physics checks; the pursuit
features stay those of the bundle) at each floor, and prints issue 19's item-4 figures
(`app.training.evaluate.typed_figures`) and the count right over the bells-only sets.
It never changes a model; about 3 minutes a floor on 2 cores::

    DATA_DIR=var python ops/fit_floor_study.py --floor -30 --floor -15

``--validation`` reads the validation tracks instead (only to report, never to choose).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import app.ml.fitting as fitting
from app.config import get_settings
from app.ml.fitting import PhysicsCheck
from app.ml.registry import load_classifier
from app.training import evaluate as ev
from app.training import report as rp
from app.training.bundle import Bundle
from app.training.cli import DEFAULT_MANIFEST
from app.training.corpus import read_manifest
from app.training.fit import tuning_mask
from app.training.synth import NUISANCE_PROBABILITIES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--floor", type=float, action="append", required=True, help="dB")
    parser.add_argument("--validation", action="store_true", help="the validation tracks")
    args = parser.parse_args()
    data_dir = get_settings().DATA_DIR
    bundle = Bundle.load(data_dir / "bundle" / "general.npz")
    fitted_dir = data_dir / "fitted" / "general"
    mask = bundle.validation if args.validation else tuning_mask(bundle)
    top_bands = rp.reference_top_bands(
        bundle, data_dir=data_dir, tracks=read_manifest(DEFAULT_MANIFEST)
    )
    examples = rp.general_examples(
        bundle,
        mask,
        classifier=load_classifier(fitted_dir),
        type_classifier=rp.fitted_type_classifier(fitted_dir),
        top_bands=top_bands,
    )
    metadata = json.loads(Path("models/general/metadata.json").read_text())
    data = examples.dataset
    bells = data.bells_only & np.isin(data.nuisance, list(NUISANCE_PROBABILITIES))
    for floor_db in args.floor:
        fitting.FIT_FLOOR_DB = floor_db  # read at call time, in the workers too (fork)
        fitting.general_dictionary.cache_clear()  # its atoms are floored
        answers = ev.general_answers(
            examples.features,
            probabilities=examples.probabilities,
            decoding=ev.GeneralDecoding(
                check=PhysicsCheck.from_dict(metadata.get("decode")),
                typed_check=PhysicsCheck.from_dict(metadata.get("decode_typed")),
            ),
            candidate_lossy=data.candidate_lossy,
            types=examples.types,
            top_bands=examples.top_bands,
        )
        counts = np.array([len(a) for a in answers]) == data.n_operations
        figures = ev.typed_figures(data, answers)
        print(f"floor {floor_db} dB, {int(mask.sum())} examples:", flush=True)
        print(f"  bells-only sets, count right: {ev.percent(counts[bells])} %")
        print("  ", json.dumps({k: v for k, v in figures.items() if k != "with_chain"}))


if __name__ == "__main__":
    main()
