"""The CatBoost fits, from feature bundles to models and validation predictions.

This step needs only numpy, scipy and catboost, so it runs where the corpus is
not: on a machine with a GPU (``--task-type GPU``) or many cores. Input: one
``<dataset>.npz`` bundle per dataset (see `app.training.train.write_bundle`).
Output, per dataset: ``<folder>/model.cbm`` (grid and general models; the report
predicts from it) and ``<folder>/fit.json`` (parameters, sizes, training time).
The paper's closed-set bundles (``paper-*``) are fitted by
`app.training.paper_study` alone (``mastering-trainer paper-study``).
Finished fits (newer than their bundle, with today's parameters) are skipped,
so the step resumes; a fit stopped half-way resumes from its CatBoost snapshot
(``<folder>/fit-<parameters>.cbsnapshot``, written every few minutes), so an
hour-long fit on 2 cores survives a session's end.

Usage::

    python -m app.training.fit --bundle-dir var/bundle --out var/fitted --task-type GPU
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
from catboost import CatBoostClassifier

from app.ml.grid import note_rows
from app.ml.registry import MODEL_FILE, TYPES_MODEL_FILE
from app.training.bundle import Bundle
from app.training.plan import boosting_rounds
from app.training.synth import PAPER_PREFIX

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
    #: The general model's type model: which types but bells are present (multi-label).
    "general_types": {
        "loss_function": "MultiLogloss",
        "iterations": 2000,
        "depth": 6,
        "learning_rate": 0.08,
    },
}
EARLY_STOPPING_ROUNDS = 200
#: One training track in this many tunes the number of boosting rounds.
TUNE_ONE_IN = 7
#: How often a fit saves the snapshot it resumes from.
SNAPSHOT_INTERVAL_S = 120
#: CatBoost's own logs, which it must be allowed to write to snapshot; removed after the fit.
CATBOOST_DIR = "catboost_info"
#: Parameters a fit may resume with changed (the snapshot's name leaves them out).
RESUME_ANYWHERE = ("thread_count", "train_dir")


def fit_params(kind: str, *, iterations: int | None) -> dict[str, Any]:
    """A kind's CatBoost parameters, with `iterations` overriding its boosting rounds."""
    return {**PARAMS[kind], **({"iterations": iterations} if iterations else {})}


def fit_is_current(
    *,
    fitted_dir: Path,
    bundle_path: Path,
    iterations: int | None = None,
    same_params: bool = True,
) -> bool:
    """Whether a bundle's fit exists and is newer than the bundle.

    With `same_params`, it must also have been fitted with today's parameters
    for its kind (`iterations`, else the plan's `boosting_rounds` for its dataset,
    overriding the boosting rounds), so changing them refits.
    """
    fit_json = fitted_dir / bundle_path.stem / "fit.json"
    if not fit_json.is_file() or fit_json.stat().st_mtime < bundle_path.stat().st_mtime:
        return False
    info = json.loads(fit_json.read_text())
    rounds = iterations or boosting_rounds(info.get("dataset", ""))
    return not same_params or info["params"] == fit_params(info["kind"], iterations=rounds)


def _classifier(
    kind: str, *, task_type: str, threads: int, iterations: int | None, train_dir: Path
) -> CatBoostClassifier:
    params = fit_params(kind, iterations=iterations)
    if task_type == "GPU":
        params.update(task_type="GPU", devices="0")
    else:
        params.update(thread_count=threads)
    return CatBoostClassifier(**params, random_seed=0, verbose=0, train_dir=str(train_dir))


def resumable_snapshot(
    classifier: CatBoostClassifier, *, target_dir: Path, bundle_path: Path
) -> Path:
    """Where `classifier` snapshots its fit of a bundle.

    CatBoost resumes only with the parameters it started with (threads and
    logs folder aside), so the name carries them; a snapshot of other
    parameters, or older than the bundle (other data), is deleted. The path is
    absolute, since CatBoost reads a relative one from its logs folder.
    """
    params = json.dumps(
        {k: v for k, v in classifier.get_params().items() if k not in RESUME_ANYWHERE},
        sort_keys=True,
    )
    target_dir = target_dir.resolve()
    snapshot = target_dir / f"fit-{hashlib.sha256(params.encode()).hexdigest()[:12]}.cbsnapshot"
    for old in target_dir.glob("fit-*.cbsnapshot"):
        if old != snapshot or old.stat().st_mtime < bundle_path.stat().st_mtime:
            old.unlink()
    return snapshot


