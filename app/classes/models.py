"""Classes, their members and their assignments."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, String, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.models import UTCDateTime, utcnow
from app.db import Base

#: Days a class keeps its students' masters (and their previews) unless its instructor says.
DEFAULT_AUDIO_RETENTION_DAYS = 90
#: The longest retention an instructor may set: ten years.
MAX_AUDIO_RETENTION_DAYS = 3650


class SchoolClass(Base):
    """A class an instructor runs; students join it with its code."""

    __tablename__ = "classes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    join_code: Mapped[str] = mapped_column(String(16), unique=True)
    instructor_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True
    )
    #: Keep the students' uploaded masters on disk (never in the database).
    keep_audio: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: Days a kept master (and its preview) stays on disk after its rating; then it is removed.
    audio_retention_days: Mapped[int] = mapped_column(
        default=DEFAULT_AUDIO_RETENTION_DAYS,
        server_default=text(str(DEFAULT_AUDIO_RETENTION_DAYS)),
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Membership(Base):
    """A student in a class."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("class_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Assignment(Base):
    """A professional master, uploaded once, that students master toward."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Model to rate with; None: the service's default.
    model_id: Mapped[str | None] = mapped_column(String(64))
    reference_filename: Mapped[str] = mapped_column(String(255))
    #: Path of the stored professional master, relative to `DATA_DIR`.
    reference_path: Mapped[str] = mapped_column(String(500))
    reference_sha256: Mapped[str] = mapped_column(String(64))
    reference_duration_s: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
