"""Dataset synthesis: real EQ applied to real music clips, features from the filtered audio.

For each cached clip (30 s, peak-normalised to -12 dBFS) and each dataset, a
number of random EQ sets is drawn; each set is applied with the real RBJ
filters, optionally followed by one nuisance a real trainee master carries
(a level change, a lossy round trip, a gentle limiter, a small offset), and
the two average spectra are computed exactly as the service computes them.
One ``.npz`` shard per (dataset, clip) makes the build resumable and lets
both cores work on it.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import ndimage

from app.audio.eq import EqOperation, apply
from app.audio.io import ANALYSIS_SAMPLE_RATE_HZ, resample
from app.audio.spectrum import aligned_excerpts, average_spectrum, find_offset_samples
from app.audio.transfer import Framed, coherent_candidate_magnitude
from app.training.grids import (
    GENERAL_MAX_OPERATIONS,
    MAX_GRID_OPERATIONS,
    GridConfig,
    encode_operations,
    paper_fixed_sets,
    random_grid_set,
    random_typed_set,
    with_type_columns,
)
from app.training.master_chain import (
    LIMITER_GAIN_REDUCTION_COLUMN,
    LIMITER_VERSION,
    MasterChain,
    apply_chain,
    draw_chain,
    widened_rows,
)
from app.training.plan import draws_chain, feature_spec
from app.training.pool import process_pool

SR = ANALYSIS_SAMPLE_RATE_HZ
#: Datasets of the paper's closed-set task are named ``paper-<grid config id>``.
PAPER_PREFIX = "paper-"
MAX_OPERATIONS = max(MAX_GRID_OPERATIONS, GENERAL_MAX_OPERATIONS)


class Nuisance(IntEnum):
    """What else, besides EQ, separates an example's candidate from its reference."""

    NONE = 0
    LEVEL = 1
    LOSSY = 2
    LIMITER = 3
    OFFSET = 4
    #: pedalboard's compressor, its limiter, or both (`app.training.master_chain`).
    COMPRESSOR = 5
    CHAIN_LIMITER = 6
    COMPRESSOR_LIMITER = 7


#: Probability of each nuisance in a dataset with nuisances (at most one per example).
NUISANCE_PROBABILITIES = {
    Nuisance.NONE: 0.64,
    Nuisance.LEVEL: 0.1,
    Nuisance.LOSSY: 0.06,
    Nuisance.LIMITER: 0.1,
    Nuisance.OFFSET: 0.1,
}
#: Those of a dataset whose nuisances include the master chain (`DatasetPlan.chain`):
#: a real trainee master goes through a compressor and a limiter.
CHAIN_NUISANCE_PROBABILITIES = {
    Nuisance.NONE: 0.36,
    Nuisance.LEVEL: 0.06,
    Nuisance.LOSSY: 0.06,
    Nuisance.LIMITER: 0.04,
    Nuisance.OFFSET: 0.06,
    Nuisance.COMPRESSOR: 0.12,
    Nuisance.CHAIN_LIMITER: 0.12,
    Nuisance.COMPRESSOR_LIMITER: 0.18,
}
#: The nuisances that run the candidate through `app.training.master_chain`.
CHAIN_NUISANCES = (Nuisance.COMPRESSOR, Nuisance.CHAIN_LIMITER, Nuisance.COMPRESSOR_LIMITER)


def dataset_id(config_id: str) -> str:
    """Folder-safe name of a dataset: ``F1/2W1`` is ``F1_2W1``."""
    return config_id.replace("/", "_")


def draw_set(
    config_id: str,
    *,
    rng: np.random.Generator,
    placement_rng: np.random.Generator | None = None,
) -> list[EqOperation]:
    """A random EQ set for a grid configuration, ``general`` or ``paper-<grid config>``
    (`placement_rng`: see `app.training.grids.random_typed_set`)."""
    if config_id == "general":
        return random_typed_set(rng=rng, placement_rng=placement_rng)
    if config_id.startswith(PAPER_PREFIX):
        sets = paper_fixed_sets(GridConfig.parse(config_id.removeprefix(PAPER_PREFIX)))
        return sets[int(rng.integers(len(sets)))]
    return random_grid_set(GridConfig.parse(config_id), rng=rng)


