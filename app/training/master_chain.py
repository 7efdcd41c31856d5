"""The dynamics a trainee's master goes through: a compressor and a limiter (training only).

Spotify's pedalboard (a `dev` extra, never imported by the service) supplies a
real compressor (JUCE's). The limiters are of the kinds a master goes through
(`LimiterKind`): three of our own, a lookahead brickwall, a brickwall without
lookahead and a hard clipper, and pedalboard's `Limiter` (JUCE's), which runs
a fixed 4:1 compressor above -10 dBFS ahead of its brickwall and hard-clips
its make-up gain, so it took off 3.7 dB when asked for none and clipped 9 % of
the samples when asked for 9 dB (issue 19, stop 31): harsher than its name
says, as cheap limiters are. `ops/rate_check.py`'s brickwall (pedalboard's
compressor at 1000:1) is a limiter the models never saw. The settings are
drawn from the ranges mastering engineers use: a compressor at -30 to -8 dBFS,
ratio 1.5:1 to 6:1, attack 1 to 50 ms, release 50 to 500 ms; a limiter taking
off 0 to 12 dB of gain at the peaks (a clipper 0 to 6 dB), release 20 to
300 ms. Clips sit at -12 dBFS peak, so the chain first raises them to full
scale, as a master would hit it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from scipy.ndimage import minimum_filter1d

#: Ranges drawn from (inclusive): threshold (dBFS), ratio, attack and release (ms).
COMPRESSOR_THRESHOLD_DBFS = (-30.0, -8.0)
COMPRESSOR_RATIO = (1.5, 6.0)
COMPRESSOR_ATTACK_MS = (1.0, 50.0)
COMPRESSOR_RELEASE_MS = (50.0, 500.0)
#: Peak gain reduction of the limiter (dB) and its release (ms).
LIMITER_GAIN_REDUCTION_DB = (0.0, 12.0)
LIMITER_RELEASE_MS = (20.0, 300.0)
#: A clipper's peak gain reduction (dB): past about 6 dB it is audibly distorting.
CLIPPER_GAIN_REDUCTION_DB = (0.0, 6.0)
#: How far ahead the limiter looks, and so how long it takes to pull its gain down.
LIMITER_LOOKAHEAD_MS = 3.0
#: Which limiters rendered a shard's chain examples: 1 pedalboard's (JUCE's), 2 our
#: lookahead brickwall, 3 our three kinds, 4 every `LimiterKind`. Shards of an older one
#: re-render their limited examples (`app.training.synth`).
LIMITER_VERSION = 4


class LimiterKind(IntEnum):
    """The kinds of limiter a chain draws from, alike in probability."""

    #: A brickwall that pulls its gain down over `LIMITER_LOOKAHEAD_MS` ahead of each peak.
    LOOKAHEAD = 0
    #: A brickwall without lookahead: it flattens each peak's top, then releases.
    INSTANT = 1
    #: A hard clipper: no release, every sample over the ceiling cut to it.
    CLIPPER = 2
    #: pedalboard's `Limiter` (JUCE's): a 4:1 compressor above -10 dBFS (2 ms attack, 200 ms
    #: release), a brickwall at the ceiling, then make-up gain hard-clipped at full scale.
    JUCE = 3


@dataclass(frozen=True, kw_only=True)
class MasterChain:
    """A compressor, a limiter or both; a NaN field means that stage is absent."""

    threshold_dbfs: float = float("nan")
    ratio: float = float("nan")
    attack_ms: float = float("nan")
    release_ms: float = float("nan")
    limiter_gain_reduction_db: float = float("nan")
    limiter_release_ms: float = float("nan")
    #: A `LimiterKind`'s value; a chain written before kinds holds NaN, the lookahead one.
    limiter_kind: float = float("nan")

    @property
    def compresses(self) -> bool:
        """Whether the chain has a compressor."""
        return bool(np.isfinite(self.threshold_dbfs))

    @property
    def limits(self) -> bool:
        """Whether the chain has a limiter."""
        return bool(np.isfinite(self.limiter_gain_reduction_db))

    @property
    def kind(self) -> LimiterKind:
        """The limiter's kind."""
        if np.isfinite(self.limiter_kind):
            return LimiterKind(int(self.limiter_kind))
        return LimiterKind.LOOKAHEAD

    def to_row(self) -> np.ndarray:
        """The parameters in field order, for a shard's ``chain`` array."""
        return np.array([getattr(self, f.name) for f in dataclasses.fields(self)], np.float32)

    @classmethod
    def from_row(cls, row: np.ndarray) -> MasterChain:
        """Inverse of `to_row`."""
        names = [f.name for f in dataclasses.fields(cls)]
        return cls(**{name: float(v) for name, v in zip(names, row, strict=True)})


