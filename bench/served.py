"""Benchmark: a grid model served through the demodulated transfer, against as fitted.

Run with ``make bench`` (``python -m bench.served``). On two pairs of masters (pink-ish
noise swelling from -20 dB to full scale every 4 s; the candidate EQ'd, then compressed 4:1
on 5 ms blocks above a quarter of its loudest block's level, or EQ'd alone), it times the
shipped F1/4W1's `recognise` after `compare`, as a rating runs them, under each `Serving`:
under dynamics (the gate, `GridModel.served_candidate`: the transfer for the compressed
pair, the candidate's own spectrum for the other) and as fitted (the candidate's own
spectrum), interleaved in the same run, and prints medians and their ratios to as fitted
for each pair (the machine may be busy, so the ratios are the figures to read).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from functools import partial

import numpy as np

from app.audio.eq import apply
from app.audio.spectrum import compare
from app.config import Settings
from app.ml.grid import GridModel, Serving
from app.ml.registry import load_registry
from bench.analysis import SAMPLE_RATE_HZ, pinkish_noise
from bench.transfer import SHELF, interleaved_medians

MODEL_ID = "F1/4W1"
BLOCK = int(0.005 * SAMPLE_RATE_HZ)


def swelling_noise(*, duration_s: float) -> np.ndarray:
    """Mono pink-ish noise whose level swells from -20 dB to 0 and back every 4 s."""
    noise = pinkish_noise(duration_s=duration_s, sample_rate_hz=SAMPLE_RATE_HZ, channels=1, seed=1)[
        :, 0
    ]
    t_s = np.arange(len(noise)) / SAMPLE_RATE_HZ
    swell = 0.1 + 0.9 * (0.5 - 0.5 * np.cos(2 * np.pi * t_s / 4.0)) ** 3
    return (noise * swell).astype(np.float32)


def compressed(audio: np.ndarray, *, ratio: float = 4.0) -> np.ndarray:
    """`audio` compressed `ratio`:1 on 5 ms blocks above a quarter of its loudest block's RMS."""
    n = len(audio) // BLOCK * BLOCK
    level = np.sqrt(np.mean(audio[:n].reshape(-1, BLOCK) ** 2, axis=1)) + 1e-12
    gain = np.minimum(1.0, 0.25 * level.max() / level) ** (1.0 - 1.0 / ratio)
    return (audio[:n] * np.repeat(gain, BLOCK)).astype(np.float32)


def rating(model: GridModel, reference: np.ndarray, candidate: np.ndarray) -> object:
    """What a rating runs of the EQ comparison: `compare`, then the model's `recognise`."""
    return model.recognise(compare(reference, candidate))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its medians and ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=180.0, help="length of the pair")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each")
    args = parser.parse_args(argv)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    model = load_registry(settings.MODELS_DIR).get(MODEL_ID)
    assert isinstance(model, GridModel)
    reference = swelling_noise(duration_s=args.duration_s)
    still = apply(reference, SHELF, sample_rate_hz=SAMPLE_RATE_HZ)
    print(
        f"{MODEL_ID}: compare and recognise a {args.duration_s:g} s pair, median wall s of "
        f"{args.repeats} interleaved runs"
    )
    for name, candidate in (("compressed", compressed(still)), ("EQ alone", still)):
        gated = dataclasses.replace(model, serving=Serving.UNDER_DYNAMICS)
        served = gated.served_candidate(compare(reference, candidate)) is not None
        assert served == (name == "compressed")
        ways = {
            str(serving): partial(
                rating, dataclasses.replace(model, serving=serving), reference, candidate
            )
            for serving in Serving
        }
        medians = dict(zip(ways, interleaved_medians(ways, repeats=args.repeats), strict=True))
        baseline = medians[Serving.AS_FITTED.value]
        print(
            f"{name}: "
            + "; ".join(
                f"{serving} {wall:.3f} s ({wall / baseline:.2f} x as fitted)"
                for serving, wall in medians.items()
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
