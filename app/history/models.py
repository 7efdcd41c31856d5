"""A stored rating: who, when, which assignment, and what the model said."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.models import UTCDateTime, utcnow
from app.db import Base


class Rating(Base):
    """One rating of a candidate master against a reference. Audio is never stored here."""

    __tablename__ = "ratings"
    __table_args__ = (Index("ix_ratings_user_id_created_at", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assignments.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    model_id: Mapped[str] = mapped_column(String(64))
    rating: Mapped[int]
    #: RMS of the level-aligned band difference, dB (null for ratings stored before it).
    distance_db: Mapped[float | None] = mapped_column(Float)
    #: What the rating's page draws beside the moves: amount, spectra, alignment (the
    #: `POST /rate` answer's fields); null for ratings stored before it was kept.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    operations: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    suggestions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    reference_filename: Mapped[str | None] = mapped_column(String(255))
    reference_sha256: Mapped[str] = mapped_column(String(64))
    reference_duration_s: Mapped[float] = mapped_column(Float)
    candidate_filename: Mapped[str | None] = mapped_column(String(255))
    candidate_sha256: Mapped[str] = mapped_column(String(64))
    candidate_duration_s: Mapped[float] = mapped_column(Float)
    #: `loudness`, `dynamics` and `stereo` of the `POST /rate` answer (None before they existed).
    measures: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: Candidate minus reference integrated loudness, LU, for charting over time.
    loudness_difference_lu: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: Kept candidate audio, relative to `DATA_DIR`, when the class keeps audio.
    candidate_audio_path: Mapped[str | None] = mapped_column(String(500))
