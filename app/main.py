"""The FastAPI application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app import __version__
from app.config import PROJECT_ROOT, Settings, get_settings
from app.db import engine_for
from app.ml.registry import ModelLoadError, ModelRegistry, load_registry
from app.rating.router import pages as rating_pages
from app.rating.router import router as rating_router
from app.rating.service import AnalysisPool
from app.rating.uploads import MB, UploadGuardMiddleware
from app.web.routes import include_account_routes
from app.web.security import HeadAsGetMiddleware, SecurityHeadersMiddleware

logger = logging.getLogger("app")

SWAGGER = "/static/vendor/swagger-ui"
#: Swagger UI served from /static and started by a script file (the CSP forbids inline script).
DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="{swagger}/swagger-ui.css">
<link rel="icon" href="{swagger}/favicon-32x32.png">
<title>{title}</title>
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{swagger}/swagger-ui-bundle.js"></script>
<script src="/static/js/swagger-init.js"></script>
</body>
</html>
"""


def create_app(
    settings: Settings | None = None, *, registry: ModelRegistry | None = None
) -> FastAPI:
    """Build the application with its settings, lifespan and routes.

    ``registry`` replaces the models of ``settings.MODELS_DIR`` (tests inject fakes this way).
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        try:
            app.state.registry = registry or load_registry(settings.MODELS_DIR)
        except ModelLoadError as error:
            logger.error("Refusing to start: %s", error)
            raise
        app.state.pool = AnalysisPool(
            workers=settings.MAX_CONCURRENT_ANALYSES, queue=settings.MAX_QUEUED_ANALYSES
        )
        logger.info(
            "Serving models %s (default %s)", app.state.registry.ids, app.state.registry.default_id
        )
        try:
            yield
        finally:
            app.state.pool.shutdown()

    app = FastAPI(
        title="Mastering Trainer",
        version=__version__,
        description="Rates a trainee's master against the professional one in EQ terms.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.add_middleware(
        UploadGuardMiddleware,
        max_body_bytes=(2 * settings.MAX_UPLOAD_MB + 1) * MB,
        per_file_mb=settings.MAX_UPLOAD_MB,
        idle_timeout_s=settings.UPLOAD_IDLE_TIMEOUT_S,
        total_timeout_s=settings.UPLOAD_TOTAL_TIMEOUT_S,
        max_uploads=settings.MAX_UPLOADS_IN_FLIGHT,
    )
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.mount("/static", StaticFiles(directory=PROJECT_ROOT / "static"), name="static")
    app.include_router(rating_router)
    app.include_router(rating_pages)
    include_account_routes(app)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Show the OpenAPI documentation, with Swagger UI served from /static."""
        return HTMLResponse(
            DOCS_PAGE.format(
                swagger=SWAGGER, title=f"{app.title} API", openapi=app.openapi_url or ""
            )
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz(request: Request) -> JSONResponse:
        """Report whether the service can serve: database reachable, models loaded."""
        problems = []
        loaded: ModelRegistry | None = getattr(request.app.state, "registry", None)
        if loaded is None or not loaded.ids:
            problems.append("models: not loaded")
        try:
            with engine_for(settings.database_url).connect() as connection:
                connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as error:
            problems.append(f"database: {type(error).__name__}: {str(error).splitlines()[0]}")
        if problems:
            return JSONResponse(
                {"status": "unavailable", "reason": "; ".join(problems)}, status_code=503
            )
        return JSONResponse({"status": "ok"})

    return app


app = create_app()
