"""Jinja templates with the caller and the CSRF token in every page's context."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from app.config import PROJECT_ROOT


def _caller_context(request: Request) -> dict[str, Any]:
    """`current_user` and `csrf_token` for base.html (hx-headers on <body>) and every form."""
    return {
        "current_user": getattr(request.state, "user", None),
        "csrf_token": getattr(request.state, "csrf_token", "") or "",
    }


templates = Jinja2Templates(
    directory=str(PROJECT_ROOT / "templates"), context_processors=[_caller_context]
)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    """Render a page (or, under htmx, the same template: pages keep their partials small)."""
    return templates.TemplateResponse(request, name, context or {}, status_code=status_code)


def redirect(request: Request, url: str) -> Response:
    """See-other redirect that also works for htmx requests (HX-Redirect)."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
