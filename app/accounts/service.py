"""Account operations. Services change the session; the caller commits."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.accounts.models import ApiToken, Role, User, UserSession, utcnow
from app.accounts.settings import AccountSettings
from app.accounts.throttle import (
    LoginThrottle,
    LoginThrottled,
    PasswordHashingBusy,
    hashing_slot,
)
from app.errors import ServiceError

__all__ = ["LoginThrottled", "PasswordHashingBusy"]

SESSION_TOKEN_BYTES = 32
API_TOKEN_PREFIX = "mt_"


class AccountError(ServiceError, ValueError):
    """A request the accounts domain refuses, with a sentence for the user (400)."""

    default_status = 400


class InvalidCredentials(AccountError):
    """Unknown email or wrong password (the two are not told apart)."""


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_cost_kib: int, parallelism: int) -> PasswordHash:
    return PasswordHash(
        (Argon2Hasher(time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism),)
    )


def password_hasher(settings: AccountSettings) -> PasswordHash:
    """The argon2id hasher with the configured cost."""
    return _hasher(
        settings.ARGON2_TIME_COST, settings.ARGON2_MEMORY_COST_KIB, settings.ARGON2_PARALLELISM
    )


def hash_password(password: str, *, settings: AccountSettings) -> str:
    """Hash a password with argon2id (in one of the bounded hashing slots)."""
    with hashing_slot(settings):
        return password_hasher(settings).hash(password)


def sha256_hex(value: str) -> str:
    """The hex sha256 of a text (how session and API tokens are stored)."""
    return hashlib.sha256(value.encode()).hexdigest()


def normalise_email(email: str) -> str:
    """Trim and lower-case an email address."""
    return email.strip().lower()


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The in-repo list of passwords too common to accept (lower case)."""
    path = Path(__file__).with_name("common_passwords.txt")
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(line.lower() for line in lines if line and not line.startswith("#"))


def check_password_strength(password: str, *, settings: AccountSettings) -> None:
    """Refuse passwords that are short, blank, of few distinct characters or very common."""
    if len(password) < settings.MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"The password must have at least {settings.MIN_PASSWORD_LENGTH} characters."
        )
    if len(password) > 1024:
        raise AccountError("The password must have at most 1024 characters.")
    if "\x00" in password:
        raise AccountError("The password must not contain a NUL character.")
    if not password.strip():
        raise AccountError("The password must not be only spaces.")
    if len(set(password)) < 4:
        raise AccountError("The password must use at least 4 different characters.")
    if password.strip().lower() in common_passwords():
        raise AccountError("This password is one of the most common ones; choose another.")


def get_user_by_email(*, db_session: Session, email: str) -> User | None:
    """The user with this email, if any."""
    return db_session.scalar(select(User).where(User.email == normalise_email(email)))


def create_user(
    *,
    db_session: Session,
    email: str,
    password: str,
    role: Role,
    settings: AccountSettings,
) -> User:
    """Create a user with a hashed password; refuse a taken email or a weak password."""
    email = normalise_email(email)
    if (
        "@" not in email
        or len(email) > 320
        or email.startswith("@")
        or email.endswith("@")
        or any(c < " " or c == "\x7f" for c in email)  # NUL and other control characters
    ):
        raise AccountError("Enter a valid email address.")
    check_password_strength(password, settings=settings)
    if get_user_by_email(db_session=db_session, email=email) is not None:
        raise AccountError("An account with this email already exists.")
    user = User(
        email=email,
        password_hash=hash_password(password, settings=settings),
        role=Role(role).value,
    )
    db_session.add(user)
    try:
        db_session.flush()
    except IntegrityError:  # the same email signed up at the same moment
        raise AccountError("An account with this email already exists.") from None
    return user


def authenticate(
    *,
    db_session: Session,
    email: str,
    password: str,
    settings: AccountSettings,
    throttle: LoginThrottle | None = None,
    address: str = "",
) -> User:
    """Return the user for these credentials, counting failures in `throttle`.

    Unknown and known emails take the same path (a dummy hash is verified for an
    unknown one) and get the same answers. Raises `LoginThrottled` while this address,
    or this address with this email, is locked (see `app.accounts.throttle`),
    `PasswordHashingBusy` when no hashing slot frees up, `InvalidCredentials` otherwise.
    """
    email = normalise_email(email)
    if throttle is not None:
        throttle.check(address=address, email=email)
    hasher = password_hasher(settings)
    user = get_user_by_email(db_session=db_session, email=email)
    with hashing_slot(settings):
        if user is None:
            hasher.verify(password, _dummy_hash(settings))
            valid, updated_hash = False, None
        else:
            valid, updated_hash = hasher.verify_and_update(password, user.password_hash)
    if not valid or user is None:
        if throttle is not None:
            throttle.failed(address=address, email=email)
        raise InvalidCredentials("Wrong email or password.")
    if throttle is not None:
        throttle.succeeded(address=address, email=email)
    if updated_hash is not None:
        user.password_hash = updated_hash
        db_session.flush()
    return user


