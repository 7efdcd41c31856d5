"""Benchmark: an EQ cascade's magnitude response on the feature bands, as fits need it.

Run with ``make bench`` (``python -m bench.response``). The general model refines every
fit by least squares (`app.ml.fitting.refine_operations`), which evaluates
`app.audio.eq.response_db` of one operation at a time on the 120 feature bands at every
step, thousands of times per rating. Two parts, each way interleaved with the others in
the same run (the machine may be busy, so the ratios are the figures to read):

per call
    `response_db` of a bell, a shelf, a fourth-order pass filter and a mixture of four,
    against two baselines on the same sections: ``scipy.signal.sosfreqz``, and
    `array_db`, the same complex arithmetic on the rows of `cascade_sos`'s array, as
    `response_db` ran until stop 44 (which then also built each operation's sections as
    arrays and stacked them, so the old way was slower still). Median microseconds per
    call and the ratios.
per rating
    The shipped general model's `recognise` on `bench.recognition`'s eight mixtures, with
    `response_db` as it is and with `array_db` in its place; the two give the same
    answers, bit for bit (checked). Median seconds per pair and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from unittest import mock

import numpy as np
from scipy import signal

from app.audio.eq import EqOperation, cascade_sos, response_db
from app.config import Settings
from app.ml import fitting, general, recognition
from app.ml.features import CURRENT_SPEC
from app.ml.registry import ModelLoadError, load_registry
from bench.recognition import comparisons

CASES = {
    "bell": [EqOperation(1_000.0, -3.0, 1.0)],
    "high shelf": [EqOperation(6_000.0, 2.0, type="high_shelf")],
    "high-pass, 24 dB/oct": [EqOperation(30.0, 0.0, type="high_pass", order=4)],
    "mixture of four": [
        EqOperation(40.0, 0.0, type="high_pass"),
        EqOperation(150.0, 4.0, type="low_shelf"),
        EqOperation(1_000.0, 3.0, 2.0),
        EqOperation(8_000.0, -2.0, type="high_shelf"),
    ],
}
Response = Callable[..., np.ndarray]


def scipy_db(
    operations: list[EqOperation], *, frequency_hz: np.ndarray, sample_rate_hz: float
) -> np.ndarray:
    """A baseline: scipy's response of the cascade's sections, in dB."""
    sos = cascade_sos(operations, sample_rate_hz=sample_rate_hz)
    _, h = signal.sosfreqz(sos, frequency_hz, fs=sample_rate_hz)
    return 20 * np.log10(np.abs(h))


def array_db(
    operations: list[EqOperation], *, frequency_hz: np.ndarray, sample_rate_hz: float
) -> np.ndarray:
    """The other: `response_db`'s arithmetic on the rows of `cascade_sos`'s array."""
    z = np.exp(-1j * 2 * np.pi * frequency_hz / sample_rate_hz)
    total = np.zeros_like(frequency_hz)
    for section in cascade_sos(operations, sample_rate_hz=sample_rate_hz):
        b, a = section[:3], section[3:]
        numerator = b[0] + b[1] * z + b[2] * z * z
        denominator = a[0] + a[1] * z + a[2] * z * z
        total += 20 * np.log10(np.abs(numerator) / np.abs(denominator))
    return total


def seconds(how: Callable[[], object], *, calls: int = 1) -> float:
    """Seconds per call over `calls` calls."""
    started = time.perf_counter()
    for _ in range(calls):
        how()
    return (time.perf_counter() - started) / calls


def per_call(*, rounds: int, calls: int) -> None:
    """Print the per-call part."""
    bands_hz = CURRENT_SPEC.spectrum.band_centres_hz
    rate_hz = CURRENT_SPEC.sample_rate_hz
    ways: dict[str, Response] = {"scipy": scipy_db, "arrays": array_db, "ours": response_db}
    print(
        f"bench.response: {len(bands_hz)} bands, {rounds} rounds of {calls} calls; "
        "median microseconds per call"
    )
    for case, operations in CASES.items():
        us: dict[str, list[float]] = {name: [] for name in ways}
        ours = response_db(operations, frequency_hz=bands_hz, sample_rate_hz=rate_hz)
        for way in ways.values():
            found = way(operations, frequency_hz=bands_hz, sample_rate_hz=rate_hz)
            np.testing.assert_allclose(found, ours, atol=1e-6)
        for _ in range(rounds):
            for name, way in ways.items():
                call = partial(way, operations, frequency_hz=bands_hz, sample_rate_hz=rate_hz)
                us[name].append(seconds(call, calls=calls) * 1e6)
        median = {name: statistics.median(us[name]) for name in ways}
        print(
            f"  {case:<22}"
            + "".join(f" {name} {median[name]:6.1f}" for name in ways)
            + f"   {median['scipy'] / median['ours']:5.2f}x scipy's speed,"
            + f" {median['arrays'] / median['ours']:5.2f}x the arrays'"
        )


def per_rating(*, rounds: int) -> None:
    """Print the per-rating part (needs the shipped general model)."""
    try:
        registry = load_registry(Settings(_env_file=None).MODELS_DIR)  # type: ignore[call-arg]
        model = registry.get("general")
    except (ModelLoadError, KeyError) as error:
        print(f"  per rating: skipped, no shipped general model ({error})")
        return
    assert isinstance(model, general.GeneralModel)
    pairs = comparisons(duration_s=30.0)
    ways: dict[str, Response] = {"arrays": array_db, "ours": response_db}
    answers: dict[str, list[object]] = {name: [] for name in ways}
    spent: dict[str, list[float]] = {name: [] for name in ways}
    model.recognise(pairs[0])  # warms the caches
    for round_index in range(rounds):
        for pair in pairs:
            for name, way in ways.items():
                with (
                    mock.patch.object(fitting, "response_db", way),
                    mock.patch.object(recognition, "response_db", way),
                ):
                    started = time.perf_counter()
                    found = model.recognise(pair)
                    spent[name].append(time.perf_counter() - started)
                if round_index == 0:
                    answers[name].append((found.operations, found.curve_db.tolist()))
    if answers["arrays"] != answers["ours"]:
        raise SystemExit("bench.response: the two ways answered differently")
    median = {name: statistics.median(spent[name]) for name in ways}
    print(
        f"  per rating ({len(pairs)} mixtures, {rounds} rounds, same answers):"
        + "".join(f" {name} {median[name]:.3f} s" for name in ways)
        + f"   {median['arrays'] / median['ours']:5.2f}x the arrays' speed"
    )


def main(argv: list[str] | None = None) -> int:
    """Time both parts and print their ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per case")
    parser.add_argument("--calls", type=int, default=2_000, help="calls per round")
    parser.add_argument("--rating-rounds", type=int, default=2, help="rounds over the mixtures")
    args = parser.parse_args(argv)
    per_call(rounds=args.rounds, calls=args.calls)
    if args.rating_rounds > 0:
        per_rating(rounds=args.rating_rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
