"""Benchmark: making training examples on every core, with and without one BLAS thread each.

Run with ``make bench`` (``python -m bench.training``). It writes synthetic
30 s clips (pinkish noise) into a temporary folder, then builds each clip's
shard of the F1W2 dataset (EQ sets, nuisances with pedalboard's compressor and
limiter, average and coherent spectra: `app.training.synth.build_shard`) on a
pool of one worker per core, two ways, interleaved, and reports medians and
their ratio (the machine may be busy, so the ratio is the figure to read):

ours
    `app.training.pool.process_pool`: each worker holds BLAS and OpenMP to
    one thread.
(a) default
    A plain `concurrent.futures.ProcessPoolExecutor`: OpenBLAS starts a thread
    per core in every worker.

Aim: ours at least 1.5x faster than (a) on a machine with 2 or more cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

import numpy as np

from app.training.pool import process_pool
from app.training.synth import ShardTask, _run_task
from bench.analysis import pinkish_noise

CLIP_S = 30.0
SAMPLE_RATE_HZ = 44_100
AIM_RATIO = 1.5


def write_clips(folder: Path, *, count: int) -> list[Path]:
    """`count` mono float32 clips as `app.training.corpus` caches them."""
    paths = []
    for seed in range(count):
        clip = pinkish_noise(
            duration_s=CLIP_S, sample_rate_hz=SAMPLE_RATE_HZ, channels=1, seed=seed
        )
        path = folder / f"clip{seed}.npy"
        np.save(path, clip[:, 0] * np.float32(10 ** (-9 / 20)))
        paths.append(path)
    return paths


def build(pool: Executor, *, clips: list[Path], out: Path, per_clip: int) -> float:
    """Seconds to build every clip's shard on `pool` (the shards are removed after)."""
    tasks = [
        ShardTask(
            clip_path=clip,
            config_id="F1W2",
            per_clip=per_clip,
            nuisances=True,
            shard_path=out / f"{clip.stem}.npz",
        )
        for clip in clips
    ]
    started = time.perf_counter()
    made = sum(pool.map(_run_task, tasks, chunksize=1))
    seconds = time.perf_counter() - started
    for task in tasks:
        task.shard_path.unlink()
    assert made == per_clip * len(clips)
    return seconds


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table and ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=8, help="clips (one shard each) per run")
    parser.add_argument("--per-clip", type=int, default=6, help="examples per clip")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    workers = os.cpu_count() or 1
    times: dict[str, list[float]] = {"ours (one BLAS thread)": [], "(a) default pool": []}
    with tempfile.TemporaryDirectory() as folder:
        clips = write_clips(Path(folder), count=args.clips)
        with (
            process_pool(workers=workers) as ours,
            ProcessPoolExecutor(max_workers=workers) as default,
        ):
            for _ in range(args.repeats):
                for name, pool in zip(times, (ours, default), strict=True):
                    times[name].append(
                        build(pool, clips=clips, out=Path(folder), per_clip=args.per_clip)
                    )
    examples = args.clips * args.per_clip
    print(
        f"{examples} F1W2 examples from {args.clips} clips of {CLIP_S:g} s, "
        f"median of {args.repeats} interleaved runs, {workers} workers"
    )
    print(f"{'pool':<26} {'wall s':>8} {'min':>7} {'max':>7} {'examples/s':>11}")
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"{name:<26} {median:>8.2f} {min(values):>7.2f} {max(values):>7.2f} "
            f"{examples / median:>11.1f}"
        )
    ours_s, default_s = (statistics.median(v) for v in times.values())
    ratio = default_s / ours_s
    print(f"ours is {ratio:.2f}x the default pool's speed (aim at least {AIM_RATIO}x)")
    met = ratio >= AIM_RATIO or workers < 2
    print("aims met" if met else "aims missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