_COLUMNS = [f.name for f in dataclasses.fields(MasterChain)]
#: The columns of `MasterChain.to_row` holding the limiter's gain reduction and kind
#: (NaN without a limiter).
LIMITER_GAIN_REDUCTION_COLUMN = _COLUMNS.index("limiter_gain_reduction_db")
LIMITER_KIND_COLUMN = _COLUMNS.index("limiter_kind")


def widened_rows(rows: np.ndarray) -> np.ndarray:
    """A shard's ``chain`` rows with today's columns: those a shard written before a
    field was added lacks read NaN (a stage or setting absent; a limiter's kind, the
    lookahead one it then was)."""
    missing = np.full((len(rows), len(_COLUMNS) - rows.shape[1]), np.nan, dtype=np.float32)
    return np.concatenate([rows.astype(np.float32), missing], axis=1)


def draw_chain(
    *,
    rng: np.random.Generator,
    compressor: bool,
    limiter: bool,
    kind_rng: np.random.Generator | None = None,
) -> MasterChain:
    """Random settings of the stages asked for (log-uniform times and ratio).

    The limiter's kind comes from `kind_rng`, so that a dataset adds kinds
    without changing any other draw; without it, the limiter is the lookahead
    one and nothing more is drawn (`ops/rate_check.py` draws as it always did).
    """

    def log_uniform(bounds: tuple[float, float]) -> float:
        return float(np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]))))

    fields: dict[str, float] = {}
    if compressor:
        fields |= {
            "threshold_dbfs": float(rng.uniform(*COMPRESSOR_THRESHOLD_DBFS)),
            "ratio": log_uniform(COMPRESSOR_RATIO),
            "attack_ms": log_uniform(COMPRESSOR_ATTACK_MS),
            "release_ms": log_uniform(COMPRESSOR_RELEASE_MS),
        }
    if limiter:
        reduction_db = float(rng.uniform(*LIMITER_GAIN_REDUCTION_DB))
        kind = LimiterKind.LOOKAHEAD
        if kind_rng is not None:
            kind = LimiterKind(int(kind_rng.integers(len(LimiterKind))))
        if kind is LimiterKind.CLIPPER:  # the same draw, scaled into the clipper's range
            reduction_db *= CLIPPER_GAIN_REDUCTION_DB[1] / LIMITER_GAIN_REDUCTION_DB[1]
        fields |= {
            "limiter_gain_reduction_db": reduction_db,
            "limiter_release_ms": log_uniform(LIMITER_RELEASE_MS),
            "limiter_kind": float(kind),
        }
    return MasterChain(**fields)