def fit_resumably(
    classifier: CatBoostClassifier,
    x_train: np.ndarray,
    y_train: np.ndarray,
    *,
    bundle_path: Path,
    target_dir: Path,
    fit_options: dict[str, Any],
) -> tuple[bool, float | None]:
    """Fit `classifier` from its snapshot, if one was left.

    Returns
    -------
    resumed, seconds
        Whether a snapshot was left, and CatBoost's training time over every
        run of this fit (its time log; None where it wrote none).
    """
    snapshot = resumable_snapshot(classifier, target_dir=target_dir, bundle_path=bundle_path)
    resumed = snapshot.is_file()
    classifier.fit(
        x_train,
        y_train,
        save_snapshot=True,
        snapshot_file=str(snapshot),
        snapshot_interval=SNAPSHOT_INTERVAL_S,
        **fit_options,
    )
    snapshot.unlink(missing_ok=True)
    train_dir = Path(classifier.get_param("train_dir"))
    seconds = _logged_seconds(train_dir / "time_left.tsv")
    shutil.rmtree(train_dir, ignore_errors=True)
    return resumed, seconds


def _logged_seconds(time_log: Path) -> float | None:
    """The time passed at CatBoost's last logged iteration (it counts on across resumes)."""
    if not time_log.is_file():
        return None
    rows = time_log.read_text().split("\n")[1:]
    last = [row for row in rows if row.strip()][-1:]
    return float(last[0].split("\t")[1]) / 1000 if last else None


def tuning_mask(bundle: Bundle) -> np.ndarray:
    """Training-track examples that tune the number of boosting rounds (none for the paper's)."""
    validation = bundle.validation
    if bundle.kind == "paper" or bundle.groups is None:
        return np.zeros_like(validation)
    return ~validation & (bundle.groups % TUNE_ONE_IN == 0)