def soft_limit(
    samples: np.ndarray, *, ceiling_dbfs: float = -1.0, window_ms: float = 5.0
) -> np.ndarray:
    """A gentle look-ahead peak limiter.

    The gain follows the peak envelope over `window_ms` (held, then smoothed
    over the same window), so no sample exceeds the ceiling by more than the
    smoothing lets through and the spectrum is changed only a little.
    """
    ceiling = 10 ** (ceiling_dbfs / 20)
    size = max(1, int(window_ms * SR / 1000))
    envelope = ndimage.maximum_filter1d(np.abs(samples), size=2 * size + 1)
    gain = np.minimum(1.0, ceiling / np.maximum(envelope, 1e-12))
    gain = ndimage.minimum_filter1d(gain, size=2 * size + 1)
    gain = ndimage.uniform_filter1d(gain, size=2 * size + 1)
    return (samples * gain).astype(np.float32)


def _encode(samples: np.ndarray, *, sample_rate_hz: int, **options: object) -> io.BytesIO:
    """Encode in one-second writes: libsndfile can crash on one huge lossy write."""
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", sample_rate_hz, 1, **options) as out:
        for start in range(0, len(samples), sample_rate_hz):
            out.write(samples[start : start + sample_rate_hz])
    buffer.seek(0)
    return buffer


def lossy_round_trip(samples: np.ndarray, *, codec: str) -> np.ndarray:
    """Encode to MP3 (constant 160 kbps, mono) or Opus (about 130 kbps) and decode again."""
    if codec == "mp3":
        buffer = _encode(
            samples,
            sample_rate_hz=SR,
            format="MP3",
            subtype="MPEG_LAYER_III",
            bitrate_mode="CONSTANT",
            compression_level=0.6,
        )
        decoded, _ = sf.read(buffer, dtype="float32")
        return decoded
    resampled = resample(samples, from_hz=SR, to_hz=48_000)
    buffer = _encode(
        resampled, sample_rate_hz=48_000, format="OGG", subtype="OPUS", compression_level=0.5
    )
    decoded, _ = sf.read(buffer, dtype="float32")
    return resample(decoded, from_hz=48_000, to_hz=SR)


@dataclass(frozen=True, kw_only=True)
class Draw:
    """Everything random about one example, drawn before any audio is touched."""

    operations: list[EqOperation]
    nuisance: Nuisance
    #: Level change (dB), codec (0 MP3, 1 Opus), limiter drive (dB), offset (ms), or
    #: the chain's limiter gain reduction (dB; its compressor's threshold without one).
    nuisance_value: float
    #: The compressor and limiter settings of a `CHAIN_NUISANCES` nuisance.
    chain: MasterChain = MasterChain()


def draw_nuisance_value(nuisance: Nuisance, *, rng: np.random.Generator) -> float:
    """The random parameter of a nuisance (see `Draw.nuisance_value`)."""
    if nuisance is Nuisance.LEVEL:
        return float(rng.uniform(-6, 6))
    if nuisance is Nuisance.LOSSY:
        return 0.0 if str(rng.choice(["mp3", "opus"])) == "mp3" else 1.0
    if nuisance is Nuisance.LIMITER:
        return float(rng.uniform(1.0, 4.0))
    if nuisance is Nuisance.OFFSET:
        return float(rng.uniform(1, 20)) * float(rng.choice([-1, 1]))
    return 0.0


def draw_example(
    config_id: str,
    *,
    rng: np.random.Generator,
    nuisances: bool,
    kind_rng: np.random.Generator | None = None,
    placement_rng: np.random.Generator | None = None,
) -> Draw:
    """Draw an EQ set and, in a dataset with nuisances, at most one nuisance (a chain's
    limiter kind from `kind_rng`, as `app.training.master_chain.draw_chain` draws it;
    `placement_rng`: see `app.training.grids.random_typed_set`)."""
    operations = draw_set(config_id, rng=rng, placement_rng=placement_rng)
    nuisance = Nuisance.NONE
    if nuisances:
        table = CHAIN_NUISANCE_PROBABILITIES if draws_chain(config_id) else NUISANCE_PROBABILITIES
        nuisance = Nuisance(rng.choice(list(table), p=list(table.values())))
    if nuisance in CHAIN_NUISANCES:
        chain = draw_chain(
            rng=rng,
            compressor=nuisance is not Nuisance.CHAIN_LIMITER,
            limiter=nuisance is not Nuisance.COMPRESSOR,
            kind_rng=kind_rng,
        )
        value = chain.limiter_gain_reduction_db if chain.limits else chain.threshold_dbfs
        return Draw(operations=operations, nuisance=nuisance, nuisance_value=value, chain=chain)
    return Draw(
        operations=operations,
        nuisance=nuisance,
        nuisance_value=draw_nuisance_value(nuisance, rng=rng),
    )


