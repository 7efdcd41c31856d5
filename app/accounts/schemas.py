"""What the accounts API takes and returns."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.accounts.models import ApiToken, User


class UserOut(BaseModel):
    """A user, as the user sees themself."""

    id: int
    email: str
    role: str
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        """Build from the table row."""
        return cls(id=user.id, email=user.email, role=user.role, created_at=user.created_at)


class TokenCreate(BaseModel):
    """A name to recognise the new token by."""

    name: str = Field(default="token", max_length=100)


class TokenOut(BaseModel):
    """An API token, without its secret."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        """Build from the table row."""
        return cls(
            id=token.id,
            name=token.name,
            prefix=token.prefix,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            revoked=token.revoked_at is not None,
        )


class TokenCreated(TokenOut):
    """A new API token; `token` is shown this once and never stored."""

    token: str
