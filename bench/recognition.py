"""Benchmark: the general model's search, as widened, against the search it grew from.

Run with ``make bench`` (``python -m bench.recognition``). It makes eight pairs of 30 s
pinkish-noise masters, each candidate through a mixture of bells, shelves and pass
filters, and times the shipped general model's `recognise` on each pair four ways,
alternating within the run so that background load falls on all alike:

reach 1
    The fits of CatBoost's count and one count either side, of the type model's set of
    types and of the set with its least certain type flipped (stop 37's search).
reach 2
    Two counts either side (`GeneralModel.counts_reach`, stop 38).
reach 1, second flip / reach 2, second flip
    Also the sets with the type model's second least certain type flipped, where it
    lies within `GeneralModel.second_flip_margin` of the threshold.

Prints the median seconds per pair and each way's ratio to reach 1 (the figure to read:
the machine may be busy), over every pair and over the pairs where the second flip is
offered (the last two, which the type model is unsure of), and the type sets each pair's
search weighed.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time

from app.audio.eq import EqOperation, apply
from app.audio.spectrum import Comparison, compare
from app.config import Settings
from app.ml import count_choice, general
from app.ml.registry import ModelLoadError, load_registry
from bench.analysis import pinkish_noise

SAMPLE_RATE_HZ = 44_100
MIXTURES = (
    [EqOperation(120.0, 3.0, type="low_shelf"), EqOperation(2_000.0, -4.0, 1.0)],
    [EqOperation(30.0, 0.0, type="high_pass"), EqOperation(6_000.0, -3.0, type="high_shelf")],
    [
        EqOperation(250.0, 4.0, 1.5),
        EqOperation(3_000.0, -3.0, 1.0),
        EqOperation(10_000.0, 2.0, type="high_shelf"),
    ],
    [EqOperation(80.0, -3.0, type="low_shelf"), EqOperation(14_000.0, 0.0, type="low_pass")],
    [
        EqOperation(40.0, 0.0, type="high_pass"),
        EqOperation(150.0, 4.0, type="low_shelf"),
        EqOperation(1_000.0, 3.0, 2.0),
        EqOperation(8_000.0, -2.0, type="high_shelf"),
    ],
    [EqOperation(500.0, 6.0, 0.7), EqOperation(5_000.0, -5.0, 1.0)],
    # Two the type model is unsure of, so that its second closest call is flipped too.
    [EqOperation(40.0, 2.0, type="low_shelf"), EqOperation(25.0, 0.0, type="high_pass")],
    [
        EqOperation(45.0, 0.0, type="high_pass"),
        EqOperation(70.0, 2.0, type="low_shelf"),
        EqOperation(10_000.0, 2.0, type="high_shelf"),
        EqOperation(17_000.0, 0.0, type="low_pass"),
    ],
)
#: (name, counts_reach, second_flip_margin); the first is the baseline.
WAYS = (
    ("reach 1", 1, 0.0),
    ("reach 2", 2, 0.0),
    ("reach 1, second flip", 1, count_choice.SECOND_FLIP_MARGIN),
    ("reach 2, second flip", 2, count_choice.SECOND_FLIP_MARGIN),
)


def comparisons(*, duration_s: float) -> list[Comparison]:
    """One comparison per mixture, each on noise of its own seed."""
    pairs = []
    for seed, operations in enumerate(MIXTURES):
        song = pinkish_noise(
            duration_s=duration_s, sample_rate_hz=SAMPLE_RATE_HZ, channels=1, seed=seed
        )[:, 0]
        pairs.append(compare(song, apply(song, operations, sample_rate_hz=SAMPLE_RATE_HZ)))
    return pairs


def type_sets(model: general.GeneralModel, comparison: Comparison) -> int:
    """How many sets of types the search weighs for this pair."""
    return len(model.type_choices(model.features(comparison))[0])


def main(argv: list[str] | None = None) -> int:
    """Time the four ways and print their ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="rounds over the eight pairs")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per master")
    args = parser.parse_args(argv)
    try:
        registry = load_registry(Settings(_env_file=None).MODELS_DIR)  # type: ignore[call-arg]
        model = registry.get("general")
    except (ModelLoadError, KeyError) as error:
        raise SystemExit(f"bench.recognition needs the shipped general model: {error}") from None
    assert isinstance(model, general.GeneralModel)
    pairs = comparisons(duration_s=args.duration)
    sets = [type_sets(model, pair) for pair in pairs]
    ways = {
        name: dataclasses.replace(model, counts_reach=reach, second_flip_margin=margin)
        for name, reach, margin in WAYS
    }
    ways[WAYS[-1][0]].recognise(pairs[0])  # warms the caches
    # Per way, per pair: its seconds in each round.
    seconds: dict[str, list[list[float]]] = {name: [[] for _ in pairs] for name in ways}
    for _ in range(args.repeats):
        for index, pair in enumerate(pairs):
            for name, way in ways.items():
                started = time.perf_counter()
                way.recognise(pair)
                seconds[name][index].append(time.perf_counter() - started)
    print(
        f"bench.recognition: general model, {len(pairs)} mixtures on {args.duration:.0f} s of "
        f"noise, {args.repeats} rounds; type sets weighed with the second flip: {sets}"
    )
    flipped = [index for index, count in enumerate(sets) if count > 2]
    for label, among in (
        ("every pair", range(len(pairs))),
        ("pairs offered the second flip", flipped),
    ):
        if not among:
            continue
        baseline = statistics.median(t for i in among for t in seconds[WAYS[0][0]][i])
        print(f" {label} ({len(among)}):")
        for name in ways:
            median = statistics.median(t for i in among for t in seconds[name][i])
            print(f"  {name:<22} {median:7.3f} s median per pair  {median / baseline:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
