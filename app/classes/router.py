"""Classes API (list, progress, CSV export) and assignment submission.

Role checks answer 403 (a student never reads progress); object checks answer 404 (an
instructor asking for another instructor's class learns nothing about it).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile, status
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from app.accounts.models import Role, User
from app.classes import service
from app.classes.models import SchoolClass
from app.classes.schemas import ClassOut, ClassProgress
from app.errors import ServiceError
from app.history.service import StoredFile, describe_file, store_rating
from app.http.deps import (
    CurrentUser,
    PoolDep,
    RegistryDep,
    RowId,
    SessionDep,
    SettingsDep,
    csrf_protect,
    require_role,
)
from app.http.templates import redirect
from app.rating.service import Upload, rate_in_pool, resolve_model
from app.rating.uploads import clean_filename

router = APIRouter(tags=["classes"], dependencies=[Depends(csrf_protect)])

Manager = Annotated[User, Depends(require_role(Role.INSTRUCTOR, Role.ADMIN))]
Student = Annotated[User, Depends(require_role(Role.STUDENT))]
MB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class SavedUpload:
    """A file on disk with its hash, ready to rate."""

    path: Path
    filename: str | None
    sha256: str
    size_bytes: int


#: Rates (reference, candidate, model id or None for the default) -> the rating service's result.
AssignmentRater = Callable[[SavedUpload, SavedUpload, str | None], Awaitable[Any]]


def _not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"No such {what}.")


async def save_upload(
    upload: UploadFile, *, folder: Path, name: str, max_bytes: int
) -> SavedUpload:
    """Copy an upload into `folder`, hashing it and refusing it past `max_bytes` (413)."""
    digest = hashlib.sha256()
    size = 0
    path = folder / f"{name}.upload"
    with path.open("wb") as handle:
        while chunk := await upload.read(MB):
            size += len(chunk)
            if size > max_bytes:
                raise ServiceError(
                    f"{name}: is larger than the {max_bytes // MB} MB limit per file.",
                    status_code=status.HTTP_413_CONTENT_TOO_LARGE,
                )
            digest.update(chunk)
            handle.write(chunk)
    filename = None if upload.filename is None else clean_filename(upload.filename)
    return SavedUpload(path=path, filename=filename, sha256=digest.hexdigest(), size_bytes=size)


def _upload(saved: SavedUpload) -> Upload:
    return Upload(
        source=saved.path, filename=saved.filename, size_bytes=saved.size_bytes, sha256=saved.sha256
    )


def get_assignment_rater(
    registry: RegistryDep, pool: PoolDep, settings: SettingsDep
) -> AssignmentRater:
    """Rate with the models and the bounded workers of POST /rate, through the same call."""

    async def rate_pair(
        reference: SavedUpload, candidate: SavedUpload, model_id: str | None
    ) -> Any:
        return await rate_in_pool(
            pool=pool,
            reference=_upload(reference),
            candidate=_upload(candidate),
            model=resolve_model(registry, model_id),
            loudness_target_lufs=settings.LOUDNESS_TARGET_LUFS,
        )

    return rate_pair


RaterDep = Annotated[AssignmentRater, Depends(get_assignment_rater)]


def _fields(result: Any) -> dict[str, Any]:
    if isinstance(result, Mapping):
        return dict(result)
    return dict(result.model_dump(mode="json"))


def wants_html(request: Request) -> bool:
    """Whether the caller is a browser page (htmx or a plain form) rather than a REST client."""
    accept = request.headers.get("accept", "")
    return request.headers.get("hx-request") == "true" or "text/html" in accept


@router.post("/assignments/{assignment_id}/submit")
async def submit_assignment(
    request: Request,
    assignment_id: RowId,
    user: Student,
    db_session: SessionDep,
    settings: SettingsDep,
    rater: RaterDep,
    candidate: Annotated[UploadFile, File(description="Your master of the assignment's song.")],
) -> Response:
    """Rate your master against the assignment's professional master and store the rating."""
    found = service.get_assignment(db_session=db_session, user=user, assignment_id=assignment_id)
    if found is None:
        raise _not_found("assignment")
    assignment, _ = found
    folder = Path(tempfile.mkdtemp(prefix="mastering-trainer-"))
    try:
        saved = await save_upload(
            candidate, folder=folder, name="candidate", max_bytes=settings.MAX_UPLOAD_MB * MB
        )
        reference_path = settings.DATA_DIR / assignment.reference_path
        reference = SavedUpload(
            path=reference_path,
            filename=assignment.reference_filename,
            sha256=assignment.reference_sha256,
            size_bytes=reference_path.stat().st_size if reference_path.exists() else 0,
        )
        # Refusals (ServiceError) answer {"detail": ...} to REST clients, a page to browsers.
        result = await rater(reference, saved, assignment.model_id)
        fields = _fields(result)
        files = fields.get("files") or {}
        duration = (files.get("candidate") or {}).get("duration_s")
        if duration is None:
            duration = describe_file(saved.path, filename=saved.filename).duration_s
        rating = store_rating(
            db_session=db_session,
            user=user,
            assignment_id=assignment.id,
            result=fields,
            reference_info=StoredFile(
                sha256=assignment.reference_sha256,
                duration_s=assignment.reference_duration_s,
                filename=assignment.reference_filename,
            ),
            candidate_info=StoredFile(
                sha256=saved.sha256, duration_s=float(duration), filename=saved.filename
            ),
            candidate_path=saved.path,
            data_dir=settings.DATA_DIR,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if wants_html(request):
        return redirect(request, f"/assignments/{assignment.id}?rated={rating.id}")
    return JSONResponse({**fields, "id": rating.id, "assignment_id": assignment.id})


@router.get("/api/classes", response_model=list[ClassOut])
def list_classes(user: CurrentUser, db_session: SessionDep) -> list[ClassOut]:
    """List the caller's classes: run (instructor), joined (student), all (admin)."""
    return [
        ClassOut.of(c, manager=service.can_manage(user, c))
        for c in service.classes_for(db_session=db_session, user=user)
    ]


def _managed_progress(
    *, db_session: Session, user: User, class_id: int
) -> tuple[SchoolClass, list[service.StudentProgress]]:
    """The class `user` manages and its progress; 404 for any other class."""
    school_class = service.get_class(
        db_session=db_session, user=user, class_id=class_id, manage=True
    )
    if school_class is None:
        raise _not_found("class")
    return school_class, service.class_progress(db_session=db_session, school_class=school_class)


@router.get("/api/classes/{class_id}/progress", response_model=ClassProgress)
def class_progress(class_id: RowId, user: Manager, db_session: SessionDep) -> ClassProgress:
    """Per student of your class, their ratings on its assignments over time."""
    school_class, progress = _managed_progress(db_session=db_session, user=user, class_id=class_id)
    return ClassProgress.of(school_class, progress)


@router.get("/api/classes/{class_id}/progress.csv", response_class=Response)
def class_progress_csv(class_id: RowId, user: Manager, db_session: SessionDep) -> Response:
    """Export your class's progress as CSV, one row per rating."""
    school_class, progress = _managed_progress(db_session=db_session, user=user, class_id=class_id)
    return Response(
        service.progress_csv(progress),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="class-{school_class.id}-progress.csv"'
        },
    )
