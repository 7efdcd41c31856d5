"""Average STFT spectra, alignment of two masters and their dB difference in log bands.

The paper compares masters by their average STFT magnitude (n_fft 2048, hop
512). Its feature is the absolute linear difference. Ours is the signed log
ratio ``20 log10(A(T) / A(P))`` averaged into 1/12-octave bands from 20 Hz to
20 kHz, which for an EQ is close to the EQ's own response in dB, whatever the
song.

A 2048-point frame has 21.5 Hz bins and a Hann main lobe four bins wide, which
blurs bells below a few hundred Hz (C1 = 32.7 Hz and D#1 = 38.9 Hz share a
bin). The bands below ``crossover_hz`` therefore come from a second, long
average spectrum (16384 points, 2.7 Hz bins); an *average spectrum* here is the
short one's ``n_fft // 2 + 1`` bins followed by the long one's lowest bins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Literal

import numpy as np
import scipy.fft
from scipy import signal

#: Frames transformed per block: the windowed frames, their spectra and
#: magnitudes (about 1.3 MB at n_fft 2048) then stay in the CPU caches.
_BLOCK_FRAMES = 64


@dataclass(frozen=True, kw_only=True)
class SpectrumSpec:
    """Everything that fixes the shape and meaning of a spectrum feature."""

    sample_rate_hz: int = 44_100
    n_fft: int = 2048
    hop_length: int = 512
    min_frequency_hz: float = 20.0
    bands_per_octave: int = 12
    n_bands: int = 120
    low_n_fft: int = 16_384
    low_hop_length: int = 16_384
    crossover_hz: float = 320.0

    @property
    def band_edges_hz(self) -> np.ndarray:
        """The ``n_bands + 1`` edges, ``min_frequency_hz * 2 ** (k / bands_per_octave)``."""
        return band_edges_hz(
            min_frequency_hz=self.min_frequency_hz,
            bands_per_octave=self.bands_per_octave,
            n_bands=self.n_bands,
        )

    @property
    def band_centres_hz(self) -> np.ndarray:
        """Geometric centre of each band."""
        edges = self.band_edges_hz
        return np.sqrt(edges[:-1] * edges[1:])

    @property
    def bin_frequencies_hz(self) -> np.ndarray:
        """Frequency of each bin of an average spectrum: the short bins, then the long ones."""
        short = np.arange(self.n_fft // 2 + 1) * self.sample_rate_hz / self.n_fft
        long = np.arange(self.n_low_bins) * self.sample_rate_hz / self.low_n_fft
        return np.concatenate([short, long])

    @property
    def n_low_bins(self) -> int:
        """Bins kept from the long spectrum: up to one past the crossover."""
        return int(np.ceil(self.crossover_hz * self.low_n_fft / self.sample_rate_hz)) + 2

    @property
    def n_bins(self) -> int:
        """Length of an average spectrum."""
        return self.n_fft // 2 + 1 + self.n_low_bins


DEFAULT_SPEC = SpectrumSpec()


def band_edges_hz(*, min_frequency_hz: float, bands_per_octave: int, n_bands: int) -> np.ndarray:
    """Log-spaced band edges.

    Examples
    --------
    >>> band_edges_hz(min_frequency_hz=20.0, bands_per_octave=12, n_bands=120)[[0, -1]].tolist()
    [20.0, 20480.0]
    """
    return min_frequency_hz * 2.0 ** (np.arange(n_bands + 1) / bands_per_octave)


def average_magnitude(
    samples: np.ndarray, *, n_fft: int = 2048, hop_length: int = 512
) -> np.ndarray:
    """Mean over frames of the Hann-windowed STFT magnitude.

    Frames lie wholly inside the signal (no padding), one every ``hop_length``.

    Parameters
    ----------
    samples : np.ndarray
        Mono audio, shape ``(n,)`` with ``n >= n_fft``.
    n_fft : int
        Frame and FFT length.
    hop_length : int
        Step between frames.

    Returns
    -------
    np.ndarray
        Shape ``(n_fft // 2 + 1,)``, float64.

    Examples
    --------
    >>> sr = 44_100
    >>> tone = np.sin(2 * np.pi * 1000 * np.arange(sr) / sr).astype(np.float32)
    >>> int(np.argmax(average_magnitude(tone)) * sr / 2048)
    990
    """
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if samples.ndim != 1 or len(samples) < n_fft:
        raise ValueError(f"need mono audio of at least {n_fft} samples, got shape {samples.shape}")
    frames = np.lib.stride_tricks.sliding_window_view(samples, n_fft)[::hop_length]
    window = _hann(n_fft)
    total = np.zeros(n_fft // 2 + 1, dtype=np.float64)
    # Buffers reused block after block: no allocation (and no page faults) per block.
    windowed = np.empty((_BLOCK_FRAMES, n_fft), dtype=np.float32)
    magnitude = np.empty((_BLOCK_FRAMES, n_fft // 2 + 1), dtype=np.float32)
    for start in range(0, len(frames), _BLOCK_FRAMES):
        block = frames[start : start + _BLOCK_FRAMES]
        count = len(block)
        np.multiply(block, window, out=windowed[:count])
        spectrum = scipy.fft.rfft(windowed[:count], axis=1, overwrite_x=True)
        np.abs(spectrum, out=magnitude[:count])
        total += magnitude[:count].sum(axis=0, dtype=np.float64)
    return total / len(frames)


@cache
def _hann(n_fft: int) -> np.ndarray:
    return signal.get_window("hann", n_fft).astype(np.float32)


def average_spectrum(samples: np.ndarray, *, spec: SpectrumSpec = DEFAULT_SPEC) -> np.ndarray:
    """The short average magnitude followed by the low bins of the long one.

    The long spectrum is scaled by ``sqrt(n_fft / low_n_fft)`` so that noise
    reads the same level in both parts (only ratios matter to the features,
    but drawn spectra then join without a step).

    Parameters
    ----------
    samples : np.ndarray
        Mono audio at ``spec.sample_rate_hz``, at least ``spec.low_n_fft`` samples.
    spec : SpectrumSpec
        Frame lengths, hops and crossover.

    Returns
    -------
    np.ndarray
        Shape ``(spec.n_bins,)``, float64.

    Examples
    --------
    >>> sr = 44_100
    >>> tone = np.sin(2 * np.pi * 40 * np.arange(sr) / sr).astype(np.float32)
    >>> spectrum = average_spectrum(tone)
    >>> spectrum.shape == (DEFAULT_SPEC.n_bins,)
    True
    >>> round(float(DEFAULT_SPEC.bin_frequencies_hz[np.argmax(spectrum)]), 1)
    40.4
    """
    short = average_magnitude(samples, n_fft=spec.n_fft, hop_length=spec.hop_length)
    long = average_magnitude(samples, n_fft=spec.low_n_fft, hop_length=spec.low_hop_length)
    scale = np.sqrt(spec.n_fft / spec.low_n_fft)
    return np.concatenate([short, long[: spec.n_low_bins] * scale])


@cache
def band_matrix(spec: SpectrumSpec) -> np.ndarray:
    """Weights turning the bins of an average spectrum into band values.

    Bands that end below ``spec.crossover_hz`` read the long spectrum, the
    others the short one. A band that holds bins takes their mean; a band
    narrower than the bin spacing is linearly interpolated at its centre.
    """
    n_short = spec.n_fft // 2 + 1
    frequencies = spec.bin_frequencies_hz
    edges = spec.band_edges_hz
    weights = np.zeros((spec.n_bands, spec.n_bins))
    for band, (low, high) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        part = slice(n_short, None) if high <= spec.crossover_hz else slice(0, n_short)
        first, bins = part.start, frequencies[part]
        inside = np.flatnonzero((bins >= low) & (bins < high))
        if len(inside):
            weights[band, first + inside] = 1.0 / len(inside)
        else:
            centre = np.sqrt(low * high)
            right = int(np.searchsorted(bins, centre))
            fraction = (centre - bins[right - 1]) / (bins[right] - bins[right - 1])
            weights[band, first + right - 1] = 1.0 - fraction
            weights[band, first + right] = fraction
    weights.setflags(write=False)
    return weights


#: Magnitudes are floored this far below the reference's loudest bin (dB).
FLOOR_DB = -120.0
#: A reference band this far above `FLOOR_DB` reads the same with or without
#: the floor, even with the candidate cut by 12 dB and 6 dB quieter (dB).
CLEAR_OF_FLOOR_DB = 60.0


#: A reference band within this of `FLOOR_DB` holds no audio (above a lossy source's
#: cut-off, say): the difference there is only the level change both floors share
#: (dB; chosen on the general model's tuning tracks against 15 and 40).
NO_AUDIO_DB = 25.0


def _floor(reference_magnitude: np.ndarray) -> float:
    return float(np.max(reference_magnitude)) * 10.0 ** (FLOOR_DB / 20.0) + 1e-20


def bin_difference_db(
    reference_magnitude: np.ndarray, candidate_magnitude: np.ndarray, *, level_db: float = 0.0
) -> np.ndarray:
    """Signed per-bin ratio ``20 log10(candidate / reference)`` with a noise floor.

    The floor (`FLOOR_DB` below the reference's loudest bin) keeps empty bins
    (above a lossy codec's cut-off, say) from producing huge ratios. The
    candidate's floor sits `level_db` higher, so that bins empty in both files
    read as that level change, as a level change reads everywhere else.
    """
    floor = _floor(reference_magnitude)
    candidate_floor = floor * 10.0 ** (level_db / 20.0)
    return 20.0 * np.log10((candidate_magnitude + candidate_floor) / (reference_magnitude + floor))


def band_levels_db(magnitude: np.ndarray, *, spec: SpectrumSpec = DEFAULT_SPEC) -> np.ndarray:
    """Average spectrum in dB on the spec's log bands, 0 dB at the loudest band.

    Per-bin dB values (floored `FLOOR_DB` below the loudest bin) go through the
    same band weights as the difference: a mean over the bins inside a band, or
    the value interpolated at the centre of a band narrower than the bins.

    Examples
    --------
    >>> levels = band_levels_db(np.full(DEFAULT_SPEC.n_bins, 1e-3))
    >>> float(np.abs(levels).max()) < 1e-9
    True
    """
    magnitude = np.asarray(magnitude, dtype=float)
    levels = band_matrix(spec) @ (20.0 * np.log10(magnitude + _floor(magnitude)))
    return levels - float(np.max(levels))


def audible_top_band(reference_magnitude: np.ndarray, *, spec: SpectrumSpec = DEFAULT_SPEC) -> int:
    """The band after the highest one where the reference holds audio; ``n_bands`` at the top.

    Above it the band difference reads the level change alone (`band_difference_db`),
    which says nothing of an EQ move there: a fit that took it at its word would
    bend a high shelf or a low-pass back to 0 dB.

    Examples
    --------
    >>> music = np.where(DEFAULT_SPEC.bin_frequencies_hz < 16_000.0, 1.0, 0.0)
    >>> float(DEFAULT_SPEC.band_centres_hz[audible_top_band(music) - 1]) < 16_000.0
    True
    >>> audible_top_band(np.ones(DEFAULT_SPEC.n_bins)) == DEFAULT_SPEC.n_bands
    True
    """
    holds_audio = band_levels_db(reference_magnitude, spec=spec) > FLOOR_DB + NO_AUDIO_DB
    bands = np.flatnonzero(holds_audio)
    return int(bands[-1]) + 1 if len(bands) else spec.n_bands


#: A reference whose audio stops below this shows nothing of a move in the top
#: octave: it went through a lossy encoder (LAME's low-pass is about 16.7 kHz at
#: 128 kbps and 17.4 kHz at 160) or an old source. Many full masters stop at 18-20 kHz,
#: where their own anti-alias filter cuts, with nothing a trainee would move above.
REFERENCE_TOP_NOTICE_HZ = 17_500.0


def band_difference_db(
    reference_magnitude: np.ndarray,
    candidate_magnitude: np.ndarray,
    *,
    spec: SpectrumSpec = DEFAULT_SPEC,
    level_floor: bool = True,
) -> np.ndarray:
    """Signed dB difference of two average spectra, in the spec's log bands.

    Parameters
    ----------
    reference_magnitude, candidate_magnitude : np.ndarray
        Average spectra (`average_spectrum`), shape ``(spec.n_bins,)``.
    spec : SpectrumSpec
        Band layout.
    level_floor : bool
        Bins empty in both files read as the level change (below); without it,
        as 0 dB, as the models fitted before it read them.

    Returns
    -------
    np.ndarray
        Shape ``(spec.n_bands,)``: positive where the candidate is louder.
        Bins empty in both files (a song with nothing above 16 kHz, say) read
        as the level change of the bands clear of the floor (`level_offset_db`),
        not as 0 dB: a master 6 dB louder is 6 dB louder everywhere, even where
        neither file holds audio.

    Examples
    --------
    >>> music = np.where(DEFAULT_SPEC.bin_frequencies_hz < 16_000.0, 1.0, 0.0)
    >>> band_db = band_difference_db(music, 2.0 * music)  # 6 dB louder
    >>> bool(np.allclose(band_db, 6.02, atol=0.01))
    True
    """
    weights = band_matrix(spec)
    first = weights @ bin_difference_db(reference_magnitude, candidate_magnitude)
    if not level_floor:
        return first
    clear = band_levels_db(reference_magnitude, spec=spec) > FLOOR_DB + CLEAR_OF_FLOOR_DB
    level_db = level_offset_db(first, spec=spec, bands=clear)
    return weights @ bin_difference_db(reference_magnitude, candidate_magnitude, level_db=level_db)


#: A file that holds nothing above some frequency (a lossy encoder's low-pass,
#: most often) makes the band difference step by more than this between bands
#: two apart (1/6 octave), far steeper than any EQ bell can.
BAND_LIMIT_STEP_DB = 20.0
#: Band limits are looked for above this frequency (codecs cut at 4 kHz or higher).
BAND_LIMIT_MIN_HZ = 3_000.0


def band_limit_index(band_db: np.ndarray, *, spec: SpectrumSpec = DEFAULT_SPEC) -> int:
    """Index of the first band past a band limit of either file; ``n_bands`` when none.

    Parameters
    ----------
    band_db : np.ndarray
        Band difference, shape ``(spec.n_bands,)``.
    spec : SpectrumSpec
        Band layout.

    Returns
    -------
    int
        The band after the last one below the first step of more than
        `BAND_LIMIT_STEP_DB` (down: the candidate is band-limited; up: the
        reference is) above `BAND_LIMIT_MIN_HZ`.

    Examples
    --------
    >>> bands = np.zeros(DEFAULT_SPEC.n_bands)
    >>> bands[116:] = -70.0  # nothing left above 16 kHz
    >>> band_limit_index(bands)
    115
    """
    band_db = np.asarray(band_db, dtype=float)
    steps = np.abs(band_db[2:] - band_db[:-2]) > BAND_LIMIT_STEP_DB
    steps &= spec.band_centres_hz[:-2] >= BAND_LIMIT_MIN_HZ
    hits = np.flatnonzero(steps)
    return int(hits[0]) + 1 if len(hits) else spec.n_bands


#: A bell centred further than this past a band limit leaves too little of
#: itself below the limit to be told from the held flat difference.
BAND_LIMIT_MARGIN_OCTAVES = 0.25


def past_band_limit(frequency_hz: np.ndarray, *, band_limit_hz: float | None) -> np.ndarray:
    """Whether bells centred at `frequency_hz` lie too far past a band limit to be seen.

    Examples
    --------
    >>> past_band_limit(np.array([8_000.0, 16_744.0, 19_000.0]), band_limit_hz=15_343.0)
    array([False, False,  True])
    """
    frequency_hz = np.asarray(frequency_hz, dtype=float)
    if band_limit_hz is None:
        return np.zeros(frequency_hz.shape, dtype=bool)
    return frequency_hz > band_limit_hz * 2.0**BAND_LIMIT_MARGIN_OCTAVES


def hold_bands_from(band_db: np.ndarray, *, first_band: int) -> np.ndarray:
    """A copy of `band_db` whose bands from `first_band` on hold the band just below it."""
    held = np.array(band_db, dtype=float)
    held[first_band:] = held[first_band - 1]
    return held


def hold_band_limit(band_db: np.ndarray, *, spec: SpectrumSpec = DEFAULT_SPEC) -> np.ndarray:
    """`band_db` with the bands past `band_limit_index` holding the last band below it.

    What one file does not hold cannot tell an EQ move, so the models see the
    difference carry on flat instead of a cliff no EQ could make.
    """
    return hold_bands_from(band_db, first_band=band_limit_index(band_db, spec=spec))


def level_offset_db(
    band_db: np.ndarray,
    *,
    spec: SpectrumSpec = DEFAULT_SPEC,
    window_db: float = 0.5,
    min_frequency_hz: float = 20.0,
    max_frequency_hz: float = 20_480.0,
    bands: np.ndarray | None = None,
) -> float:
    """Estimate the broadband level change hidden in a band difference.

    An EQ changes some bands and leaves the rest alone, so the level change is
    where most bands agree: the median of the densest ``window_db``-wide
    cluster of band values between ``min_frequency_hz`` and ``max_frequency_hz``
    (of those `bands` marks, a boolean mask, when given).

    Examples
    --------
    >>> bands = np.full(120, -6.0)
    >>> bands[60:70] += 4.0  # an EQ boost on top of a 6 dB cut in level
    >>> level_offset_db(bands)
    -6.0
    """
    centres = spec.band_centres_hz
    read = (centres >= min_frequency_hz) & (centres <= max_frequency_hz)
    if bands is not None:
        read &= bands
    values = np.sort(band_db[read])
    ends = np.searchsorted(values, values + window_db, side="right")
    start = int(np.argmax(ends - np.arange(len(values))))
    return float(np.median(values[start : ends[start]]))


def paper_feature(reference_magnitude: np.ndarray, candidate_magnitude: np.ndarray) -> np.ndarray:
    """The paper's feature: ``|A(P) - A(T)|`` on linear magnitudes, first 1024 bins."""
    return np.abs(reference_magnitude[:1024] - candidate_magnitude[:1024])


def find_offset_samples(
    reference: np.ndarray, candidate: np.ndarray, *, decimation: int = 16
) -> int:
    """Lag ``d`` such that ``candidate[n]`` best matches ``reference[n + d]``.

    A positive lag means the candidate starts later in the song (its start was
    trimmed); a negative one, that it has extra audio before the song starts.
    The search runs on block-averaged signals, so the answer is exact to
    ``decimation`` samples, far below what an average spectrum can notice.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> song = rng.standard_normal(100_000).astype(np.float32)
    >>> abs(find_offset_samples(song, song[4_410:]) - 4_410) <= 16
    True
    """
    coarse_ref = _block_mean(reference, decimation)
    coarse_cand = _block_mean(candidate, decimation)
    correlation = signal.correlate(coarse_ref, coarse_cand, mode="full", method="fft")
    lag = int(np.argmax(correlation)) - (len(coarse_cand) - 1)
    return lag * decimation


def _block_mean(samples: np.ndarray, size: int) -> np.ndarray:
    usable = len(samples) // size * size
    return samples[:usable].reshape(-1, size).mean(axis=1, dtype=np.float32)


def aligned_excerpts(
    reference: np.ndarray, candidate: np.ndarray, *, offset_samples: int
) -> tuple[np.ndarray, np.ndarray]:
    """The part of the song both files hold, cut to the same length."""
    ref_start, cand_start = max(offset_samples, 0), max(-offset_samples, 0)
    length = min(len(reference) - ref_start, len(candidate) - cand_start)
    if length <= 0:
        raise ValueError("the two files share no audio at the found offset")
    return (
        reference[ref_start : ref_start + length],
        candidate[cand_start : cand_start + length],
    )


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """Two masters compared: spectra, how they were aligned, and their difference."""

    spec: SpectrumSpec
    reference_magnitude: np.ndarray
    candidate_magnitude: np.ndarray
    offset_samples: int
    overlap_s: float
    raw_band_db: np.ndarray
    level_offset_db: float
    band_db: np.ndarray = field(repr=False)
    #: The candidate was decoded from a lossy format: its codec's noise is part
    #: of the difference (models trained with `FeatureSpec.lossy_flag` use this).
    candidate_lossy: bool = False
    #: The time-aligned audio both spectra come from (views, not copies), for the
    #: models that read the transfer between them (`app.audio.transfer`).
    reference_excerpt: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    candidate_excerpt: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    @cached_property
    def band_limit_band(self) -> int:
        """First band past a band limit of either file (`band_limit_index`)."""
        return band_limit_index(self.band_db, spec=self.spec)

    @property
    def band_limit_hz(self) -> float | None:
        """Where one file stops holding audio, or None."""
        first = self.band_limit_band
        return float(self.spec.band_edges_hz[first]) if first < self.spec.n_bands else None

    @cached_property
    def reference_top_hz(self) -> float | None:
        """Where the reference stops holding audio (`audible_top_band`'s band edge), if
        below `REFERENCE_TOP_NOTICE_HZ`; None for a reference that goes on above it."""
        top = audible_top_band(self.reference_magnitude, spec=self.spec)
        top_hz = float(self.spec.band_edges_hz[top])
        return top_hz if top_hz < REFERENCE_TOP_NOTICE_HZ else None

    @property
    def band_limited_file(self) -> Literal["reference", "candidate"] | None:
        """``"candidate"`` or ``"reference"``: the file that stops at `band_limit_hz`."""
        first = self.band_limit_band
        if first >= self.spec.n_bands:
            return None
        return "candidate" if self.band_db[first + 1] < self.band_db[first - 1] else "reference"

    @property
    def offset_s(self) -> float:
        """Found offset in seconds (positive: the candidate starts later in the song)."""
        return self.offset_samples / self.spec.sample_rate_hz


def compare(
    reference: np.ndarray,
    candidate: np.ndarray,
    *,
    spec: SpectrumSpec = DEFAULT_SPEC,
    align_time: bool = True,
    candidate_lossy: bool = False,
) -> Comparison:
    """Align two mono masters in time and level and measure their band difference.

    Parameters
    ----------
    reference, candidate : np.ndarray
        Mono audio at ``spec.sample_rate_hz``.
    spec : SpectrumSpec
        STFT and band layout.
    align_time : bool
        Search the offset between the files; ``False`` compares them from their starts.
    candidate_lossy : bool
        The candidate was decoded from a lossy format (kept in the comparison).

    Returns
    -------
    Comparison
        ``band_db`` is the level-aligned difference, ``raw_band_db`` the original.
    """
    offset = find_offset_samples(reference, candidate) if align_time else 0
    ref, cand = aligned_excerpts(reference, candidate, offset_samples=offset)
    ref_mag = average_spectrum(ref, spec=spec)
    cand_mag = average_spectrum(cand, spec=spec)
    raw = band_difference_db(ref_mag, cand_mag, spec=spec)
    level = level_offset_db(raw, spec=spec)
    return Comparison(
        spec=spec,
        reference_magnitude=ref_mag,
        candidate_magnitude=cand_mag,
        offset_samples=offset,
        overlap_s=len(ref) / spec.sample_rate_hz,
        raw_band_db=raw,
        level_offset_db=level,
        band_db=raw - level,
        candidate_lossy=candidate_lossy,
        reference_excerpt=ref,
        candidate_excerpt=cand,
    )


def distance_db(comparison: Comparison, *, min_frequency_hz: float = 20.0) -> float:
    """How far the two masters' EQ is apart: RMS of the level-aligned band difference, dB.

    Unlike the count of recognised operations it moves continuously: a master 3 dB off
    in one band reads less than one 6 dB off there. Read over the audible bands where both
    files hold audio: from ``min_frequency_hz`` up to 20 kHz or a lossy file's band limit,
    and only bands of the reference clear of its noise floor.

    Parameters
    ----------
    comparison : Comparison
        Two masters compared (`compare`).
    min_frequency_hz : float
        Lowest band centre read.

    Returns
    -------
    float
        0 for the same EQ; it grows with both the size and the breadth of the moves apart.
    """
    spec = comparison.spec
    centres = spec.band_centres_hz
    read = (centres >= min_frequency_hz) & (centres <= 20_000.0)
    read &= np.arange(spec.n_bands) < comparison.band_limit_band
    read &= band_levels_db(comparison.reference_magnitude, spec=spec) > FLOOR_DB + CLEAR_OF_FLOOR_DB
    if not read.any():
        return 0.0
    return float(np.sqrt(np.mean(np.square(comparison.band_db[read]))))
