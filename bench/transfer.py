"""Benchmark: the demodulated transfer the general model reads, with and without its fine rounds.

Run with ``make bench`` (``python -m bench.transfer``). On a 3-minute pair (pink-ish
noise, the candidate EQ'd and squashed by a gain that moves every 5 ms), it times
`app.audio.transfer.static_transfer_magnitude` with ``demodulate=True`` as shipped
(the middle `DEMODULATED_MAX_S`, then `FINE_ROUNDS` on short frames) against the same
with no fine rounds (demodulation version 2), interleaved in the same run, and prints
medians and their ratio (the machine may be busy, so the ratio is the figure to read).
Then, as a dataset build reads a training clip's examples, the first 30 s against four
candidates (gains squashed by different seeds): the reference `Framed` once for the
four against the plain reference read anew for each, interleaved as well.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from app.audio import transfer
from app.audio.eq import EqOperation, apply
from bench.analysis import SAMPLE_RATE_HZ, pinkish_noise

#: The benchmarks' candidate EQ.
SHELF = [EqOperation(120.0, 3.0, type="low_shelf")]


#: The clip a dataset build reads its examples from (s), and how many it reads.
CLIP_S = 30.0
CLIP_CANDIDATES = 4


def squashed_pair(*, duration_s: float, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """A reference and its EQ'd candidate whose gain moves every 5 ms (drawn from `seed`)."""
    reference = pinkish_noise(
        duration_s=duration_s, sample_rate_hz=SAMPLE_RATE_HZ, channels=1, seed=1
    )[:, 0]
    candidate = apply(reference, SHELF, sample_rate_hz=SAMPLE_RATE_HZ)
    step = int(0.005 * SAMPLE_RATE_HZ)
    gain = np.repeat(
        np.random.default_rng(seed).uniform(0.5, 1.0, len(candidate) // step + 1), step
    )
    return reference, (candidate * gain[: len(candidate)]).astype(np.float32)


def clip_examples(*, repeats: int) -> tuple[float, float]:
    """Median wall seconds of reading `CLIP_CANDIDATES` candidates of one clip, the
    reference `Framed` once and plain."""
    pairs = [squashed_pair(duration_s=CLIP_S, seed=seed) for seed in range(CLIP_CANDIDATES)]
    reference = pairs[0][0]

    def read(*, framed: bool) -> Callable[[], object]:
        def way() -> object:
            held = transfer.Framed(reference) if framed else reference
            return [
                transfer.static_transfer_magnitude(held, candidate, demodulate=True)
                for _, candidate in pairs
            ]

        return way

    framed, plain = interleaved_medians(
        {"framed": read(framed=True), "plain": read(framed=False)}, repeats=repeats
    )
    return framed, plain


def interleaved_medians(ways: dict[str, Callable[[], object]], *, repeats: int) -> list[float]:
    """Median wall seconds of each way, in order: each runs in turn, `repeats` rounds after
    a warm-up one, so that background load falls on all alike."""
    wall: dict[str, list[float]] = {name: [] for name in ways}
    for repeat in range(repeats + 1):
        for name, way in ways.items():
            start = time.perf_counter()
            way()
            if repeat:  # the first is a warm-up
                wall[name].append(time.perf_counter() - start)
    return [statistics.median(times) for times in wall.values()]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its medians and ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=180.0, help="length of the pair")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each")
    args = parser.parse_args(argv)
    reference, candidate = squashed_pair(duration_s=args.duration_s)
    shipped_rounds = transfer.FINE_ROUNDS

    def with_rounds(rounds: int) -> Callable[[], object]:
        def way() -> object:
            transfer.FINE_ROUNDS = rounds
            return transfer.static_transfer_magnitude(reference, candidate, demodulate=True)

        return way

    shipped, baseline = interleaved_medians(
        {"shipped": with_rounds(shipped_rounds), "no fine rounds": with_rounds(0)},
        repeats=args.repeats,
    )
    transfer.FINE_ROUNDS = shipped_rounds
    print(
        f"demodulated transfer of a {args.duration_s:g} s pair (middle "
        f"{transfer.DEMODULATED_MAX_S:g} s read), median wall s of {args.repeats} interleaved runs"
    )
    print(f"shipped ({shipped_rounds} fine rounds) {shipped:.3f}; no fine rounds {baseline:.3f}")
    print(f"shipped / no fine rounds = {shipped / baseline:.2f}")
    framed, plain = clip_examples(repeats=args.repeats)
    print(
        f"{CLIP_CANDIDATES} candidates of a {CLIP_S:g} s clip: reference framed once "
        f"{framed:.3f}; plain {plain:.3f}; plain / framed = {plain / framed:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
