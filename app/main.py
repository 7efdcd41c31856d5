"""The FastAPI application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from app import __version__
from app.config import PROJECT_ROOT, Settings, get_settings
from app.errors import ServiceError
from app.history.retention import sweep_kept_audio
from app.http.errors import invalid_request, refusal
from app.ml.registry import ModelLoadError, ModelRegistry, load_registry
from app.observability import MeteredPool, Metrics, RequestContextMiddleware
from app.observability import router as operations_router
from app.rating.progress import ProgressBoard
from app.rating.router import pages as rating_pages
from app.rating.router import router as rating_router
from app.rating.service import one_blas_thread_per_caller
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


def known_model(registry: ModelRegistry, settings: Settings) -> str:
    """The DEFAULT_MODEL setting, if it names a loaded model; `ModelLoadError` if not."""
    if settings.DEFAULT_MODEL not in registry.ids:
        raise ModelLoadError(
            f"DEFAULT_MODEL={settings.DEFAULT_MODEL!r} is not a loaded model ({registry.ids})"
        )
    return settings.DEFAULT_MODEL


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
            if settings.DEFAULT_MODEL:
                app.state.registry.default_id = known_model(app.state.registry, settings)
        except ModelLoadError as error:
            logger.error("Refusing to start: %s", error)
            raise
        one_blas_thread_per_caller()
        app.state.pool = MeteredPool(
            workers=settings.MAX_CONCURRENT_ANALYSES,
            queue=settings.MAX_QUEUED_ANALYSES,
            metrics=app.state.metrics,
        )
        logger.info(
            "Serving models %s (default %s)", app.state.registry.ids, app.state.registry.default_id
        )
        sweep = (
            asyncio.create_task(
                sweep_kept_audio(
                    database_url=settings.database_url,
                    data_dir=settings.DATA_DIR,
                    interval_s=settings.AUDIO_PURGE_INTERVAL_S,
                )
            )
            if settings.AUDIO_PURGE_INTERVAL_S > 0
            else None
        )
        try:
            yield
        finally:
            if sweep is not None:
                sweep.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweep
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
    app.state.metrics = Metrics()
    app.state.progress = ProgressBoard()
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
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    app.include_router(operations_router)
    app.include_router(rating_router)
    app.include_router(rating_pages)
    include_account_routes(app)

    @app.exception_handler(ServiceError)
    @app.exception_handler(HTTPException)
    async def refused(request: Request, error: Exception) -> Response:
        """Answer every refusal with its status and ``{"detail": ...}`` (a page for pages)."""
        return await refusal(request, error)

    app.add_exception_handler(RequestValidationError, invalid_request)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, error: Exception) -> JSONResponse:
        """Answer an unexpected error as JSON that names no internals (the log has the trace)."""
        return JSONResponse({"detail": "The server failed to answer; try again later."}, 500)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Show the OpenAPI documentation, with Swagger UI served from /static."""
        return HTMLResponse(
            DOCS_PAGE.format(
                swagger=SWAGGER, title=f"{app.title} API", openapi=app.openapi_url or ""
            )
        )

    return app


app = create_app()
