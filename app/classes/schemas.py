"""What the classes API returns."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from app.classes.models import SchoolClass
from app.classes.service import StudentProgress


class ClassOut(BaseModel):
    """A class (the join code only for those who manage it)."""

    id: int
    name: str
    join_code: str | None
    keep_audio: bool
    created_at: datetime

    @classmethod
    def of(cls, school_class: SchoolClass, *, manager: bool) -> ClassOut:
        """Build from the table row."""
        return cls(
            id=school_class.id,
            name=school_class.name,
            join_code=school_class.join_code if manager else None,
            keep_audio=school_class.keep_audio,
            created_at=school_class.created_at,
        )


class ProgressPointOut(BaseModel):
    """One rating on one of the class's assignments."""

    rating_id: int
    created_at: datetime
    assignment_id: int
    assignment_title: str
    model: str
    rating: int
    distance_db: float | None = None


class StudentProgressOut(BaseModel):
    """A student's ratings over time, oldest first."""

    user_id: int
    email: str
    ratings: list[ProgressPointOut]


class ClassProgress(BaseModel):
    """Per student of a class, their ratings over time."""

    class_id: int
    name: str
    students: list[StudentProgressOut]

    @classmethod
    def of(cls, school_class: SchoolClass, progress: list[StudentProgress]) -> ClassProgress:
        """Build from the service's progress."""
        return cls(
            class_id=school_class.id,
            name=school_class.name,
            students=[
                StudentProgressOut(
                    user_id=student.user_id,
                    email=student.email,
                    ratings=[ProgressPointOut(**vars(point)) for point in student.ratings],
                )
                for student in progress
            ],
        )