def make_candidate(
    clip: np.ndarray,
    operations: list[EqOperation],
    *,
    nuisance: Nuisance,
    nuisance_value: float,
    chain: MasterChain | None = None,
) -> np.ndarray:
    """Apply the EQ set, then the nuisance with its drawn value (or `chain`)."""
    candidate = apply(clip, operations, sample_rate_hz=SR)
    if nuisance in CHAIN_NUISANCES:
        if chain is None:
            raise ValueError(f"nuisance {nuisance.name} needs its compressor and limiter settings")
        return apply_chain(
            candidate, chain, sample_rate_hz=SR, input_gain_db=-CLIP_PEAK_HEADROOM_DB
        )
    if nuisance is Nuisance.LEVEL:
        return candidate * np.float32(10 ** (nuisance_value / 20))
    if nuisance is Nuisance.LOSSY:
        excerpt = candidate[: int(LOSSY_EXCERPT_S * SR)]
        return lossy_round_trip(excerpt, codec="mp3" if nuisance_value == 0.0 else "opus")
    if nuisance is Nuisance.LIMITER:
        gain_db = -CLIP_PEAK_HEADROOM_DB + nuisance_value
        return soft_limit(candidate * np.float32(10 ** (gain_db / 20)))
    if nuisance is Nuisance.OFFSET:
        shift = int(abs(nuisance_value) * SR / 1000)
        if nuisance_value > 0:
            return candidate[shift:]
        return np.concatenate([np.zeros(shift, dtype=np.float32), candidate])
    return candidate


#: Lossy round trips are slow; they encode only the start of the clip.
LOSSY_EXCERPT_S = 10.0
#: Clips sit at -12 dBFS; the limiter's input is raised to its ceiling first.
CLIP_PEAK_HEADROOM_DB = -12.0


