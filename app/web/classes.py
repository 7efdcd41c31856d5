"""Class and assignment pages: open and join classes, set assignments, follow progress."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile, status
from fastapi.responses import HTMLResponse, Response

from app.accounts.models import Role, User
from app.audio.errors import AudioError
from app.classes import service
from app.classes.models import SchoolClass
from app.classes.router import MB, save_upload
from app.errors import ServiceError
from app.history.service import describe_file
from app.http.deps import (
    PageUser,
    RowId,
    SessionDep,
    SettingsDep,
    form_csrf_protect,
    require_role,
)
from app.http.templates import redirect, render
from app.ml.registry import ModelRegistry
from app.rating.service import Upload, check_upload_header

router = APIRouter(
    tags=["pages"], include_in_schema=False, dependencies=[Depends(form_csrf_protect)]
)

ManagerPage = Annotated[User, Depends(require_role(Role.INSTRUCTOR, Role.ADMIN, page=True))]
StudentPage = Annotated[User, Depends(require_role(Role.STUDENT, page=True))]


def _not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"No such {what}.")


def _classes_page(
    request: Request,
    *,
    db_session: SessionDep,
    user: User,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    classes = service.classes_for(db_session=db_session, user=user)
    return render(
        request,
        "classes/list.html",
        {"classes": classes, "error": error, "user": user},
        status_code=status_code,
    )


@router.get("/classes", response_class=HTMLResponse)
def classes_page(request: Request, user: PageUser, db_session: SessionDep) -> HTMLResponse:
    """List your classes; instructors open new ones, students join with a code."""
    return _classes_page(request, db_session=db_session, user=user)


@router.post("/classes")
def create_class(
    request: Request,
    user: ManagerPage,
    db_session: SessionDep,
    name: Annotated[str, Form(max_length=200)],
    keep_audio: Annotated[bool, Form()] = False,
) -> Response:
    """Open a class with a fresh join code."""
    try:
        school_class = service.create_class(
            db_session=db_session, instructor=user, name=name, keep_audio=keep_audio
        )
    except service.ClassError as error:
        db_session.rollback()
        return _classes_page(
            request, db_session=db_session, user=user, error=str(error), status_code=400
        )
    return redirect(request, f"/classes/{school_class.id}")


@router.post("/classes/join")
def join_class(
    request: Request,
    user: StudentPage,
    db_session: SessionDep,
    join_code: Annotated[str, Form(max_length=32)],
) -> Response:
    """Join another class with its code."""
    try:
        school_class = service.join_class(db_session=db_session, user=user, code=join_code)
    except service.ClassError as error:
        db_session.rollback()
        return _classes_page(
            request, db_session=db_session, user=user, error=str(error), status_code=400
        )
    return redirect(request, f"/classes/{school_class.id}")


def progress_chart(
    progress: list[service.StudentProgress], *, field: str = "rating"
) -> dict[str, object]:
    """The students' ratings (or distances) as uPlot data: shared time axis, one series each."""
    times = sorted({p.created_at.timestamp() for s in progress for p in s.ratings})
    index = {t: i for i, t in enumerate(times)}
    series: list[dict[str, object]] = []
    for student in progress:
        if not student.ratings:
            continue
        values: list[float | None] = [None] * len(times)
        for point in student.ratings:
            values[index[point.created_at.timestamp()]] = getattr(point, field)
        series.append({"label": student.email, "values": values})
    return {"t": times, "series": series}


