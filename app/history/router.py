"""`GET /api/ratings` and `GET /api/ratings/{id}`: the caller's own rating history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from app.history import service
from app.history.schemas import RatingList, RatingOut
from app.http.deps import CurrentUser, RowId, SessionDep, csrf_protect

router = APIRouter(prefix="/api/ratings", tags=["history"], dependencies=[Depends(csrf_protect)])


@router.get("", response_model=RatingList)
def list_ratings(
    user: CurrentUser,
    db_session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> RatingList:
    """List the caller's own ratings, newest first."""
    ratings = service.list_ratings(db_session=db_session, user=user, limit=limit, offset=offset)
    return RatingList(ratings=[RatingOut.of(rating) for rating in ratings])


@router.get("/{rating_id}", response_model=RatingOut)
def get_rating(rating_id: RowId, user: CurrentUser, db_session: SessionDep) -> RatingOut:
    """Return one of the caller's ratings; anyone else's id answers 404."""
    rating = service.get_rating(db_session=db_session, user=user, rating_id=rating_id)
    if rating is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="No such rating.")
    return RatingOut.of(rating)
