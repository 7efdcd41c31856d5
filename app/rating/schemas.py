"""What `POST /rate` and `GET /models` answer (DESIGN.md section 5)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.audio.eq import EqType

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


class SuggestionOut(BaseModel):
    """A move that takes the candidate back toward the reference."""

    band: Band
    action: Literal["increase", "decrease"]
    frequency_hz: float
    gain_db: float = Field(description="Suggested gain, scaled by `amount`; 0 for pass filters.")
    width_octaves: float | None = Field(description="Width of the bell; null for other types.")
    text: str = Field(
        examples=[
            "Decrease bass: cut about 6 dB around 262 Hz",
            "Lower the low shelf: about 3 dB below 120 Hz",
            "Remove the high-pass at 30 Hz",
        ]
    )
    type: EqType = Field(
        default="bell", description="The operation the move is about; a pass filter's is removed."
    )
    slope: float | None = Field(default=None, description="A shelf's RBJ slope S.")
    order: int | None = Field(default=None, description="A pass filter's order.")


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
        "often); the models read the bands above as flat. null when both go on to 20 kHz.",
    )
    band_limited_file: Literal["reference", "candidate"] | None = Field(
        default=None, description="The file that stops at band_limit_hz."
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
    analysis_s: float = Field(description="decode + compare + recognise.")
    total_s: float = 0.0


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