def _class_page(
    request: Request,
    *,
    db_session: SessionDep,
    user: User,
    class_id: RowId,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    school_class = service.get_class(db_session=db_session, user=user, class_id=class_id)
    if school_class is None:
        raise _not_found("class")
    manager = service.can_manage(user, school_class)
    context: dict[str, object] = {
        "school_class": school_class,
        "manager": manager,
        "assignments": service.assignments_of(db_session=db_session, school_class=school_class),
        "error": error,
    }
    if manager:
        progress = service.class_progress(db_session=db_session, school_class=school_class)
        context["progress"] = progress
        context["chart"] = progress_chart(progress)
        if any(p.distance_db is not None for s in progress for p in s.ratings):
            context["distance_chart"] = progress_chart(progress, field="distance_db")
    return render(request, "classes/detail.html", context, status_code=status_code)


def _refused(
    request: Request, *, db_session: SessionDep, user: User, class_id: RowId, error: ServiceError
) -> HTMLResponse:
    """Undo the request's changes and show the class page with the refusal on it."""
    db_session.rollback()
    return _class_page(
        request,
        db_session=db_session,
        user=user,
        class_id=class_id,
        error=error.detail,
        status_code=error.status_code,
    )


@router.get("/classes/{class_id}", response_class=HTMLResponse)
def class_page(
    request: Request, class_id: RowId, user: PageUser, db_session: SessionDep
) -> HTMLResponse:
    """Show a class: its assignments, and for its instructor the students' progress."""
    return _class_page(request, db_session=db_session, user=user, class_id=class_id)


def _managed(*, db_session: SessionDep, user: User, class_id: RowId) -> SchoolClass:
    school_class = service.get_class(
        db_session=db_session, user=user, class_id=class_id, manage=True
    )
    if school_class is None:
        raise _not_found("class")
    return school_class


@router.post("/classes/{class_id}/settings")
def class_settings(
    request: Request,
    class_id: RowId,
    user: ManagerPage,
    db_session: SessionDep,
    keep_audio: Annotated[bool, Form()] = False,
    audio_retention_days: Annotated[int | None, Form()] = None,
) -> Response:
    """Choose whether the students' uploaded masters are kept on disk, and for how long."""
    school_class = _managed(db_session=db_session, user=user, class_id=class_id)
    try:
        service.set_keep_audio(
            school_class=school_class, keep_audio=keep_audio, retention_days=audio_retention_days
        )
    except service.ClassError as error:
        return _refused(request, db_session=db_session, user=user, class_id=class_id, error=error)
    return redirect(request, f"/classes/{class_id}")


def _known_model(request: Request, model_id: str) -> bool:
    registry: ModelRegistry | None = getattr(request.app.state, "registry", None)
    return registry is not None and model_id in registry.ids


def parse_due(value: str) -> datetime:
    """Read an HTML datetime-local (or ISO 8601) value, in UTC; without a zone it is UTC."""
    try:
        due = datetime.fromisoformat(value.strip())
    except ValueError:
        raise service.ClassError("Enter the due date as YYYY-MM-DDTHH:MM.") from None
    due = due if due.tzinfo is not None else due.replace(tzinfo=UTC)
    try:  # 9999-12-31T23:59-14:00 is past the year 9999 in UTC: OverflowError
        due = due.astimezone(UTC)
        in_range = 2000 <= due.year <= 9000
    except OverflowError:
        in_range = False
    if not in_range:
        raise service.ClassError(
            f"The due date {value.strip()!r} is out of range; choose a date between the years "
            "2000 and 9000."
        )
    return due


@router.post("/classes/{class_id}/assignments")
async def create_assignment(
    request: Request,
    class_id: RowId,
    user: ManagerPage,
    db_session: SessionDep,
    settings: SettingsDep,
    title: Annotated[str, Form(max_length=200)],
    due_at: Annotated[str, Form(max_length=40)],
    reference: Annotated[UploadFile, File(description="The professional master.")],
    model_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Set an assignment: upload the professional master once, with a title and due date."""
    school_class = _managed(db_session=db_session, user=user, class_id=class_id)
    folder = Path(tempfile.mkdtemp(prefix="mastering-trainer-"))
    try:
        saved = await save_upload(
            reference, folder=folder, name="reference", max_bytes=settings.MAX_UPLOAD_MB * MB
        )
        if model_id.strip() and not _known_model(request, model_id.strip()):
            raise service.ClassError(
                f"Unknown model {model_id.strip()!r}; choose one of GET /models or leave it "
                "empty for the default."
            )
        check_upload_header(Upload(source=saved.path), name="reference")
        facts = describe_file(saved.path, filename=saved.filename)
        assignment = service.create_assignment(
            db_session=db_session,
            school_class=school_class,
            title=title,
            due_at=parse_due(due_at),
            reference_path=saved.path,
            reference_filename=saved.filename or "reference",
            reference_sha256=saved.sha256,
            reference_duration_s=facts.duration_s,
            data_dir=settings.DATA_DIR,
            model_id=model_id.strip() or None,
        )
    except (AudioError, service.ClassError) as error:
        return _refused(request, db_session=db_session, user=user, class_id=class_id, error=error)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return redirect(request, f"/assignments/{assignment.id}")


@router.get("/assignments/{assignment_id}", response_class=HTMLResponse)
def assignment_page(
    request: Request,
    assignment_id: RowId,
    user: PageUser,
    db_session: SessionDep,
    rated: int | None = None,
) -> HTMLResponse:
    """Show an assignment: students upload their master here and see their ratings."""
    found = service.get_assignment(db_session=db_session, user=user, assignment_id=assignment_id)
    if found is None:
        raise _not_found("assignment")
    assignment, school_class = found
    manager = service.can_manage(user, school_class)
    own = (
        []
        if manager
        else service.own_ratings_for(db_session=db_session, user=user, assignment=assignment)
    )
    context = {
        "assignment": assignment,
        "school_class": school_class,
        "manager": manager,
        "ratings": own,
        "rated": rated,
        "overdue": assignment.due_at < datetime.now(UTC),
    }
    return render(request, "classes/assignment.html", context)
