"""The student's history page: every rating, and the rating over time as a chart."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from app.accounts.models import User
from app.history import audio, service
from app.http.deps import PageUser, RowId, SessionDep, SettingsDep, form_csrf_protect
from app.http.templates import render

router = APIRouter(
    tags=["pages"], include_in_schema=False, dependencies=[Depends(form_csrf_protect)]
)


@router.get("/history", response_class=HTMLResponse)
def history_page(request: Request, user: PageUser, db_session: SessionDep) -> HTMLResponse:
    """Show your ratings, newest first, and your progress over time."""
    ratings = service.list_ratings(db_session=db_session, user=user, limit=500)
    oldest_first = list(reversed(ratings))
    chart = {
        "t": [r.created_at.timestamp() for r in oldest_first],
        "rating": [r.rating for r in oldest_first],
        "distance": [r.distance_db for r in oldest_first],
        "loudness_difference_lu": [r.loudness_difference_lu for r in oldest_first],
    }
    return render(request, "history/list.html", {"ratings": ratings, "chart": chart})


@router.get("/ratings/{rating_id}", response_class=HTMLResponse)
def rating_page(
    rating_id: RowId,
    request: Request,
    user: PageUser,
    db_session: SessionDep,
    settings: SettingsDep,
) -> HTMLResponse:
    """Show one stored rating to its owner or their instructor; anyone else gets 404."""
    rating = service.viewable_rating(db_session=db_session, user=user, rating_id=rating_id)
    if rating is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="No such rating.")
    owner = user if rating.user_id == user.id else db_session.get(User, rating.user_id)
    result = service.result_of(rating)
    context: dict[str, object] = {"rating": rating, "result": result, "owner": owner}
    kept = audio.kept_audio(db_session=db_session, rating=rating, data_dir=settings.DATA_DIR)
    if kept and result["alignment"]:
        context["player_sources"] = {
            which: f"/ratings/{rating.id}/audio/{which}.ogg" for which in ("reference", "candidate")
        }
    return render(request, "history/rating.html", context)


@router.get("/ratings/{rating_id}/audio/{which}.ogg")
async def rating_audio(
    rating_id: RowId,
    which: audio.Which,
    user: PageUser,
    db_session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """A stored rating's kept audio as an Opus preview, for its owner and their instructor."""
    rating = service.viewable_rating(db_session=db_session, user=user, rating_id=rating_id)
    kept = rating and audio.kept_audio(
        db_session=db_session, rating=rating, data_dir=settings.DATA_DIR
    )
    if not kept:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="No audio kept for this rating.")
    preview = await run_in_threadpool(audio.make_preview, kept[which])  # PreviewError: 503
    return FileResponse(
        preview, media_type="audio/ogg", headers={"Cache-Control": "private, max-age=3600"}
    )