def render_spectra(
    clip: np.ndarray,
    draw: Draw,
    *,
    reference_magnitude: np.ndarray,
    coherent: bool,
    demodulate: bool = False,
    framed_clip: Framed | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Both average spectra of one drawn example, computed as the service computes them,
    and with `coherent` the candidate's through the static transfer (`app.audio.transfer`,
    `demodulate` as there; `framed_clip`, the clip `Framed` for every example of a shard,
    reads its spectra once)."""
    candidate = make_candidate(
        clip,
        draw.operations,
        nuisance=draw.nuisance,
        nuisance_value=draw.nuisance_value,
        chain=draw.chain,
    )
    reference: Framed | np.ndarray = clip if framed_clip is None else framed_clip
    if draw.nuisance in (Nuisance.LOSSY, Nuisance.OFFSET):
        offset = find_offset_samples(clip, candidate)
        excerpt, candidate = aligned_excerpts(clip, candidate, offset_samples=offset)
        reference, reference_magnitude = excerpt, average_spectrum(excerpt)
    candidate_magnitude = average_spectrum(candidate)
    if not coherent:
        return reference_magnitude, candidate_magnitude, None
    coherent_magnitude = coherent_candidate_magnitude(
        reference,
        candidate,
        reference_magnitude=reference_magnitude,
        candidate_magnitude=candidate_magnitude,
        demodulate=demodulate,
    )
    return reference_magnitude, candidate_magnitude, coherent_magnitude


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:8], "little")


def holds_coherent(config_id: str) -> bool:
    """Whether a dataset's shards hold the coherent spectra too: only where its model
    reads them (`app.training.plan.DatasetPlan.coherent`), since they about double a build."""
    return feature_spec(config_id).coherent


def coherent_is_stale(data: Mapping[str, np.ndarray], *, config_id: str) -> bool:
    """Whether a shard of `config_id` lacks the coherent spectra its model reads
    (`holds_coherent`), or holds them through the other transfer
    (`app.ml.features.FeatureSpec.demodulated`; shards written before it hold the first),
    or an earlier demodulation (`app.audio.transfer.DEMODULATION_VERSION`)."""
    spec = feature_spec(config_id)
    if not spec.coherent:
        return False
    if "coherent_magnitude" not in data:
        return True
    demodulated = data["demodulated"] if "demodulated" in data else np.zeros(1, dtype=np.int8)
    return bool(np.any(demodulated != spec.demodulation_version))


def _shard_arrays(
    clip: np.ndarray, draws: list[Draw], *, reference_magnitude: np.ndarray, config_id: str
) -> dict[str, np.ndarray]:
    spec = feature_spec(config_id)
    framed_clip = Framed(clip)
    spectra = [
        render_spectra(
            clip,
            d,
            reference_magnitude=reference_magnitude,
            coherent=spec.coherent,
            demodulate=spec.demodulated,
            framed_clip=framed_clip,
        )
        for d in draws
    ]
    operations = np.stack([encode_operations(d.operations, rows=MAX_OPERATIONS) for d in draws])
    arrays = {
        "reference_magnitude": np.array([r for r, _, _ in spectra], dtype=np.float32),
        "candidate_magnitude": np.array([c for _, c, _ in spectra], dtype=np.float32),
        "operations": operations,
        "nuisance": np.array([d.nuisance for d in draws], dtype=np.int8),
        "nuisance_value": np.array([d.nuisance_value for d in draws], dtype=np.float32),
        "chain": np.stack([d.chain.to_row() for d in draws]),
        "limiter_version": np.full(len(draws), LIMITER_VERSION, dtype=np.int8),
    }
    if spec.coherent:
        arrays["coherent_magnitude"] = np.array([c for _, _, c in spectra], dtype=np.float32)
        arrays["demodulated"] = np.full(len(draws), spec.demodulation_version, dtype=np.int8)
    return arrays


def shard_draws(config_id: str, *, clip_stem: str, nuisances: bool, count: int) -> list[Draw]:
    """The first `count` draws of one (dataset, clip) shard, from seeds of the two."""
    rng = np.random.default_rng(_seed(config_id, clip_stem, str(nuisances)))
    # The limiter kinds (version 3) draw from a stream of their own: every other draw stays
    # as shards of version 2 hold it, so re-rendering their limited examples in place ends
    # as a fresh build does. So do the positions drawn again for sets that placed an
    # operation beyond a pass filter's cut-off (`app.training.grids.audible_placement`),
    # though a redrawn set can change the shard's later sets (`redrawn_examples`).
    kind_rng = np.random.default_rng(_seed(config_id, clip_stem, str(nuisances), "kind"))
    placement_rng = np.random.default_rng(_seed(config_id, clip_stem, str(nuisances), "placement"))
    return [
        draw_example(
            config_id,
            rng=rng,
            nuisances=nuisances,
            kind_rng=kind_rng,
            placement_rng=placement_rng,
        )
        for _ in range(count)
    ]


def build_shard(
    clip_path: Path, *, config_id: str, per_clip: int, nuisances: bool, shard_path: Path
) -> int:
    """Make one clip's shard hold `per_clip` examples; return how many were synthesised.

    The draws come from a seed of (dataset, clip), so the first examples are
    always the same: a shard that holds fewer keeps them, replays their draws
    without touching audio, and synthesises only the rest; one that holds more
    keeps only the first `per_clip`. Limited examples an older limiter rendered
    (`LIMITER_VERSION`), and examples of sets the seeds now draw otherwise
    (`redrawn_examples`), are rendered again in place, and count as synthesised;
    a shard whose coherent spectra are stale (`coherent_is_stale`), all of it.
    Either way it ends as a fresh build would.
    """
    draws = shard_draws(config_id, clip_stem=clip_path.stem, nuisances=nuisances, count=per_clip)
    kept: dict[str, np.ndarray] = {}
    held = 0
    if shard_path.is_file():
        with np.load(shard_path) as data:
            if not coherent_is_stale(data, config_id=config_id):
                held = len(data["nuisance"])
                kept = {key: data[key][:per_clip] for key in data.files}
                kept["limiter_version"] = limiter_versions(data)[:per_clip]
                if "chain" in kept:
                    kept["chain"] = widened_rows(kept["chain"])
    done = min(held, per_clip)
    stale = (
        np.flatnonzero(stale_examples(kept) | redrawn_examples(kept, draws=draws[:done]))
        if kept
        else np.array([], dtype=int)
    )
    if done == per_clip and not len(stale):
        if held > per_clip:
            _write_shard(shard_path, kept)
        return 0
    clip = np.load(clip_path)
    reference_magnitude = average_spectrum(clip)
    if len(stale):
        again = _shard_arrays(
            clip,
            [draws[i] for i in stale],
            reference_magnitude=reference_magnitude,
            config_id=config_id,
        )
        for key, values in again.items():
            kept[key][stale] = values
        kept["limiter_version"][:] = LIMITER_VERSION  # the rest never saw a limiter
    if done < per_clip:
        new = _shard_arrays(
            clip, draws[done:], reference_magnitude=reference_magnitude, config_id=config_id
        )
        kept = {key: np.concatenate([kept[key], new[key]]) if kept else new[key] for key in new}
    _write_shard(shard_path, kept)
    return per_clip - done + len(stale)


def _write_shard(shard_path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a shard atomically (a killed build leaves the old one or none)."""
    shard_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = shard_path.with_suffix(".tmp.npz")
    with temporary.open("wb") as handle:
        np.savez(handle, allow_pickle=False, **arrays)
    temporary.replace(shard_path)


