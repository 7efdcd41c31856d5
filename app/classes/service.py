"""Classes, memberships, assignments and progress. Every read is checked per object.

Services change the session; the caller commits.
"""

from __future__ import annotations

import csv
import io
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts.models import Role, User
from app.classes.models import MAX_AUDIO_RETENTION_DAYS, Assignment, Membership, SchoolClass
from app.errors import ServiceError
from app.history.models import Rating

#: No 0/O, 1/I/L: codes are read aloud and typed from a projector.
JOIN_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 8


class ClassError(ServiceError, ValueError):
    """A request about classes that is refused, with a sentence for the user."""


def new_join_code() -> str:
    """A random class join code."""
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def normalise_join_code(code: str) -> str:
    """Upper-case a typed code and drop spaces and dashes."""
    return code.strip().upper().replace("-", "").replace(" ", "")


def create_class(
    *, db_session: Session, instructor: User, name: str, keep_audio: bool = False
) -> SchoolClass:
    """Open a class run by `instructor` (an instructor or admin), with a fresh join code."""
    if instructor.role not in (Role.INSTRUCTOR, Role.ADMIN):
        raise ClassError("Only instructors can open classes.")
    name = name.strip()
    if not name or len(name) > 200 or "\x00" in name:
        raise ClassError("A class needs a name of 1 to 200 characters, without NUL characters.")
    while True:
        code = new_join_code()
        if db_session.scalar(select(SchoolClass.id).where(SchoolClass.join_code == code)) is None:
            break
    school_class = SchoolClass(
        name=name, join_code=code, instructor_id=instructor.id, keep_audio=keep_audio
    )
    db_session.add(school_class)
    db_session.flush()
    return school_class


def class_by_code(*, db_session: Session, code: str) -> SchoolClass | None:
    """The class with this join code, if any."""
    return db_session.scalar(
        select(SchoolClass).where(SchoolClass.join_code == normalise_join_code(code))
    )


def join_class(*, db_session: Session, user: User, code: str) -> SchoolClass:
    """Make a student a member of the class with this code (joining twice is a no-op)."""
    if user.role != Role.STUDENT:
        raise ClassError("Only students join classes.")
    school_class = class_by_code(db_session=db_session, code=code)
    if school_class is None:
        raise ClassError("No class has this join code.")
    exists = db_session.scalar(
        select(Membership.id).where(
            Membership.class_id == school_class.id, Membership.user_id == user.id
        )
    )
    if exists is None:
        db_session.add(Membership(class_id=school_class.id, user_id=user.id))
        try:
            db_session.flush()
        except IntegrityError:  # the same join sent twice at once
            raise ClassError("You are already in this class.") from None
    return school_class


def can_manage(user: User, school_class: SchoolClass) -> bool:
    """Instructors manage their own classes; admins manage every class."""
    return user.role == Role.ADMIN or (
        user.role == Role.INSTRUCTOR and school_class.instructor_id == user.id
    )


def is_member(*, db_session: Session, user: User, class_id: int) -> bool:
    """Whether the user is a student of the class."""
    return (
        db_session.scalar(
            select(Membership.id).where(
                Membership.class_id == class_id, Membership.user_id == user.id
            )
        )
        is not None
    )


def can_view(*, db_session: Session, user: User, school_class: SchoolClass) -> bool:
    """Managers and the class's students see a class; nobody else does."""
    return can_manage(user, school_class) or (
        user.role == Role.STUDENT
        and is_member(db_session=db_session, user=user, class_id=school_class.id)
    )


def get_class(
    *, db_session: Session, user: User, class_id: int, manage: bool = False
) -> SchoolClass | None:
    """The class if `user` may see it (or manage it, with `manage`); None otherwise."""
    school_class = db_session.get(SchoolClass, class_id)
    if school_class is None:
        return None
    allowed = (
        can_manage(user, school_class)
        if manage
        else can_view(db_session=db_session, user=user, school_class=school_class)
    )
    return school_class if allowed else None


def classes_for(*, db_session: Session, user: User) -> list[SchoolClass]:
    """The classes a user sees: their own (instructor), joined (student), all (admin)."""
    statement = select(SchoolClass).order_by(SchoolClass.created_at.desc(), SchoolClass.id.desc())
    if user.role == Role.INSTRUCTOR:
        statement = statement.where(SchoolClass.instructor_id == user.id)
    elif user.role == Role.STUDENT:
        statement = statement.join(Membership, Membership.class_id == SchoolClass.id).where(
            Membership.user_id == user.id
        )
    elif user.role != Role.ADMIN:
        return []
    return list(db_session.scalars(statement))


def members(*, db_session: Session, school_class: SchoolClass) -> list[User]:
    """The students of a class, by email."""
    return list(
        db_session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.class_id == school_class.id)
            .order_by(User.email)
        )
    )


def set_keep_audio(
    *, school_class: SchoolClass, keep_audio: bool, retention_days: int | None = None
) -> None:
    """Choose whether the students' uploaded masters are kept on disk, and for how many days."""
    school_class.keep_audio = keep_audio
    if retention_days is not None:
        if not 1 <= retention_days <= MAX_AUDIO_RETENTION_DAYS:
            raise ClassError(
                f"Keep audio for 1 to {MAX_AUDIO_RETENTION_DAYS} days; got {retention_days}."
            )
        school_class.audio_retention_days = retention_days


