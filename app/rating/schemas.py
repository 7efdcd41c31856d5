"""What `POST /rate` and `GET /models` answer (DESIGN.md section 5)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.audio.eq import EqType
from app.audio.spectrum import REFERENCE_TOP_NOTICE_HZ

Band = Literal["bass", "mids", "treble"]


class Operation(BaseModel):
    """An EQ operation applied to the reference to obtain the candidate."""

    frequency_hz: float = Field(
        description="Centre frequency (the grid note's for grid models); a shelf's corner "
        "frequency (half its gain in dB), a pass filter's cutoff (-3 dB)."
    )
    gain_db: float = Field(
        description="Gain at the centre or of the shelf; positive boosts, negative cuts; "
        "0 for pass filters."
    )
    width_octaves: float | None = Field(description="Bandwidth in octaves; bells only, else null.")
    band: Band
    confidence: float | None = Field(default=None, description="Model confidence, 0 to 1.")
    type: EqType = Field(
        default="bell",
        description="Kind of operation: an RBJ bell or shelf, or a Butterworth pass filter.",
    )
    slope: float | None = Field(
        default=None, description="A shelf's RBJ slope S (1 is steepest without overshoot)."
    )
    order: int | None = Field(
        default=None, description="A pass filter's order: 2 (12 dB/octave) or 4 (24 dB/octave)."
    )


SuggestionKind = Literal["eq", "loudness", "dynamics", "stereo"]


class SuggestionOut(BaseModel):
    """A move that takes the candidate back toward the reference."""

    band: Band | None = Field(
        description="Where the move sits; null for a whole-master move (loudness, dynamics)."
    )
    action: Literal["increase", "decrease"]
    frequency_hz: float | None = Field(
        description="Centre of the EQ move, or of the octave band for a stereo one; null otherwise."
    )
    gain_db: float = Field(
        description="eq: suggested gain, scaled by `amount` (0 for pass filters); loudness: the "
        "gain to apply; dynamics: how much less (negative) or more limiting; stereo: the width "
        "change."
    )
    width_octaves: float | None = Field(description="Width of the bell; null for other types.")
    text: str = Field(
        examples=[
            "Decrease bass: cut about 6 dB around 262 Hz",
            "Lower the low shelf: about 3 dB below 120 Hz",
            "Remove the high-pass at 30 Hz",
        ]
    )
    type: EqType | None = Field(
        default="bell",
        description="The operation the move is about; a pass filter's is removed. null for "
        "kinds other than eq.",
    )
    slope: float | None = Field(default=None, description="A shelf's RBJ slope S.")
    order: int | None = Field(default=None, description="A pass filter's order.")
    kind: SuggestionKind = Field(
        default="eq",
        description="eq (the recognised EQ operations), loudness, dynamics or stereo.",
    )


class Spectra(BaseModel):
    """Everything needed to draw the comparison, on the model's log bands."""

    band_centres_hz: list[float]
    reference_db: list[float] = Field(
        description="Average spectrum of the reference, dB relative to its loudest band."
    )
    candidate_db: list[float] = Field(
        description="Average spectrum of the candidate, level-aligned to the reference, dB."
    )
    difference_db: list[float] = Field(description="candidate_db - reference_db.")
    curve_db: list[float] = Field(description="Summed response of the recognised operations.")
    eq_difference_db: list[float] | None = Field(
        default=None,
        description=(
            "The difference as the model reads it, where that is not difference_db: the "
            "candidate through the static transfer from the reference, so what a compressor "
            "or a limiter did is left out and the EQ alone remains (the general model, and "
            "the grid models fitted or served so); null where the model reads difference_db."
        ),
    )


class Alignment(BaseModel):
    """How the two files were lined up before comparing."""

    offset_s: float = Field(description="Positive: the candidate starts later in the song.")
    overlap_s: float = Field(description="Length of audio both files hold, compared.")
    level_offset_db: float = Field(
        description="Broadband level of the candidate against the reference."
    )
    band_limit_hz: float | None = Field(
        default=None,
        description="Where one file stops holding audio (a lossy encoder's low-pass, most "
        "often); the models read the bands above as flat. null when neither file stops "
        "short of the other.",
    )
    band_limited_file: Literal["reference", "candidate"] | None = Field(
        default=None, description="The file that stops at band_limit_hz."
    )
    reference_top_hz: float | None = Field(
        default=None,
        description="Where the reference stops holding audio, when below "
        f"{REFERENCE_TOP_NOTICE_HZ / 1000:g} kHz (a lossy or old source): it shows nothing of "
        "a move above, and the EQ read near it is less sure. null when the reference holds "
        "audio above that.",
    )


class FileInfo(BaseModel):
    """One uploaded file as decoded."""

    filename: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    format: str
    sample_rate_hz: int
    channels: int
    duration_s: float


