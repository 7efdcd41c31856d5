"""What the history API returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.history.models import Rating


class FileOut(BaseModel):
    """One of the two files of a rating (the audio itself is not stored)."""

    filename: str | None
    sha256: str
    duration_s: float


class RatingOut(BaseModel):
    """A stored rating."""

    id: int
    created_at: datetime
    assignment_id: int | None
    model: str
    rating: int = Field(description="Number of EQ operations recognised; 0 is the same EQ.")
    distance_db: float | None = Field(
        default=None, description="RMS of the level-aligned band difference, dB (0: same EQ)."
    )
    operations: list[dict[str, Any]]
    suggestions: list[dict[str, Any]]
    reference: FileOut
    candidate: FileOut
    audio_kept: bool = Field(description="Whether the candidate audio is kept on disk.")
    loudness_difference_lu: float | None = Field(
        default=None, description="Candidate minus reference integrated loudness, LU."
    )
    measures: dict[str, Any] | None = Field(
        default=None,
        description="`loudness`, `dynamics` and `stereo` as POST /rate answered them "
        "(null for ratings stored before they were measured).",
    )

    @classmethod
    def of(cls, rating: Rating) -> RatingOut:
        """Build from the table row."""
        return cls(
            id=rating.id,
            created_at=rating.created_at,
            assignment_id=rating.assignment_id,
            model=rating.model_id,
            rating=rating.rating,
            distance_db=rating.distance_db,
            operations=rating.operations,
            suggestions=rating.suggestions,
            reference=FileOut(
                filename=rating.reference_filename,
                sha256=rating.reference_sha256,
                duration_s=rating.reference_duration_s,
            ),
            candidate=FileOut(
                filename=rating.candidate_filename,
                sha256=rating.candidate_sha256,
                duration_s=rating.candidate_duration_s,
            ),
            audio_kept=rating.candidate_audio_path is not None,
            loudness_difference_lu=rating.loudness_difference_lu,
            measures=rating.measures,
        )


class RatingList(BaseModel):
    """The caller's ratings, newest first."""

    ratings: list[RatingOut]
