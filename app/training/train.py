"""From datasets to shipped models: feature bundles, fitting, installing into `models/`.

``mastering-trainer train`` runs three resumable steps:

1. bundle: per dataset, the model inputs of every example (computed from the
   stored spectra exactly as the service computes them) and the targets, with
   the track-based split, into ``DATA_DIR/bundle/<dataset>.npz``;
2. fit: `app.training.fit` trains CatBoost on the training tracks and predicts
   the validation tracks (on this machine's CPU, or elsewhere on a GPU);
3. install: each fitted grid or general model goes into ``models/<folder>/``
   with its ``metadata.json``, and ``models/registry.json`` lists them.
"""

from __future__ import annotations

import gzip
import json
import platform
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import catboost
import numpy as np

from app.audio.spectrum import paper_feature
from app.ml.count_choice import COUNT_CHOOSER_FILE
from app.ml.features import CURRENT_SPEC, FeatureSpec
from app.ml.general import ALL_TYPES, TYPED
from app.ml.general import example_features as general_features
from app.ml.grid import example_features as grid_example_features
from app.ml.grid import operations_to_classes
from app.ml.registry import (
    COMPRESSED_MODEL_FILE,
    MODEL_FILE,
    TYPES_MODEL_FILE,
    folder_name,
    has_model,
    write_registry,
)
from app.training.bundle import (
    LOW_PASS_KEY,
    TRAIN_LOW_PASS_KEY,
    Bundle,
    BundleKind,
    spec_of,
    unflagged_lossy_share_of,
)
from app.training.datasets import LOW_PASS_HZ, Dataset, told_lossy, train_low_pass_hz
from app.training.grids import GRID_CONFIGS, TYPE_CODES, GridConfig, paper_fixed_sets
from app.training.master_chain import LIMITER_VERSION
from app.training.plan import feature_spec, unflagged_lossy_share
from app.training.synth import PAPER_PREFIX

#: Suffix of the bundle that trains the closed-set task on our band features.
OURS_SUFFIX = "-ours"


def bundle_name(dataset_id: str) -> str:
    """File stem of a dataset's bundle."""
    return folder_name(dataset_id)


def paper_set_index(dataset: Dataset, *, config: GridConfig) -> np.ndarray:
    """Index, in the fixed list of sets, of each example's set."""
    notes = config.notes_hz
    lookup = {
        tuple(sorted(int(np.argmin(np.abs(notes - op.frequency_hz))) for op in ops)): index
        for index, ops in enumerate(paper_fixed_sets(config))
    }
    indices = []
    for ops in dataset.operations:
        frequencies = ops[~np.isnan(ops[:, 0]), 0]
        key = tuple(sorted(int(np.argmin(np.abs(notes - f))) for f in frequencies))
        indices.append(lookup[key])
    return np.array(indices, dtype=np.int16)


def write_bundles(dataset: Dataset, *, bundle_dir: Path) -> list[Path]:
    """Compute model inputs and targets of a dataset and save them as bundles."""
    bundle_dir.mkdir(parents=True, exist_ok=True)
    common: dict[str, Any] = {
        "dataset_id": dataset.dataset_id,
        "groups": np.unique(dataset.track_md5, return_inverse=True)[1].astype(np.int32),
        "is_validation": dataset.is_validation,
        "operations": dataset.operations,
        "nuisance": dataset.nuisance,
        "nuisance_value": dataset.nuisance_value,
        "track_md5": dataset.track_md5,
        "limiter_kind": dataset.limiter_kind,
    }
    dataset_id = dataset.dataset_id
    spec = feature_spec(dataset_id)
    if dataset_id.startswith(PAPER_PREFIX):
        bundles = _paper_bundles(dataset, common=common)
    else:
        features_of: Callable[..., np.ndarray]
        notes_hz: np.ndarray | None = None
        type_targets: np.ndarray | None = None
        if dataset_id == "general":
            kind: BundleKind = "general"
            targets = dataset.n_operations.astype(np.int8)
            type_targets = type_presence(dataset)
            features_of = partial(general_features, spec=spec, types=ALL_TYPES)
        else:
            config = GridConfig.parse(dataset_id)
            kind, notes_hz = "grid", config.notes_hz
            targets = operations_to_classes(dataset.operations, notes_hz=config.notes_hz)
            features_of = partial(
                grid_example_features,
                notes_hz=config.notes_hz,
                width_octaves=float(config.width_octaves),
                spec=spec,
            )

        def coherent_of(part: Dataset) -> dict[str, np.ndarray | None]:
            return {"coherent_magnitudes": part.coherent_magnitude} if spec.coherent else {}

        cutoffs_hz = train_low_pass_hz(dataset)
        augmented = dataset.low_passed(cutoff_hz=cutoffs_hz)
        low_passed = dataset.validation.low_passed(cutoff_hz=LOW_PASS_HZ)
        unflagged_share = unflagged_lossy_share(dataset_id)
        bundles = {
            bundle_name(dataset_id): Bundle(
                **common,
                spec=spec,
                limiter_version=LIMITER_VERSION,
                unflagged_lossy_share=unflagged_share,
                notes_hz=notes_hz,
                kind=kind,
                type_targets=type_targets,
                features=features_of(
                    augmented.reference_magnitude,
                    augmented.candidate_magnitude,
                    **coherent_of(augmented),
                    candidate_lossy=told_lossy(
                        dataset, cutoffs_hz=cutoffs_hz, unflagged_share=unflagged_share
                    ),
                ),
                targets=targets,
                train_low_pass_hz=cutoffs_hz,
                # The validation examples as MP3 uploads: low-passed, lossy-coded.
                validation_low_pass_features=features_of(
                    low_passed.reference_magnitude,
                    low_passed.candidate_magnitude,
                    **coherent_of(low_passed),
                    candidate_lossy=np.ones(len(low_passed), dtype=bool),
                ),
            )
        }
    return [bundle.save(bundle_dir / f"{name}.npz") for name, bundle in bundles.items()]


