"""Sign-up, sign-in, sign-out, the account page (password, API tokens) and user admin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse

from app.accounts import service
from app.accounts.models import Role, User
from app.classes.service import ClassError, class_by_code, join_class
from app.http.deps import (
    CSRF_COOKIE,
    AccountSettingsDep,
    AuthDep,
    LoginThrottleDep,
    PageUser,
    RowId,
    SessionDep,
    anonymous_csrf_token,
    anonymous_form_token,
    clear_session_cookie,
    client_address,
    form_csrf_protect,
    require_role,
    set_csrf_cookie,
    set_session_cookie,
)
from app.http.templates import redirect, render

router = APIRouter(
    tags=["pages"], include_in_schema=False, dependencies=[Depends(form_csrf_protect)]
)

AdminPage = Annotated[User, Depends(require_role(Role.ADMIN, page=True))]


def safe_next(target: str | None, default: str = "/history") -> str:
    """Only same-site paths are followed after signing in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def _anonymous_page(
    request: Request, name: str, context: Mapping[str, object], *, status_code: int = 200
) -> HTMLResponse:
    cookie, new = anonymous_csrf_token(request)
    if not getattr(request.state, "csrf_token", ""):
        request.cookies[CSRF_COOKIE] = cookie  # this request's form token derives from it
        request.state.csrf_token = anonymous_form_token(request)
    response = render(request, name, dict(context), status_code=status_code)
    if new:
        set_csrf_cookie(response, request=request, token=cookie)
    return response


def _start_session(
    request: Request,
    *,
    db_session: SessionDep,
    user: User,
    settings: AccountSettingsDep,
    target: str,
) -> Response:
    _, token = service.create_session(db_session=db_session, user=user, settings=settings)
    response = redirect(request, target)
    set_session_cookie(response, request=request, token=token, settings=settings)
    return response


@router.get("/sign-up", response_class=HTMLResponse)
def sign_up_page(request: Request, auth: AuthDep, code: str = "") -> HTMLResponse:
    """Show the student sign-up form (a class join code is needed)."""
    return _anonymous_page(request, "accounts/sign_up.html", {"join_code": code, "error": None})


@router.post("/sign-up")
def sign_up(
    request: Request,
    auth: AuthDep,
    db_session: SessionDep,
    settings: AccountSettingsDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    join_code: Annotated[str, Form(max_length=32)],
) -> Response:
    """Create a student account in the class with this join code, and sign in."""
    if auth.user is not None:
        return redirect(request, "/history")
    try:
        if not join_code.strip():
            raise ClassError("Enter the join code your instructor gave you.")
        if class_by_code(db_session=db_session, code=join_code) is None:
            raise ClassError("No class has this join code; check it with your instructor.")
        user = service.create_user(
            db_session=db_session,
            email=email,
            password=password,
            role=Role.STUDENT,
            settings=settings,
        )
        join_class(db_session=db_session, user=user, code=join_code)
    except (service.AccountError, ClassError) as error:
        db_session.rollback()
        context = {"join_code": join_code, "email": email, "error": str(error)}
        return _anonymous_page(request, "accounts/sign_up.html", context, status_code=400)
    return _start_session(
        request, db_session=db_session, user=user, settings=settings, target="/history"
    )


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, auth: AuthDep, next: str = "") -> HTMLResponse:
    """Show the sign-in form."""
    return _anonymous_page(request, "accounts/sign_in.html", {"next": safe_next(next)})


