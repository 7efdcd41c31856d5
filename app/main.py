"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from app import __version__
from app.config import PROJECT_ROOT, Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application with its settings, lifespan and routes."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        yield

    app = FastAPI(
        title="Mastering Trainer",
        version=__version__,
        description="Rates a trainee's master against the professional one in EQ terms.",
        lifespan=lifespan,
    )
    app.mount("/static", StaticFiles(directory=PROJECT_ROOT / "static"), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        """Report whether the service can serve."""
        return JSONResponse({"status": "ok"})

    return app


app = create_app()
