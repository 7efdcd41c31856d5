"""How often a mixture's EQ curve is told apart from one of fewer operations at all.

Issue 19 asks the general model for the count of 2-4 operations of mixed types right 90 %
of the time. For each validation mixture without the master chain (the aim's set) this
fits one operation fewer to the noise-free curve of the true operations (from the truth
less each operation in turn, and from `app.ml.general.count_candidates`' fit) and prints
how often the best such fit stays within 0.25-1.5 dB of the curve at every band from 20 Hz
to 16 kHz (its level free): those mixtures no reading of the magnitude response can count
right for sure, so they bound the count right from above. It reads only the bundle; about
3 minutes on 1 core::

    DATA_DIR=var python ops/count_ceiling.py
"""

from __future__ import annotations

import numpy as np

from app.audio.eq import EqOperation
from app.config import get_settings
from app.ml.general import ALL_TYPES, _refine, count_candidates
from app.ml.recognition import curve_db
from app.training import evaluate as ev
from app.training.bundle import Bundle
from app.training.grids import decode_operations
from app.training.synth import CHAIN_NUISANCES

THRESHOLDS_DB = (0.25, 0.5, 1.0, 1.5)


def fewer_fits_error_db(truth: list[EqOperation]) -> float:
    """The smallest `app.training.evaluate.curve_gap_db` between the truth and a fit of one
    operation fewer to its curve."""
    target = curve_db(truth)
    count = len(truth)
    starts = [truth[:drop] + truth[drop + 1 :] for drop in range(count)]
    fits = [_refine(target, start)[0] for start in starts]
    fits.append(
        count_candidates(target, counts=range(count - 1, count), types=ALL_TYPES)[0].operations
    )
    return min(ev.curve_gap_db(truth, fit) for fit in fits)


def main() -> None:
    bundle = Bundle.load(get_settings().DATA_DIR / "bundle" / "general.npz")
    assert bundle.operations is not None and bundle.nuisance is not None
    among = bundle.validation & ~np.isin(bundle.nuisance, CHAIN_NUISANCES)
    truths = [decode_operations(row) for row in bundle.operations[among]]
    mixtures = [t for t in truths if 2 <= len(t) <= 4 and len({op.type for op in t}) >= 2]
    errors = np.array([fewer_fits_error_db(t) for t in mixtures])
    counts = np.array([len(t) for t in mixtures])
    print(f"{len(mixtures)} validation mixtures without the master chain")
    for threshold in THRESHOLDS_DB:
        close = errors < threshold
        by_count = {int(c): round(100 * float(close[counts == c].mean()), 1) for c in (2, 3, 4)}
        print(
            f"one operation fewer within {threshold} dB everywhere: "
            f"{100 * close.mean():.1f} % (by count {by_count})"
        )


if __name__ == "__main__":
    main()