def training_rows(bundle: Bundle, *, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs and targets of the examples in `mask`, per the bundle's kind."""
    features = bundle.features[mask].astype(np.float32)
    if bundle.kind == "grid":
        rows = note_rows(features, notes_hz=bundle.grid_notes_hz, spec=bundle.spec)
        return rows, bundle.targets[mask].reshape(-1)
    return features, bundle.targets[mask]


def low_passed_share(bundle: Bundle, *, mask: np.ndarray) -> float:
    """Fraction of the examples in `mask` that were low-passed (0 for older bundles)."""
    if bundle.train_low_pass_hz is None or not mask.any():
        return 0.0
    return round(float(np.isfinite(bundle.train_low_pass_hz[mask]).mean()), 4)


def fit_bundle(
    path: Path, *, out_dir: Path, task_type: str, threads: int, iterations: int | None = None
) -> dict[str, Any]:
    """Fit one bundle's model (a grid or general one) and write it with its fit record;
    `iterations`, else the plan's `boosting_rounds` for its dataset, overrides its kind's
    boosting rounds."""
    bundle = Bundle.load(path)
    kind = bundle.kind
    iterations = iterations or boosting_rounds(bundle.dataset_id)
    if kind == "paper":
        raise ValueError(
            f"{path.name}: the paper's closed-set fits are `mastering-trainer paper-study`"
        )
    target_dir = out_dir / path.stem
    target_dir.mkdir(parents=True, exist_ok=True)
    validation = bundle.validation
    tune = tuning_mask(bundle)
    x_train, y_train = training_rows(bundle, mask=~validation & ~tune)
    eval_set = training_rows(bundle, mask=tune) if tune.any() else None
    if eval_set is not None:
        # CatBoost refuses a tuning class the training rows lack (a small dataset's rare count).
        seen = np.isin(eval_set[1], y_train)
        eval_set = (eval_set[0][seen], eval_set[1][seen]) if seen.any() else None
    fit_options: dict[str, Any] = (
        {
            "eval_set": eval_set,
            "early_stopping_rounds": EARLY_STOPPING_ROUNDS,
            "use_best_model": True,
        }
        if eval_set is not None
        else {}
    )

    def fit_on(device: str) -> tuple[CatBoostClassifier, bool, float]:
        """The fitted classifier, whether it resumed, and its training seconds."""
        return timed_fit(
            kind,
            (x_train, y_train),
            device=device,
            threads=threads,
            iterations=iterations,
            bundle_path=path,
            target_dir=target_dir,
            fit_options=fit_options,
        )

    try:
        classifier, resumed, seconds = fit_on(task_type)
    except Exception as error:  # a GPU that cannot take this loss: fall back to the CPU
        if task_type != "GPU":
            raise
        print(f"{path.stem}: GPU fit failed ({error}); fitting on the CPU")
        classifier, resumed, seconds = fit_on("CPU")
    classifier.save_model(str(target_dir / MODEL_FILE))
    types_info = None
    if bundle.type_targets is not None:
        types_info = fit_type_model(
            bundle, path=path, target_dir=target_dir, threads=threads, iterations=iterations
        )
    info = {
        "dataset": bundle.dataset_id,
        "kind": kind,
        "params": fit_params(kind, iterations=iterations),
        "task_type": classifier.get_all_params().get("task_type", task_type),
        "train_examples": int((~validation & ~tune).sum()),
        "tune_examples": int(tune.sum()),
        "best_iteration": classifier.get_best_iteration(),
        "tree_count": classifier.tree_count_,
        "validation_examples": int(validation.sum()),
        "train_rows": int(len(x_train)),
        "n_features": int(x_train.shape[1]),
        "train_seconds": round(seconds, 1),
        "resumed_from_snapshot": resumed,
        "low_passed_train_share": low_passed_share(bundle, mask=~validation & ~tune),
        "unflagged_lossy_share": bundle.unflagged_lossy_share,
    }
    if types_info is not None:
        info["types_model"] = types_info
    (target_dir / "fit.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def timed_fit(
    kind: str,
    rows: tuple[np.ndarray, np.ndarray],
    *,
    device: str,
    threads: int,
    iterations: int | None,
    bundle_path: Path,
    target_dir: Path,
    fit_options: dict[str, Any],
) -> tuple[CatBoostClassifier, bool, float]:
    """A kind's classifier fitted resumably on `rows` (inputs, targets): it, whether it
    resumed, and its training seconds."""
    classifier = _classifier(
        kind,
        task_type=device,
        threads=threads,
        iterations=iterations,
        train_dir=target_dir / CATBOOST_DIR,
    )
    started = time.perf_counter()
    resumed, logged_seconds = fit_resumably(
        classifier,
        *rows,
        bundle_path=bundle_path,
        target_dir=target_dir,
        fit_options=fit_options,
    )
    return classifier, resumed, logged_seconds or time.perf_counter() - started


def fit_type_model(
    bundle: Bundle, *, path: Path, target_dir: Path, threads: int, iterations: int | None
) -> dict[str, Any]:
    """Fit a general bundle's type model on the CPU and write it (`TYPES_MODEL_FILE`).

    Same training and tuning examples as the count model; the targets are
    `Bundle.type_targets`.
    """
    if bundle.type_targets is None:
        raise ValueError(f"bundle {bundle.dataset_id} has no type targets")
    validation, tune = bundle.validation, tuning_mask(bundle)
    train = ~validation & ~tune
    classifier, _, seconds = timed_fit(
        "general_types",
        (bundle.features[train].astype(np.float32), bundle.type_targets[train]),
        device="CPU",
        threads=threads,
        iterations=iterations,
        bundle_path=path,
        target_dir=target_dir,
        fit_options={
            "eval_set": (bundle.features[tune].astype(np.float32), bundle.type_targets[tune]),
            "early_stopping_rounds": EARLY_STOPPING_ROUNDS,
            "use_best_model": True,
        },
    )
    classifier.save_model(str(target_dir / TYPES_MODEL_FILE))
    return {
        "params": fit_params("general_types", iterations=iterations),
        "best_iteration": classifier.get_best_iteration(),
        "tree_count": classifier.tree_count_,
        "train_seconds": round(seconds, 1),
    }


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
        if (args.only and path.stem not in args.only) or path.stem.startswith(PAPER_PREFIX):
            continue
        if fit_is_current(fitted_dir=args.out, bundle_path=path, iterations=args.iterations):
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