def type_presence(dataset: Dataset) -> np.ndarray:
    """Whether each type but bells (`app.ml.general.TYPED`) is in each example's set, ``(n, 4)``."""
    codes = dataset.type_codes
    return np.stack(
        [np.any(codes == TYPE_CODES.index(kind), axis=1) for kind in TYPED], axis=1
    ).astype(np.int8)


def git_commit() -> str:
    """The commit the code was at, or "unknown"."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def model_metadata(
    *,
    dataset_id: str,
    fit_info: dict[str, Any],
    manifest_sha256: str,
    figures: dict[str, Any],
    spec: FeatureSpec = CURRENT_SPEC,
) -> dict[str, Any]:
    """The ``metadata.json`` of a shipped model."""
    metadata: dict[str, Any] = {
        "id": dataset_id,
        "version": 1,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "catboost_version": catboost.__version__,
        "python": platform.python_version(),
        "git_commit": git_commit(),
        "feature_spec": spec.to_dict(),
        "training_corpus_manifest_sha256": manifest_sha256,
        "command": f"mastering-trainer dataset build --dataset {dataset_id} && "
        f"mastering-trainer train --dataset {dataset_id}",
        "fit": fit_info,
        "figures": figures,
    }
    if dataset_id == "general":
        metadata.update(
            kind="general",
            description="Up to 5 operations at least 1/2 octave apart: bells from 30 Hz to "
            "16 kHz (widths 1/2 to 2 octaves), low shelves at 40-400 Hz and high shelves at "
            "2-12 kHz (slopes 0.3 to 1), gains 1.5 to 12 dB either way, high-pass filters at "
            "25-200 Hz and low-pass filters at 4-16 kHz (12 or 24 dB/octave); reports each "
            "one's type, frequency, gain and width, slope or order.",
            recognises={
                "types": list(ALL_TYPES),
                "frequency_hz": [30.0, 16_000.0],
                "width_octaves": [0.5, 2.0],
                "gain_db": [1.5, 12.0],
                "max_operations": 5,
            },
            labels=[f"{count} operations" for count in range(6)],
        )
    else:
        config = GridConfig.parse(dataset_id)
        metadata.update(
            kind="grid",
            description=f"Any subset of the {len(config.notes_hz)} notes every "
            f"{config.grid_octaves} octave from C1, each boosted or cut (3, 6 or 9 dB), "
            f"bells {config.width_octaves} octave wide.",
            grid={
                "grid_octaves": str(config.grid_octaves),
                "width_octaves": float(config.width_octaves),
                "notes_hz": [round(float(f), 3) for f in config.notes_hz],
                "note_names": config.note_names,
            },
            recognises={
                "notes": config.note_names,
                "directions": ["boost", "cut"],
                "gain_db": [3.0, 6.0, 9.0],
                "max_operations": 7,
            },
            labels=["none", "boost", "cut"],
        )
    return metadata


def install_model(
    *, dataset_id: str, fitted_dir: Path, models_dir: Path, metadata: dict[str, Any]
) -> Path:
    """Copy a fitted model into ``models/<folder>/`` with its metadata, the CatBoost models
    gzip-compressed (about 70 % of their size; models/ stays under GitHub's 100 MB)."""
    source = fitted_dir / bundle_name(dataset_id) / MODEL_FILE
    target = models_dir / folder_name(dataset_id)
    target.mkdir(parents=True, exist_ok=True)
    for name in (MODEL_FILE, COMPRESSED_MODEL_FILE, TYPES_MODEL_FILE, f"{TYPES_MODEL_FILE}.gz"):
        (target / name).unlink(missing_ok=True)  # the model it replaces, either way
    _install_compressed(source, target=target)
    chooser = source.with_name(COUNT_CHOOSER_FILE)
    (target / COUNT_CHOOSER_FILE).unlink(missing_ok=True)
    if chooser.is_file():  # the general model's count chooser (small)
        shutil.copyfile(chooser, target / COUNT_CHOOSER_FILE)
    types_model = source.with_name(TYPES_MODEL_FILE)
    if types_model.is_file():  # the general model's type model
        _install_compressed(types_model, target=target)
    (target / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    return target


def _install_compressed(source: Path, *, target: Path) -> None:
    compressed = gzip.compress(source.read_bytes(), compresslevel=9, mtime=0)
    (target / f"{source.name}.gz").write_bytes(compressed)


def update_registry(models_dir: Path) -> list[str]:
    """List every installed model in ``registry.json`` (grid models in paper order)."""
    order = [config.id for config in GRID_CONFIGS] + ["general"]
    installed = [model_id for model_id in order if has_model(models_dir / folder_name(model_id))]
    default = "general" if "general" in installed else (installed[0] if installed else "")
    write_registry(models_dir, model_ids=installed, default_id=default)
    return installed


def load_bundle(path: Path) -> dict[str, np.ndarray]:
    """Every array of a bundle file, as stored (`Bundle.load` reads its record)."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _paper_bundles(dataset: Dataset, *, common: dict[str, Any]) -> dict[str, Bundle]:
    """The paper-faithful closed-set bundle and its twin on our band features."""
    config = GridConfig.parse(dataset.dataset_id.removeprefix(PAPER_PREFIX))
    targets = paper_set_index(dataset, config=config)
    paper = np.stack(
        [
            paper_feature(ref, cand)
            for ref, cand in zip(
                dataset.reference_magnitude, dataset.candidate_magnitude, strict=True
            )
        ]
    )
    ours = grid_example_features(
        dataset.reference_magnitude,
        dataset.candidate_magnitude,
        notes_hz=config.notes_hz,
        width_octaves=float(config.width_octaves),
    )[:, : CURRENT_SPEC.n_bands + 1]
    name = bundle_name(dataset.dataset_id)
    spec = CURRENT_SPEC  # the paper's bundles carry no feature options
    return {
        name: Bundle(**common, spec=spec, kind="paper", features=paper, targets=targets),
        name + OURS_SUFFIX: Bundle(
            **common, spec=spec, kind="paper", features=ours, targets=targets
        ),
    }


def bundle_is_current(
    path: Path, *, spec: FeatureSpec, newest_shard_mtime: float, unflagged_lossy_share: float = 0.0
) -> bool:
    """Whether a bundle exists, is newer than its shards and holds the plan's features and
    lossy flags (`app.training.plan.DatasetPlan.unflagged_lossy_share`)."""
    if not path.is_file() or path.stat().st_mtime < newest_shard_mtime:
        return False
    with np.load(path, allow_pickle=False) as data:
        low_passes = {LOW_PASS_KEY, TRAIN_LOW_PASS_KEY} <= set(data.files)
        current = str(data["kind"]) == "paper" or low_passes
        share = unflagged_lossy_share_of(data)
        return current and spec_of(data) == spec and share == unflagged_lossy_share


def bundle_dataset(bundle: Bundle) -> Dataset:
    """The bundle's examples as a `Dataset` without spectra (for evaluation)."""
    n = len(bundle.is_validation)
    if bundle.operations is None or bundle.nuisance is None or bundle.nuisance_value is None:
        raise ValueError(f"bundle {bundle.dataset_id} holds no examples' truth (a copy for a fit)")
    return Dataset(
        dataset_id=bundle.dataset_id,
        reference_magnitude=np.empty((n, 0)),
        candidate_magnitude=np.empty((n, 0)),
        operations=bundle.operations,
        nuisance=bundle.nuisance,
        nuisance_value=bundle.nuisance_value,
        track_md5=bundle.track_md5 if bundle.track_md5 is not None else np.full(n, ""),
        is_validation=bundle.validation,
        limiter_kind=bundle.limiter_kind,
    )


def export_for_fit(bundle_dir: Path, out_dir: Path, *, kinds: tuple[str, ...]) -> list[Path]:
    """Slim copies of the bundles of `kinds` for fitting elsewhere (`Bundle.for_fit`).

    Only the arrays the fit reads travel, and the features in half precision
    (0.01 dB steps on dB values), so every dataset fits in one upload to a GPU machine.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(bundle_dir.glob("*.npz")):
        bundle = Bundle.load(path)
        if bundle.kind in kinds:
            written.append(bundle.for_fit().save(out_dir / path.name))
    return written
