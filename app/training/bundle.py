"""A training bundle: one dataset's model inputs and targets, as fit, train and report read it.

On disk a bundle is ``<name>.npz`` (`app.training.train.write_bundles`), one
array per field below plus one per field a model sets (`app.ml.features.PER_MODEL`);
`Bundle` is its typed record, so that the fit, the install and the report read
fields, not dictionary keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Literal, cast

import numpy as np

from app.ml.features import CURRENT_SPEC, PER_MODEL, FeatureSpec

BundleKind = Literal["grid", "general", "paper"]
#: File key of the low-pass cut-off of each example in Hz (`train_low_pass_hz`).
TRAIN_LOW_PASS_KEY = "train_low_pass_hz"
#: File key of the validation examples' features again, as MP3 uploads.
LOW_PASS_KEY = "validation_low_pass_features"


@dataclass(frozen=True, kw_only=True)
class Bundle:
    """One dataset's model inputs and targets.

    Parameters
    ----------
    dataset_id : str
        The dataset (``F1W2``, ``general``, ``paper-F1W1``, ...).
    kind : {"grid", "general", "paper"}
        Which model it trains.
    features : np.ndarray
        One row per example.
    targets : np.ndarray
        Per-note classes (grid), operation counts (general) or set indices (paper).
    is_validation : np.ndarray
        Boolean, per example: a validation track's.
    spec : FeatureSpec
        The features it was computed with (its options; older bundles have none).
    groups : np.ndarray or None
        Track index per example (tuning tracks are every `TUNE_ONE_IN`-th).
    notes_hz : np.ndarray or None
        The grid's notes (grid bundles).
    operations, nuisance, nuisance_value, track_md5 : np.ndarray or None
        The examples' truth and draws (`app.training.datasets.Dataset`); not in
        slim copies made for a fit elsewhere.
    train_low_pass_hz : np.ndarray or None
        Low-pass cut-off of each example (``inf`` for none).
    validation_low_pass_features : np.ndarray or None
        The validation examples' features as MP3 uploads.
    type_targets : np.ndarray or None
        General bundles: whether each type but bells is present in each
        example's set, ``(n, 4)`` (`app.ml.general.TYPED`); the type model's targets.
    limiter_version : int
        The limiter its master-chain examples went through
        (`app.training.master_chain.LIMITER_VERSION`); 1, pedalboard's, for
        bundles written before the field.
    limiter_kind : np.ndarray or None
        Each example's chain limiter (`app.training.datasets.Dataset.limiter_kind`).
    unflagged_lossy_share : float
        `app.training.plan.DatasetPlan.unflagged_lossy_share` it was written with.
    """

    dataset_id: str
    kind: BundleKind
    features: np.ndarray
    targets: np.ndarray
    is_validation: np.ndarray
    spec: FeatureSpec = CURRENT_SPEC
    groups: np.ndarray | None = None
    notes_hz: np.ndarray | None = None
    operations: np.ndarray | None = None
    nuisance: np.ndarray | None = None
    nuisance_value: np.ndarray | None = None
    track_md5: np.ndarray | None = None
    train_low_pass_hz: np.ndarray | None = None
    validation_low_pass_features: np.ndarray | None = None
    type_targets: np.ndarray | None = None
    limiter_version: int = 1
    limiter_kind: np.ndarray | None = None
    unflagged_lossy_share: float = 0.0

    @property
    def validation(self) -> np.ndarray:
        """Boolean mask of the validation examples."""
        return np.asarray(self.is_validation).astype(bool)

    @property
    def grid_notes_hz(self) -> np.ndarray:
        """The grid's notes; `ValueError` for a bundle that has none."""
        if self.notes_hz is None:
            raise ValueError(f"bundle {self.dataset_id} ({self.kind}) has no grid notes")
        return self.notes_hz

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Bundle:
        """The record of a bundle file's arrays."""
        scalars = {"dataset_id", "kind", "spec", "limiter_version", "unflagged_lossy_share"}
        names = {f.name for f in fields(cls)} - scalars
        return cls(
            dataset_id=str(arrays["dataset_id"]),
            kind=cast(BundleKind, str(arrays["kind"])),
            spec=spec_of(arrays),
            limiter_version=int(arrays.get("limiter_version", 1)),
            unflagged_lossy_share=unflagged_lossy_share_of(arrays),
            **{name: arrays[name] for name in names if name in arrays},
        )

    @classmethod
    def load(cls, path: Path) -> Bundle:
        """Read a bundle file."""
        with np.load(path, allow_pickle=False) as data:
            return cls.from_arrays({key: data[key] for key in data.files})

    def arrays(self) -> dict[str, np.ndarray]:
        """The bundle's file arrays (absent fields left out)."""
        arrays = {
            f.name: np.asarray(getattr(self, f.name))
            for f in fields(self)
            if f.name != "spec" and getattr(self, f.name) is not None
        }
        return arrays | {name: np.array(getattr(self.spec, name)) for name in PER_MODEL}

    def save(self, path: Path) -> Path:
        """Write the bundle file (compressed)."""
        np.savez_compressed(path, **self.arrays())  # type: ignore[arg-type]
        return path

    def for_fit(self) -> Bundle:
        """A slim copy holding only what a fit reads, features in half precision.

        Half precision is 0.01 dB steps on dB values, so every dataset fits in
        one upload to a GPU machine.
        """
        return Bundle(
            dataset_id=self.dataset_id,
            kind=self.kind,
            features=self.features.astype(np.float16),
            targets=self.targets,
            is_validation=self.is_validation,
            spec=self.spec,
            groups=self.groups,
            notes_hz=self.notes_hz,
            train_low_pass_hz=self.train_low_pass_hz,
            type_targets=self.type_targets,
            unflagged_lossy_share=self.unflagged_lossy_share,
        )


def spec_of(arrays: Mapping[str, np.ndarray]) -> FeatureSpec:
    """The features a bundle file's arrays were computed with (older bundles lack some of
    `PER_MODEL`, which read as `CURRENT_SPEC`'s)."""
    defaults = {name: getattr(CURRENT_SPEC, name) for name in PER_MODEL}
    read = {name: type(value)(arrays.get(name, value)) for name, value in defaults.items()}
    return replace(CURRENT_SPEC, **read)


def unflagged_lossy_share_of(arrays: Mapping[str, np.ndarray]) -> float:
    """`Bundle.unflagged_lossy_share` of a bundle file's arrays (0 for bundles written before
    the field, which told every lossy candidate)."""
    return float(arrays.get("unflagged_lossy_share", 0.0))
