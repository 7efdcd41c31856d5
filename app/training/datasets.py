"""Loading synthesised datasets, split by track."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from app.ml.features import CURRENT_SPEC
from app.training.corpus import Track
from app.training.synth import Nuisance
from app.training.synth import dataset_id as folder_of

#: Where the report's simulated MP3 uploads are cut: about LAME's low-pass at
#: 128 kbps stereo (16-17 kHz), the commonest MP3, and below.
LOW_PASS_HZ = 16_000.0


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

    def low_passed(self, *, cutoff_hz: float, depth_db: float = 80.0) -> Dataset:
        """These examples with every candidate cut above `cutoff_hz`, as an MP3 encoder cuts.

        Parameters
        ----------
        cutoff_hz : float
            Bins above it lose `depth_db` (LAME's low-pass is as steep as the
            spectrum's 21.5 Hz bins can tell).
        depth_db : float
            How far they drop: far enough to reach the -120 dB floor of
            `app.audio.spectrum.bin_difference_db` in most songs.

        Returns
        -------
        Dataset
            Same examples, candidates low-passed (a model should treat them as
            lossy-coded, as the MP3 uploads they stand for).
        """
        above = CURRENT_SPEC.spectrum.bin_frequencies_hz > cutoff_hz
        candidates = np.where(
            above, self.candidate_magnitude * 10.0 ** (-depth_db / 20.0), self.candidate_magnitude
        )
        return replace(self, candidate_magnitude=candidates)

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
