"""`POST /rate`, `GET /models` and the rating page at `/`."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from app.audio.errors import AudioError
from app.config import Settings
from app.history.service import store_rate_response
from app.ml.registry import ModelRegistry
from app.rating.schemas import ErrorResponse, ModelInfo, ModelsResponse, RateResponse
from app.rating.service import (
    AnalysisPool,
    PoolFull,
    RatingError,
    Upload,
    parse_amount,
    rate,
    resolve_model,
)
from app.rating.uploads import MB, Spool, receive_form
from app.web.deps import OptionalUser, RatingUser, SessionDep
from app.web.templates import templates as web_templates

router = APIRouter(tags=["rating"])
pages = APIRouter(include_in_schema=False)
#: Shared with the account pages: base.html gets `current_user` and `csrf_token`.
templates: Jinja2Templates = web_templates

FILE_FIELDS = ("reference", "candidate")
FILE_ROLES = {"reference": "the professional master", "candidate": "the trainee's master"}


def get_settings_dep(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_registry(request: Request) -> ModelRegistry:
    """The models loaded at start-up."""
    registry: ModelRegistry = request.app.state.registry
    return registry


def get_pool(request: Request) -> AnalysisPool:
    """The bounded analysis workers."""
    pool: AnalysisPool = request.app.state.pool
    return pool


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]
PoolDep = Annotated[AnalysisPool, Depends(get_pool)]


class Refusal(Exception):
    """A request answered with a 4xx/503 status and a sentence."""

    def __init__(self, detail: str, *, status_code: int, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code
        self.headers = headers or {}


async def rate_request(
    request: Request, *, settings: Settings, registry: ModelRegistry, pool: AnalysisPool
) -> RateResponse:
    """Receive the upload whole, then rate it on a worker thread, or raise `Refusal`.

    An analysis slot is taken only once both files have arrived, so a slow or stalled
    upload holds no worker (`UploadGuardMiddleware` bounds and times out the uploads).
    """
    started = time.perf_counter()
    spool = Spool.create()
    job_submitted = False
    try:
        await receive_form(
            request, spool, file_fields=FILE_FIELDS, max_file_bytes=settings.MAX_UPLOAD_MB * MB
        )
        for name in FILE_FIELDS:
            if name not in spool.files:
                raise RatingError(
                    f"The {name} file is missing: send {FILE_ROLES[name]} as the multipart "
                    f"file field '{name}'."
                )
        model = resolve_model(registry, spool.fields.get("model", "").strip())
        amount = parse_amount(spool.fields.get("amount"))
        uploads = {
            name: Upload(
                source=file.path,
                filename=file.filename,
                size_bytes=file.size_bytes,
                sha256=file.sha256,
            )
            for name, file in spool.files.items()
        }
        uploaded = time.perf_counter()
        try:
            ticket = pool.admit()
        except PoolFull as full:
            raise Refusal(
                str(full), status_code=503, headers={"Retry-After": str(full.retry_after_s)}
            ) from None

        def job() -> RateResponse:
            job_started = time.perf_counter()
            try:
                result = rate(
                    reference=uploads["reference"],
                    candidate=uploads["candidate"],
                    model=model,
                    amount_percent=amount,
                    loudness_target_lufs=settings.LOUDNESS_TARGET_LUFS,
                )
            finally:
                spool.remove()
            result.timings.queue_s = round(job_started - uploaded, 4)
            return result

        try:
            main = ticket.submit(job)
            job_submitted = True
        finally:
            ticket.close()
        result = await asyncio.wrap_future(main)
        result.timings.upload_s = round(uploaded - started, 4)
        result.timings.total_s = round(time.perf_counter() - started, 4)
        return result
    except (AudioError, RatingError) as error:
        raise Refusal(error.message, status_code=error.http_status) from None
    finally:
        if not job_submitted:
            spool.remove()


REFUSALS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        400: "Malformed multipart body.",
        401: "An invalid API token, or no caller while anonymous rating is off.",
        413: "A file or the whole request is over the size limit.",
        415: "Not multipart/form-data, or a file is not a supported audio format.",
        422: "A file is decodable but unusable, a field is invalid or the model is unknown.",
        503: "Every analysis worker is busy; see Retry-After.",
    }.items()
}

RATE_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["reference", "candidate"],
                "properties": {
                    "reference": {
                        "type": "string",
                        "format": "binary",
                        "description": "The professional master (WAV, FLAC, Ogg, Opus, MP3).",
                    },
                    "candidate": {
                        "type": "string",
                        "format": "binary",
                        "description": "The trainee's master of the same song.",
                    },
                    "model": {
                        "type": "string",
                        "description": "Model id (see GET /models); default: the service's.",
                    },
                    "amount": {
                        "type": "number",
                        "minimum": 0,
                        "maximum": 100,
                        "default": 100,
                        "description": "Strength of the suggestions, percent.",
                    },
                },
            }
        }
    },
}


def _refusal_response(refusal: Refusal) -> JSONResponse:
    return JSONResponse(
        {"detail": refusal.detail}, status_code=refusal.status_code, headers=refusal.headers
    )


@router.post(
    "/rate",
    summary="Rate a master",
    response_model=RateResponse,
    responses=REFUSALS,
    openapi_extra={"requestBody": RATE_BODY},
)
async def rate_endpoint(
    request: Request,
    settings: SettingsDep,
    registry: RegistryDep,
    pool: PoolDep,
    user: RatingUser,
    db_session: SessionDep,
) -> Response:
    """Rate a trainee's master against the professional one (stored when signed in)."""
    try:
        result = await rate_request(request, settings=settings, registry=registry, pool=pool)
    except Refusal as refusal:
        return _refusal_response(refusal)
    if user is not None:  # off the event loop: a database write
        stored = await run_in_threadpool(
            store_rate_response, db_session=db_session, user=user, result=result
        )
        result.id = stored.id
    return JSONResponse(result.model_dump(mode="json"))


