"""Rate music the models never trained on via POST /rate: sox EQ, pedalboard dynamics.

Item 4 of issue 19, measured end to end as a user meets it: each song (the first 30 s clip of a
validation track of the corpus, never trained on, or an audio file named with ``--file``) is the
reference; candidates are the same song through sox's ``equalizer``, ``bass``, ``treble``,
``highpass`` and ``lowpass`` (EQ drawn at random per song, seeded), some then through pedalboard's
compressor and a limiter, with settings drawn as the training data's are
(`app.training.master_chain`), every file a 32-bit float WAV posted to /rate with the shipped
models (``MODELS_DIR``). The limiter is pedalboard's too (see `LIMITERS`). Per song:

- one single operation of each type (bell, low shelf, high shelf, high-pass, low-pass): the type
  right, and of those the frequency within 1/3 octave and the gain within 1.5 dB;
- a mixture of 2-4 operations of at least two types: the count right, all types right;
- another such mixture through a compressor and a limiter: the count right;
- a compressor and a limiter alone: no EQ operation found;
- 1-3 bells alone: the count right, the frequency and gain errors.

With ``--grid-gap MODEL`` (a grid model, or ``all`` for the nine) it measures issue 19's
other gap instead: per song a random set of that grid (as its datasets draw them), rated
clean, through a 128 kbps stereo MP3 round trip handed back as a WAV (so no container says lossy),
with its level changed by 2-6 dB, and through a limiter (0-12 dB of gain reduction); right
means the exact set (the same notes, each boosted or cut as applied).

Needs the dev extra (pedalboard), sox and the cached clips (``mastering-trainer corpus fetch``)::

    DATA_DIR=var python ops/rate_check.py --songs 20 --out rate_check.json

Prints a JSON summary (and writes every answer to ``--out``). Two models' ``--out`` files of
the same renders (the same seed, songs and workers; ``MODELS_DIR`` the only change) are
paired per grid variant, pooled over every pair given, with McNemar's z of the second
against the first, as a refit's rule reads them (``models/REPORT.md``, 'What was tried')::

    python ops/rate_check.py --pair OLD_A.json NEW_A.json --pair OLD_B.json NEW_B.json
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.optimize import linear_sum_assignment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from app.audio.eq import EqOperation  # noqa: E402
from app.audio.io import ANALYSIS_SAMPLE_RATE_HZ  # noqa: E402
from app.config import Settings, get_settings  # noqa: E402
from app.main import create_app  # noqa: E402
from app.ml.grid import operations_to_classes  # noqa: E402
from app.training.corpus import CorpusLayout, read_manifest  # noqa: E402
from app.training.evaluate import mcnemar_z  # noqa: E402
from app.training.grids import (  # noqa: E402
    GRID_CONFIGS,
    GridConfig,
    audible_placement,
    random_grid_set,
)
from app.training.master_chain import apply_chain, draw_chain  # noqa: E402

SR = ANALYSIS_SAMPLE_RATE_HZ
MANIFEST = ROOT / "app" / "training" / "manifests" / "train.tsv"
#: Where each type's frequency is drawn (Hz), as the general dataset draws it.
FREQUENCY_HZ = {
    "bell": (40.0, 12_000.0),
    "low_shelf": (40.0, 400.0),
    "high_shelf": (2_000.0, 12_000.0),
    "high_pass": (25.0, 200.0),
    "low_pass": (4_000.0, 16_000.0),
}
#: |gain| drawn for bells and shelves (dB): moves a trainee makes and hears.
GAIN_DB = (2.0, 9.0)
#: Butterworth sections of a 4th-order pass filter (sox's Q for each biquad).
ORDER_4_Q = (0.5411961, 1.3065630)
FREQUENCY_TOLERANCE_OCTAVES = 1 / 3
GAIN_TOLERANCE_DB = 1.5


@dataclass
class Case:
    """One candidate: the EQ applied with sox, and whether the master chain followed."""

    song: str
    kind: str
    operations: list[EqOperation]
    chain: bool = False
    model: str = "general"
    answer: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    #: The limiter's drawn gain reduction at the loudest peak, once rendered through it.
    limiter_gain_reduction_db: float | None = None
    #: The reply's ``alignment.reference_top_hz``: where the reference stops, if short of
    #: the top octave (its moves there show in neither file).
    reference_top_hz: float | None = None


def sox_effects(operations: list[EqOperation]) -> list[str]:
    """sox's effects for `operations` (``bass``/``treble`` slopes, Butterworth sections)."""
    effects: list[str] = []
    for op in operations:
        if op.type == "bell":
            effects += ["equalizer", f"{op.frequency_hz}", f"{op.width_octaves}o", f"{op.gain_db}"]
        elif op.type in ("low_shelf", "high_shelf"):
            name = "bass" if op.type == "low_shelf" else "treble"
            effects += [name, f"{op.gain_db}", f"{op.frequency_hz}", f"{op.slope}s"]
        else:
            name = "highpass" if op.type == "high_pass" else "lowpass"
            if op.order == 2:
                effects += [name, f"{op.frequency_hz}"]
            else:
                for q in ORDER_4_Q:
                    effects += [name, f"{op.frequency_hz}", f"{q}q"]
    return effects


