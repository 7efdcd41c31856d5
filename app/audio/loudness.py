"""Loudness to the broadcast standards: BS.1770-4, EBU Tech 3341 and 3342.

Integrated loudness (K-weighting, 400 ms blocks overlapping by 75 %, an
absolute gate at -70 LUFS and a relative gate 10 LU below the absolutely
gated loudness), momentary (400 ms) and short-term (3 s) loudness, loudness
range (EBU Tech 3342: short-term loudness, gates at -70 LUFS and 20 LU below,
the spread from the 10th to the 95th percentile), sample peak and true peak
(BS.1770-4 Annex 2: the signal oversampled four times by a polyphase FIR,
dBTP).

Everything is vectorised: the K-weighting is one second-order-section filter
per channel, the squared signal is summed once into 100 ms sub-blocks, and
every gated block is a sum of consecutive sub-blocks. The implementation is
checked against pyloudnorm, ffmpeg's ``ebur128`` filter and the EBU test
cases (tests/audio/test_loudness.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.fft as sfft
from scipy import signal

#: Offset of the BS.1770 loudness formula, dB.
LOUDNESS_OFFSET_DB = -0.691
#: Blocks quieter than this are silence to every gate, LUFS.
ABSOLUTE_GATE_LUFS = -70.0
#: The integrated loudness' relative gate, LU below the absolutely gated loudness.
RELATIVE_GATE_LU = -10.0
#: The loudness range's relative gate (EBU Tech 3342), LU.
LRA_RELATIVE_GATE_LU = -20.0
#: Sub-block every measure is built from, seconds (the 75 % overlap of 400 ms blocks).
SUB_BLOCK_S = 0.1
MOMENTARY_S = 0.4
SHORT_TERM_S = 3.0
#: Oversampling of the true-peak meter (BS.1770-4 Annex 2 asks for at least 4).
TRUE_PEAK_OVERSAMPLING = 4
#: Taps per phase of the true-peak interpolator.
_TAPS_PER_PHASE = 12
_KAISER_BETA = 5.0
#: Intervals whose samples lie this far below their block's sample peak are not oversampled, dB.
TRUE_PEAK_SEARCH_DB = 3.0
_BLOCKS_PER_STEP = 16
#: Floor for levels of digital silence, dB.
SILENCE_DB = -200.0


@dataclass(frozen=True, kw_only=True)
class Loudness:
    """The loudness measures of one file.

    Parameters
    ----------
    integrated_lufs : float
        Gated integrated loudness; ``-inf`` when every block is below -70 LUFS.
    momentary_max_lufs, short_term_max_lufs : float
        Loudest 400 ms and 3 s block.
    loudness_range_lu : float
        EBU Tech 3342 loudness range.
    sample_peak_dbfs, true_peak_dbtp : float
        Highest sample and highest four-times-oversampled sample, over all channels.
    short_term_lufs : np.ndarray
        Short-term loudness every `SUB_BLOCK_S` seconds; element ``i`` is the
        3 s block ending at ``SHORT_TERM_S + i * SUB_BLOCK_S`` seconds.
    short_term_peak_dbtp : np.ndarray
        Peak within each of those 3 s blocks, dBTP: the true peak where the
        block's peaks come within 3 dB of the file's, the sample peak elsewhere
        (see `block_true_peaks`).
    """

    integrated_lufs: float
    momentary_max_lufs: float
    short_term_max_lufs: float
    loudness_range_lu: float
    sample_peak_dbfs: float
    true_peak_dbtp: float
    short_term_lufs: np.ndarray
    short_term_peak_dbtp: np.ndarray

    @property
    def plr_db(self) -> float:
        """Peak to loudness ratio: true peak minus integrated loudness, dB."""
        return self.true_peak_dbtp - self.integrated_lufs


def k_weighting_sos(*, sample_rate_hz: float) -> np.ndarray:
    """Second-order sections of the BS.1770 K-weighting at any sample rate.

    The high shelf (about +4 dB above 1.7 kHz) and the RLB high-pass
    (38 Hz) are derived from their analogue prototypes by the bilinear
    transform, as libebur128 does; at 48 kHz they reproduce the coefficients
    printed in BS.1770-4.

    Parameters
    ----------
    sample_rate_hz : float
        The signal's rate.

    Returns
    -------
    np.ndarray
        Shape ``(2, 6)``, for `scipy.signal.sosfilt`.

    Examples
    --------
    >>> sos = k_weighting_sos(sample_rate_hz=48_000)
    >>> [round(float(c), 8) for c in sos[0, :3]]
    [1.53512486, -2.69169619, 1.19839281]
    """
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sample_rate_hz)
    vh = 10 ** (gain_db / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = [
        (vh + vb * k / q + k * k) / a0,
        2 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
        1.0,
        2 * (k * k - 1) / a0,
        (1 - k / q + k * k) / a0,
    ]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sample_rate_hz)
    a0 = 1 + k / q + k * k
    high_pass = [1.0, -2.0, 1.0, 1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    return np.array([shelf, high_pass])


def channel_weights(channels: int) -> np.ndarray:
    """BS.1770 channel weights: 1 each, except 5.1 (L R C LFE Ls Rs): LFE 0, surrounds 1.41."""
    if channels == 6:
        return np.array([1.0, 1.0, 1.0, 0.0, 1.41, 1.41])
    return np.ones(channels)


@dataclass(frozen=True, kw_only=True)
class FrameSpectra:
    """Every channel cut into 100 ms frames, each frame's spectrum (rfft).

    The loudness, stereo and dynamics measures all read these, so a file is
    transformed once. Frames do not overlap; the spectra cover the file up to
    its last whole frame, the blocks the whole file.

    Parameters
    ----------
    spectra : np.ndarray
        Complex, shape ``(channels, frames, frame_length // 2 + 1)``.
    blocks : np.ndarray
        The samples the spectra were taken of, float32, shape ``(channels,
        ceil(samples / frame_length), frame_length)``: one more block than
        spectra when the file ends in a partial frame, zero-padded. The peak
        meters read them, so the file is copied once.
    frame_length : int
        Samples per frame (`SUB_BLOCK_S` at the rate).
    sample_rate_hz : int
        The rate.
    """

    spectra: np.ndarray
    blocks: np.ndarray
    frame_length: int
    sample_rate_hz: int

    @property
    def frequencies_hz(self) -> np.ndarray:
        """Centre frequency of each bin."""
        return np.fft.rfftfreq(self.frame_length, 1 / self.sample_rate_hz)

    @cached_property
    def power(self) -> np.ndarray:
        """|X|^2 of every channel's frames, float32, computed once."""
        return spectral_power(self.spectra)

    @cached_property
    def mid(self) -> np.ndarray:
        """Spectra of the mono mix (the mean of the channels)."""
        if self.spectra.shape[0] == 1:
            return self.spectra[0]
        total = np.add(self.spectra[0], self.spectra[1])
        for index in range(2, self.spectra.shape[0]):
            total += self.spectra[index]
        total *= np.float32(1 / self.spectra.shape[0])
        return total

    @cached_property
    def mid_power(self) -> np.ndarray:
        """|X|^2 of the mono mix's frames, float32."""
        return self.power[0] if self.spectra.shape[0] == 1 else spectral_power(self.mid)

    @property
    def bin_weights(self) -> np.ndarray:
        """Parseval weight of each bin: summed ``weight * |X|^2`` is the frame's energy."""
        weights = np.full(self.spectra.shape[-1], 2.0 / self.frame_length)
        weights[0] = 1.0 / self.frame_length
        if self.frame_length % 2 == 0:
            weights[-1] = 1.0 / self.frame_length
        return weights


def as_channels(audio: np.ndarray) -> np.ndarray:
    """``audio`` as float32 of shape ``(frames, channels)`` (a mono vector gets one column)."""
    array = np.asarray(audio, dtype=np.float32)
    return array[:, None] if array.ndim == 1 else array


def frame_spectra(channels: np.ndarray, *, sample_rate_hz: int) -> FrameSpectra:
    """Cut the channels into 100 ms frames and take each frame's spectrum.

    Parameters
    ----------
    channels : np.ndarray
        Shape ``(frames, channels)`` or ``(frames,)``; interleaved is fine, the
        framing is the one copy made.
    sample_rate_hz : int
        Their rate.

    Returns
    -------
    FrameSpectra
    """
    audio = as_channels(channels)
    hop = int(round(SUB_BLOCK_S * sample_rate_hz))
    whole = len(audio) // hop
    count = -(-len(audio) // hop)
    blocks = np.empty((audio.shape[1], count, hop), dtype=np.float32)
    flat = blocks.reshape(audio.shape[1], -1)
    flat[:, : len(audio)] = audio.T
    flat[:, len(audio) :] = 0
    return FrameSpectra(
        spectra=sfft.rfft(blocks[:, :whole], axis=-1),
        blocks=blocks,
        frame_length=hop,
        sample_rate_hz=sample_rate_hz,
    )


def k_weighting_power(frequencies_hz: np.ndarray, *, sample_rate_hz: int) -> np.ndarray:
    """Power response |H|^2 of the K-weighting at the given frequencies."""
    response = signal.sosfreqz(
        k_weighting_sos(sample_rate_hz=sample_rate_hz), worN=frequencies_hz, fs=sample_rate_hz
    )[1]
    return np.abs(response) ** 2


def sub_block_energy(frames: FrameSpectra) -> np.ndarray:
    """Channel-weighted K-weighted energy (summed squares) of each 100 ms frame.

    The K-weighting is applied to each frame's spectrum: a circular filtering
    of the frame, which differs from filtering the whole file only by the
    filter's short memory crossing frame borders (checked to 0.05 LU against
    time-domain meters in the tests).
    """
    weights = frames.bin_weights * k_weighting_power(
        frames.frequencies_hz, sample_rate_hz=frames.sample_rate_hz
    )
    energy = np.zeros(frames.spectra.shape[1])
    for index, gain in enumerate(channel_weights(frames.spectra.shape[0])):
        if gain:
            energy += gain * (frames.power[index] @ weights.astype(np.float32))
    return energy


def spectral_power(spectrum: np.ndarray) -> np.ndarray:
    """|X|^2 of a complex64 array, float32."""
    power = np.abs(np.asarray(spectrum, dtype=np.complex64))
    np.square(power, out=power)
    return power


def _window_sums(values: np.ndarray, *, width: int) -> np.ndarray:
    """Sums of every ``width`` consecutive values (empty when there are fewer)."""
    if len(values) < width:
        return np.zeros(0)
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    return cumulative[width:] - cumulative[:-width]


def _lufs(mean_square: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return LOUDNESS_OFFSET_DB + 10 * np.log10(np.asarray(mean_square, dtype=float))


def gated_loudness(block_mean_square: np.ndarray, *, relative_gate_lu: float) -> float:
    """Loudness of the blocks passing the absolute and the relative gate (BS.1770-4), LUFS."""
    levels = _lufs(block_mean_square)
    above = levels > ABSOLUTE_GATE_LUFS
    if not above.any():
        return -math.inf
    threshold = float(_lufs(block_mean_square[above].mean())) + relative_gate_lu
    kept = above & (levels > threshold)
    return float(_lufs(block_mean_square[kept].mean()))


def range_gate(short_term_lufs: np.ndarray) -> np.ndarray:
    """Which short-term blocks the loudness range counts (EBU Tech 3342 gates)."""
    above = short_term_lufs > ABSOLUTE_GATE_LUFS
    if not above.any():
        return above
    mean_square = np.mean(10 ** ((short_term_lufs[above] - LOUDNESS_OFFSET_DB) / 10))
    threshold = float(_lufs(float(mean_square))) + LRA_RELATIVE_GATE_LU
    return above & (short_term_lufs > threshold)


def loudness_range(short_term_lufs: np.ndarray) -> float:
    """EBU Tech 3342 loudness range of a short-term loudness series, LU."""
    levels = short_term_lufs[range_gate(short_term_lufs)]
    if len(levels) == 0:
        return 0.0
    low, high = np.percentile(levels, [10, 95])
    return float(high - low)


def true_peak_filter() -> np.ndarray:
    """Polyphase interpolator of the true-peak meter, shape ``(phases, taps per phase)``.

    Row ``p`` holds the weights of samples ``i - taps/2 + 1`` to ``i + taps/2``
    that make the value at ``i + p / phases``: a Kaiser-windowed sinc cut off
    at the original Nyquist frequency, scaled for unity gain at DC; row 0
    passes the samples through.
    """
    phases, taps = TRUE_PEAK_OVERSAMPLING, _TAPS_PER_PHASE
    half = taps // 2
    offsets = np.arange(-half + 1, half + 1)
    distance = np.arange(phases)[:, None] / phases - offsets[None, :]
    window = np.i0(_KAISER_BETA * np.sqrt(np.clip(1 - (distance / half) ** 2, 0, None)))
    bank = np.sinc(distance) * window / np.i0(_KAISER_BETA)
    return bank / bank.sum(axis=1, keepdims=True)


def block_sample_peaks(blocks: np.ndarray) -> np.ndarray:
    """Sample peak (largest magnitude) of each block, shape ``(blocks,)``.

    Parameters
    ----------
    blocks : np.ndarray
        One channel cut into blocks, shape ``(blocks, block_frames)``.
    """
    if len(blocks) == 0:
        return np.zeros(0, np.float32)
    return np.maximum(blocks.max(axis=1), -blocks.min(axis=1))


def block_true_peaks(
    blocks: np.ndarray, *, floor: float = 0.0, sample_peaks: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sample peak and true peak (linear) of each block of one channel.

    The oversampled value between samples ``i`` and ``i + 1`` can only top the
    block's sample peak where one of them is within `TRUE_PEAK_SEARCH_DB` of
    it (a tone below a quarter of the sample rate overshoots its samples by
    less than 3 dB), so the interpolator runs on those intervals only, and
    only in blocks whose sample peak is within that much of ``floor``: blocks
    further below keep their sample peak. With ``floor`` the file's sample
    peak, the file's true peak is exact and so is every block near it.

    Parameters
    ----------
    blocks : np.ndarray
        One channel cut into consecutive blocks, float32, shape ``(blocks,
        block_frames)`` (a last partial block zero-padded, as
        `FrameSpectra.blocks` holds them).
    floor : float
        Blocks whose sample peak is more than `TRUE_PEAK_SEARCH_DB` below it
        are not oversampled (0 oversamples every block that is not silent).
    sample_peaks : np.ndarray, optional
        `block_sample_peaks` of the same blocks, when the caller has them.

    Returns
    -------
    sample_peaks, true_peaks : np.ndarray
        Shape ``(blocks,)`` each: the largest magnitude of the samples and of
        the four-times-oversampled signal in each block.
    """
    peaks = block_sample_peaks(blocks) if sample_peaks is None else sample_peaks
    search = np.float32(10 ** (-TRUE_PEAK_SEARCH_DB / 20))
    chosen_blocks = np.flatnonzero((peaks >= np.float32(floor) * search) & (peaks > 0))
    true_peaks = peaks.copy()
    if len(chosen_blocks) == 0:
        return peaks, true_peaks
    bank = true_peak_filter()[1:].astype(np.float32)
    offsets = np.arange(bank.shape[1]) - (bank.shape[1] // 2 - 1)
    signal_ = blocks.reshape(-1)
    block_frames = blocks.shape[1]
    for start in range(0, len(chosen_blocks), _BLOCKS_PER_STEP):
        chosen = chosen_blocks[start : start + _BLOCKS_PER_STEP]
        # An interval (i, i + 1) is searched when either end is near its block's peak.
        near = np.abs(blocks[chosen]) >= (peaks[chosen] * search)[:, None]
        near[:, :-1] |= near[:, 1:].copy()
        rows, columns = np.nonzero(near)
        indices = (chosen[rows] * block_frames + columns)[:, None] + offsets
        outside = (indices < 0) | (indices >= len(signal_))
        windows = signal_[np.clip(indices, 0, len(signal_) - 1)]
        windows[outside] = 0
        values = np.abs(windows @ bank.T).max(axis=1)
        first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        np.maximum.at(true_peaks, chosen[rows[first]], np.maximum.reduceat(values, first))
    return peaks, true_peaks


def _db(value: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.maximum(20 * np.log10(np.asarray(value, dtype=float)), SILENCE_DB)


def measure_loudness(
    channels: np.ndarray, *, sample_rate_hz: int, frames: FrameSpectra | None = None
) -> Loudness:
    """Measure a file's loudness, loudness range and peaks.

    Parameters
    ----------
    channels : np.ndarray
        The audio, shape ``(frames, channels)`` or ``(frames,)`` for mono.
    sample_rate_hz : int
        Its rate.
    frames : FrameSpectra, optional
        `frame_spectra` of the same audio, when the caller has it already.

    Returns
    -------
    Loudness

    Examples
    --------
    EBU Tech 3341 case 1: a 1 kHz stereo sine at -23 dBFS reads -23.0 LUFS.

    >>> t = np.arange(20 * 48_000) / 48_000
    >>> tone = 10 ** (-23 / 20) * np.sin(2 * np.pi * 1000 * t)
    >>> stereo = np.stack([tone, tone], axis=1)
    >>> round(measure_loudness(stereo, sample_rate_hz=48_000).integrated_lufs, 1)
    -23.0
    """
    frames = frames or frame_spectra(channels, sample_rate_hz=sample_rate_hz)
    hop = frames.frame_length
    energy = sub_block_energy(frames)
    momentary_width = int(round(MOMENTARY_S / SUB_BLOCK_S))
    short_width = int(round(SHORT_TERM_S / SUB_BLOCK_S))
    momentary = _window_sums(energy, width=momentary_width) / (momentary_width * hop)
    short_term = _window_sums(energy, width=short_width) / (short_width * hop)
    short_term_lufs = _lufs(short_term)

    # Sample peaks first: the true-peak search needs only the blocks near the file's peak.
    sampled = [block_sample_peaks(channel) for channel in frames.blocks]
    sample_peak = max((float(p.max()) for p in sampled if len(p)), default=0.0)
    block_peaks = np.zeros(frames.blocks.shape[1], dtype=np.float32)
    for channel, peaks in zip(frames.blocks, sampled, strict=True):
        _, true_peaks = block_true_peaks(channel, floor=sample_peak, sample_peaks=peaks)
        np.maximum(block_peaks, true_peaks, out=block_peaks)
    true_peak = max(float(block_peaks.max()) if len(block_peaks) else 0.0, sample_peak)
    whole = block_peaks[: len(energy)]
    short_peaks = (
        np.lib.stride_tricks.sliding_window_view(whole, short_width).max(axis=1)
        if len(whole) >= short_width
        else np.zeros(0)
    )
    return Loudness(
        integrated_lufs=gated_loudness(momentary, relative_gate_lu=RELATIVE_GATE_LU),
        momentary_max_lufs=float(_lufs(momentary.max())) if len(momentary) else -math.inf,
        short_term_max_lufs=float(short_term_lufs.max()) if len(short_term) else -math.inf,
        loudness_range_lu=loudness_range(short_term_lufs),
        sample_peak_dbfs=float(_db(sample_peak)),
        true_peak_dbtp=float(_db(true_peak)),
        short_term_lufs=short_term_lufs,
        short_term_peak_dbtp=_db(short_peaks),
    )
