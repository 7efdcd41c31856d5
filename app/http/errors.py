"""How a refusal is answered: ``{"detail": ...}`` JSON, or an error page for a browser's page.

`refusal` answers every `ServiceError` (the one root of the service's refusals) and every
`HTTPException` the dependencies raise (401, 403, 404, the sign-in redirect); `app.main`
registers it as the one handler of both.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from app.errors import ServiceError
from app.http.templates import render

#: Browser pages: their refusals are pages, not JSON, when a browser asks for a page.
PAGE_PREFIXES = (
    "/sign-in",
    "/sign-up",
    "/account",
    "/admin/",
    "/classes",
    "/history",
    "/ratings/",
    "/assignments/",
)
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


def is_page(request: Request) -> bool:
    """A browser's page or form request (htmx or plain), not a REST client's."""
    accept = request.headers.get("accept", "")
    browser = "text/html" in accept or request.headers.get("hx-request") == "true"
    return browser and request.url.path.startswith(PAGE_PREFIXES)


def error_page(
    request: Request, status_code: int, detail: object, headers: dict[str, str] | None = None
) -> Response:
    """The error page naming the status and the sentence."""
    context = {"status_code": status_code, "title": TITLES[status_code], "detail": detail}
    response = render(request, "accounts/error.html", context, status_code=status_code)
    response.headers.update(headers or {})
    return response


async def refusal(request: Request, error: Exception) -> Response:
    """Answer a refusal: a page for a browser's page request, else ``{"detail": ...}``."""
    if isinstance(error, ServiceError):
        status_code, detail, headers = error.status_code, error.detail, error.headers
    else:
        assert isinstance(error, HTTPException)
        status_code, detail = error.status_code, error.detail
        headers = dict(error.headers or {})
    if status_code in TITLES and is_page(request):
        return error_page(request, status_code, detail, headers)
    if isinstance(error, HTTPException):
        return await http_exception_handler(request, error)
    return JSONResponse({"detail": detail}, status_code=status_code, headers=headers)


def _field_problems(error: RequestValidationError) -> str:
    problems = []
    for item in error.errors():
        where = [str(part) for part in item.get("loc", ()) if part not in ("body", "query")]
        problems.append(f"{'.'.join(where) or 'the form'}: {item.get('msg', 'invalid')}")
    return "; ".join(problems) + "."


async def invalid_request(request: Request, error: Exception) -> Response:
    """A page's form with a missing or invalid field gets a page naming it, not raw JSON."""
    assert isinstance(error, RequestValidationError)
    if is_page(request):
        return error_page(request, 422, f"Check the form: {_field_problems(error)}")
    return await request_validation_exception_handler(request, error)
