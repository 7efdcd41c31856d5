"""Benchmark: analysing a pair of 3-minute masters, from file bytes to features.

Run with ``make bench`` (``python -m bench.analysis``). It writes a reference and
an EQ'd candidate (3 min, 44.1 kHz, stereo, 16-bit WAV) into a temporary
folder, then times three pipelines on them in the same run, interleaved, and
reports medians and ratios (the machine may be busy, so ratios are the figure
to read):

ours
    `load_audio` on both files (header checks, capped decode, mix to mono),
    `compare` (offset search, aligned excerpts, average |STFT| with n_fft 2048
    and hop 512, level alignment, log-band dB difference) and
    `app.ml.features.band_features`.
(a) paper
    The paper's pipeline with librosa defaults: ``librosa.load(sr=None,
    mono=True)``, ``librosa.stft(n_fft=2048, hop_length=512)``, mean of the
    magnitudes, ``|A(P) - A(T)|``.
(b) floor
    ``soundfile.read`` of both files and one numpy rfft per non-overlapping
    2048-sample frame, batched: what decoding plus a quarter of our FFT work costs.

Aims: ours at least 2x faster than (a), and within 1.5x of (b).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from app.audio.eq import EqOperation, apply
from app.audio.io import load_audio
from app.audio.spectrum import compare
from app.ml.features import band_features

SAMPLE_RATE_HZ = 44_100
CANDIDATE_EQ = [
    EqOperation(130.81, 6.0, 2.0),
    EqOperation(1046.5, -6.0, 1.0),
    EqOperation(8372.0, 3.0, 1.0),
]


def pinkish_noise(
    *, duration_s: float, sample_rate_hz: int, channels: int, seed: int
) -> np.ndarray:
    """Correlated-channel noise with a 1/f power spectrum, peak at -3 dBFS."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * sample_rate_hz)
    common = rng.standard_normal(n)
    columns = [0.8 * common + 0.2 * rng.standard_normal(n) for _ in range(channels)]
    frequency_hz = np.fft.rfftfreq(n, 1 / sample_rate_hz)
    shaping = np.zeros_like(frequency_hz)
    shaping[1:] = 1 / np.sqrt(np.maximum(frequency_hz[1:], 20.0))
    noise = np.stack([np.fft.irfft(np.fft.rfft(c) * shaping, n) for c in columns], axis=1)
    return (noise / np.max(np.abs(noise)) * 10 ** (-3 / 20)).astype(np.float32)


def write_pair(folder: Path, *, duration_s: float) -> tuple[Path, Path]:
    """A reference and a candidate (the reference through `CANDIDATE_EQ`, trimmed by 0.25 s)."""
    song = pinkish_noise(duration_s=duration_s, sample_rate_hz=SAMPLE_RATE_HZ, channels=2, seed=7)
    candidate = apply(song, CANDIDATE_EQ, sample_rate_hz=SAMPLE_RATE_HZ)
    candidate = candidate[int(0.25 * SAMPLE_RATE_HZ) :]
    candidate /= max(1.0, float(np.max(np.abs(candidate))) / 0.95)
    reference_path, candidate_path = folder / "reference.wav", folder / "candidate.wav"
    sf.write(reference_path, song, SAMPLE_RATE_HZ, subtype="PCM_16")
    sf.write(candidate_path, candidate, SAMPLE_RATE_HZ, subtype="PCM_16")
    return reference_path, candidate_path


def ours(reference: Path, candidate: Path) -> np.ndarray:
    """Our analysis, end to end."""
    ref = load_audio(reference, name="reference")
    cand = load_audio(candidate, name="candidate")
    comparison = compare(ref.samples, cand.samples)
    return band_features(comparison.reference_magnitude, comparison.candidate_magnitude)


def paper(reference: Path, candidate: Path) -> np.ndarray:
    """(a) The paper's pipeline with librosa defaults."""
    import librosa

    spectra = []
    for path in (reference, candidate):
        samples, _ = librosa.load(path, sr=None, mono=True)
        spectra.append(np.abs(librosa.stft(samples, n_fft=2048, hop_length=512)).mean(axis=1))
    return np.abs(spectra[0] - spectra[1])


def floor(reference: Path, candidate: Path) -> np.ndarray:
    """(b) Decode with soundfile, one rfft per non-overlapping 2048-sample frame."""
    spectra = []
    for path in (reference, candidate):
        samples, _ = sf.read(path, dtype="float32")
        mono = (samples[:, 0] + samples[:, 1]) * np.float32(0.5)
        frames = mono[: len(mono) // 2048 * 2048].reshape(-1, 2048)
        spectra.append(np.abs(np.fft.rfft(frames, axis=1)).mean(axis=0))
    return np.abs(spectra[0] - spectra[1])


PIPELINES: dict[str, Callable[[Path, Path], np.ndarray]] = {
    "ours": ours,
    "(a) paper, librosa": paper,
    "(b) floor, soundfile + rfft": floor,
}


def run(
    *, duration_s: float, repeats: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Time every pipeline ``repeats`` times, interleaved so that load spikes hit all alike.

    Returns wall-clock times and this process's CPU times: on a busy machine the
    second are the steadier measure of the work each pipeline does.
    """
    wall: dict[str, list[float]] = {name: [] for name in PIPELINES}
    cpu: dict[str, list[float]] = {name: [] for name in PIPELINES}
    with tempfile.TemporaryDirectory(prefix="mt-bench-") as folder:
        reference, candidate = write_pair(Path(folder), duration_s=duration_s)
        for pipeline in PIPELINES.values():
            pipeline(reference, candidate)  # warm up: imports, caches, page cache
        for _ in range(repeats):
            for name, pipeline in PIPELINES.items():
                start_wall, start_cpu = time.perf_counter(), time.process_time()
                pipeline(reference, candidate)
                wall[name].append(time.perf_counter() - start_wall)
                cpu[name].append(time.process_time() - start_cpu)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=180.0, help="length of each file")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs of each pipeline")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)

    wall, cpu = run(duration_s=args.duration_s, repeats=args.repeats)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"pair of {args.duration_s:g} s 44.1 kHz stereo 16-bit WAV files, "
        f"median of {args.repeats} interleaved runs, {os.cpu_count()} CPUs, load {load:.1f}"
    )
    print(f"{'pipeline':<30} {'wall s':>8} {'min':>7} {'max':>7} {'cpu s':>8}")
    for name in PIPELINES:
        print(
            f"{name:<30} {statistics.median(wall[name]):>8.3f} {min(wall[name]):>7.3f} "
            f"{max(wall[name]):>7.3f} {statistics.median(cpu[name]):>8.3f}"
        )
    met = True
    for label, times in (("wall", wall), ("cpu", cpu)):
        ours_s, paper_s, floor_s = (statistics.median(times[name]) for name in PIPELINES)
        print(
            f"{label:>4}: ours / (a) = {ours_s / paper_s:.3f} ({paper_s / ours_s:.2f}x faster, "
            f"aim >= 2x); ours / (b) = {ours_s / floor_s:.3f} (aim <= 1.5)"
        )
        met = met and paper_s / ours_s >= 2.0 and ours_s / floor_s <= 1.5
    print("aims met" if met else "aims missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
