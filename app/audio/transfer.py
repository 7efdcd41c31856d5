"""The candidate's spectrum as the linear transfer from the reference says it is.

A compressor and a limiter change an average spectrum as much as an EQ move
does: their gain falls when the kick hits, so the bands loud at those moments
lose level on average, and a limiter's fast gain changes spread distortion
over the whole spectrum. On a time-aligned pair of masters both are read apart
from the EQ:

- the cross-spectral transfer estimate ``H(f) = sum_t C R* / sum_t |R|^2``
  keeps only what of the candidate is coherent with the reference, and drops
  the distortion and a codec's noise; for a candidate whose gain ``g(t)``
  moves with the music it is the static EQ times ``gbar(f)``, the gain each
  frequency met on average, weighted by its energy over time;
- ``g(t)`` is each frame's broadband level against the reference's through the
  static EQ, and the static EQ is ``|H| / gbar``: the two are solved together,
  a few rounds on the frames' energies in third-octave groups.

For a pair that differs by a static EQ only, ``g(t)`` is 1 and the result is
the candidate's own average spectrum (within 0.1 dB per band on music).

Dividing ``|H|`` by ``gbar`` undoes the gain on average only: a gain that moves
within a frame (a limiter's release, a compressor's attack) still blurs each
frame's spectrum, and the long frames below the crossover, 0.37 s each, meet
many such moves. Demodulated (``demodulate=True``), the candidate is divided
by ``g(t)`` itself, sample by sample, before both transfers are read again.
On 20 validation songs with a low shelf, a bell and a high-pass, then a drawn
compressor and limiter (``ops/transfer_check.py --songs 20``), the band error
against the EQ alone fell from 0.72 to 0.37 dB RMS and its largest from 2.27 to
1.43 dB (medians over songs); under the limiter alone from 0.39 to 0.10 dB
RMS. It costs a little where nothing moved the gain: the EQ alone reads 0.06
instead of 0.07 dB RMS, but its largest error is 0.32 instead of 0.23 dB, as
a static EQ's group delay carries low energy from frame to frame; weighing the
groups below 150 Hz alike with the rest, ``g(t)`` followed it further (0.10
and 0.48 dB), so they weigh a tenth (`LOW_GROUP_WEIGHT`).

A frame of 2048 samples (46 ms) still cannot follow a 1-10 ms attack, so where
``g(t)`` moved (`FINE_FROM_SPREAD_DB`) it is read again on frames of 1024
(`FINE_ROUNDS`), against the reference filtered by the complex transfer read so
far (`_through_transfer`): on such short frames a static EQ spreads over wide
bins and from frame to frame, and only the reference through it meets the
candidate frame by frame. Same command, demodulated without → with the fine
rounds (RMS and largest band error, dB): the compressor and limiter 0.30 →
0.16 and 1.25 → 0.67, with the EQ 0.37 → 0.19 and 1.43 → 0.82, the limiter
alone 0.10 → 0.06 and 0.27 → 0.21, the compressor alone 0.21 → 0.14 and 0.74 →
0.48; the EQ alone as before, 0.06 and 0.32. Against the plain reference
instead of the filtered one, the EQ alone read 0.46 dB RMS; frames of 512 read
the chain closer still (0.09 dB RMS) but carried a compressed bass into a
high-pass's stop band, and without the gate they read a static EQ worse.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Self

import numpy as np
import scipy.fft

from app.audio.spectrum import (
    _BLOCK_FRAMES,
    DEFAULT_SPEC,
    Comparison,
    SpectrumSpec,
    _hann,
    aligned_excerpts,
)

#: A frame's gain is read within these bounds (a silent or unrelated frame says nothing).
FRAME_GAIN_BOUNDS = (0.05, 20.0)
#: Bins whose reference energy is this far below the loudest bin's hold no music to
#: estimate a transfer from (dB); the candidate's own average is kept there.
SILENT_BIN_DB = -150.0
#: Frames' energies are summed in groups this wide (octaves) to solve for ``g(t)``.
GROUP_OCTAVES = 1.0 / 3.0
#: Rounds of solving ``g(t)`` and the static EQ in turn.
ROUNDS = 6
#: Demodulated, ``g(t)`` weighs the groups below this frequency `LOW_GROUP_WEIGHT` times as
#: much as the rest: there a frame holds a few bins, and a static EQ's group delay carries
#: energy from frame to frame: weighed alike, an EQ alone moved ``g(t)`` by 0.22 dB RMS
#: over frames (median over 20 validation songs; 2.3 dB on one).
DEMODULATION_FROM_HZ = 150.0
LOW_GROUP_WEIGHT = 0.1
#: Demodulated, ``g(t)`` is then read again, this many rounds, on frames this long and this
#: far apart (samples, 23 and 5.8 ms), against the reference through the transfer read so
#: far (`_through_transfer`): a limiter's 1-10 ms attack moves the gain within a short frame.
FINE_ROUNDS = 2
FINE_N_FFT = 1024
FINE_HOP_LENGTH = 256
#: The fine rounds run only where ``g(t)`` on the short frames moves by more than this
#: (standard deviation over frames, dB): where nothing moved the gain they only add
#: noise, and their gain's faster moves carry the bass into a high-pass's stop band.
FINE_FROM_SPREAD_DB = 0.7
#: Demodulated, the transfer reads at most this much of the song, from its middle (s): the
#: fine rounds cost about as much again as the rest, and the models learnt from 30 s clips.
DEMODULATED_MAX_S = 60.0
#: Which demodulation a dataset's shards hold (`app.training.synth.coherent_is_stale`):
#: 1 weighed every group alike, 2 the low ones `LOW_GROUP_WEIGHT` times, 3 added the
#: `FINE_ROUNDS`.
DEMODULATION_VERSION = 3
#: Demodulated, the long frames overlap by this fraction less one over it (hop
#: ``low_n_fft // LONG_OVERLAP``): a transfer read on four times the frames.
LONG_OVERLAP = 4
#: The alignment is refined this far (samples) either side, on this much audio (s).
REFINE_MAX_LAG = 2048
REFINE_EXCERPT_S = 10.0


def _block_spectra(samples: np.ndarray, *, n_fft: int, hop_length: int) -> Iterator[np.ndarray]:
    """Windowed spectra of `samples`, a block of frames at a time, framed as
    `app.audio.spectrum.average_magnitude` frames them."""
    frames = np.lib.stride_tricks.sliding_window_view(
        np.ascontiguousarray(samples, np.float32), n_fft
    )[::hop_length]
    window = _hann(n_fft)
    for start in range(0, len(frames), _BLOCK_FRAMES):
        yield scipy.fft.rfft(frames[start : start + _BLOCK_FRAMES] * window, axis=1)


@dataclass(frozen=True, eq=False)
class Framed:
    """A reference and its spectra, each read once: the demodulated transfer reads the
    reference's short frames in four passes, and every example a training clip
    renders has the clip as its reference (`app.training.synth.render_spectra`).

    Holding them costs memory: about 21 MB a framing for 30 s of audio.
    """

    samples: np.ndarray
    _blocks: dict[tuple[int, int], list[np.ndarray]] = field(
        default_factory=dict, init=False, repr=False
    )
    _whole: dict[int, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def blocks(self, *, n_fft: int, hop_length: int) -> list[np.ndarray]:
        """`_block_spectra` of the samples, read on the first call for each framing."""
        key = (n_fft, hop_length)
        if key not in self._blocks:
            self._blocks[key] = list(
                _block_spectra(self.samples, n_fft=n_fft, hop_length=hop_length)
            )
        return self._blocks[key]

    def spectrum(self, *, length: int) -> np.ndarray:
        """``scipy.fft.rfft`` of the samples zero-padded to `length`, read once."""
        if length not in self._whole:
            self._whole[length] = scipy.fft.rfft(np.asarray(self.samples, np.float32), length)
        return self._whole[length]


def _frame_pairs(
    reference: Framed | np.ndarray, candidate: np.ndarray, *, n_fft: int, hop_length: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Both files' `_block_spectra`, the reference's held where it is `Framed`."""
    frames = {"n_fft": n_fft, "hop_length": hop_length}
    if isinstance(reference, Framed):
        references: Iterator[np.ndarray] = iter(reference.blocks(**frames))
    else:
        references = _block_spectra(reference, **frames)
    for ref, cand in zip(references, _block_spectra(candidate, **frames), strict=False):
        rows = min(len(ref), len(cand))
        yield ref[:rows], cand[:rows]