@router.post("/sign-in")
def sign_in(
    request: Request,
    auth: AuthDep,
    db_session: SessionDep,
    settings: AccountSettingsDep,
    throttle: LoginThrottleDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the credentials (throttled per address and email) and open a session."""
    context: dict[str, object] = {"next": safe_next(next), "email": email}
    try:
        user = service.authenticate(
            db_session=db_session,
            email=email,
            password=password,
            settings=settings,
            throttle=throttle,
            address=client_address(request),
        )
    except service.LoginThrottled as throttled:
        context["error"] = throttled.detail
        response = _anonymous_page(
            request, "accounts/sign_in.html", context, status_code=throttled.status_code
        )
        response.headers.update(throttled.headers)
        return response
    except service.InvalidCredentials as error:
        context["error"] = str(error)
        return _anonymous_page(request, "accounts/sign_in.html", context, status_code=401)
    if auth.session is not None:  # a new session id on every sign-in (no fixation)
        service.revoke_session(db_session=db_session, session=auth.session)
    return _start_session(
        request, db_session=db_session, user=user, settings=settings, target=safe_next(next)
    )


@router.post("/sign-out")
def sign_out(request: Request, auth: AuthDep, db_session: SessionDep) -> Response:
    """Revoke this session on the server and forget the cookie."""
    if auth.session is not None:
        service.revoke_session(db_session=db_session, session=auth.session)
    response = redirect(request, "/sign-in")
    clear_session_cookie(response, request=request)
    return response


def _account_page(
    request: Request,
    *,
    db_session: SessionDep,
    user: User,
    status_code: int = 200,
    **extra: object,
) -> HTMLResponse:
    tokens = service.list_api_tokens(db_session=db_session, user=user)
    context: dict[str, object] = {"user": user, "tokens": tokens, "error": None, **extra}
    return render(request, "accounts/account.html", context, status_code=status_code)


@router.get("/account", response_class=HTMLResponse)
def account_page(
    request: Request, user: PageUser, db_session: SessionDep, changed: bool = False
) -> HTMLResponse:
    """Show the account: change the password, manage API tokens."""
    return _account_page(request, db_session=db_session, user=user, changed=changed)


@router.post("/account/password")
def change_password(
    request: Request,
    user: PageUser,
    auth: AuthDep,
    db_session: SessionDep,
    settings: AccountSettingsDep,
    current_password: Annotated[str, Form(max_length=1024)],
    new_password: Annotated[str, Form(max_length=1024)],
) -> Response:
    """Change the password; every other session of the user is signed out."""
    try:
        service.change_password(
            db_session=db_session,
            user=user,
            current_password=current_password,
            new_password=new_password,
            settings=settings,
            keep_session=auth.session,
        )
    except service.AccountError as error:
        return _account_page(
            request, db_session=db_session, user=user, status_code=400, error=str(error)
        )
    return redirect(request, "/account?changed=true")


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    user: PageUser,
    db_session: SessionDep,
    name: Annotated[str, Form(max_length=100)] = "token",
) -> HTMLResponse:
    """Create an API token and show it, this once."""
    _, raw = service.create_api_token(db_session=db_session, user=user, name=name)
    return _account_page(request, db_session=db_session, user=user, new_token=raw)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(
    request: Request, token_id: RowId, user: PageUser, db_session: SessionDep
) -> Response:
    """Revoke one of your API tokens."""
    if service.revoke_api_token(db_session=db_session, user=user, token_id=token_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="No such token.")
    return redirect(request, "/account")


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, admin: AdminPage, db_session: SessionDep) -> HTMLResponse:
    """List the users; create instructors and admins (admins only)."""
    users = service.list_users(db_session=db_session)
    return render(request, "accounts/users.html", {"users": users, "error": None})


@router.post("/admin/users")
def create_user(
    request: Request,
    admin: AdminPage,
    db_session: SessionDep,
    settings: AccountSettingsDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    role: Annotated[Role, Form()] = Role.INSTRUCTOR,
) -> Response:
    """Create a user of any role (admins only)."""
    try:
        service.create_user(
            db_session=db_session, email=email, password=password, role=role, settings=settings
        )
    except service.AccountError as error:
        db_session.rollback()
        users = service.list_users(db_session=db_session)
        return render(
            request, "accounts/users.html", {"users": users, "error": str(error)}, status_code=400
        )
    return redirect(request, "/admin/users")