# Assignments ------------------------------------------------------------------------------


def create_assignment(
    *,
    db_session: Session,
    school_class: SchoolClass,
    title: str,
    due_at: datetime,
    reference_path: Path,
    reference_filename: str,
    reference_sha256: str,
    reference_duration_s: float,
    data_dir: Path,
    model_id: str | None = None,
) -> Assignment:
    """Create an assignment, moving the professional master under `data_dir`."""
    title = title.strip()
    if not title or len(title) > 200 or "\x00" in title:
        raise ClassError(
            "An assignment needs a title of 1 to 200 characters, without NUL characters."
        )
    if due_at.tzinfo is None:
        raise ClassError("The due date needs a time zone.")
    assignment = Assignment(
        class_id=school_class.id,
        title=title,
        due_at=due_at,
        model_id=model_id or None,
        reference_filename=Path(reference_filename).name[:255] or "reference",
        reference_path="",
        reference_sha256=reference_sha256,
        reference_duration_s=reference_duration_s,
    )
    db_session.add(assignment)
    db_session.flush()
    suffix = Path(reference_filename).suffix.lower()
    suffix = suffix if suffix[1:].isalnum() and len(suffix) <= 6 else ""
    relative = Path("assignments") / str(assignment.id) / f"reference{suffix}"
    target = data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(reference_path, target)
    assignment.reference_path = relative.as_posix()
    db_session.flush()
    return assignment


def assignments_of(*, db_session: Session, school_class: SchoolClass) -> list[Assignment]:
    """A class's assignments, soonest due first."""
    return list(
        db_session.scalars(
            select(Assignment)
            .where(Assignment.class_id == school_class.id)
            .order_by(Assignment.due_at, Assignment.id)
        )
    )


def get_assignment(
    *, db_session: Session, user: User, assignment_id: int
) -> tuple[Assignment, SchoolClass] | None:
    """The assignment and its class if `user` may see the class; None otherwise."""
    assignment = db_session.get(Assignment, assignment_id)
    if assignment is None:
        return None
    school_class = get_class(db_session=db_session, user=user, class_id=assignment.class_id)
    if school_class is None:
        return None
    return assignment, school_class


def own_ratings_for(*, db_session: Session, user: User, assignment: Assignment) -> list[Rating]:
    """The user's ratings for one assignment, newest first."""
    return list(
        db_session.scalars(
            select(Rating)
            .where(Rating.user_id == user.id, Rating.assignment_id == assignment.id)
            .order_by(Rating.created_at.desc(), Rating.id.desc())
        )
    )


# Progress ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ProgressPoint:
    """One rating of a student on one of the class's assignments."""

    rating_id: int
    created_at: datetime
    assignment_id: int
    assignment_title: str
    model: str
    rating: int
    distance_db: float | None = None


@dataclass(frozen=True, kw_only=True)
class StudentProgress:
    """A student's ratings on the class's assignments, oldest first."""

    user_id: int
    email: str
    ratings: list[ProgressPoint]


def class_progress(*, db_session: Session, school_class: SchoolClass) -> list[StudentProgress]:
    """Per student of the class, their ratings on its assignments over time."""
    students = members(db_session=db_session, school_class=school_class)
    rows = db_session.execute(
        select(Rating, Assignment.title)
        .join(Assignment, Assignment.id == Rating.assignment_id)
        .join(
            Membership,
            (Membership.user_id == Rating.user_id) & (Membership.class_id == school_class.id),
        )
        .where(Assignment.class_id == school_class.id)
        .order_by(Rating.created_at, Rating.id)
    ).all()
    by_user: dict[int, list[ProgressPoint]] = {student.id: [] for student in students}
    for rating, title in rows:
        assert rating.assignment_id is not None
        by_user.setdefault(rating.user_id, []).append(
            ProgressPoint(
                rating_id=rating.id,
                created_at=rating.created_at,
                assignment_id=rating.assignment_id,
                assignment_title=title,
                model=rating.model_id,
                rating=rating.rating,
                distance_db=rating.distance_db,
            )
        )
    return [
        StudentProgress(user_id=student.id, email=student.email, ratings=by_user[student.id])
        for student in students
    ]


CSV_COLUMNS = (
    "student_email",
    "rating_id",
    "created_at",
    "assignment_id",
    "assignment_title",
    "model",
    "rating",
    "distance_db",
)


def progress_csv(progress: list[StudentProgress]) -> str:
    """The class progress as CSV, one row per rating (students without any get none)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for student in progress:
        for point in student.ratings:
            writer.writerow(
                [
                    _csv_safe(student.email),
                    point.rating_id,
                    point.created_at.isoformat(),
                    point.assignment_id,
                    _csv_safe(point.assignment_title),
                    _csv_safe(point.model),
                    point.rating,
                    "" if point.distance_db is None else point.distance_db,
                ]
            )
    return buffer.getvalue()


def _csv_safe(text: str) -> str:
    """Defuse spreadsheet formulas (CSV injection) in user-provided text."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