@dataclass(frozen=True)
class _Sums:
    """What one pass over the frames gathers."""

    transfer: np.ndarray  # H(f), complex
    energy: np.ndarray  # sum_t |R|^2 per bin
    #: Per frame and group: the reference's and the candidate's energy (short pass only).
    reference_groups: np.ndarray
    candidate_groups: np.ndarray


def _groups(n_fft: int, *, sample_rate_hz: int) -> np.ndarray:
    """Indicator matrix ``(bins, groups)`` of third-octave groups from 20 Hz, none empty."""
    frequencies = np.arange(n_fft // 2 + 1) * sample_rate_hz / n_fft
    index = np.floor(np.log2(np.maximum(frequencies, 20.0) / 20.0) / GROUP_OCTAVES).astype(int)
    _, index = np.unique(index, return_inverse=True)
    groups = np.zeros((len(frequencies), int(index.max()) + 1), dtype=np.float32)
    groups[np.arange(len(frequencies)), index] = 1.0
    return groups


def _gather(
    reference: Framed | np.ndarray,
    candidate: np.ndarray,
    *,
    n_fft: int,
    hop_length: int,
    groups: np.ndarray | None,
) -> _Sums:
    """``H(f)``, the reference's energy per bin and, with `groups`, per frame and group."""
    cross = np.zeros(n_fft // 2 + 1, dtype=np.complex128)
    energy = np.zeros(n_fft // 2 + 1, dtype=np.float64)
    frame_ref: list[np.ndarray] = []
    frame_cand: list[np.ndarray] = []
    for ref, cand in _frame_pairs(reference, candidate, n_fft=n_fft, hop_length=hop_length):
        ref_energy = ref.real**2 + ref.imag**2
        cross += np.sum(cand * np.conj(ref), axis=0)
        energy += np.sum(ref_energy, axis=0)
        if groups is not None:
            frame_ref.append(ref_energy @ groups)
            frame_cand.append((cand.real**2 + cand.imag**2) @ groups)
    empty = np.zeros((0, 0))
    return _Sums(
        transfer=cross / np.maximum(energy, 1e-30),
        energy=energy,
        reference_groups=np.concatenate(frame_ref) if frame_ref else empty,
        candidate_groups=np.concatenate(frame_cand) if frame_cand else empty,
    )


def _dynamics_gain(
    sums: _Sums, *, groups: np.ndarray, weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``g(t)`` per frame, and ``gbar`` per bin: the gain each group met from frame to
    frame, weighted by its energy.

    Rounds of: each frame's gain ``g(t)``, its energy against the reference's
    through the static EQ (each group's energy times its `weight`, 1 without
    it); each group's ``gbar``, ``g(t)`` weighted by the group's energy in the
    reference; the static EQ, ``|H| / gbar``.
    """
    reference, candidate = sums.reference_groups, sums.candidate_groups
    weight = np.ones(groups.shape[1]) if weight is None else weight
    group_energy = np.sum(reference, axis=0)
    coherent_power = (np.abs(sums.transfer) ** 2 * sums.energy) @ groups
    transfer_power = coherent_power / np.maximum(group_energy, 1e-30)  # |H|^2 per group
    static_power = transfer_power.copy()
    gain_of_group = np.ones_like(group_energy)
    for _ in range(ROUNDS):
        expected = reference @ (static_power * weight)
        frame_gain = np.sqrt(candidate @ weight / np.maximum(expected, 1e-30))
        frame_gain = np.where(expected > 1e-30, frame_gain, 1.0)
        frame_gain = np.clip(frame_gain, *FRAME_GAIN_BOUNDS)
        gain_of_group = frame_gain @ reference / np.maximum(group_energy, 1e-30)
        gain_of_group = np.where(group_energy > 1e-30, gain_of_group, 1.0)
        static_power = transfer_power / gain_of_group**2
    return frame_gain, groups @ gain_of_group


def _frame_gain(
    reference: Framed | np.ndarray,
    candidate: np.ndarray,
    *,
    n_fft: int,
    hop_length: int,
    sample_rate_hz: int,
) -> np.ndarray:
    """``g(t)`` per frame of `n_fft` (`_dynamics_gain`, its groups below
    `DEMODULATION_FROM_HZ` weighed `LOW_GROUP_WEIGHT` times)."""
    groups = _groups(n_fft, sample_rate_hz=sample_rate_hz)
    sums = _gather(reference, candidate, n_fft=n_fft, hop_length=hop_length, groups=groups)
    weight = _group_weight(groups, n_fft=n_fft, sample_rate_hz=sample_rate_hz)
    frame_gain, _ = _dynamics_gain(sums, groups=groups, weight=weight)
    return frame_gain


def _group_weight(groups: np.ndarray, *, n_fft: int, sample_rate_hz: int) -> np.ndarray:
    """1 per group, `LOW_GROUP_WEIGHT` below `DEMODULATION_FROM_HZ`."""
    bin_hz = np.arange(n_fft // 2 + 1) * sample_rate_hz / n_fft
    group_hz = bin_hz @ groups / np.maximum(np.sum(groups, axis=0), 1.0)
    return np.where(group_hz >= DEMODULATION_FROM_HZ, 1.0, LOW_GROUP_WEIGHT)


def _divided(
    candidate: np.ndarray, frame_gain: np.ndarray, *, n_fft: int, hop_length: int
) -> np.ndarray:
    """`candidate` divided by `frame_gain` placed at each frame's centre, linear between."""
    curve = _linear_between(
        frame_gain.astype(np.float32), step=hop_length, first=n_fft // 2, n=len(candidate)
    )
    return candidate / curve


def _linear_between(values: np.ndarray, *, step: int, first: int, n: int) -> np.ndarray:
    """`values` placed at ``first + k * step`` on a grid of `n`, linear between them and
    held past the ends: `np.interp` on an evenly spaced grid, in the values' own dtype
    and about a fifth of its time (a 30 s clip's five curves, profiled).

    Examples
    --------
    >>> _linear_between(np.array([1.0, 3.0]), step=2, first=1, n=5)
    array([1., 1., 2., 3., 3.])
    """
    ramp = np.arange(step, dtype=values.real.dtype) / step
    between = values[:-1, None] + (values[1:] - values[:-1])[:, None] * ramp
    after = max(n - first - len(between) * step, 0)
    held = (np.full(first, values[0]), between.ravel(), np.full(after, values[-1]))
    return np.concatenate(held)[:n]


def _through_transfer(
    reference: Framed, candidate: np.ndarray, *, spec: SpectrumSpec
) -> np.ndarray:
    """The reference filtered by the complex transfer to `candidate` on the short frames.

    Short frames blur a static EQ over their wide bins, and its impulse response
    carries energy from frame to frame; against the reference through the EQ,
    a frame's gain is the dynamics' alone. The reference's whole spectrum is
    read once for every round (`Framed.spectrum`).
    """
    sums = _gather(reference, candidate, n_fft=spec.n_fft, hop_length=spec.hop_length, groups=None)
    transfer = np.where(_silent(sums.energy), 0.0, sums.transfer).astype(np.complex64)
    length = _padded_length(reference.samples, spec=spec)
    reference_spectrum = reference.spectrum(length=length)
    step = (len(reference_spectrum) - 1) // (len(transfer) - 1)
    full = _linear_between(transfer, step=step, first=0, n=len(reference_spectrum))
    return scipy.fft.irfft(reference_spectrum * full, length)[: len(reference.samples)]


def _middle(reference: np.ndarray, candidate: np.ndarray, *, samples: int) -> slice:
    """The middle `samples` of the audio both hold (all of it where they hold less)."""
    length = min(len(reference), len(candidate))
    size = min(length, samples)
    start = (length - size) // 2
    return slice(start, start + size)


def _framed_part(reference: Framed | np.ndarray, part: slice) -> Framed:
    """``reference[part]``, `Framed`: a framed reference itself where `part` is all of it,
    so what it has read stays read."""
    if isinstance(reference, Framed) and part == slice(0, len(reference.samples)):
        return reference
    return Framed(_samples(reference)[part])


def _samples(signal: Framed | np.ndarray) -> np.ndarray:
    return signal.samples if isinstance(signal, Framed) else signal


def _spread_db(frame_gain: np.ndarray) -> float:
    """How far a gain moves from frame to frame: the standard deviation of its dB."""
    return float(np.std(20.0 * np.log10(frame_gain)))


def _padded_length(reference: np.ndarray, *, spec: SpectrumSpec) -> int:
    """The reference's length rounded up to whole short frames: its spectrum's bins then
    fall a whole number of times between the short frames' (`_through_transfer`)."""
    return -(-len(reference) // spec.n_fft) * spec.n_fft


def static_transfer_magnitude(
    reference: Framed | np.ndarray,
    candidate: np.ndarray,
    *,
    spec: SpectrumSpec = DEFAULT_SPEC,
    demodulate: bool = False,
) -> np.ndarray:
    """``|H(f)| / gbar(f)`` on the bins of an average spectrum; NaN where the reference is silent.

    Parameters
    ----------
    reference, candidate : np.ndarray
        Time-aligned mono audio at ``spec.sample_rate_hz``
        (`app.audio.spectrum.aligned_excerpts`), at least ``spec.low_n_fft`` samples;
        the reference may come `Framed`, its spectra read once for many candidates.
    spec : SpectrumSpec
        Frames of the short and the long spectrum.
    demodulate : bool
        Divide the candidate by ``g(t)``, its low groups weighed less
        (`LOW_GROUP_WEIGHT`), sample by sample, then by ``g(t)`` read
        `FINE_ROUNDS` times more on shorter frames, and read ``|H|`` of the
        result instead (long frames overlapping, `LONG_OVERLAP`); on the middle
        `DEMODULATED_MAX_S` of the two only.

    Returns
    -------
    np.ndarray
        Shape ``(spec.n_bins,)``: the short spectrum's bins, then the long
        one's lowest. ``g(t)`` is read on the short frames; the long bins take
        ``gbar`` of the short ones at their frequency.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.standard_normal(44_100).astype(np.float32)
    >>> gain = static_transfer_magnitude(noise, 0.5 * noise)
    >>> bool(np.allclose(gain[1:-1], 0.5))
    True
    """
    if demodulate:
        return _ShortDynamics.of(reference, candidate, spec=spec).transfer_magnitude(spec=spec)
    groups = _groups(spec.n_fft, sample_rate_hz=spec.sample_rate_hz)
    short = _gather(
        reference, candidate, n_fft=spec.n_fft, hop_length=spec.hop_length, groups=groups
    )
    _, short_gain = _dynamics_gain(short, groups=groups)
    long = _gather(
        reference, candidate, n_fft=spec.low_n_fft, hop_length=spec.low_hop_length, groups=None
    )
    return _bins_magnitude(short, long, short_gain=short_gain, spec=spec)


def _bins_magnitude(
    short: _Sums, long: _Sums, *, short_gain: np.ndarray | None, spec: SpectrumSpec
) -> np.ndarray:
    """``|H| / gbar`` on the short spectrum's bins, then the long one's lowest (which take
    ``gbar`` of the short ones at their frequency); NaN where the reference is silent."""
    frequencies = spec.bin_frequencies_hz
    n_short = spec.n_fft // 2 + 1
    short_gain = np.ones(n_short) if short_gain is None else short_gain
    long_gain = np.interp(frequencies[n_short:], frequencies[:n_short], short_gain)
    magnitude = np.concatenate(
        [
            np.abs(short.transfer) / short_gain,
            np.abs(long.transfer[: spec.n_low_bins]) / long_gain,
        ]
    )
    silent = np.concatenate([_silent(short.energy), _silent(long.energy)[: spec.n_low_bins]])
    return np.where(silent, np.nan, magnitude)


@dataclass(frozen=True)
class _ShortDynamics:
    """The middle `DEMODULATED_MAX_S` of an aligned pair and ``g(t)`` on its short frames."""

    reference: Framed
    candidate: np.ndarray
    frame_gain: np.ndarray

    @classmethod
    def of(
        cls, reference: Framed | np.ndarray, candidate: np.ndarray, *, spec: SpectrumSpec
    ) -> Self:
        """Read the middle of `reference` and `candidate` on `spec`'s short frames."""
        sample_rate_hz = spec.sample_rate_hz
        middle = _middle(
            _samples(reference), candidate, samples=int(DEMODULATED_MAX_S * sample_rate_hz)
        )
        framed, candidate = _framed_part(reference, middle), candidate[middle]
        frame_gain = _frame_gain(
            framed,
            candidate,
            n_fft=spec.n_fft,
            hop_length=spec.hop_length,
            sample_rate_hz=sample_rate_hz,
        )
        return cls(framed, candidate, frame_gain)

    def transfer_magnitude(self, *, spec: SpectrumSpec) -> np.ndarray:
        """`static_transfer_magnitude` of the candidate divided by ``g(t)``: read on the
        short frames, then `FINE_ROUNDS` times on finer ones against `_through_transfer`."""
        reference = self.reference
        short_frames = {"n_fft": spec.n_fft, "hop_length": spec.hop_length}
        candidate = _divided(self.candidate, self.frame_gain, **short_frames)
        if _spread_db(self.frame_gain) > FINE_FROM_SPREAD_DB:
            candidate = _finely_divided(reference, candidate, spec=spec)
        short = _gather(reference, candidate, **short_frames, groups=None)
        long = _gather(
            reference,
            candidate,
            n_fft=spec.low_n_fft,
            hop_length=spec.low_n_fft // LONG_OVERLAP,
            groups=None,
        )
        return _bins_magnitude(short, long, short_gain=None, spec=spec)


def _finely_divided(reference: Framed, candidate: np.ndarray, *, spec: SpectrumSpec) -> np.ndarray:
    """`candidate` divided `FINE_ROUNDS` times by ``g(t)`` on frames of `FINE_N_FFT`,
    read against `_through_transfer`."""
    fine_frames = {"n_fft": FINE_N_FFT, "hop_length": FINE_HOP_LENGTH}
    for _ in range(FINE_ROUNDS):
        through = _through_transfer(reference, candidate, spec=spec)
        frame_gain = _frame_gain(
            through, candidate, **fine_frames, sample_rate_hz=spec.sample_rate_hz
        )
        candidate = _divided(candidate, frame_gain, **fine_frames)
    return candidate


def residual_lag_samples(
    reference: np.ndarray,
    candidate: np.ndarray,
    *,
    sample_rate_hz: int = DEFAULT_SPEC.sample_rate_hz,
) -> int:
    """Lag ``d`` such that ``candidate[n]`` best matches ``reference[n + d]``, within
    `REFINE_MAX_LAG`, by the phase transform (GCC-PHAT).

    `app.audio.spectrum.find_offset_samples` correlates block means, which the
    bass outweighs: a high-pass's phase shift there moved its answer by 528
    samples on a bass-heavy song, which an average spectrum hardly notices but
    the transfer does (its frames no longer hold the same music). Whitening the
    cross-spectrum weighs every frequency alike.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.standard_normal(44_100).astype(np.float32)
    >>> residual_lag_samples(noise, noise[300:])
    300
    """
    middle = _middle(reference, candidate, samples=int(REFINE_EXCERPT_S * sample_rate_hz))
    n_fft = scipy.fft.next_fast_len(2 * (middle.stop - middle.start))
    cross = scipy.fft.rfft(reference[middle], n_fft) * np.conj(
        scipy.fft.rfft(candidate[middle], n_fft)
    )
    correlation = scipy.fft.irfft(cross / np.maximum(np.abs(cross), 1e-20), n_fft)
    lags = np.concatenate([correlation[-REFINE_MAX_LAG:], correlation[: REFINE_MAX_LAG + 1]])
    return int(np.argmax(lags)) - REFINE_MAX_LAG


def _silent(energy: np.ndarray) -> np.ndarray:
    return energy <= np.max(energy) * 10.0 ** (SILENT_BIN_DB / 10.0)


def _aligned(
    reference: Framed | np.ndarray, candidate: np.ndarray, *, spec: SpectrumSpec
) -> tuple[Framed | np.ndarray, np.ndarray]:
    """The pair with its alignment refined by `residual_lag_samples`."""
    samples = _samples(reference)
    lag = residual_lag_samples(samples, candidate, sample_rate_hz=spec.sample_rate_hz)
    if lag:
        return aligned_excerpts(samples, candidate, offset_samples=lag)
    return reference, candidate


def _candidate_through(
    transfer: np.ndarray, *, reference_magnitude: np.ndarray, candidate_magnitude: np.ndarray
) -> np.ndarray:
    """``reference_magnitude * transfer``, `candidate_magnitude` where `transfer` is NaN."""
    return np.where(np.isnan(transfer), candidate_magnitude, reference_magnitude * transfer)


def coherent_candidate_magnitude(
    reference: Framed | np.ndarray,
    candidate: np.ndarray,
    *,
    reference_magnitude: np.ndarray,
    candidate_magnitude: np.ndarray,
    spec: SpectrumSpec = DEFAULT_SPEC,
    demodulate: bool = False,
) -> np.ndarray:
    """The candidate's average spectrum without what its dynamics did to it.

    Parameters
    ----------
    reference, candidate : np.ndarray
        Mono audio aligned to within `REFINE_MAX_LAG` samples; the alignment is
        refined first (`residual_lag_samples`). A `Framed` reference keeps its
        spectra for the next candidate where the alignment leaves it whole.
    reference_magnitude, candidate_magnitude : np.ndarray
        Their average spectra (`app.audio.spectrum.average_spectrum`).
    spec : SpectrumSpec
        The spectra's layout.
    demodulate : bool
        Read the transfer of the candidate divided by ``g(t)``
        (`static_transfer_magnitude`).

    Returns
    -------
    np.ndarray
        ``reference_magnitude * |H| / gbar``, and `candidate_magnitude` in the
        bins where the reference is silent; it takes the place of
        `candidate_magnitude` in a model's features.
    """
    reference, candidate = _aligned(reference, candidate, spec=spec)
    transfer = static_transfer_magnitude(reference, candidate, spec=spec, demodulate=demodulate)
    return _candidate_through(
        transfer, reference_magnitude=reference_magnitude, candidate_magnitude=candidate_magnitude
    )


def coherent_candidate_of(comparison: Comparison, *, demodulate: bool = False) -> np.ndarray:
    """`coherent_candidate_magnitude` of a comparison's aligned excerpts."""
    return coherent_candidate_magnitude(
        comparison.reference_excerpt,
        comparison.candidate_excerpt,
        reference_magnitude=comparison.reference_magnitude,
        candidate_magnitude=comparison.candidate_magnitude,
        spec=comparison.spec,
        demodulate=demodulate,
    )
