"""The student's history page: every rating, and the rating over time as a chart."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from app.history import service
from app.web.deps import PageUser, SessionDep, form_csrf_protect
from app.web.templates import render

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
        "loudness_difference_lu": [r.loudness_difference_lu for r in oldest_first],
    }
    return render(request, "history/list.html", {"ratings": ratings, "chart": chart})