@lru_cache(maxsize=8)
def _dummy_hash_for(time_cost: int, memory_cost_kib: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_cost_kib, parallelism).hash(secrets.token_urlsafe(16))


def _dummy_hash(settings: AccountSettings) -> str:
    return _dummy_hash_for(
        settings.ARGON2_TIME_COST, settings.ARGON2_MEMORY_COST_KIB, settings.ARGON2_PARALLELISM
    )


def set_password(
    *, db_session: Session, user: User, new_password: str, settings: AccountSettings
) -> None:
    """Set a new password (no check of the old one); revoke every session and API token."""
    check_password_strength(new_password, settings=settings)
    user.password_hash = hash_password(new_password, settings=settings)
    revoke_user_sessions(db_session=db_session, user=user)
    revoke_user_api_tokens(db_session=db_session, user=user)


def change_password(
    *,
    db_session: Session,
    user: User,
    current_password: str,
    new_password: str,
    settings: AccountSettings,
    keep_session: UserSession | None = None,
) -> None:
    """Change a password after checking the current one.

    Revokes the user's other sessions and every API token: whoever learnt the old
    password may have made one.
    """
    with hashing_slot(settings):
        right = password_hasher(settings).verify(current_password, user.password_hash)
    if not right:
        raise AccountError("The current password is wrong.")
    check_password_strength(new_password, settings=settings)
    if new_password == current_password:
        raise AccountError("The new password must differ from the current one.")
    user.password_hash = hash_password(new_password, settings=settings)
    revoke_user_sessions(db_session=db_session, user=user, except_session=keep_session)
    revoke_user_api_tokens(db_session=db_session, user=user)


# Sessions ---------------------------------------------------------------------------------


def create_session(
    *, db_session: Session, user: User, settings: AccountSettings
) -> tuple[UserSession, str]:
    """Open a server-side session; return it and the raw token for the cookie."""
    token = secrets.token_urlsafe(SESSION_TOKEN_BYTES)
    now = utcnow()
    # Forget this user's dead sessions, so the table does not grow without end.
    db_session.execute(
        delete(UserSession)
        .where(
            UserSession.user_id == user.id,
            (UserSession.expires_at < now) | (UserSession.revoked_at < now - timedelta(days=1)),
        )
        .execution_options(synchronize_session=False)
    )
    session = UserSession(
        token_hash=sha256_hex(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + timedelta(hours=settings.SESSION_LIFETIME_HOURS),
    )
    db_session.add(session)
    db_session.flush()
    return session, token


def session_for_token(
    *, db_session: Session, token: str, now: datetime | None = None
) -> UserSession | None:
    """The live (not revoked, not expired) session of a cookie token, if any."""
    if not token or len(token) > 200:
        return None
    now = now or utcnow()
    session = db_session.scalar(
        select(UserSession).where(UserSession.token_hash == sha256_hex(token))
    )
    if session is None or session.revoked_at is not None or session.expires_at <= now:
        return None
    return session


def revoke_session(*, db_session: Session, session: UserSession) -> None:
    """End one session (sign-out)."""
    session.revoked_at = utcnow()
    db_session.flush()


def revoke_user_sessions(
    *, db_session: Session, user: User, except_session: UserSession | None = None
) -> None:
    """End every live session of a user, but `except_session`."""
    statement = (
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    if except_session is not None:
        statement = statement.where(UserSession.id != except_session.id)
    db_session.execute(statement)


# API tokens -------------------------------------------------------------------------------


def create_api_token(*, db_session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a bearer token for `user`; return the row and the token, shown only once."""
    name = name.strip()[:100] or "token"
    raw = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=sha256_hex(raw), prefix=raw[:10])
    db_session.add(token)
    db_session.flush()
    return token, raw


def user_for_api_token(*, db_session: Session, raw_token: str) -> User | None:
    """The owner of a live bearer token, noting when it was last used."""
    if not raw_token.startswith(API_TOKEN_PREFIX) or len(raw_token) > 200:
        return None
    token = db_session.scalar(select(ApiToken).where(ApiToken.token_hash == sha256_hex(raw_token)))
    if token is None or token.revoked_at is not None:
        return None
    token.last_used_at = utcnow()
    return db_session.get(User, token.user_id)


def revoke_user_api_tokens(*, db_session: Session, user: User) -> None:
    """Revoke every live API token of a user."""
    db_session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def list_api_tokens(*, db_session: Session, user: User) -> list[ApiToken]:
    """The user's tokens, live ones first, newest first."""
    return list(
        db_session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
        )
    )


def revoke_api_token(*, db_session: Session, user: User, token_id: int) -> ApiToken | None:
    """Revoke one of the user's own tokens; None when it is not theirs (or does not exist)."""
    token = db_session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        return None
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db_session.flush()
    return token


def list_users(*, db_session: Session) -> list[User]:
    """Every user, by email."""
    return list(db_session.scalars(select(User).order_by(User.email)))
