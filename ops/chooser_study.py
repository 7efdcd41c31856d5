"""The general model's count chooser on the validation tracks, against its physics checks.

`mastering-trainer evaluate` decides whether the chooser is used on the tuning tracks alone
(fitted on every other one, judged on the rest: `app.training.report._count_chooser`). This
study shows what it would do on the validation tracks, fitted on the tuning tracks as the
evaluation fits it: every tuning track, or either half of them. It never changes a model.

Candidates of every set of types (`app.ml.count_choice.type_choices`) are fitted for every
tuning and validation example (about 40 minutes on 2 cores) and cached under
``DATA_DIR/chooser_study_every_K_CODE.pkl``, where CODE is a digest of the code that fits and
describes them (`code_digest`), so a second run of the same code takes a few minutes::

    DATA_DIR=var python ops/chooser_study.py

A change to the chooser's rows alone (`app.ml.count_choice.candidate_features`) leaves the
fits as they were: ``--rows-from CODE`` reads the fits cached under the digest CODE of the
code before it and makes their rows again with today's code, in minutes.

Prints, per chooser and for the installed physics checks, the figures of issue 19's item 4
(`app.training.evaluate.typed_figures`) and the count right over every set; and the same
figures where each example's answer is a right candidate wherever one was fitted (the
first otherwise): how far a chooser could go without better fits. ``--seeds K`` fits
each chooser K times, to show how far its seeds alone move those figures; ``--ensemble N``
makes each of those choosers the average of N rankers of consecutive seeds (the shipped
chooser averages `app.ml.count_choice.CHOOSER_SEEDS`); ``--loss`` fits it with another
CatBoost loss (``Logloss``: a classifier of each candidate alone).

With ``--out-of-fold K``, choosers also learn from every K-th training-track example: three
folds by track, each fold's count and type models fitted on the other training tracks (early
stopping on the tuning tracks, as `app.training.fit` fits), so that their probabilities are
held out as the tuning tracks' are (about 30 minutes more for K = 2, cached beside the rest).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
from catboost import CatBoostClassifier

from app.config import get_settings
from app.ml.count_choice import CHOOSER_LOSS, chooser_scores, fit_chooser
from app.ml.fitting import PhysicsCheck
from app.ml.registry import load_classifier
from app.training import evaluate as ev
from app.training import report as rp
from app.training.bundle import Bundle
from app.training.cli import DEFAULT_MANIFEST
from app.training.corpus import read_manifest
from app.training.fit import EARLY_STOPPING_ROUNDS, PARAMS, TUNE_ONE_IN, tuning_mask

#: The modules whose code makes the cached candidates and their chooser rows.
FITTING_CODE = (
    "audio/eq.py",
    "ml/features.py",
    "ml/fitting.py",
    "ml/general.py",
    "ml/count_choice.py",
)


def code_digest() -> str:
    """A short digest of `FITTING_CODE`: a cache of other code's fits is never read."""
    app_dir = Path(__file__).resolve().parents[1] / "app"
    digest = hashlib.sha256()
    for name in FITTING_CODE:
        digest.update((app_dir / name).read_bytes())
    return digest.hexdigest()[:12]


def summary(name: str, data: Any, answers: list[Any]) -> None:
    """Print item 4's figures and the count right over every set."""
    figures = ev.typed_figures(data, answers)
    counts = np.array([len(a) for a in answers]) == data.n_operations
    print(f"{name}: count right over every set {ev.percent(counts)} %")
    print("  ", json.dumps({k: v for k, v in figures.items() if k != "with_chain"}), flush=True)