@dataclass(frozen=True, kw_only=True)
class ShardTask:
    """One unit of work: a dataset's examples from one clip."""

    clip_path: Path
    config_id: str
    per_clip: int
    nuisances: bool
    shard_path: Path


def _run_task(task: ShardTask) -> int:
    return build_shard(
        task.clip_path,
        config_id=task.config_id,
        per_clip=task.per_clip,
        nuisances=task.nuisances,
        shard_path=task.shard_path,
    )


def shard_path_for(datasets_dir: Path, *, config_id: str, clip_path: Path) -> Path:
    """Where one (dataset, clip) shard lives."""
    return datasets_dir / dataset_id(config_id) / f"{clip_path.stem}.npz"


def limiter_versions(data: Mapping[str, np.ndarray]) -> np.ndarray:
    """Which limiter (`LIMITER_VERSION`) rendered each example of a shard's arrays;
    shards written before the field went through the first, pedalboard's."""
    if "limiter_version" in data:
        return np.asarray(data["limiter_version"], dtype=np.int8)
    return np.ones(len(data["nuisance"]), dtype=np.int8)


def stale_examples(data: Mapping[str, np.ndarray]) -> np.ndarray:
    """Which examples of a shard's arrays went through a limiter older than today's."""
    if "chain" not in data:
        return np.zeros(len(data["nuisance"]), dtype=bool)
    limited = np.isfinite(np.asarray(data["chain"])[:, LIMITER_GAIN_REDUCTION_COLUMN])
    return limited & (limiter_versions(data) != LIMITER_VERSION)


def redrawn_examples(data: Mapping[str, np.ndarray], *, draws: list[Draw]) -> np.ndarray:
    """Which examples of a shard's arrays hold other operations than `draws` (a change
    of the space that redraws some sets, as `app.training.grids.audible_placement` did)."""
    held = with_type_columns(np.asarray(data["operations"]))
    drawn = np.stack([encode_operations(d.operations, rows=held.shape[1]) for d in draws])
    same = (held == drawn) | (np.isnan(held) & np.isnan(drawn))
    return ~same.reshape(len(held), -1).all(axis=1)


def shard_is_current(task: ShardTask) -> bool:
    """Whether a task's shard holds exactly its `per_clip` examples, none of an older
    limiter (`stale_examples`) or of another set than its seeds draw today
    (`redrawn_examples`), and the coherent spectra its model reads (`coherent_is_stale`)."""
    if not task.shard_path.is_file():
        return False
    with np.load(task.shard_path) as data:
        if coherent_is_stale(data, config_id=task.config_id):
            return False
        if len(data["nuisance"]) != task.per_clip:
            return False
        draws = shard_draws(
            task.config_id,
            clip_stem=task.clip_path.stem,
            nuisances=task.nuisances,
            count=task.per_clip,
        )
        return not np.any(stale_examples(data) | redrawn_examples(data, draws=draws))


def pending_tasks(
    clip_paths: list[Path], *, datasets_dir: Path, config_id: str, per_clip: int, nuisances: bool
) -> list[ShardTask]:
    """Tasks whose shard is missing, holds other than `per_clip` examples, or holds
    examples of an older limiter or of sets its seeds no longer draw.

    A build thus resumes where it stopped, and changing a dataset's `per_clip`
    redraws its shards: the same seed draws the same first examples, then more
    (or fewer).
    """
    tasks = [
        ShardTask(
            clip_path=clip_path,
            config_id=config_id,
            per_clip=per_clip,
            nuisances=nuisances,
            shard_path=shard_path_for(datasets_dir, config_id=config_id, clip_path=clip_path),
        )
        for clip_path in clip_paths
    ]
    return [task for task in tasks if not shard_is_current(task)]


def run_tasks(tasks: list[ShardTask], *, workers: int | None = None) -> Iterator[int]:
    """Run shard tasks on `workers` processes (default: every core), yielding counts."""
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        for task in tasks:
            yield _run_task(task)
        return
    with process_pool(workers=workers) as pool:
        yield from pool.map(_run_task, tasks, chunksize=1)
