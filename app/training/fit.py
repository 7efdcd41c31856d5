"""The CatBoost fits, from feature bundles to models and validation predictions.

This step needs only numpy, scipy and catboost, so it runs where the corpus is
not: on a machine with a GPU (``--task-type GPU``) or many cores. Input: one
``<dataset>.npz`` bundle per dataset (see `app.training.train.write_bundle`).
Output, per dataset: ``<folder>/model.cbm`` (grid and general models; the report
predicts from it), or ``<folder>/validation.npz`` for the paper's closed-set
models, which are not shipped (the predicted probabilities of the validation
examples), and ``<folder>/fit.json`` (parameters, sizes, training time).
Finished datasets are skipped, so the step resumes.

Usage::

    python -m app.training.fit --bundle-dir var/bundle --out var/fitted --task-type GPU
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from catboost import CatBoostClassifier

from app.ml.features import CURRENT_SPEC, OPTIONS, FeatureSpec
from app.ml.grid import note_rows
from app.ml.registry import MODEL_FILE

#: CatBoost parameters per kind of model. Grid and general models stop early on
#: a tuning set of training tracks (never the validation tracks); the paper's
#: baseline runs its fixed 1000 iterations at depth 5.
PARAMS: dict[str, dict[str, Any]] = {
    "grid": {"loss_function": "MultiClass", "iterations": 8000, "depth": 6, "learning_rate": 0.1},
    "general": {
        "loss_function": "MultiClass",
        "iterations": 3000,
        "depth": 6,
        "learning_rate": 0.05,
    },
    "paper": {"loss_function": "MultiClass", "iterations": 1000, "depth": 5},
}
EARLY_STOPPING_ROUNDS = 200
#: A grid or general bundle's low-pass cut-off of each example in Hz
#: (`app.training.datasets.train_low_pass_hz`; ``inf`` for none): a share of the
#: training examples stand for MP3 uploads.
TRAIN_LOW_PASS_KEY = "train_low_pass_hz"
#: One training track in this many tunes the number of boosting rounds.
TUNE_ONE_IN = 7


def _classifier(
    kind: str, *, task_type: str, threads: int, iterations: int | None
) -> CatBoostClassifier:
    params = dict(PARAMS[kind])
    if iterations:
        params["iterations"] = iterations
    if task_type == "GPU":
        params.update(task_type="GPU", devices="0")
    else:
        params.update(thread_count=threads)
    return CatBoostClassifier(**params, random_seed=0, verbose=0, allow_writing_files=False)


def tuning_mask(bundle: dict[str, np.ndarray]) -> np.ndarray:
    """Training-track examples that tune the number of boosting rounds (none for the paper's)."""
    validation = bundle["is_validation"].astype(bool)
    if str(bundle["kind"]) == "paper" or "groups" not in bundle:
        return np.zeros_like(validation)
    return ~validation & (bundle["groups"] % TUNE_ONE_IN == 0)


def bundle_spec(bundle: Mapping[str, np.ndarray]) -> FeatureSpec:
    """The features a bundle was computed with (older bundles have no options)."""
    return replace(CURRENT_SPEC, **{name: bool(bundle.get(name, False)) for name in OPTIONS})


def training_rows(
    bundle: dict[str, np.ndarray], *, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs and targets of the examples in `mask`, per the bundle's kind."""
    kind = str(bundle["kind"])
    features = bundle["features"][mask].astype(np.float32)
    if kind == "grid":
        rows = note_rows(features, notes_hz=bundle["notes_hz"], spec=bundle_spec(bundle))
        return rows, bundle["targets"][mask].reshape(-1)
    return features, bundle["targets"][mask]


def low_passed_share(bundle: dict[str, np.ndarray], *, mask: np.ndarray) -> float:
    """Fraction of the examples in `mask` that were low-passed (0 for older bundles)."""
    if TRAIN_LOW_PASS_KEY not in bundle or not mask.any():
        return 0.0
    return round(float(np.isfinite(bundle[TRAIN_LOW_PASS_KEY][mask]).mean()), 4)


def fit_bundle(
    path: Path, *, out_dir: Path, task_type: str, threads: int, iterations: int | None = None
) -> dict[str, Any]:
    """Fit one bundle's model and write it (a paper model: its validation predictions)."""
    with np.load(path, allow_pickle=False) as data:
        bundle = {key: data[key] for key in data.files}
    kind = str(bundle["kind"])
    target_dir = out_dir / path.stem
    target_dir.mkdir(parents=True, exist_ok=True)
    validation = bundle["is_validation"].astype(bool)
    tune = tuning_mask(bundle)
    x_train, y_train = training_rows(bundle, mask=~validation & ~tune)
    eval_set = training_rows(bundle, mask=tune) if tune.any() else None
    fit_options: dict[str, Any] = (
        {
            "eval_set": eval_set,
            "early_stopping_rounds": EARLY_STOPPING_ROUNDS,
            "use_best_model": True,
        }
        if eval_set is not None
        else {}
    )
    classifier = _classifier(kind, task_type=task_type, threads=threads, iterations=iterations)
    started = time.perf_counter()
    try:
        classifier.fit(x_train, y_train, **fit_options)
    except Exception as error:  # a GPU that cannot take this loss: fall back to the CPU
        if task_type != "GPU":
            raise
        print(f"{path.stem}: GPU fit failed ({error}); fitting on the CPU")
        classifier = _classifier(kind, task_type="CPU", threads=threads, iterations=iterations)
        started = time.perf_counter()
        classifier.fit(x_train, y_train, **fit_options)
    seconds = time.perf_counter() - started
    if kind == "paper":
        x_valid, _ = training_rows(bundle, mask=validation)
        np.savez_compressed(
            target_dir / "validation.npz",
            probabilities=np.asarray(classifier.predict_proba(x_valid), dtype=np.float32),
            classes=np.asarray(classifier.classes_).astype(np.int64),
        )
    else:
        classifier.save_model(str(target_dir / MODEL_FILE))
    info = {
        "dataset": str(bundle["dataset_id"]),
        "kind": kind,
        "params": {**PARAMS[kind], **({"iterations": iterations} if iterations else {})},
        "task_type": classifier.get_all_params().get("task_type", task_type),
        "train_examples": int((~validation & ~tune).sum()),
        "tune_examples": int(tune.sum()),
        "best_iteration": classifier.get_best_iteration(),
        "tree_count": classifier.tree_count_,
        "validation_examples": int(validation.sum()),
        "train_rows": int(len(x_train)),
        "n_features": int(x_train.shape[1]),
        "train_seconds": round(seconds, 1),
        "low_passed_train_share": low_passed_share(bundle, mask=~validation & ~tune),
    }
    (target_dir / "fit.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main(argv: list[str] | None = None) -> None:
    """Fit every bundle not fitted yet."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--task-type", choices=["CPU", "GPU"], default="CPU")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--only", nargs="*", default=None, help="bundle names to fit")
    parser.add_argument("--deadline-s", type=float, default=None, help="start no fit after this")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    for path in sorted(args.bundle_dir.glob("*.npz")):
        if args.only and path.stem not in args.only:
            continue
        if (args.out / path.stem / "fit.json").is_file():
            continue
        if args.deadline_s and time.perf_counter() - started > args.deadline_s:
            print(f"deadline reached before {path.stem}")
            break
        info = fit_bundle(
            path,
            out_dir=args.out,
            task_type=args.task_type,
            threads=args.threads,
            iterations=args.iterations,
        )
        print(json.dumps(info), flush=True)


if __name__ == "__main__":
    main()
