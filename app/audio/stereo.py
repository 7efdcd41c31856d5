"""Stereo image per octave band: width (side against mid energy) and L/R correlation.

With M = (L + R) / 2 and S = (L - R) / 2, a band's width is
10 log10(E_S / E_M) in dB (-inf for dual mono, 0 dB for uncorrelated
channels, +inf for out-of-phase ones) and its correlation is
sum(L R) / sqrt(sum(L^2) sum(R^2)). Both come from the 100 ms frame spectra
by Parseval's theorem, so no band is filtered in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.audio.loudness import FrameSpectra

#: Nominal centres of the octave bands every per-band measure uses, Hz.
OCTAVE_CENTRES_HZ = (63, 125, 250, 500, 1000, 2000, 4000, 8000, 16000)
#: Widths are clamped to this range, dB (dual mono would read -inf).
WIDTH_LIMIT_DB = 60.0
#: Correlation below which a band with energy is a mono-compatibility problem
#: (slightly under 0, so that independent channels, which read 0 +- noise, are not).
MONO_CORRELATION_LIMIT = -0.1
#: A band "has energy" when it is within this many dB of the file's loudest band.
ENERGY_RANGE_DB = 30.0


def octave_edges_hz(*, sample_rate_hz: int) -> list[tuple[float, float]]:
    """Edges of the octave bands (exact centres 1 kHz * 2^k), the top one cut at Nyquist.

    Examples
    --------
    >>> [(round(lo), round(hi)) for lo, hi in octave_edges_hz(sample_rate_hz=44_100)][-2:]
    [(5657, 11314), (11314, 22050)]
    """
    edges = []
    for nominal in OCTAVE_CENTRES_HZ:
        centre = 1000.0 * 2 ** round(np.log2(nominal / 1000.0))
        edges.append((centre / 2**0.5, min(centre * 2**0.5, sample_rate_hz / 2)))
    return edges


def band_slices(frames: FrameSpectra) -> list[slice]:
    """The bins of each octave band in the frame spectra."""
    frequencies = frames.frequencies_hz
    slices = []
    for low, high in octave_edges_hz(sample_rate_hz=frames.sample_rate_hz):
        start = int(np.searchsorted(frequencies, low))
        stop = int(np.searchsorted(frequencies, high, side="right"))
        slices.append(slice(start, stop))
    return slices


@dataclass(frozen=True, kw_only=True)
class StereoBand:
    """Width and correlation of one octave band."""

    low_hz: float
    high_hz: float
    width_db: float
    correlation: float
    #: Energy of the band against the file's loudest band, dB.
    relative_energy_db: float

    @property
    def has_energy(self) -> bool:
        """Whether the band is loud enough for its stereo image to matter."""
        return self.relative_energy_db >= -ENERGY_RANGE_DB

    @property
    def mono_problem(self) -> bool:
        """A band with energy whose channels are anti-correlated cancels in mono."""
        return self.has_energy and self.correlation < MONO_CORRELATION_LIMIT


@dataclass(frozen=True, kw_only=True)
class Stereo:
    """The stereo image of one file."""

    correlation: float
    bands: list[StereoBand]


def _ratio_db(numerator: float, denominator: float) -> float:
    if denominator <= 0:
        return WIDTH_LIMIT_DB
    if numerator <= 0:
        return -WIDTH_LIMIT_DB
    return float(np.clip(10 * np.log10(numerator / denominator), -WIDTH_LIMIT_DB, WIDTH_LIMIT_DB))


def _correlation(cross: float, left: float, right: float) -> float:
    return float(cross / np.sqrt(left * right)) if left > 0 and right > 0 else 1.0


def measure_stereo(frames: FrameSpectra) -> Stereo | None:
    """Measure width and correlation overall and per octave band.

    Parameters
    ----------
    frames : FrameSpectra
        The file's frame spectra; its first two channels are left and right.

    Returns
    -------
    Stereo or None
        None for a mono file.

    Examples
    --------
    >>> from app.audio.loudness import frame_spectra
    >>> rng = np.random.default_rng(0)
    >>> left, right = rng.standard_normal((2, 44_100))
    >>> wide = measure_stereo(frame_spectra(np.stack([left, right], 1), sample_rate_hz=44_100))
    >>> round(wide.bands[5].width_db), round(wide.correlation, 1)
    (0, 0.0)
    """
    if frames.spectra.shape[0] < 2:
        return None
    weights = frames.bin_weights
    left_energy = _summed(frames.power[0], weights)
    right_energy = _summed(frames.power[1], weights)
    mid = _summed(frames.mid_power, weights)
    # L R = M^2 - S^2 and M^2 + S^2 = (L^2 + R^2) / 2, bin by bin.
    side = np.maximum((left_energy + right_energy) / 2 - mid, 0.0)
    energies = _band_sums(left_energy + right_energy, frames)
    loudest = max(max(energies), 1e-30)
    bands = []
    for (low, high), mid_band, side_band, left_band, right_band, energy in zip(
        octave_edges_hz(sample_rate_hz=frames.sample_rate_hz),
        _band_sums(mid, frames),
        _band_sums(side, frames),
        _band_sums(left_energy, frames),
        _band_sums(right_energy, frames),
        energies,
        strict=True,
    ):
        bands.append(
            StereoBand(
                low_hz=low,
                high_hz=high,
                width_db=_ratio_db(side_band, mid_band),
                correlation=_correlation(mid_band - side_band, left_band, right_band),
                relative_energy_db=float(10 * np.log10(max(energy, 1e-30) / loudest)),
            )
        )
    cross = float(np.sum(mid) - np.sum(side))
    return Stereo(
        correlation=_correlation(cross, float(np.sum(left_energy)), float(np.sum(right_energy))),
        bands=bands,
    )


def _summed(power: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Energy of each bin summed over the frames."""
    return np.asarray(weights * power.sum(axis=0), dtype=float)


def _band_sums(per_bin: np.ndarray, frames: FrameSpectra) -> list[float]:
    return [float(per_bin[band].sum()) for band in band_slices(frames)]
