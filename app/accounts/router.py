"""REST endpoints of the accounts domain: who am I, and my API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Response, status

from app.accounts import service
from app.accounts.schemas import TokenCreate, TokenCreated, TokenOut, UserOut
from app.http.deps import CurrentUser, RowId, SessionDep, csrf_protect

router = APIRouter(prefix="/api", tags=["accounts"], dependencies=[Depends(csrf_protect)])


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    """Return the calling user."""
    return UserOut.of(user)


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(user: CurrentUser, db_session: SessionDep) -> list[TokenOut]:
    """List the caller's API tokens (never their secrets)."""
    return [TokenOut.of(t) for t in service.list_api_tokens(db_session=db_session, user=user)]


@router.post("/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, user: CurrentUser, db_session: SessionDep) -> TokenCreated:
    """Create an API token for the caller; the token is shown only in this answer."""
    token, raw = service.create_api_token(db_session=db_session, user=user, name=body.name)
    return TokenCreated(**TokenOut.of(token).model_dump(), token=raw)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: RowId, user: CurrentUser, db_session: SessionDep) -> Response:
    """Revoke one of the caller's API tokens."""
    if service.revoke_api_token(db_session=db_session, user=user, token_id=token_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="No such token.")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
