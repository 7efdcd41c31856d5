"""The FastAPI application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app import __version__
from app.config import PROJECT_ROOT, Settings, get_settings
from app.ml.registry import ModelLoadError, ModelRegistry, load_registry
from app.observability import MeteredPool, Metrics, RequestContextMiddleware
from app.observability import router as operations_router
from app.rating.router import pages as rating_pages
from app.rating.router import router as rating_router
from app.rating.uploads import MB, BodySizeLimitMiddleware
from app.web.routes import include_account_routes

logger = logging.getLogger("app")

SWAGGER = "/static/vendor/swagger-ui"


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
        app.state.pool = MeteredPool(
            workers=settings.MAX_CONCURRENT_ANALYSES,
            queue=settings.MAX_QUEUED_ANALYSES,
            metrics=app.state.metrics,
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
    app.state.metrics = Metrics()
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_body_bytes=(2 * settings.MAX_UPLOAD_MB + 1) * MB,
        per_file_mb=settings.MAX_UPLOAD_MB,
    )
    app.mount("/static", StaticFiles(directory=PROJECT_ROOT / "static"), name="static")
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    app.include_router(operations_router)
    app.include_router(rating_router)
    app.include_router(rating_pages)
    include_account_routes(app)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Show the OpenAPI documentation, with Swagger UI served from /static."""
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
        )

    return app


app = create_app()
