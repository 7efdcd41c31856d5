"""Register the accounts, classes and history routers (pages and API) on the app."""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from app.accounts.throttle import PasswordHashingBusy
from app.web.deps import refuse_nul_text

#: Browser pages of this package: their 403/404 answers are pages, not JSON.
PAGE_PREFIXES = ("/sign-in", "/sign-up", "/account", "/admin/", "/classes", "/history")
TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    413: "Too large",
    415: "Not an audio file",
    422: "Cannot use this",
    429: "Too many requests",
    503: "Busy",
}


def _is_page(request: Request) -> bool:
    """A browser's page or form request (htmx or plain), not a REST client's."""
    path = request.url.path
    page = path.startswith(PAGE_PREFIXES) or path.startswith("/assignments/")
    accept = request.headers.get("accept", "")
    return page and ("text/html" in accept or request.headers.get("hx-request") == "true")


def _error_page(
    request: Request, status_code: int, detail: object, headers: dict[str, str] | None = None
) -> Response:
    from app.web.templates import render

    context = {"status_code": status_code, "title": TITLES[status_code], "detail": detail}
    response = render(request, "accounts/error.html", context, status_code=status_code)
    response.headers.update(headers or {})
    return response


async def page_errors(request: Request, error: Exception) -> Response:
    """Answer a browser's page request with an HTML error page; everything else as before."""
    assert isinstance(error, HTTPException)
    if error.status_code in TITLES and _is_page(request):
        return _error_page(request, error.status_code, error.detail, dict(error.headers or {}))
    return await http_exception_handler(request, error)


def _field_problems(error: RequestValidationError) -> str:
    problems = []
    for item in error.errors():
        where = [str(part) for part in item.get("loc", ()) if part not in ("body", "query")]
        problems.append(f"{'.'.join(where) or 'the form'}: {item.get('msg', 'invalid')}")
    return "; ".join(problems) + "."


async def form_errors(request: Request, error: Exception) -> Response:
    """A page's form with a missing or invalid field gets a page naming it, not raw JSON."""
    assert isinstance(error, RequestValidationError)
    if _is_page(request):
        return _error_page(request, 422, f"Check the form: {_field_problems(error)}")
    return await request_validation_exception_handler(request, error)


async def hashing_busy(request: Request, error: Exception) -> Response:
    """Every password-hashing slot is taken: 503 with Retry-After, page or JSON."""
    assert isinstance(error, PasswordHashingBusy)
    detail = "The server is checking too many passwords at once; try again in a few seconds."
    headers = {"Retry-After": str(error.retry_after_s)}
    if _is_page(request) or request.url.path in ("/sign-in", "/sign-up"):
        return _error_page(request, 503, detail, headers)
    return JSONResponse({"detail": detail}, status_code=503, headers=headers)


def include_account_routes(app: FastAPI) -> None:
    """Add sign-up/in/out, account, admin, classes, assignments and history routes."""
    from app.accounts.router import router as accounts_api
    from app.classes.router import router as classes_api
    from app.history.router import router as history_api
    from app.web import accounts, classes, history

    for router in (
        accounts_api,
        classes_api,
        history_api,
        accounts.router,
        classes.router,
        history.router,
    ):
        app.include_router(router, dependencies=[Depends(refuse_nul_text)])
    app.add_exception_handler(HTTPException, page_errors)
    app.add_exception_handler(RequestValidationError, form_errors)
    app.add_exception_handler(PasswordHashingBusy, hashing_busy)
