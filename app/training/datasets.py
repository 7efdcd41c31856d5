"""Loading synthesised datasets, split by track."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from app.ml.features import CURRENT_SPEC
from app.training.corpus import Track
from app.training.grids import TYPE_CODES, with_type_columns
from app.training.master_chain import LIMITER_KIND_COLUMN, widened_rows
from app.training.synth import (
    CHAIN_NUISANCES,
    Nuisance,
    coherent_is_stale,
    holds_coherent,
    stale_examples,
)
from app.training.synth import dataset_id as folder_of

#: Where the report's simulated MP3 uploads are cut: about LAME's low-pass at
#: 128 kbps stereo (16-17 kHz), the commonest MP3, and below.
LOW_PASS_HZ = 16_000.0
#: Share of the training examples that `train_low_pass_hz` low-passes, and the
#: cut-offs it draws from: lossy encoders from about 64 kbps (11 kHz) up to
#: 320 kbps (19-20 kHz). What it buys: column 'MP3 upload' of models/REPORT.md.
TRAIN_LOW_PASS_SHARE = 0.15
TRAIN_LOW_PASS_HZ = (11_000.0, 12_500.0, 14_000.0, 15_000.0, 16_000.0, 17_000.0, 18_000.0, 19_000.0)


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
    #: The candidates' spectra through the static transfer (`app.audio.transfer`), where
    #: the dataset's shards hold them (`app.training.synth.holds_coherent`).
    coherent_magnitude: np.ndarray | None = None
    #: Each example's chain limiter (`app.training.master_chain.LimiterKind` value, NaN
    #: without one), where every shard holds the chain's settings.
    limiter_kind: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.operations)

    def subset(self, mask: np.ndarray) -> Dataset:
        """The examples where `mask` is true (every field but the id holds one row each)."""
        rows: dict[str, Any] = {
            f.name: None if getattr(self, f.name) is None else getattr(self, f.name)[mask]
            for f in fields(self)
            if f.name != "dataset_id"
        }
        return replace(self, **rows)

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
    def type_codes(self) -> np.ndarray:
        """Each operation's type code (`app.training.grids.TYPE_CODES`), -1 past the last."""
        codes = with_type_columns(self.operations)[:, :, 3]
        return np.where(np.isnan(codes), -1, codes).astype(np.int8)

    @property
    def bells_only(self) -> np.ndarray:
        """Whether each set holds bells only (an empty set does)."""
        return np.all(self.type_codes <= TYPE_CODES.index("bell"), axis=1)

    @property
    def through_chain(self) -> np.ndarray:
        """Whether each candidate went through the master chain (a compressor, a limiter
        or both: `app.training.synth.CHAIN_NUISANCES`)."""
        return np.isin(self.nuisance, CHAIN_NUISANCES)

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

    def low_passed(self, *, cutoff_hz: float | np.ndarray, depth_db: float = 80.0) -> Dataset:
        """These examples with every candidate cut above `cutoff_hz`, as an MP3 encoder cuts.

        Parameters
        ----------
        cutoff_hz : float or numpy.ndarray
            Bins above it lose `depth_db` (LAME's low-pass is as steep as the
            spectrum's 21.5 Hz bins can tell). One cut-off for every example,
            or one per example (``inf`` leaves an example as it is).
        depth_db : float
            How far they drop: far enough to reach the -120 dB floor of
            `app.audio.spectrum.bin_difference_db` in most songs.

        Returns
        -------
        Dataset
            Same examples, candidates low-passed (a model should treat them as
            lossy-coded, as the MP3 uploads they stand for).
        """
        above = CURRENT_SPEC.spectrum.bin_frequencies_hz > np.asarray(cutoff_hz)[..., None]

        def cut(magnitude: np.ndarray) -> np.ndarray:
            return np.where(above, magnitude * 10.0 ** (-depth_db / 20.0), magnitude)

        return replace(
            self,
            candidate_magnitude=cut(self.candidate_magnitude),
            coherent_magnitude=None
            if self.coherent_magnitude is None
            else cut(self.coherent_magnitude),
        )

    @property
    def gain_magnitude_db(self) -> np.ndarray:
        """The largest |gain| of each set (grid sets share one magnitude); 0 for empty sets."""
        gains = np.nan_to_num(np.abs(self.operations[:, :, 1]))
        return gains.max(axis=1)


