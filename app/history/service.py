"""Store ratings and read them back, only ever for their owner. The caller commits."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.classes.models import Assignment, SchoolClass
from app.classes.service import is_member
from app.errors import ServiceError
from app.history.models import Rating


class FileFacts(Protocol):
    """What a rating records of each file (the rating service's `FileInfo` fits)."""

    @property
    def sha256(self) -> str | None: ...

    @property
    def duration_s(self) -> float: ...

    @property
    def filename(self) -> str | None: ...


@dataclass(frozen=True, kw_only=True)
class StoredFile:
    """The facts about one file that a rating keeps."""

    sha256: str
    duration_s: float
    filename: str | None = None


#: Where kept candidate masters lie, relative to `DATA_DIR`.
KEPT_FOLDER = Path("audio") / "ratings"
#: The answer's fields a rating keeps for its page, beside its own columns.
DETAILS = ("amount", "spectra", "alignment")


class HistoryError(ServiceError, LookupError):
    """The rating cannot be stored for this user (unknown assignment, not a member): 404."""

    default_status = 404


def sha256_file(path: Path, *, chunk_bytes: int = 1 << 20) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def describe_file(path: Path, *, filename: str | None = None) -> StoredFile:
    """Hash a file and read its duration from the header (no decoding)."""
    from app.audio.io import read_header

    duration = read_header(path, name=filename or path.name).duration_s
    if duration is None:
        import soundfile

        duration = float(soundfile.info(str(path)).duration)
    return StoredFile(sha256=sha256_file(path), duration_s=float(duration), filename=filename)


def _result_fields(result: Any) -> Mapping[str, Any]:
    if isinstance(result, Mapping):
        return result
    dump = getattr(result, "model_dump", None)
    if callable(dump):
        data = dump(mode="json")
        assert isinstance(data, Mapping)
        return data
    raise TypeError(f"cannot store a rating result of type {type(result).__name__}")


def _plain(items: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items or []:
        dump = getattr(item, "model_dump", None)
        out.append(dict(dump(mode="json")) if callable(dump) else dict(item))
    return out


def _sha(info: FileFacts, name: str) -> str:
    if not info.sha256 or len(info.sha256) != 64:
        raise ValueError(f"the {name} file's sha256 is needed to store a rating")
    return info.sha256


def store_rating(
    *,
    db_session: Session,
    user: User,
    assignment_id: int | None,
    result: Any,
    reference_info: FileFacts,
    candidate_info: FileFacts,
    candidate_path: Path | None = None,
    data_dir: Path | None = None,
) -> Rating:
    """Record a rating in the user's history and return it (with its id).

    `result` is the rating service's `RateResponse` (or a mapping with `rating`, `model`,
    `operations`, `suggestions`). With an assignment, the user must be a member of its class;
    when the class keeps audio, the candidate file is copied under `data_dir` (never into the
    database). The caller commits.
    """
    fields = _result_fields(result)
    keep_audio = False
    if assignment_id is not None:
        assignment = db_session.get(Assignment, assignment_id)
        if assignment is None or not is_member(
            db_session=db_session, user=user, class_id=assignment.class_id
        ):
            raise HistoryError(f"assignment {assignment_id} is not one of yours")
        school_class = db_session.get(SchoolClass, assignment.class_id)
        keep_audio = bool(school_class and school_class.keep_audio)
    rating = Rating(
        user_id=user.id,
        assignment_id=assignment_id,
        model_id=str(fields["model"]),
        rating=int(fields["rating"]),
        distance_db=_maybe_float(fields.get("distance_db")),
        details={key: fields[key] for key in DETAILS if fields.get(key) is not None} or None,
        operations=_plain(fields.get("operations")),
        suggestions=_plain(fields.get("suggestions")),
        reference_filename=_short(reference_info.filename),
        reference_sha256=_sha(reference_info, "reference"),
        reference_duration_s=float(reference_info.duration_s),
        candidate_filename=_short(candidate_info.filename),
        candidate_sha256=_sha(candidate_info, "candidate"),
        candidate_duration_s=float(candidate_info.duration_s),
        **_measure_fields(fields),
    )
    db_session.add(rating)
    db_session.flush()
    if keep_audio and candidate_path is not None:
        rating.candidate_audio_path = _keep_audio(
            rating=rating,
            source=candidate_path,
            data_dir=data_dir,
            filename=candidate_info.filename,
        )
        db_session.flush()
    return rating


def _maybe_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _measure_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The whole-master measures of an answer, and its loudness difference, when it has them."""
    loudness = fields.get("loudness")
    if not loudness:
        return {}
    return {
        "measures": {key: fields.get(key) for key in ("loudness", "dynamics", "stereo")},
        "loudness_difference_lu": float(loudness["difference_lu"]),
    }


def _short(filename: str | None) -> str | None:
    return None if filename is None else Path(filename).name[:255]


def _keep_audio(
    *, rating: Rating, source: Path, data_dir: Path | None, filename: str | None
) -> str:
    if data_dir is None:
        from app.config import get_settings

        data_dir = get_settings().DATA_DIR
    suffix = Path(filename or source.name).suffix.lower()
    suffix = suffix if suffix.isascii() and len(suffix) <= 6 and suffix[1:].isalnum() else ""
    relative = KEPT_FOLDER / str(rating.user_id) / f"{rating.id}-candidate{suffix}"
    target = data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return relative.as_posix()


def list_ratings(
    *, db_session: Session, user: User, limit: int = 100, offset: int = 0
) -> list[Rating]:
    """The user's own ratings, newest first."""
    return list(
        db_session.scalars(
            select(Rating)
            .where(Rating.user_id == user.id)
            .order_by(Rating.created_at.desc(), Rating.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )


def get_rating(*, db_session: Session, user: User, rating_id: int) -> Rating | None:
    """One of the user's own ratings; None for another's (so the caller answers 404)."""
    rating = db_session.get(Rating, rating_id)
    if rating is None or rating.user_id != user.id:
        return None
    return rating


def store_rate_response(*, db_session: Session, user: User, result: Any) -> Rating:
    """Store a `POST /rate` answer (the rating service's `RateResponse`) in the user's history."""
    files = result.files
    return store_rating(
        db_session=db_session,
        user=user,
        assignment_id=None,
        result=result,
        reference_info=files["reference"],
        candidate_info=files["candidate"],
    )


def viewable_rating(*, db_session: Session, user: User, rating_id: int) -> Rating | None:
    """A rating for its owner, or for the instructor of its assignment's class; else None."""
    rating = db_session.get(Rating, rating_id)
    if rating is None:
        return None
    if rating.user_id == user.id:
        return rating
    assignment = db_session.get(Assignment, rating.assignment_id) if rating.assignment_id else None
    school_class = db_session.get(SchoolClass, assignment.class_id) if assignment else None
    if school_class is not None and school_class.instructor_id == user.id:
        return rating
    return None


def result_of(rating: Rating) -> dict[str, Any]:
    """A stored rating in the shape of the `POST /rate` answer the result partial draws."""
    details = rating.details or {}
    return {
        "id": rating.id,
        "stored": True,
        "rating": rating.rating,
        "distance_db": rating.distance_db,
        "model": rating.model_id,
        "amount": details.get("amount", 100.0),
        "operations": rating.operations,
        # Ratings stored before suggestions had a kind held EQ moves only.
        "suggestions": [{"kind": "eq", **s} for s in rating.suggestions or []],
        "spectra": details.get("spectra"),
        "alignment": details.get("alignment"),
        "timings": None,
        **(rating.measures or {"loudness": None, "dynamics": None, "stereo": None}),
    }
