"""Loading synthesised datasets, split by track."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.training.corpus import Track
from app.training.synth import Nuisance
from app.training.synth import dataset_id as folder_of


@dataclass(frozen=True, kw_only=True)
class Dataset:
    """Every example of one dataset, with the track each came from."""

    dataset_id: str
    reference_magnitude: np.ndarray
    candidate_magnitude: np.ndarray
    operations: np.ndarray
    nuisance: np.ndarray
    nuisance_value: np.ndarray
    track_md5: np.ndarray
    is_validation: np.ndarray

    def __len__(self) -> int:
        return len(self.operations)

    def subset(self, mask: np.ndarray) -> Dataset:
        """The examples where `mask` is true."""
        return Dataset(
            dataset_id=self.dataset_id,
            **{
                name: getattr(self, name)[mask]
                for name in (
                    "reference_magnitude",
                    "candidate_magnitude",
                    "operations",
                    "nuisance",
                    "nuisance_value",
                    "track_md5",
                    "is_validation",
                )
            },
        )

    @property
    def train(self) -> Dataset:
        """Examples from training tracks."""
        return self.subset(~self.is_validation)

    @property
    def validation(self) -> Dataset:
        """Examples from validation tracks, never seen in training."""
        return self.subset(self.is_validation)

    @property
    def n_operations(self) -> np.ndarray:
        """How many operations each example's set has."""
        return np.sum(~np.isnan(self.operations[:, :, 0]), axis=1)

    @property
    def closest_spacing_octaves(self) -> np.ndarray:
        """Octaves between the two closest centres of each set; inf for sets of 0 or 1."""
        octaves = np.sort(np.log2(self.operations[:, :, 0]), axis=1)  # NaN sorts last
        gaps = np.nan_to_num(np.diff(octaves, axis=1), nan=np.inf)
        return gaps.min(axis=1)

    @property
    def candidate_lossy(self) -> np.ndarray:
        """Whether each candidate went through a lossy round trip (what the service reads
        from an upload's container)."""
        return self.nuisance == Nuisance.LOSSY

    @property
    def gain_magnitude_db(self) -> np.ndarray:
        """The largest |gain| of each set (grid sets share one magnitude); 0 for empty sets."""
        gains = np.nan_to_num(np.abs(self.operations[:, :, 1]))
        return gains.max(axis=1)


def load_dataset(datasets_dir: Path, dataset_id: str, *, tracks: list[Track]) -> Dataset:
    """Concatenate every shard of a dataset; the split comes from each clip's track."""
    split_of = {track.md5: track.split == "validation" for track in tracks}
    shards = sorted((datasets_dir / folder_of(dataset_id)).glob("*_[0-9].npz"))
    if not shards:
        raise FileNotFoundError(
            f"no shards for dataset {dataset_id} under {datasets_dir}; "
            f"run `mastering-trainer dataset build --dataset {dataset_id}`"
        )
    parts: dict[str, list[np.ndarray]] = {}
    md5s, validation = [], []
    for shard in shards:
        with np.load(shard) as data:
            for key in data.files:
                parts.setdefault(key, []).append(data[key])
            count = len(data["operations"])
        md5 = shard.stem.rsplit("_", 1)[0]
        md5s += [md5] * count
        validation += [split_of[md5]] * count
    return Dataset(
        dataset_id=dataset_id,
        reference_magnitude=np.concatenate(parts["reference_magnitude"]),
        candidate_magnitude=np.concatenate(parts["candidate_magnitude"]),
        operations=np.concatenate(parts["operations"]),
        nuisance=np.concatenate(parts["nuisance"]),
        nuisance_value=np.concatenate(parts["nuisance_value"]),
        track_md5=np.array(md5s),
        is_validation=np.array(validation),
    )