def train_low_pass_hz(
    dataset: Dataset, *, share: float = TRAIN_LOW_PASS_SHARE, seed: int = 0
) -> np.ndarray:
    """Low-pass cut-offs for a random share of the training examples.

    Parameters
    ----------
    dataset : Dataset
        Validation examples are never chosen.
    share : float
        Fraction of the training examples that get a cut-off.
    seed : int
        Seeds the choice of examples and cut-offs (the same dataset always
        gets the same ones).

    Returns
    -------
    numpy.ndarray
        One cut-off per example in Hz (one of `TRAIN_LOW_PASS_HZ`), ``inf``
        where an example stays as it is; for `Dataset.low_passed`.
    """
    rng = np.random.default_rng(seed)
    training = np.flatnonzero(~dataset.is_validation)
    chosen = rng.choice(training, size=round(share * len(training)), replace=False)
    cutoffs_hz = np.full(len(dataset), np.inf)
    cutoffs_hz[chosen] = rng.choice(TRAIN_LOW_PASS_HZ, size=len(chosen))
    return cutoffs_hz


def told_lossy(
    dataset: Dataset, *, cutoffs_hz: np.ndarray, unflagged_share: float, seed: int = 55
) -> np.ndarray:
    """Whether a model is told that each candidate was lossy-coded (`FeatureSpec.lossy_flag`).

    Parameters
    ----------
    dataset : Dataset
        Its lossy-coded examples (`Dataset.candidate_lossy`).
    cutoffs_hz : numpy.ndarray
        `train_low_pass_hz`: the examples low-passed as MP3 uploads are told too.
    unflagged_share : float
        Of those training examples, the random share that is not told: an MP3
        handed back as a WAV carries the codec's noise and low-pass with no
        container to say so. Validation examples are always told.
    seed : int
        Seeds the choice (the same dataset always gets the same one).

    Returns
    -------
    numpy.ndarray
        Boolean, one per example.

    Examples
    --------
    Five lossy-coded examples, the last a validation one: two of the four others go untold.

    >>> from app.training.synth import Nuisance
    >>> data = Dataset(dataset_id="x", reference_magnitude=np.empty((5, 0)),
    ...     candidate_magnitude=np.empty((5, 0)), operations=np.empty((5, 0, 3)),
    ...     nuisance=np.full(5, int(Nuisance.LOSSY)), nuisance_value=np.zeros(5),
    ...     track_md5=np.full(5, ""), is_validation=np.arange(5) == 4)
    >>> told = told_lossy(data, cutoffs_hz=np.full(5, np.inf), unflagged_share=0.5)
    >>> int(told[:4].sum()), bool(told[4])
    (2, True)
    """
    told = dataset.candidate_lossy | np.isfinite(cutoffs_hz)
    training = np.flatnonzero(told & ~dataset.is_validation)
    rng = np.random.default_rng(seed)
    unflagged = rng.choice(training, size=round(unflagged_share * len(training)), replace=False)
    told[unflagged] = False
    return told


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
            if coherent_is_stale(data, config_id=dataset_id):
                raise FileNotFoundError(
                    f"shard {shard} lacks the coherent spectra of today's transfer; rebuild "
                    f"it with `mastering-trainer dataset build --dataset {dataset_id}`"
                )
            if np.any(stale_examples(data)):
                raise FileNotFoundError(
                    f"shard {shard} holds examples limited by an older limiter; render them "
                    f"again with `mastering-trainer dataset build --dataset {dataset_id}`"
                )
            for key in data.files:
                parts.setdefault(key, []).append(
                    widened_rows(data[key]) if key == "chain" else data[key]
                )
            count = len(data["operations"])
        md5 = shard.stem.rsplit("_", 1)[0]
        md5s += [md5] * count
        validation += [split_of[md5]] * count
    return Dataset(
        dataset_id=dataset_id,
        reference_magnitude=np.concatenate(parts["reference_magnitude"]),
        candidate_magnitude=np.concatenate(parts["candidate_magnitude"]),
        operations=with_type_columns(np.concatenate(parts["operations"])),
        nuisance=np.concatenate(parts["nuisance"]),
        nuisance_value=np.concatenate(parts["nuisance_value"]),
        track_md5=np.array(md5s),
        is_validation=np.array(validation),
        coherent_magnitude=(
            np.concatenate(parts["coherent_magnitude"]) if holds_coherent(dataset_id) else None
        ),
        limiter_kind=(
            np.concatenate(parts["chain"])[:, LIMITER_KIND_COLUMN]
            if len(parts.get("chain", [])) == len(shards)
            else None
        ),
    )
