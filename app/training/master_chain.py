"""The dynamics a trainee's master goes through: a compressor and a limiter (training only).

Spotify's pedalboard (a `dev` extra, never imported by the service) supplies a
real compressor and a real limiter (JUCE's). Their settings are drawn from the
ranges mastering engineers use: a compressor at -30 to -8 dBFS, ratio 1.5:1 to
6:1, attack 1 to 50 ms, release 50 to 500 ms; a limiter taking off 0 to 12 dB
of gain at the peaks, release 20 to 300 ms. Clips sit at -12 dBFS peak, so the
chain first raises them to full scale, as a master would hit it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Ranges drawn from (inclusive): threshold (dBFS), ratio, attack and release (ms).
COMPRESSOR_THRESHOLD_DBFS = (-30.0, -8.0)
COMPRESSOR_RATIO = (1.5, 6.0)
COMPRESSOR_ATTACK_MS = (1.0, 50.0)
COMPRESSOR_RELEASE_MS = (50.0, 500.0)
#: Peak gain reduction of the limiter (dB) and its release (ms).
LIMITER_GAIN_REDUCTION_DB = (0.0, 12.0)
LIMITER_RELEASE_MS = (20.0, 300.0)
#: Number of parameters a chain is stored as (`MasterChain.to_row`).
CHAIN_COLUMNS = 6


@dataclass(frozen=True, kw_only=True)
class MasterChain:
    """A compressor, a limiter or both; a NaN field means that stage is absent."""

    threshold_dbfs: float = float("nan")
    ratio: float = float("nan")
    attack_ms: float = float("nan")
    release_ms: float = float("nan")
    limiter_gain_reduction_db: float = float("nan")
    limiter_release_ms: float = float("nan")

    @property
    def compresses(self) -> bool:
        """Whether the chain has a compressor."""
        return bool(np.isfinite(self.threshold_dbfs))

    @property
    def limits(self) -> bool:
        """Whether the chain has a limiter."""
        return bool(np.isfinite(self.limiter_gain_reduction_db))

    def to_row(self) -> np.ndarray:
        """The six parameters in field order, for a shard's ``chain`` array."""
        return np.array(
            [
                self.threshold_dbfs,
                self.ratio,
                self.attack_ms,
                self.release_ms,
                self.limiter_gain_reduction_db,
                self.limiter_release_ms,
            ],
            dtype=np.float32,
        )

    @classmethod
    def from_row(cls, row: np.ndarray) -> MasterChain:
        """Inverse of `to_row`."""
        values = [float(v) for v in row]
        return cls(
            threshold_dbfs=values[0],
            ratio=values[1],
            attack_ms=values[2],
            release_ms=values[3],
            limiter_gain_reduction_db=values[4],
            limiter_release_ms=values[5],
        )


def draw_chain(*, rng: np.random.Generator, compressor: bool, limiter: bool) -> MasterChain:
    """Random settings of the stages asked for (log-uniform times and ratio)."""

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
        fields |= {
            "limiter_gain_reduction_db": float(rng.uniform(*LIMITER_GAIN_REDUCTION_DB)),
            "limiter_release_ms": log_uniform(LIMITER_RELEASE_MS),
        }
    return MasterChain(**fields)


def apply_chain(
    samples: np.ndarray, chain: MasterChain, *, sample_rate_hz: int, input_gain_db: float
) -> np.ndarray:
    """Run mono `samples`, raised by `input_gain_db`, through the chain's stages.

    The limiter's threshold sits its gain reduction below the peak it sees
    (after the compressor), so the loudest peak loses about that much.
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
        peak_dbfs = 20.0 * np.log10(float(np.max(np.abs(raised))) + 1e-12)
        limiter = Limiter(
            threshold_db=peak_dbfs - chain.limiter_gain_reduction_db,
            release_ms=chain.limiter_release_ms,
        )
        raised = limiter(raised, sample_rate_hz)
    return np.asarray(raised, dtype=np.float32)