def out_of_fold_fits(
    bundle: Bundle, *, every: int, top_bands: np.ndarray | None, cache: Path
) -> list[Any]:
    """`chooser_fits` of every `every`-th training-track example, per fold of tracks, read
    by count and type models fitted on the other folds (cached in `cache`)."""
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    assert bundle.groups is not None and bundle.type_targets is not None
    features = bundle.features.astype(np.float32)
    tune = tuning_mask(bundle)
    training_tracks = ~bundle.validation & ~tune
    fold_of = (bundle.groups % TUNE_ONE_IN - 1) // 2  # tracks 1-2, 3-4, 5-6 of every seven
    fits = []
    for fold in range(3):
        fitted_on = training_tracks & (fold_of != fold)
        models = []
        for kind, targets in (("general", bundle.targets), ("general_types", bundle.type_targets)):
            model = CatBoostClassifier(
                **PARAMS[kind], thread_count=2, verbose=False, allow_writing_files=False
            )
            model.fit(
                features[fitted_on],
                targets[fitted_on],
                eval_set=(features[tune], targets[tune]),
                early_stopping_rounds=EARLY_STOPPING_ROUNDS,
                use_best_model=True,
            )
            models.append(model)
        read = training_tracks & (fold_of == fold) & (np.arange(len(tune)) % every == 0)
        examples = rp.general_examples(
            bundle, read, classifier=models[0], type_classifier=models[1], top_bands=top_bands
        )
        fits.append(rp.chooser_fits(examples, spec=bundle.spec))
        print(f"fold {fold}: {int(read.sum())} examples fitted", flush=True)
    cache.write_bytes(pickle.dumps(fits))
    return fits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--every", type=int, default=1, help="every k-th example only (a trial)")
    parser.add_argument(
        "--out-of-fold", type=int, default=0, help="also learn from every k-th training example"
    )
    parser.add_argument(
        "--seeds", type=int, default=1, help="fit each chooser k times (its spread)"
    )
    parser.add_argument(
        "--ensemble", type=int, default=1, help="average n rankers of consecutive seeds"
    )
    parser.add_argument(
        "--loss",
        default=CHOOSER_LOSS,
        choices=("YetiRank", "QuerySoftMax", "Logloss"),
        help="the chooser's CatBoost loss (`app.ml.count_choice.fit_chooser`)",
    )
    parser.add_argument(
        "--rows-from",
        metavar="CODE",
        help="read the fits cached under another code digest and describe them with today's"
        " chooser rows (for a change to the rows alone: it skips the refit)",
    )
    args = parser.parse_args()
    data_dir = get_settings().DATA_DIR
    cache = data_dir / f"chooser_study_every_{args.every}_{args.rows_from or code_digest()}.pkl"
    if args.rows_from and not cache.is_file():
        parser.error(f"--rows-from {args.rows_from}: no fits cached at {cache}")
    bundle = Bundle.load(data_dir / "bundle" / "general.npz")
    fitted_dir = data_dir / "fitted" / "general"
    classifier = load_classifier(fitted_dir)
    type_classifier = rp.fitted_type_classifier(fitted_dir)
    tracks = read_manifest(DEFAULT_MANIFEST)
    top_bands = rp.reference_top_bands(bundle, data_dir=data_dir, tracks=tracks)
    tune_mask = tuning_mask(bundle)
    if args.every > 1:
        kept = np.zeros(len(tune_mask), dtype=bool)
        kept[:: args.every] = True
        tune_mask &= kept
    validation_mask = bundle.validation.copy()
    validation_mask[
        np.flatnonzero(validation_mask)[np.arange(validation_mask.sum()) % args.every > 0]
    ] = False
    parts = {
        name: rp.general_examples(
            bundle,
            mask,
            classifier=classifier,
            type_classifier=type_classifier,
            top_bands=top_bands,
        )
        for name, mask in (("tune", tune_mask), ("validation", validation_mask))
    }
    if args.rows_from:
        fits = {
            name: rp.described_again(found, parts[name], spec=bundle.spec)
            for name, found in pickle.loads(cache.read_bytes()).items()
        }
    elif cache.is_file():
        fits = pickle.loads(cache.read_bytes())
    else:
        fits = {
            name: rp.chooser_fits(examples, spec=bundle.spec) for name, examples in parts.items()
        }
        cache.write_bytes(pickle.dumps(fits))
    validation = parts["validation"]
    metadata = json.loads(Path("models/general/metadata.json").read_text())
    check = PhysicsCheck.from_dict(metadata.get("decode"))
    typed_check = PhysicsCheck.from_dict(metadata.get("decode_typed"))
    checked = ev.checked_answers(
        validation.rows, fits["validation"].own, check=check, typed_check=typed_check
    )
    summary("installed physics checks", validation.dataset, checked)
    summary(
        "a right candidate wherever one was fitted (what no chooser can beat)",
        validation.dataset,
        [
            found[int(np.argmax(right))].operations
            for found, right in zip(
                fits["validation"].candidates, fits["validation"].right, strict=True
            )
        ],
    )
    assert bundle.groups is not None
    held_out = (bundle.groups[tune_mask] // TUNE_ONE_IN) % 2 == 1
    tune = fits["tune"]
    learn_from = [
        (
            name,
            [r for r, k in zip(tune.rows, keep, strict=True) if k],
            [r for r, k in zip(tune.right, keep, strict=True) if k],
        )
        for name, keep in (
            ("every tuning track", np.ones_like(held_out)),
            ("the evaluation's fit half", ~held_out),
            ("the other half", held_out),
        )
    ]
    if args.out_of_fold:
        folds = out_of_fold_fits(
            bundle,
            every=args.out_of_fold,
            top_bands=top_bands,
            cache=data_dir / f"chooser_study_out_of_fold_{args.out_of_fold}_{code_digest()}.pkl",
        )
        rows = [r for fits_of in folds for r in fits_of.rows]
        right = [r for fits_of in folds for r in fits_of.right]
        learn_from += [
            ("training tracks out of fold", rows, right),
            (
                "every tuning track and training tracks out of fold",
                tune.rows + rows,
                tune.right + right,
            ),
        ]
    for (name, rows, right), repeat in itertools.product(learn_from, range(args.seeds)):
        seeds = range(repeat * args.ensemble, (repeat + 1) * args.ensemble)
        chooser = fit_chooser(rows, right=right, seeds=seeds, loss=args.loss)
        scores = chooser_scores(chooser, fits["validation"].rows)
        picked = ev.chosen(fits["validation"].candidates, right=scores)
        summary(
            f"chooser fitted on {name} ({len(rows)} examples,"
            f" seeds {seeds.start}-{seeds.stop - 1})",
            validation.dataset,
            [c.operations for c in picked],
        )


if __name__ == "__main__":
    main()
