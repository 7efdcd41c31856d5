"""Register the accounts, classes and history routers (pages and API) on the app."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from starlette.exceptions import HTTPException

#: Browser pages of this package: their 403/404 answers are pages, not JSON.
PAGE_PREFIXES = (
    "/sign-in",
    "/sign-up",
    "/account",
    "/admin/",
    "/classes",
    "/history",
    "/ratings/",
)
TITLES = {403: "Not allowed", 404: "Not found", 400: "Bad request", 429: "Too many requests"}


def _is_page(request: Request) -> bool:
    path = request.url.path
    page = path.startswith(PAGE_PREFIXES) or (
        path.startswith("/assignments/") and not path.endswith("/submit")
    )
    return page and "text/html" in request.headers.get("accept", "")


async def page_errors(request: Request, error: Exception) -> Response:
    """Answer a browser's page request with an HTML error page; everything else as before."""
    assert isinstance(error, HTTPException)
    if error.status_code in TITLES and _is_page(request):
        from app.web.templates import render

        context = {
            "status_code": error.status_code,
            "title": TITLES[error.status_code],
            "detail": error.detail,
        }
        response = render(request, "accounts/error.html", context, status_code=error.status_code)
        response.headers.update(error.headers or {})
        return response
    return await http_exception_handler(request, error)


def include_account_routes(app: FastAPI) -> None:
    """Add sign-up/in/out, account, admin, classes, assignments and history routes."""
    from app.accounts.router import router as accounts_api
    from app.classes.router import router as classes_api
    from app.history.router import router as history_api
    from app.web import accounts, classes, history, presets

    for router in (
        accounts_api,
        classes_api,
        history_api,
        accounts.router,
        classes.router,
        history.router,
        presets.router,
    ):
        app.include_router(router)
    app.add_exception_handler(HTTPException, page_errors)
