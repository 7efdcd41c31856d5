"""The versioned feature spec shared by training and serving.

A model is only valid for the features it was trained on, so everything that
fixes them (analysis rate, STFT, band layout, version of this code) is a
`FeatureSpec`, stored in each model's metadata and compared at load time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from app.audio.spectrum import (
    DEFAULT_SPEC,
    SpectrumSpec,
    band_difference_db,
    band_levels_db,
    hold_band_limit,
    level_offset_db,
)

#: Bump when the meaning of any feature changes.
FEATURE_VERSION = 2
#: The `FeatureSpec` fields a model is trained with or without (of these,
#: `reference_levels` and `lossy_flag` add columns, in this order; `coherent`
#: adds `imprint_features` after them).
OPTIONS = ("reference_levels", "lossy_flag", "level_floor", "coherent", "demodulated")
#: Every `FeatureSpec` field a model sets for itself: the options and what they carry.
PER_MODEL = (*OPTIONS, "demodulation_version")


@dataclass(frozen=True, kw_only=True)
class FeatureSpec:
    """What a model's input vector is made from."""

    version: int = FEATURE_VERSION
    sample_rate_hz: int = DEFAULT_SPEC.sample_rate_hz
    n_fft: int = DEFAULT_SPEC.n_fft
    hop_length: int = DEFAULT_SPEC.hop_length
    min_frequency_hz: float = DEFAULT_SPEC.min_frequency_hz
    bands_per_octave: int = DEFAULT_SPEC.bands_per_octave
    n_bands: int = DEFAULT_SPEC.n_bands
    low_n_fft: int = DEFAULT_SPEC.low_n_fft
    low_hop_length: int = DEFAULT_SPEC.low_hop_length
    crossover_hz: float = DEFAULT_SPEC.crossover_hz
    #: An option a model is trained with or without: it also reads the
    #: reference's band levels (`reference_levels_db`), which tell the quiet
    #: bands, where a lossy codec's noise can outweigh the music, from the rest.
    reference_levels: bool = False
    #: An option too: it is also told whether the candidate was decoded from a
    #: lossy format (`app.audio.spectrum.Comparison.candidate_lossy`), as the
    #: service knows from the upload's container.
    lossy_flag: bool = False
    #: An option that adds no column: bins empty in both files read as the
    #: level change rather than as 0 dB (`app.audio.spectrum.band_difference_db`).
    #: Models fitted before it read such bins as 0 dB.
    level_floor: bool = False
    #: An option too: the candidate's spectrum is the reference's
    #: through the static transfer between the two (`app.audio.transfer`), which
    #: leaves out what a compressor, a limiter or a codec did to it; what they did
    #: follows as columns of its own.
    coherent: bool = False
    #: An option that adds no column: with `coherent`, the transfer is read from the
    #: candidate divided by its gain frame by frame (`app.audio.transfer`,
    #: ``demodulate``). Models fitted before it read the transfer divided by the gain
    #: each frequency met on average.
    demodulated: bool = False
    #: With `demodulated`, which demodulation (`app.audio.transfer.DEMODULATION_VERSION`);
    #: a model is only loaded by the code that computes the same. 0 without it, and for
    #: models fitted before it was recorded.
    demodulation_version: int = 0

    @property
    def options(self) -> list[str]:
        """Names of the options this spec turns on."""
        return [name for name in OPTIONS if getattr(self, name)]

    def without_options(self) -> FeatureSpec:
        """This spec with every per-model option off: what must match the code."""
        return replace(self, **{name: getattr(CURRENT_SPEC, name) for name in PER_MODEL})

    @property
    def spectrum(self) -> SpectrumSpec:
        """The spectrum layout this spec describes."""
        return SpectrumSpec(
            sample_rate_hz=self.sample_rate_hz,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            min_frequency_hz=self.min_frequency_hz,
            bands_per_octave=self.bands_per_octave,
            n_bands=self.n_bands,
            low_n_fft=self.low_n_fft,
            low_hop_length=self.low_hop_length,
            crossover_hz=self.crossover_hz,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, band edges included so a reader needs no code."""
        return {**asdict(self), "band_edges_hz": self.spectrum.band_edges_hz.round(4).tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        """Inverse of `to_dict` (the derived band edges are ignored)."""
        fields = {key: value for key, value in data.items() if key != "band_edges_hz"}
        return cls(**fields)


CURRENT_SPEC = FeatureSpec()


def band_features(
    reference_magnitude: np.ndarray,
    candidate_magnitude: np.ndarray,
    *,
    spec: FeatureSpec = CURRENT_SPEC,
) -> np.ndarray:
    """Level-aligned band difference followed by the removed level, shape ``(n_bands + 1,)``.

    Parameters
    ----------
    reference_magnitude, candidate_magnitude : np.ndarray
        Average spectra of the two masters (`app.audio.spectrum.average_spectrum`).
    spec : FeatureSpec
        Band layout.

    Returns
    -------
    np.ndarray
        ``band_db - level`` for every band, then ``level`` (dB): the model can
        use the shape without the level, or add them back. Past a band limit
        of either file (a lossy encoder's low-pass), the bands hold the last
        band below it (`app.audio.spectrum.hold_band_limit`).
    """
    raw = band_difference_db(
        reference_magnitude, candidate_magnitude, spec=spec.spectrum, level_floor=spec.level_floor
    )
    level = level_offset_db(raw, spec=spec.spectrum)
    return np.append(hold_band_limit(raw - level, spec=spec.spectrum), level)


def reference_levels_db(
    reference_magnitudes: np.ndarray, *, spec: FeatureSpec = CURRENT_SPEC
) -> np.ndarray:
    """Each reference's band levels relative to its loudest band, shape ``(n, n_bands)``.

    Parameters
    ----------
    reference_magnitudes : np.ndarray
        Average spectra of the references, shape ``(n, n_bins)``.

    Returns
    -------
    np.ndarray
        dB, 0 at each reference's loudest band and negative elsewhere.
    """
    return np.stack([band_levels_db(ref, spec=spec.spectrum) for ref in reference_magnitudes])


def option_columns(
    reference_magnitudes: np.ndarray, *, spec: FeatureSpec, lossy: np.ndarray | None
) -> list[np.ndarray]:
    """The per-example columns of the spec's options, in order.

    Parameters
    ----------
    reference_magnitudes : np.ndarray
        Average spectra of the references, shape ``(n, n_bins)``.
    spec : FeatureSpec
        With `reference_levels`: the `reference_levels_db` columns. With
        `lossy_flag`: one column, 1 where the candidate was lossy-coded.
    lossy : np.ndarray, optional
        Whether each candidate was decoded from a lossy format (default: none was).
    """
    columns = []
    if spec.reference_levels:
        columns.append(reference_levels_db(reference_magnitudes, spec=spec))
    if spec.lossy_flag:
        flags = np.zeros(len(reference_magnitudes)) if lossy is None else np.asarray(lossy)
        columns.append(flags.astype(np.float32).reshape(-1, 1))
    return columns


def read_candidates(
    candidate_magnitudes: np.ndarray, coherent_magnitudes: np.ndarray | None, *, spec: FeatureSpec
) -> np.ndarray:
    """The candidates' spectra a model's band features read: with `FeatureSpec.coherent`
    those through the static transfer (`app.audio.transfer`), else as they are."""
    if not spec.coherent:
        return candidate_magnitudes
    if coherent_magnitudes is None:
        raise ValueError("a coherent feature spec needs the coherent candidate spectra")
    return coherent_magnitudes


#: Octaves from the spec's lowest band that `imprint_features` averages over.
IMPRINT_OCTAVES = 10


def octave_means(
    values: np.ndarray, *, spec: FeatureSpec = CURRENT_SPEC, octaves: int = IMPRINT_OCTAVES
) -> np.ndarray:
    """The mean of per-band `values`, from the spec's lowest band, in each of `octaves`
    octaves; NaN in the octaves the values stop below.

    Examples
    --------
    >>> octave_means(np.arange(18.0), octaves=3).tolist()
    [5.5, 14.5, nan]
    """
    values = values[: octaves * spec.bands_per_octave]
    octave = np.arange(len(values)) // spec.bands_per_octave
    sums = np.bincount(octave, weights=values)
    means = np.full(octaves, np.nan)
    means[: len(sums)] = sums / np.bincount(octave)
    return means


def imprint_features(
    reference_magnitudes: np.ndarray,
    candidate_magnitudes: np.ndarray,
    coherent_magnitudes: np.ndarray,
    *,
    spec: FeatureSpec = CURRENT_SPEC,
) -> np.ndarray:
    """What the dynamics and noise did to each candidate's spectrum, octave by octave.

    Parameters
    ----------
    reference_magnitudes, candidate_magnitudes, coherent_magnitudes : np.ndarray
        Average spectra, shape ``(n, n_bins)``: the references, the candidates
        as they are, and the candidates through the static transfer.
    spec : FeatureSpec
        Band layout.

    Returns
    -------
    np.ndarray
        Shape ``(n, IMPRINT_OCTAVES + 1)``: the level-aligned band difference
        of the candidate less that of its coherent spectrum, averaged per octave
        (0 for a candidate that differs by EQ alone; a compressor's pumping
        and a limiter's distortion leave their mark), then its RMS over every band.
    """
    rows = []
    for ref, cand, coherent in zip(
        reference_magnitudes, candidate_magnitudes, coherent_magnitudes, strict=True
    ):
        imprint = (
            band_features(ref, cand, spec=spec)[: spec.n_bands]
            - band_features(ref, coherent, spec=spec)[: spec.n_bands]
        )
        means = octave_means(imprint, spec=spec)
        rows.append(np.append(means, np.sqrt(np.mean(imprint**2))))
    return np.array(rows, dtype=np.float32)


def imprint_columns(
    reference_magnitudes: np.ndarray,
    candidate_magnitudes: np.ndarray,
    read_magnitudes: np.ndarray,
    *,
    spec: FeatureSpec,
) -> list[np.ndarray]:
    """The `imprint_features` columns with `FeatureSpec.coherent`, else none."""
    if not spec.coherent:
        return []
    imprint = imprint_features(
        reference_magnitudes, candidate_magnitudes, read_magnitudes, spec=spec
    )
    return [imprint]