def draw(kind: str, *, rng: np.random.Generator, at_hz: float | None = None) -> EqOperation:
    """A random operation of type `kind` (at `at_hz` if given)."""
    low, high = FREQUENCY_HZ[kind]
    frequency_hz = round(at_hz or float(2 ** rng.uniform(np.log2(low), np.log2(high))), 1)
    if kind in ("high_pass", "low_pass"):
        return EqOperation(frequency_hz, 0.0, type=kind, order=int(rng.choice([2, 4])))  # type: ignore[arg-type]
    gain_db = round(float(rng.uniform(*GAIN_DB) * rng.choice([-1, 1])), 1)
    if kind == "bell":
        return EqOperation(frequency_hz, gain_db, round(float(2 ** rng.uniform(-1, 1)), 2))
    return EqOperation(frequency_hz, gain_db, type=kind, slope=round(float(rng.uniform(0.3, 1)), 2))  # type: ignore[arg-type]


def draw_mixture(*, rng: np.random.Generator, types: tuple[str, ...]) -> list[EqOperation]:
    """2-4 operations of at least two types, at most one of each but bells, 1/2 octave apart,
    no bell or shelf beyond a pass filter's cut-off (`app.training.grids.audible_placement`)."""
    while True:
        count = int(rng.integers(2, 5))
        kinds = [str(k) for k in rng.choice(types, size=count)]
        if len(set(kinds)) < 2 or any(kinds.count(k) > 1 for k in kinds if k != "bell"):
            continue
        ops = [draw(k, rng=rng) for k in kinds]
        octaves = np.log2([op.frequency_hz for op in ops])
        audible = audible_placement([op.type for op in ops], positions_octaves=octaves)
        if audible and np.min(np.diff(np.sort(octaves))) >= 0.5:
            return ops


def draw_bells(*, rng: np.random.Generator) -> list[EqOperation]:
    """1-3 bells at least an octave apart."""
    while True:
        ops = [draw("bell", rng=rng) for _ in range(int(rng.integers(1, 4)))]
        octaves = np.sort(np.log2([op.frequency_hz for op in ops]))
        if len(ops) == 1 or np.min(np.diff(octaves)) >= 1.0:
            return ops


def cases_for(song: str, *, rng: np.random.Generator) -> list[Case]:
    """The cases of one song (see the module's docstring)."""
    types = tuple(FREQUENCY_HZ)
    singles = [Case(song, f"single {kind}", [draw(kind, rng=rng)]) for kind in types]
    return [
        *singles,
        Case(song, "mixture", draw_mixture(rng=rng, types=types)),
        Case(song, "mixture through chain", draw_mixture(rng=rng, types=types), chain=True),
        Case(song, "chain alone", [], chain=True),
        Case(song, "bells", draw_bells(rng=rng)),
    ]


