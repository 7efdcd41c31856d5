"""How far the band difference strays from the EQ's own, read plainly and through the transfer.

On the first clip of validation tracks (``mastering-trainer corpus fetch``), each case applies
an EQ (a +3 dB low shelf at 120 Hz, a -3 dB bell at 2.5 kHz and a 30 Hz high-pass) or none,
then one of: nothing, pedalboard's compressor and limiter, its limiter, its compressor
(settings drawn as `app.training.master_chain` draws them), a 160 kbps MP3 round trip of its
first 10 s, each rendered as the training data is (`app.training.synth.render_spectra`). The
error is the level-aligned band difference (`app.audio.spectrum.band_difference_db`) less that
of the EQ alone, over the bands below the highest where the reference holds audio (and below
16 kHz): read from the plain average spectra, and from the candidate through the static
transfer (`app.audio.transfer.coherent_candidate_magnitude`), as the grid models read it and
demodulated, as the general model reads it (`app.ml.features.FeatureSpec.demodulated`). Prints
the median over songs of each case's RMS and largest error (dB)::

    DATA_DIR=var python ops/transfer_check.py --songs 20
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.audio.eq import EqOperation, apply  # noqa: E402
from app.audio.io import ANALYSIS_SAMPLE_RATE_HZ  # noqa: E402
from app.audio.spectrum import (  # noqa: E402
    audible_top_band,
    average_spectrum,
    band_difference_db,
    level_offset_db,
)
from app.config import get_settings  # noqa: E402
from app.training.cli import DEFAULT_MANIFEST  # noqa: E402
from app.training.corpus import CorpusLayout, read_manifest  # noqa: E402
from app.training.master_chain import MasterChain, draw_chain  # noqa: E402
from app.training.synth import CHAIN_NUISANCES, Draw, Nuisance, render_spectra  # noqa: E402

SR = ANALYSIS_SAMPLE_RATE_HZ
EQ = [
    EqOperation(120.0, 3.0, type="low_shelf"),
    EqOperation(2_500.0, -3.0, 1.0),
    EqOperation(30.0, 0.0, type="high_pass", order=2),
]
CASES = ("eq", "chain", "eq+chain", "limiter", "compressor", "mp3")
#: How the candidate is read: its plain average spectrum, through the transfer, demodulated.
READS = ("plain", "transfer", "demodulated")
#: Bands from this one on are left out (a 160 kbps MP3 holds little above 16 kHz).
TOP_BAND = 110


def _band_db(reference_magnitude: np.ndarray, candidate_magnitude: np.ndarray) -> np.ndarray:
    raw = band_difference_db(reference_magnitude, candidate_magnitude)
    return raw - level_offset_db(raw)


CASE_NUISANCES = {
    "eq": Nuisance.NONE,
    "chain": Nuisance.COMPRESSOR_LIMITER,
    "eq+chain": Nuisance.COMPRESSOR_LIMITER,
    "limiter": Nuisance.CHAIN_LIMITER,
    "compressor": Nuisance.COMPRESSOR,
    "mp3": Nuisance.LOSSY,
}


def errors_db(clip: np.ndarray, case: str, *, rng: np.random.Generator) -> list[float]:
    """RMS errors, then largest errors, plain, through the transfer and through the
    demodulated one, of one case on one clip, its spectra rendered as the training data
    renders them (`app.training.synth`)."""
    operations = EQ if case.startswith("eq") else []
    nuisance = CASE_NUISANCES[case]
    chain = MasterChain()
    if nuisance in CHAIN_NUISANCES:
        chain = draw_chain(
            rng=rng,
            compressor=nuisance is not Nuisance.CHAIN_LIMITER,
            limiter=nuisance is not Nuisance.COMPRESSOR,
        )
    draw = Draw(operations=operations, nuisance=nuisance, nuisance_value=0.0, chain=chain)
    clip_magnitude = average_spectrum(clip)
    reference_magnitude, candidate_magnitude, coherent = render_spectra(
        clip, draw, reference_magnitude=clip_magnitude, coherent=True
    )
    *_, demodulated = render_spectra(
        clip, draw, reference_magnitude=clip_magnitude, coherent=True, demodulate=True
    )
    equalised = apply(clip, operations, sample_rate_hz=SR) if operations else clip
    top = min(audible_top_band(reference_magnitude), TOP_BAND)
    truth = _band_db(clip_magnitude, average_spectrum(equalised))[:top]
    errors = [
        _band_db(reference_magnitude, magnitude)[:top] - truth
        for magnitude in (candidate_magnitude, coherent, demodulated)
    ]
    return [float(np.sqrt(np.mean(e**2))) for e in errors] + [
        float(np.max(np.abs(e))) for e in errors
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--songs", type=int, default=20, help="validation tracks to use")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    layout = CorpusLayout(get_settings().DATA_DIR)
    tracks = [t for t in read_manifest(DEFAULT_MANIFEST) if t.split == "validation" and t.n_clips]
    step = max(1, len(tracks) // args.songs)
    clips = [layout.clip_path(t, 0) for t in tracks[::step][: args.songs]]
    clips = [path for path in clips if path.is_file()]
    rng = np.random.default_rng(args.seed)
    results: dict[str, list[list[float]]] = {case: [] for case in CASES}
    for path in clips:
        clip = np.load(path)
        for case in CASES:
            results[case].append(errors_db(clip, case, rng=rng))
    names = [f"{stat}_{read}_db" for stat in ("rms", "max") for read in READS]
    summary = {
        "songs": len(clips),
        "median_over_songs": {
            case: dict(zip(names, np.round(np.median(rows, axis=0), 2).tolist(), strict=True))
            for case, rows in results.items()
        },
        "command": "python ops/transfer_check.py " + " ".join(argv or sys.argv[1:]),
    }
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
