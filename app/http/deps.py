"""Request dependencies: settings, models, workers, the database session, caller, CSRF, roles.

Typed aliases in the full-stack-fastapi-template way: `SettingsDep`, `RegistryDep`, `PoolDep`,
`SessionDep`, `AuthDep`, `OptionalUser`, `CurrentUser`, `PageUser`, `RatingUser`,
`require_role(...)`.

Who is calling: an ``Authorization: Bearer`` API token, else the session cookie, else nobody.
Every unsafe request authenticated by the cookie must echo the session's CSRF token (header
``X-CSRF-Token``, sent by htmx from ``hx-headers`` on ``<body>``, or the form field
``csrf_token``). Anonymous forms (sign-in, sign-up) use a double-submit cookie instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Path, Request, Response, status
from sqlalchemy.orm import Session, sessionmaker

from app.accounts.models import Role, User, UserSession
from app.accounts.service import session_for_token, user_for_api_token
from app.accounts.settings import AccountSettings, get_account_settings
from app.accounts.throttle import LoginThrottle
from app.config import Settings, get_settings
from app.db import engine_for, session_factory
from app.errors import ServiceError
from app.ml.registry import ModelRegistry
from app.rating.progress import ProgressBoard
from app.rating.service import AnalysisPool

SESSION_COOKIE = "mt_session"
CSRF_COOKIE = "mt_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
#: A table row id in a path: positive and within every database's integer range.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def get_app_settings(request: Request) -> Settings:
    """The app's settings (set by the lifespan), else the process-wide ones."""
    settings = getattr(request.app.state, "settings", None)
    return settings if isinstance(settings, Settings) else get_settings()


def get_account_settings_for(request: Request) -> AccountSettings:
    """The app's account settings (`app.state.account_settings`), else the process-wide ones."""
    settings = getattr(request.app.state, "account_settings", None)
    return settings if isinstance(settings, AccountSettings) else get_account_settings()


def get_login_throttle(request: Request) -> LoginThrottle:
    """The app's sign-in failure counts (`app.state.login_throttle`), made on first use."""
    throttle = getattr(request.app.state, "login_throttle", None)
    if not isinstance(throttle, LoginThrottle):
        throttle = LoginThrottle(get_account_settings_for(request))
        request.app.state.login_throttle = throttle
    return throttle


def client_address(request: Request) -> str:
    """The caller's IP address as the server saw it (the proxy's, unless uvicorn trusts it)."""
    return request.client.host if request.client else "unknown"


def _started(request: Request, name: str) -> Any:
    value = getattr(request.app.state, name, None)
    if value is None:
        raise ServiceError("The models are not loaded.", status_code=503)
    return value


def get_registry(request: Request) -> ModelRegistry:
    """The models loaded at start-up (503 before the lifespan loaded them)."""
    registry: ModelRegistry = _started(request, "registry")
    return registry


def get_pool(request: Request) -> AnalysisPool:
    """The bounded analysis workers (503 before the lifespan started them)."""
    pool: AnalysisPool = _started(request, "pool")
    return pool


def get_progress(request: Request) -> ProgressBoard:
    """The stages of the analyses in flight, by the page's progress id."""
    board: ProgressBoard = request.app.state.progress
    return board


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
ProgressDep = Annotated[ProgressBoard, Depends(get_progress)]
RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]
PoolDep = Annotated[AnalysisPool, Depends(get_pool)]
AccountSettingsDep = Annotated[AccountSettings, Depends(get_account_settings_for)]
LoginThrottleDep = Annotated[LoginThrottle, Depends(get_login_throttle)]


@lru_cache
def _factory(url: str) -> sessionmaker[Session]:
    return session_factory(engine_for(url))


def get_db(request: Request) -> Iterator[Session]:
    """A database session for one request: commit when the route returns, else roll back."""
    with _factory(get_app_settings(request).database_url)() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


#: Function scope: the commit happens before the response is sent, never after.
SessionDep = Annotated[Session, Depends(get_db, scope="function")]


async def submitted_csrf_token(request: Request) -> str | None:
    """The CSRF token an unsafe request carries: the header, else the form field.

    Only for this package's routes: reading the form consumes the body, so routes that
    stream their body themselves (POST /rate) rely on the header alone (`Auth.csrf_ok`).
    """
    if request.method in SAFE_METHODS:
        return None
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if "authorization" in request.headers:
        return None
    has_cookie = SESSION_COOKIE in request.cookies or CSRF_COOKIE in request.cookies
    content_type = request.headers.get("content-type", "")
    if has_cookie and content_type.startswith(FORM_TYPES):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def _nul_field(values: Iterable[tuple[str, object]]) -> str | None:
    for name, value in values:
        if isinstance(value, str) and ("\x00" in value or "\x00" in name):
            return name.replace("\x00", "")
    return None


