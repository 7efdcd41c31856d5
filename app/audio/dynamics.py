"""Dynamics of a master: crest factor per octave band and the PSR distribution.

Crest factor is a band's peak over its RMS, in dB; the peak is that of the
band's envelope (the magnitude of its analytic signal), read from the 100 ms
frame spectra by an inverse FFT of each band's bins alone, so a band costs
what its bandwidth costs. PSR (peak to short-term loudness ratio, after
Skovenborg, AES Convention 143 e-brief 373) is the true peak of each 3 s
window minus its short-term loudness; a limiter or compressor lowers it. The
difference of the two masters' median PSR estimates how much harder the
candidate is limited and compressed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft

from app.audio.loudness import FrameSpectra, Loudness, range_gate
from app.audio.stereo import band_slices, octave_edges_hz

#: Percentiles reported of the PSR distribution.
PSR_PERCENTILES = (10, 50, 90)


@dataclass(frozen=True, kw_only=True)
class BandCrest:
    """Crest factor of one octave band."""

    low_hz: float
    high_hz: float
    crest_db: float


@dataclass(frozen=True, kw_only=True)
class Psr:
    """Distribution of the PSR over the file's (range-gated) 3 s windows, dB."""

    p10_db: float
    median_db: float
    p90_db: float


@dataclass(frozen=True, kw_only=True)
class Dynamics:
    """Dynamics of one file."""

    bands: list[BandCrest]
    psr: Psr


def band_crest_db(frames: FrameSpectra) -> list[BandCrest]:
    """Crest factor of the mono mix in each octave band, dB.

    Parameters
    ----------
    frames : FrameSpectra
        The file's frame spectra (the channels are averaged: the mono mix).

    Returns
    -------
    list of BandCrest
        From 63 Hz to 16 kHz; a band without energy reads 0 dB.

    Examples
    --------
    A sine's crest factor is 3 dB.

    >>> from app.audio.loudness import frame_spectra
    >>> t = np.arange(10 * 44_100) / 44_100
    >>> tone = np.sin(2 * np.pi * 1000 * t)
    >>> round(band_crest_db(frame_spectra(tone, sample_rate_hz=44_100))[4].crest_db, 1)
    3.0
    """
    mono = frames.mid
    weights = frames.bin_weights
    samples = frames.spectra.shape[1] * frames.frame_length
    crests = []
    for (low, high), band in zip(
        octave_edges_hz(sample_rate_hz=frames.sample_rate_hz), band_slices(frames), strict=True
    ):
        bins = mono[:, band]
        energy = float(np.sum(weights[band] * frames.mid_power[:, band].sum(axis=0)))
        if bins.shape[1] == 0 or energy <= 0 or samples == 0:
            crests.append(BandCrest(low_hz=low, high_hz=high, crest_db=0.0))
            continue
        peak = _envelope_peak(bins, magnitude=np.sqrt(frames.mid_power[:, band]), frames=frames)
        rms = np.sqrt(energy / samples)
        crests.append(
            BandCrest(low_hz=low, high_hz=high, crest_db=float(20 * np.log10(peak / rms)))
        )
    return crests


#: Frames whose band envelope is computed first (the loudest bounds), then at a time.
_FIRST_FRAMES = 32
_FRAMES_PER_STEP = 128


def _envelope_peak(bins: np.ndarray, *, magnitude: np.ndarray, frames: FrameSpectra) -> float:
    """Peak of a band's envelope (its analytic signal, twice critically sampled, per frame).

    A frame's envelope cannot top (2/N) times the sum of its bins' magnitudes,
    so frames are visited loudest bound first and the search stops once no
    frame left can beat the peak found: sparse bands transform few frames.
    """
    scale = 2.0 / frames.frame_length
    bounds = magnitude.sum(axis=1) * scale
    order = np.argsort(bounds)[::-1]
    length = sfft.next_fast_len(2 * bins.shape[1])
    peak_squared = 0.0
    start, size = 0, _FIRST_FRAMES
    while start < len(order):
        chosen = order[start : start + size]
        start, size = start + size, _FRAMES_PER_STEP
        if bounds[chosen[0]] ** 2 <= peak_squared:
            break
        # Zero-padded in place: the transform then needs no copy of its own.
        envelope = np.zeros((len(chosen), length), dtype=bins.dtype)
        envelope[:, : bins.shape[1]] = bins[chosen]
        envelope = sfft.ifft(envelope, axis=1, overwrite_x=True)
        power = envelope.real * envelope.real
        power += envelope.imag * envelope.imag
        peak_squared = max(peak_squared, float(power.max()) * (length * scale) ** 2)
    return peak_squared**0.5


def psr_distribution(loudness: Loudness) -> Psr:
    """Percentiles of the PSR over the 3 s windows the loudness range counts."""
    count = min(len(loudness.short_term_lufs), len(loudness.short_term_peak_dbtp))
    short_term = loudness.short_term_lufs[:count]
    kept = range_gate(short_term)
    if not kept.any():
        return Psr(p10_db=0.0, median_db=0.0, p90_db=0.0)
    psr = loudness.short_term_peak_dbtp[:count][kept] - short_term[kept]
    low, median, high = np.percentile(psr, PSR_PERCENTILES)
    return Psr(p10_db=float(low), median_db=float(median), p90_db=float(high))


def measure_dynamics(frames: FrameSpectra, *, loudness: Loudness) -> Dynamics:
    """Crest factors per band and the PSR distribution of one file."""
    return Dynamics(bands=band_crest_db(frames), psr=psr_distribution(loudness))


def limiting_difference_db(*, reference: Dynamics, candidate: Dynamics) -> float:
    """How much harder the candidate is limited and compressed than the reference, dB.

    The drop of the median PSR from reference to candidate: positive when the
    candidate's peaks stand less far above its loudness (more limiting or
    compression), negative when they stand further (less).
    """
    return reference.psr.median_db - candidate.psr.median_db