@router.get("/models", summary="List models", response_model=ModelsResponse)
def list_models(registry: RegistryDep) -> ModelsResponse:
    """List the models, what each recognises and its evaluation figures."""
    return models_response(registry)


def models_response(registry: ModelRegistry) -> ModelsResponse:
    """Describe every loaded model."""
    models = []
    for model_id in registry.ids:
        metadata = registry.get(model_id).metadata
        figures = metadata.get("figures")
        models.append(
            ModelInfo(
                id=model_id,
                default=model_id == registry.default_id,
                description=str(metadata.get("description", "")),
                recognises=metadata.get("recognises"),
                figures=figures if isinstance(figures, dict) else {},
            )
        )
    return ModelsResponse(default=registry.default_id, models=models)


def _page_context(request: Request, registry: ModelRegistry, **extra: Any) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    return {
        "request": request,
        "models": models_response(registry).models,
        "max_upload_mb": settings.MAX_UPLOAD_MB,
        "selected_model": registry.default_id,
        "amount": 100,
        "result": None,
        "error": None,
        **extra,
    }


@pages.get("/", response_class=HTMLResponse)
def rate_page(request: Request, registry: RegistryDep, user: OptionalUser) -> HTMLResponse:
    """Show the rating form."""
    return templates.TemplateResponse(request, "rate.html", _page_context(request, registry))


@pages.post("/", response_class=HTMLResponse)
async def rate_page_submit(
    request: Request,
    settings: SettingsDep,
    registry: RegistryDep,
    pool: PoolDep,
    user: RatingUser,
    db_session: SessionDep,
) -> HTMLResponse:
    """Rate the uploaded pair; the result partial under htmx, the whole page otherwise."""
    status_code, headers = 200, {}
    result: RateResponse | None = None
    error: str | None = None
    try:
        result = await rate_request(request, settings=settings, registry=registry, pool=pool)
    except Refusal as refusal:
        error, status_code, headers = refusal.detail, refusal.status_code, refusal.headers
    if result is not None and user is not None:
        stored = await run_in_threadpool(
            store_rate_response, db_session=db_session, user=user, result=result
        )
        result.id = stored.id
    context = _page_context(
        request,
        registry,
        result=result.model_dump(mode="json") if result else None,
        error=error,
        selected_model=result.model if result else registry.default_id,
        amount=result.amount if result else 100,
    )
    template = "partials/rate_result.html" if "hx-request" in request.headers else "rate.html"
    return templates.TemplateResponse(
        request, template, context, status_code=status_code, headers=headers
    )