def _json_strings(value: object, name: str = "body") -> Iterator[tuple[str, object]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key), str(key)
            yield from _json_strings(item, str(key))
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item, name)
    else:
        yield name, value


async def refuse_nul_text(request: Request) -> None:
    """Refuse (422) any text field, query or JSON string holding a NUL character.

    No database stores it (PostgreSQL refuses it outright), so it is refused before any
    route reads it, naming the field. Uploaded files' names are cleaned instead.
    """
    found = _nul_field(request.query_params.multi_items()) or _nul_field(
        request.path_params.items()
    )
    if found is None and request.method not in SAFE_METHODS:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(FORM_TYPES):
            found = _nul_field((await request.form()).multi_items())
        elif content_type.startswith("application/json"):
            try:
                found = _nul_field(_json_strings(json.loads(await request.body())))
            except ValueError:
                found = None  # the route answers malformed JSON itself
    if found is not None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"The field {found!r} contains a NUL character (\\0), which cannot be "
            "stored; remove it and try again.",
        )


def _forbidden(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=detail)


def _cross_site(request: Request) -> bool:
    if request.headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = request.headers.get("origin")
    if origin and origin != "null":
        own = {request.headers.get("host", request.url.netloc)}
        # Any client can send X-Forwarded-Host: only a trusted proxy's counts.
        forwarded = request.headers.get("x-forwarded-host")
        if forwarded and get_app_settings(request).TRUST_PROXY_HEADERS:
            own.add(forwarded.split(",")[0].strip())
        return urlsplit(origin).netloc not in own
    return False


def _matches(expected: str | None, submitted: str | None) -> bool:
    return bool(expected and submitted and hmac.compare_digest(expected, submitted))


def check_csrf(request: Request, *, expected: str | None, submitted: str | None) -> None:
    """Refuse a cross-site or token-less unsafe request with 403."""
    if _cross_site(request):
        raise _forbidden("Cross-site requests are refused.")
    if not _matches(expected, submitted):
        raise _forbidden(
            "The request is missing its CSRF token or the token is stale; reload the page "
            "and try again."
        )


@dataclass(frozen=True, kw_only=True)
class Caller:
    """The signed-in user as pages show them."""

    id: int
    email: str
    role: str

    @classmethod
    def of(cls, user: User) -> Caller:
        """Copy the shown fields of a user."""
        return cls(id=user.id, email=user.email, role=user.role)


@dataclass(frozen=True)
class Auth:
    """Who is calling and how: an API token, a session cookie, or nobody."""

    user: User | None = None
    session: UserSession | None = None
    via: str = "none"  # "token", "session" or "none"
    #: Safe method, token, or a session request whose X-CSRF-Token header matches.
    csrf_ok: bool = True


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def get_auth(request: Request, db_session: SessionDep) -> Auth:
    """Identify the caller: a bearer token (401 when invalid), else the session cookie."""
    authorization = request.headers.get("authorization")
    auth = Auth()
    if authorization is not None:
        scheme, _, raw = authorization.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise _unauthorised("Send the API token as 'Authorization: Bearer <token>'.")
        user = user_for_api_token(db_session=db_session, raw_token=raw.strip())
        if user is None:
            raise _unauthorised("The API token is invalid or has been revoked.")
        auth = Auth(user=user, via="token")
    elif token := request.cookies.get(SESSION_COOKIE):
        session = session_for_token(db_session=db_session, token=token)
        user = db_session.get(User, session.user_id) if session is not None else None
        if session is not None and user is not None:
            csrf_ok = request.method in SAFE_METHODS or (
                not _cross_site(request)
                and _matches(session.csrf_token, request.headers.get(CSRF_HEADER))
            )
            auth = Auth(user=user, session=session, via="session", csrf_ok=csrf_ok)
    # What the templates show (navigation); plain values, usable after the session closed.
    request.state.user = None if auth.user is None else Caller.of(auth.user)
    request.state.csrf_token = (
        auth.session.csrf_token if auth.session else anonymous_form_token(request) or ""
    )
    return auth


AuthDep = Annotated[Auth, Depends(get_auth)]


def csrf_protect(
    request: Request,
    auth: AuthDep,
    submitted: Annotated[str | None, Depends(submitted_csrf_token)],
) -> None:
    """Unsafe requests authenticated by the session cookie must carry its CSRF token (API)."""
    if request.method in SAFE_METHODS or auth.session is None:
        return
    check_csrf(request, expected=auth.session.csrf_token, submitted=submitted)