#: The issue's own examples (issue 19): what a new user tried first.
ISSUE_EXAMPLES = [
    ("issue low shelf", [EqOperation(120.0, 3.0, type="low_shelf", slope=0.5)], False),
    ("issue high shelf", [EqOperation(6000.0, -3.0, type="high_shelf", slope=0.5)], False),
    ("issue high-pass", [EqOperation(30.0, 0.0, type="high_pass", order=2)], False),
    ("issue bell through chain", [EqOperation(1000.0, 4.0, 1.0)], True),
]


def issue_cases(song: str) -> list[Case]:
    """The issue's four examples on one song."""
    return [Case(song, kind, list(ops), chain=chain) for kind, ops, chain in ISSUE_EXAMPLES]


#: What each grid-gap candidate goes through after its EQ.
GRID_VARIANTS = ("clean", "mp3 as wav", "level", "limiter")
#: The limiter case's figures by the limiter's gain reduction at the loudest peak.
GAIN_REDUCTION_BINS_DB = ((0.0, 4.0), (4.0, 8.0), (8.0, 12.01))
#: |level change| of the ``level`` variant (dB).
LEVEL_CHANGE_DB = (2.0, 6.0)


def grid_cases(song: str, *, rng: np.random.Generator, model: str) -> list[Case]:
    """One random set of `model`'s grid on `song`, under each of `GRID_VARIANTS`."""
    operations = random_grid_set(GridConfig.parse(model), rng=rng)
    return [Case(song, f"grid {v}", operations, model=model) for v in GRID_VARIANTS]


def mp3_round_trip(path: Path) -> None:
    """Replace the WAV at `path` by its 128 kbps MP3 round trip, decoded back to a float WAV."""
    mp3 = path.with_suffix(".mp3")
    quiet = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i"]
    # Stereo, as a trainee's MP3s are: at 128 kbps the encoder then cuts above about 16 kHz.
    encode = ["-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k"]
    subprocess.run([*quiet, str(path), *encode, str(mp3)], check=True)
    subprocess.run([*quiet, str(mp3), "-c:a", "pcm_f32le", str(path)], check=True)
    mp3.unlink()


#: The limiters a candidate can go through, both pedalboard's: ``brickwall``, its compressor at
#: 1000:1 with a 1 us attack (a brickwall without lookahead; make-up gain brings the ceiling back
#: to the peak), which no model trains on, and ``juce``, its Limiter, which also compresses 4:1
#: above -10 dBFS and hard-clips (issue 19, stop 31), one of the training data's limiter kinds
#: since stop 50 (`app.training.master_chain.LimiterKind.JUCE`), on other music.
LIMITERS = ("brickwall", "juce")


def through_chain(path: Path, *, rng: np.random.Generator, compressor: bool, limiter: str) -> float:
    """Replace the WAV at `path` by its mono mix through a random limiter (and compressor),
    raised to full scale first (`app.training.master_chain`); return the limiter's drawn
    gain reduction (dB)."""
    from pedalboard import Compressor, Limiter

    samples, rate = sf.read(path, dtype="float32")
    chain = draw_chain(rng=rng, compressor=compressor, limiter=True)
    peak_dbfs = 20 * math.log10(float(np.max(np.abs(samples))) + 1e-12)
    mono = samples if samples.ndim == 1 else samples.mean(axis=1)
    alone = replace(chain, limiter_gain_reduction_db=math.nan, limiter_release_ms=math.nan)
    compressed = apply_chain(mono, alone, sample_rate_hz=rate, input_gain_db=-peak_dbfs)
    threshold_db = 20 * math.log10(float(np.max(np.abs(compressed))) + 1e-12)
    threshold_db -= chain.limiter_gain_reduction_db
    if limiter == "juce":
        stage = Limiter(threshold_db=threshold_db, release_ms=chain.limiter_release_ms)
        limited = stage(compressed, rate)
    else:
        stage = Compressor(
            threshold_db=threshold_db,
            ratio=1000.0,
            attack_ms=0.001,
            release_ms=chain.limiter_release_ms,
        )
        limited = stage(compressed, rate) * np.float32(10 ** (chain.limiter_gain_reduction_db / 20))
    sf.write(path, limited, rate, subtype="FLOAT")
    return float(chain.limiter_gain_reduction_db)