class Timings(BaseModel):
    """Where the time went, seconds."""

    upload_s: float = 0.0
    queue_s: float = 0.0
    decode_s: float
    compare_s: float
    recognise_s: float
    measure_s: float = Field(
        default=0.0,
        description="Time spent waiting for the loudness, dynamics and stereo measures after "
        "recognising (they run beside the EQ comparison).",
    )
    analysis_s: float = Field(description="decode + compare + recognise + measure.")
    total_s: float = 0.0


class FileLoudness(BaseModel):
    """Loudness of one file (ITU-R BS.1770-4, EBU Tech 3341/3342)."""

    integrated_lufs: float = Field(description="Gated integrated loudness, LUFS.")
    momentary_max_lufs: float = Field(description="Loudest 400 ms block, LUFS.")
    short_term_max_lufs: float = Field(description="Loudest 3 s block, LUFS.")
    loudness_range_lu: float = Field(description="Loudness range (EBU Tech 3342), LU.")
    sample_peak_dbfs: float
    true_peak_dbtp: float = Field(description="Four-times-oversampled peak, dBTP.")
    plr_db: float = Field(description="Peak to loudness ratio: true peak - integrated, dB.")
    normalised_gain_db: float = Field(
        description="Gain a player normalising to `target_lufs` applies to this file, dB."
    )
    normalised_true_peak_dbtp: float = Field(
        description="Where the true peak sits after that gain, dBTP."
    )
    short_term_lufs: list[float | None] = Field(
        description="Short-term loudness over time (null below -70 LUFS): element i is the "
        "3 s block ending at short_term_start_s + i * short_term_step_s."
    )
    short_term_start_s: float
    short_term_step_s: float


class LoudnessComparison(BaseModel):
    """Loudness of both masters and the player normalisation they would get."""

    reference: FileLoudness
    candidate: FileLoudness
    target_lufs: float = Field(description="Normalisation target of `normalised_gain_db`.")
    difference_lu: float = Field(description="Candidate minus reference integrated loudness.")


class DynamicsBand(BaseModel):
    """Crest factor (envelope peak over RMS) of one octave band of each master, dB."""

    low_hz: float
    high_hz: float
    reference_crest_db: float
    candidate_crest_db: float


class PsrDistribution(BaseModel):
    """PSR (true peak minus short-term loudness per 3 s window) percentiles, dB."""

    p10_db: float
    median_db: float
    p90_db: float


class DynamicsComparison(BaseModel):
    """Dynamics of both masters and how much harder the candidate is limited."""

    bands: list[DynamicsBand]
    reference_psr: PsrDistribution
    candidate_psr: PsrDistribution
    limiting_db: float = Field(
        description="Estimate of how much harder (positive) or softer (negative) the candidate "
        "is limited and compressed: reference median PSR minus the candidate's, dB."
    )
    summary: str = Field(description="The estimate in words.")


class StereoBand(BaseModel):
    """Width (10 log10 side/mid energy, dB) and L/R correlation of one octave band."""

    low_hz: float
    high_hz: float
    reference_width_db: float
    candidate_width_db: float
    reference_correlation: float
    candidate_correlation: float


class StereoComparison(BaseModel):
    """Stereo image of both masters; null in the answer when either file is mono."""

    reference_correlation: float
    candidate_correlation: float
    bands: list[StereoBand]
    mono_warnings: list[str] = Field(
        default_factory=list,
        description="Bands with energy whose channels are anti-correlated (cancel in mono).",
    )


class RateResponse(BaseModel):
    """The rating of a candidate master against the reference."""

    id: int | None = Field(default=None, description="Id of the stored rating, when stored.")
    rating: int = Field(ge=0, description="Number of EQ operations recognised; 0 is the same EQ.")
    distance_db: float | None = Field(
        default=None,
        description="RMS of the level-aligned band difference over the audible bands, dB: "
        "a continuous distance beside the count (0 is the same EQ).",
    )
    model: str
    amount: float = Field(description="Strength of the suggestions, percent.")
    operations: list[Operation]
    suggestions: list[SuggestionOut]
    spectra: Spectra
    alignment: Alignment
    files: dict[Literal["reference", "candidate"], FileInfo]
    timings: Timings
    loudness: LoudnessComparison | None = Field(
        default=None, description="Loudness and peaks of both masters."
    )
    dynamics: DynamicsComparison | None = Field(
        default=None, description="Crest factor per band, PSR and the limiting estimate."
    )
    stereo: StereoComparison | None = Field(
        default=None, description="Width and correlation per band; null when a file is mono."
    )


class ModelInfo(BaseModel):
    """A servable model."""

    id: str
    default: bool
    description: str = ""
    recognises: Any = Field(default=None, description="What the model recognises.")
    figures: dict[str, Any] = Field(default_factory=dict, description="Evaluation figures.")


class ModelsResponse(BaseModel):
    """Every servable model."""

    default: str
    models: list[ModelInfo]


class ErrorResponse(BaseModel):
    """A refusal, with a sentence naming the file and the limit."""

    detail: str