def form_csrf_protect(
    request: Request,
    auth: AuthDep,
    submitted: Annotated[str | None, Depends(submitted_csrf_token)],
) -> None:
    """Every unsafe form or htmx request of the pages carries the token, signed in or not.

    Signed in: the session's token. Signed out (sign-in, sign-up): the double-submit cookie,
    so another site cannot sign a browser in to an account of its choosing either.
    """
    if request.method in SAFE_METHODS or auth.via == "token":
        return
    expected = auth.session.csrf_token if auth.session else anonymous_form_token(request)
    check_csrf(request, expected=expected, submitted=submitted)


def get_optional_user(auth: AuthDep) -> User | None:
    """The caller, or None when anonymous."""
    return auth.user


def get_current_user(auth: AuthDep) -> User:
    """The caller; 401 when anonymous."""
    if auth.user is None:
        raise _unauthorised("Sign in or send an API token.")
    return auth.user


def get_page_user(request: Request, auth: AuthDep) -> User:
    """The caller of a page; anonymous visitors are sent to the sign-in page."""
    if auth.user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = f"/sign-in?next={quote(target, safe='')}"
        raise HTTPException(
            status.HTTP_303_SEE_OTHER,
            detail="Sign in first.",
            headers={"Location": location, "HX-Redirect": location},
        )
    return auth.user


def get_rating_user(auth: AuthDep, settings: SettingsDep, db_session: SessionDep) -> User | None:
    """The caller of POST /rate, whose history stores the rating; None rates anonymously.

    A session request without the CSRF header counts as anonymous: a cross-site post can
    rate but never write into anyone's history. Anonymous callers get 401 while the
    setting `ANONYMOUS_RATE` is off.
    """
    user = auth.user if auth.csrf_ok else None
    if user is None and not settings.ANONYMOUS_RATE:
        raise _unauthorised("Anonymous rating is turned off: sign in or send an API token.")
    # End the authentication's transaction (and record the token's use) before the analysis
    # runs for seconds, so no connection sits idle in a transaction meanwhile.
    db_session.commit()
    return user


OptionalUser = Annotated[User | None, Depends(get_optional_user)]
CurrentUser = Annotated[User, Depends(get_current_user)]
PageUser = Annotated[User, Depends(get_page_user)]
RatingUser = Annotated[User | None, Depends(get_rating_user)]


def require_role(*roles: Role, page: bool = False) -> Callable[..., User]:
    """A dependency that lets only these roles through (403 for the others)."""
    allowed = frozenset(Role(role).value for role in roles)

    def check(user: User) -> User:
        if user.role not in allowed:
            raise _forbidden("Your account's role may not do this.")
        return user

    def page_dependency(user: PageUser) -> User:
        return check(user)

    def api_dependency(user: CurrentUser) -> User:
        return check(user)

    return page_dependency if page else api_dependency


# Cookies ----------------------------------------------------------------------------------


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(
    response: Response, *, request: Request, token: str, settings: AccountSettings
) -> None:
    """Give the browser its session token: HttpOnly, SameSite=Lax, Secure under https."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.SESSION_LIFETIME_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )


def clear_session_cookie(response: Response, *, request: Request) -> None:
    """Make the browser forget its session token."""
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=_secure(request), path="/"
    )


def _mac(request: Request, purpose: str, value: str) -> str:
    key = get_app_settings(request).SECRET_KEY.encode()
    digest = hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _signed_nonce(request: Request, cookie: str | None) -> str | None:
    """The nonce of a signed-out CSRF cookie (``nonce.signature``) whose signature holds."""
    if not cookie or len(cookie) > 200:
        return None
    nonce, _, signature = cookie.partition(".")
    if len(nonce) < 20 or not hmac.compare_digest(signature, _mac(request, "csrf-cookie", nonce)):
        return None
    return nonce


def anonymous_form_token(request: Request) -> str | None:
    """The token a signed-out form must carry: bound to the cookie's nonce by the secret key.

    The cookie holds ``nonce.signature`` and the form a second MAC of the nonce, so a
    cookie planted by someone without the key (e.g. from a sibling subdomain) is refused,
    and the form token cannot be read off the cookie.
    """
    nonce = _signed_nonce(request, request.cookies.get(CSRF_COOKIE))
    return None if nonce is None else _mac(request, "csrf-form", nonce)


def anonymous_csrf_token(request: Request) -> tuple[str, bool]:
    """The signed-out visitor's CSRF cookie value, and whether it is new."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if _signed_nonce(request, cookie) is not None and cookie:
        return cookie, False
    nonce = secrets.token_urlsafe(32)
    return f"{nonce}.{_mac(request, 'csrf-cookie', nonce)}", True


def set_csrf_cookie(response: Response, *, request: Request, token: str) -> None:
    """Store the signed-out visitor's signed CSRF cookie: HttpOnly, SameSite=Lax."""
    response.set_cookie(
        CSRF_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), path="/"
    )
