"""Benchmark: a grid model served through the demodulated transfer, against as it is.

Run with ``make bench`` (``python -m bench.served``). On a pair of masters (pink-ish
noise, the candidate EQ'd and squashed by a gain that moves every 5 ms: `bench.transfer`'s
pair), it times the shipped F1/4W1/2's `recognise` after `compare`, as a rating runs them,
served as shipped (`GridModel.served_demodulated`: the candidate read through the
demodulated transfer) against the same model reading the candidate's own spectrum,
interleaved in the same run, and prints medians and their ratio (the machine may be busy,
so the ratio is the figure to read).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from app.audio.spectrum import compare
from app.config import Settings
from app.ml.grid import GridModel
from app.ml.registry import load_registry
from bench.transfer import interleaved_medians, squashed_pair

MODEL_ID = "F1/4W1/2"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its medians and ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=180.0, help="length of the pair")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each")
    args = parser.parse_args(argv)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    served = load_registry(settings.MODELS_DIR).get(MODEL_ID)
    assert isinstance(served, GridModel) and served.served_demodulated
    as_is = dataclasses.replace(served, served_demodulated=False)
    reference, candidate = squashed_pair(duration_s=args.duration_s)
    shipped, baseline = interleaved_medians(
        {
            "served": lambda: served.recognise(compare(reference, candidate)),
            "as is": lambda: as_is.recognise(compare(reference, candidate)),
        },
        repeats=args.repeats,
    )
    print(
        f"{MODEL_ID}: compare and recognise a {args.duration_s:g} s pair, median wall s of "
        f"{args.repeats} interleaved runs"
    )
    print(f"served demodulated {shipped:.3f}; candidate as it is {baseline:.3f}")
    print(f"served / as is = {shipped / baseline:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