def render(
    reference: Path, case: Case, *, target: Path, rng: np.random.Generator, limiter: str
) -> Path:
    """The case's candidate WAV: sox's EQ, then the compressor and limiter where asked."""
    subprocess.run(
        ["sox", "-D", str(reference), "-e", "floating-point", "-b", "32", str(target)]
        + sox_effects(case.operations),
        check=True,
    )
    if case.kind == "grid mp3 as wav":
        mp3_round_trip(target)
    elif case.kind == "grid level":
        samples, rate = sf.read(target, dtype="float32")
        change_db = rng.uniform(*LEVEL_CHANGE_DB) * rng.choice([-1.0, 1.0])
        sf.write(target, samples * np.float32(10 ** (change_db / 20)), rate, subtype="FLOAT")
    elif case.kind == "grid limiter":
        case.limiter_gain_reduction_db = through_chain(
            target, rng=rng, compressor=False, limiter=limiter
        )
    if case.chain:
        case.limiter_gain_reduction_db = through_chain(
            target, rng=rng, compressor=True, limiter=limiter
        )
    return target


def matched(truth: list[EqOperation], found: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Pairs (true, found) closest in log frequency."""
    cost = np.abs(
        np.log2(
            np.array([op.frequency_hz for op in truth])[:, None]
            / np.array([op["frequency_hz"] for op in found])[None, :]
        )
    )
    rows, columns = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, columns, strict=True)]


def percent(flags: list[bool]) -> float | None:
    return round(100.0 * sum(flags) / len(flags), 1) if flags else None


def summarise(cases: list[Case]) -> dict[str, Any]:
    """Item 4's figures over `cases`."""
    summary: dict[str, Any] = {"songs": len({c.song for c in cases}), "by_type": {}}
    for kind in FREQUENCY_HZ:
        rows = [c for c in cases if c.kind == f"single {kind}"]
        right = [c for c in rows if len(c.answer) == 1 and c.answer[0]["type"] == kind]
        close = [
            abs(math.log2(c.answer[0]["frequency_hz"] / c.operations[0].frequency_hz))
            <= FREQUENCY_TOLERANCE_OCTAVES
            and abs(c.answer[0]["gain_db"] - c.operations[0].gain_db) <= GAIN_TOLERANCE_DB
            for c in right
        ]
        summary["by_type"][kind] = {
            "examples": len(rows),
            "type_right": percent([c in right for c in rows]),
            "frequency_and_gain_right": percent(close),
        }
    for kind in ("mixture", "mixture through chain"):
        rows = [c for c in cases if c.kind == kind]
        count = [len(c.answer) == len(c.operations) for c in rows]
        types = [
            ok
            and all(
                c.operations[i].type == c.answer[j]["type"]
                for i, j in matched(c.operations, c.answer)
            )
            for c, ok in zip(rows, count, strict=True)
        ]
        summary[kind] = {
            "examples": len(rows),
            "count_right": percent(count),
            "all_types_right": percent(types),
        }
    alone = [c for c in cases if c.kind == "chain alone"]
    summary["chain alone"] = {
        "examples": len(alone),
        "no_operation": percent([not c.answer for c in alone]),
    }
    bells = [c for c in cases if c.kind == "bells"]
    frequency_errors, gain_errors = [], []
    for c in bells:
        if len(c.answer) == len(c.operations):
            for i, j in matched(c.operations, c.answer):
                frequency_errors.append(
                    abs(math.log2(c.answer[j]["frequency_hz"] / c.operations[i].frequency_hz))
                )
                gain_errors.append(abs(c.answer[j]["gain_db"] - c.operations[i].gain_db))
    summary["bells"] = {
        "examples": len(bells),
        "count_right": percent([len(c.answer) == len(c.operations) for c in bells]),
        "frequency_error_octaves_median": round(float(np.median(frequency_errors)), 4)
        if frequency_errors
        else None,
        "gain_error_db_median": round(float(np.median(gain_errors)), 2) if gain_errors else None,
    }
    for kind, _, _ in ISSUE_EXAMPLES:
        rows = [c for c in cases if c.kind == kind]
        if rows:
            truth = rows[0].operations[0]
            summary[kind] = {
                "examples": len(rows),
                "right": percent(
                    [
                        len(c.answer) == 1
                        and c.answer[0]["type"] == truth.type
                        and abs(math.log2(c.answer[0]["frequency_hz"] / truth.frequency_hz))
                        <= FREQUENCY_TOLERANCE_OCTAVES
                        and abs(c.answer[0]["gain_db"] - truth.gain_db) <= GAIN_TOLERANCE_DB
                        for c in rows
                    ]
                ),
                "answers": [
                    [(op["type"], op["frequency_hz"], op["gain_db"]) for op in c.answer]
                    for c in rows
                ],
            }
    summary["seconds_per_rating_median"] = round(float(np.median([c.seconds for c in cases])), 2)
    return summary


def note_classes(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """Per grid note, the class applied there and the class found there (none, boost or
    cut, as the grid models are scored: `app.ml.grid.operations_to_classes`)."""
    notes_hz = GridConfig.parse(case.model).notes_hz

    def classes(pairs: list[tuple[float, float]]) -> np.ndarray:
        operations = np.array(pairs, dtype=float).reshape(1, -1, 2)
        return operations_to_classes(operations, notes_hz=notes_hz)[0]

    applied = classes([(op.frequency_hz, op.gain_db) for op in case.operations])
    found = classes([(op["frequency_hz"], op["gain_db"]) for op in case.answer])
    return applied, found


def exact_set_right(case: Case) -> bool:
    """Whether a grid model found the applied notes, each boosted or cut as applied."""
    applied, found = note_classes(case)
    return bool(np.array_equal(applied, found)) and len(case.answer) == len(case.operations)


def wrong_notes(case: Case) -> list[int]:
    """The grid notes (indices) where the answer's operations differ from those applied."""
    applied, found = note_classes(case)
    return np.flatnonzero(applied != found).tolist()


def exact_set(cases: list[Case], *, variant: str) -> float | None:
    """Exact-set accuracy (%) of `cases`' grid `variant`; None without one."""
    return percent([exact_set_right(c) for c in cases if c.kind == f"grid {variant}"])


def summarise_grid_gap(cases: list[Case]) -> dict[str, Any]:
    """Exact-set accuracy (%) per grid model and variant, each variant against clean, the
    limiter case by its gain reduction, per variant on the songs whose reference holds the
    top octave (``full band``: no ``reference_top_hz``) and on the others (``stops short``),
    and per variant how often each grid note came out wrong (its operations not those
    applied there)."""
    summary: dict[str, Any] = {
        "songs": len({c.song for c in cases}),
        "songs_with_full_band_reference": len(
            {c.song for c in cases if c.reference_top_hz is None}
        ),
        "models": {},
    }
    for model in dict.fromkeys(c.model for c in cases):
        of_model = [c for c in cases if c.model == model]
        figures: dict[str, Any] = {v: exact_set(of_model, variant=v) for v in GRID_VARIANTS}
        clean = figures["clean"]
        figures["points_under_clean"] = {
            v: None if figures[v] is None or clean is None else round(clean - figures[v], 1)
            for v in GRID_VARIANTS[1:]
        }
        limited = [c for c in of_model if c.kind == "grid limiter"]
        figures["limiter_by_gain_reduction_db"] = {
            f"{low:g}-{high:g}": percent(
                [
                    exact_set_right(c)
                    for c in limited
                    if low <= (c.limiter_gain_reduction_db or 0.0) < high
                ]
            )
            for low, high in GAIN_REDUCTION_BINS_DB
        }
        figures["by_reference"] = {
            group: {v: exact_set(members, variant=v) for v in GRID_VARIANTS}
            for group, members in (
                ("full band", [c for c in of_model if c.reference_top_hz is None]),
                ("stops short", [c for c in of_model if c.reference_top_hz is not None]),
            )
        }
        n_notes = len(GridConfig.parse(model).notes_hz)
        figures["wrong_note_counts"] = {
            variant: np.bincount(
                [note for c in of_model if c.kind == f"grid {variant}" for note in wrong_notes(c)],
                minlength=n_notes,
            ).tolist()
            for variant in GRID_VARIANTS
        }
        summary["models"][model] = figures
    summary["seconds_per_rating_median"] = round(float(np.median([c.seconds for c in cases])), 2)
    return summary


def write_cases(path: Path, cases: list[Case]) -> None:
    """Every case and its answer, as JSON (``--out``)."""
    rows = [
        {
            "song": c.song,
            "kind": c.kind,
            "applied": [op.__dict__ for op in c.operations],
            "chain": c.chain,
            "limiter_gain_reduction_db": c.limiter_gain_reduction_db,
            "reference_top_hz": c.reference_top_hz,
            "model": c.model,
            "found": c.answer,
        }
        for c in cases
    ]
    path.write_text(json.dumps(rows, indent=1, default=str))


def read_cases(path: Path) -> list[Case]:
    """The cases and answers of an ``--out`` file."""
    return [
        Case(
            song=row["song"],
            kind=row["kind"],
            operations=[EqOperation(**op) for op in row["applied"]],
            chain=row["chain"],
            model=row["model"],
            answer=row["found"],
            limiter_gain_reduction_db=row["limiter_gain_reduction_db"],
            reference_top_hz=row["reference_top_hz"],
        )
        for row in json.loads(path.read_text())
    ]


def paired_grid_gap(pairs: list[tuple[list[Case], list[Case]]]) -> dict[str, Any]:
    """Per grid variant, pooled over `pairs` (the first model's cases, the second's, on the
    same renders): exact-set accuracy (%) of each, the cases only the second got right
    (``won``) and only the first (``lost``), and McNemar's z of the second against the first."""
    first: dict[str, list[bool]] = {v: [] for v in GRID_VARIANTS}
    second: dict[str, list[bool]] = {v: [] for v in GRID_VARIANTS}
    for old, new in pairs:
        for a, b in zip(old, new, strict=True):
            if (a.song, a.kind, a.model) != (b.song, b.kind, b.model):
                raise ValueError(
                    f"not the same renders: {a.song} {a.kind} against {b.song} {b.kind}"
                )
            variant = a.kind.removeprefix("grid ")
            first[variant].append(exact_set_right(a))
            second[variant].append(exact_set_right(b))
    summary: dict[str, Any] = {}
    for variant in GRID_VARIANTS:
        a, b = np.array(first[variant]), np.array(second[variant])
        if a.size:
            summary[variant] = {
                "cases": int(a.size),
                "first": percent(a.tolist()),
                "second": percent(b.tolist()),
                "won": int(np.sum(b & ~a)),
                "lost": int(np.sum(a & ~b)),
                "mcnemar_z": round(mcnemar_z(b, a), 2),
            }
    return summary


def validation_songs(*, count: int, data_dir: Path, folder: Path) -> list[Path]:
    """The first clip of `count` validation tracks, as float WAVs in `folder`."""
    if count <= 0:
        return []
    layout = CorpusLayout(data_dir)
    tracks = [t for t in read_manifest(MANIFEST) if t.split == "validation" and t.n_clips]
    # Every k-th, so that the songs come from many packages.
    step = max(1, len(tracks) // count)
    paths = []
    for track in tracks[::step][:count]:
        clip = layout.clip_path(track, 0)
        if not clip.is_file():
            continue
        path = folder / f"{track.md5}.wav"
        sf.write(path, np.load(clip), SR, subtype="FLOAT")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--songs", type=int, default=20, help="validation tracks to use")
    parser.add_argument("--file", type=Path, action="append", default=[], help="also these songs")
    parser.add_argument("--model", default="general")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="every answer, as JSON")
    parser.add_argument(
        "--grid-gap",
        action="append",
        default=[],
        metavar="MODEL",
        help="measure the grid models' gap (see above) for this grid model, or 'all'",
    )
    parser.add_argument(
        "--issue-examples",
        action="store_true",
        help="only issue 19's four examples on each song (right: one operation, type,"
        " frequency within 1/3 octave, gain within 1.5 dB)",
    )
    parser.add_argument(
        "--limiter", choices=LIMITERS, default="brickwall", help="pedalboard's limiter to use"
    )
    parser.add_argument(
        "--pair",
        nargs=2,
        action="append",
        default=[],
        type=Path,
        metavar=("FIRST", "SECOND"),
        help="pair two --grid-gap --out files of the same renders instead of rating (pooled)",
    )
    args = parser.parse_args(argv)
    if args.pair:
        pairs = [(read_cases(first), read_cases(second)) for first, second in args.pair]
        print(json.dumps(paired_grid_gap(pairs), indent=1))
        return 0
    settings = get_settings()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        songs = validation_songs(count=args.songs, data_dir=settings.DATA_DIR, folder=folder)
        for path in args.file:
            converted = folder / f"{path.stem}.wav"
            subprocess.run(
                ["sox", "-D", str(path), "-e", "floating-point", "-b", "32", str(converted)],
                check=True,
            )
            songs.append(converted)
        grid_models = [c.id for c in GRID_CONFIGS] if "all" in args.grid_gap else args.grid_gap
        if grid_models:
            cases = [
                case
                for song in songs
                for model in grid_models
                for case in grid_cases(song.stem, rng=rng, model=model)
            ]
        else:
            make_cases = issue_cases if args.issue_examples else partial(cases_for, rng=rng)
            cases = [
                replace(case, model=args.model) for song in songs for case in make_cases(song.stem)
            ]
        candidates = [
            render(
                folder / f"{c.song}.wav",
                c,
                target=folder / f"candidate-{k}.wav",
                rng=rng,
                limiter=args.limiter,
            )
            for k, c in enumerate(cases)
        ]
        app_settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            DATA_DIR=folder / "var",
            DATABASE_URL="",
            MODELS_DIR=settings.MODELS_DIR,
            MAX_UPLOAD_MB=40,
            MAX_CONCURRENT_ANALYSES=args.workers,
            MAX_QUEUED_ANALYSES=args.workers,
        )
        with TestClient(create_app(app_settings)) as client:

            def rate(pair: tuple[Case, Path]) -> None:
                case, candidate = pair
                started = time.perf_counter()
                reply = client.post(
                    "/rate",
                    files={
                        "reference": (
                            "reference.wav",
                            (folder / f"{case.song}.wav").read_bytes(),
                            "audio/wav",
                        ),
                        "candidate": ("candidate.wav", candidate.read_bytes(), "audio/wav"),
                    },
                    data={"model": case.model},
                )
                reply.raise_for_status()
                body = reply.json()
                case.answer = body["operations"]
                case.reference_top_hz = body["alignment"]["reference_top_hz"]
                case.seconds = time.perf_counter() - started

            with ThreadPoolExecutor(max_workers=args.workers) as pool:
                list(pool.map(rate, zip(cases, candidates, strict=True)))
    summary = summarise_grid_gap(cases) if grid_models else summarise(cases)
    summary["model"] = ", ".join(grid_models) or args.model
    summary["command"] = "python ops/rate_check.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    print(json.dumps(summary, indent=1))
    if args.out:
        write_cases(args.out, cases)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