def lookahead_limit(
    samples: np.ndarray,
    *,
    ceiling: float,
    sample_rate_hz: int,
    release_ms: float,
    lookahead_ms: float = LIMITER_LOOKAHEAD_MS,
) -> np.ndarray:
    """A brickwall limiter with lookahead: no sample of mono `samples` leaves above `ceiling`.

    Parameters
    ----------
    samples
        Mono signal, any level.
    ceiling
        Largest magnitude the output may reach (linear).
    sample_rate_hz
        Sample rate of `samples`.
    release_ms
        Time constant of the gain reduction's exponential decay (in dB) once a
        peak has passed.
    lookahead_ms
        How long before a peak the gain starts to fall.

    Returns
    -------
    numpy.ndarray
        The limited signal, float32, aligned with `samples` (the lookahead's
        delay taken out).

    Notes
    -----
    Each sample needs a gain of ``ceiling / |x|`` (at most 1). The gain held at a
    sample is the least needed over the next lookahead window; its reduction in
    dB then releases exponentially (a running maximum of the reductions decayed
    since, computed in the log domain without a loop), and a moving average
    over the lookahead window ramps it down ahead of each peak. Every gain that
    average takes in was held for a window covering the peak, so the output
    never exceeds `ceiling`, and the ramp spares the waveform the flat tops of
    a limiter without lookahead.
    """
    window = max(1, int(round(lookahead_ms * sample_rate_hz / 1000.0)))
    level = np.abs(samples.astype(np.float64))
    needed = np.minimum(1.0, ceiling / np.maximum(level, 1e-12))
    held = minimum_filter1d(needed, size=window, origin=-(window // 2), mode="nearest")
    reduction_db = -20.0 * np.log10(held)
    decay_per_sample = 1000.0 / (release_ms * sample_rate_hz)
    ramp = np.arange(len(samples)) * decay_per_sample
    with np.errstate(divide="ignore"):
        released_db = np.exp(np.maximum.accumulate(np.log(reduction_db) + ramp) - ramp)
    gain = 10.0 ** (-released_db / 20.0)
    padded = np.concatenate([np.full(window, gain[0]), gain])
    sums = np.cumsum(padded)
    smoothed = (sums[window:] - sums[:-window]) / window
    return (samples * smoothed).astype(np.float32)


def apply_chain(
    samples: np.ndarray, chain: MasterChain, *, sample_rate_hz: int, input_gain_db: float
) -> np.ndarray:
    """Run mono `samples`, raised by `input_gain_db`, through the chain's stages.

    The limiter's ceiling sits its gain reduction below the peak it sees (after
    the compressor), so the loudest peak loses that much; its make-up gain then
    brings the ceiling back up to that peak, as a mastering limiter's output
    ceiling does.
    """
    # Imported here: the service image has no pedalboard (GPLv3, training only), and its
    # CLI imports the training commands.
    from pedalboard import Compressor, Limiter

    raised = (samples * np.float32(10.0 ** (input_gain_db / 20.0))).astype(np.float32)
    if chain.compresses:
        compressor = Compressor(
            threshold_db=chain.threshold_dbfs,
            ratio=chain.ratio,
            attack_ms=chain.attack_ms,
            release_ms=chain.release_ms,
        )
        raised = compressor(raised, sample_rate_hz)
    if chain.limits:
        make_up = 10.0 ** (chain.limiter_gain_reduction_db / 20.0)
        ceiling = float(np.max(np.abs(raised))) / make_up
        if chain.kind is LimiterKind.CLIPPER:
            limited = np.clip(raised, -ceiling, ceiling)
        elif chain.kind is LimiterKind.JUCE:
            juce = Limiter(
                threshold_db=20.0 * np.log10(max(ceiling, 1e-12)),
                release_ms=chain.limiter_release_ms,
            )
            limited = juce(raised, sample_rate_hz)
            # Its own make-up gain and clip set its level: bring its peak to the ceiling.
            limited = limited * np.float32(ceiling / max(float(np.max(np.abs(limited))), 1e-12))
        else:
            limited = lookahead_limit(
                raised,
                ceiling=ceiling,
                sample_rate_hz=sample_rate_hz,
                release_ms=chain.limiter_release_ms,
                lookahead_ms=LIMITER_LOOKAHEAD_MS if chain.kind is LimiterKind.LOOKAHEAD else 0.0,
            )
        raised = limited * np.float32(make_up)
    return np.asarray(raised, dtype=np.float32)
