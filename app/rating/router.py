"""`POST /rate`, `GET /models` and the rating page at `/`."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from app.config import Settings
from app.errors import ServiceError
from app.history.service import store_rate_response
from app.http.deps import (
    OptionalUser,
    PoolDep,
    ProgressDep,
    RatingUser,
    RegistryDep,
    SessionDep,
    SettingsDep,
    get_app_settings,
)
from app.http.templates import templates
from app.ml.registry import ModelRegistry
from app.rating.progress import (
    PROGRESS_ID_PATTERN,
    ProgressBoard,
    ProgressOut,
    parse_progress_id,
)
from app.rating.schemas import ErrorResponse, ModelInfo, ModelsResponse, RateResponse
from app.rating.service import (
    AnalysisPool,
    RatingError,
    Upload,
    parse_amount,
    rate_in_pool,
    resolve_model,
)
from app.rating.uploads import MB, Spool, receive_form

router = APIRouter(tags=["rating"])
pages = APIRouter(include_in_schema=False)

FILE_FIELDS = ("reference", "candidate")
FILE_ROLES = {"reference": "the professional master", "candidate": "the trainee's master"}


async def rate_request(
    request: Request,
    *,
    settings: Settings,
    registry: ModelRegistry,
    pool: AnalysisPool,
    progress: ProgressBoard,
) -> RateResponse:
    """Receive the upload whole, then rate it on a worker thread, or raise `ServiceError`.

    An analysis slot is taken only once both files have arrived, so a slow or stalled
    upload holds no worker (`UploadGuardMiddleware` bounds and times out the uploads).
    With a `progress_id` field, `progress` records the stages (receiving as soon as the
    field arrives, then queued, analysing, done).
    """
    started = time.perf_counter()
    spool = Spool.create()
    handed_over = False  # to `rate_in_pool`, which removes the spool once done
    try:
        await receive_form(
            request,
            spool,
            file_fields=FILE_FIELDS,
            max_file_bytes=settings.MAX_UPLOAD_MB * MB,
            on_field=progress.on_form_field,
        )
        for name in FILE_FIELDS:
            if name not in spool.files:
                raise RatingError(
                    f"The {name} file is missing: send {FILE_ROLES[name]} as the multipart "
                    f"file field '{name}'."
                )
        model = resolve_model(registry, spool.fields.get("model", "").strip())
        amount = parse_amount(spool.fields.get("amount"))
        report = progress.reporter(parse_progress_id(spool.fields.get("progress_id")))
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
        handed_over = True
        try:
            result = await rate_in_pool(
                pool=pool,
                reference=uploads["reference"],
                candidate=uploads["candidate"],
                model=model,
                amount_percent=amount,
                loudness_target_lufs=settings.LOUDNESS_TARGET_LUFS,
                cleanup=spool.remove,
                on_stage=report,
            )
        finally:  # answered: the rating or a refusal
            if report is not None:
                report("done")
        result.timings.upload_s = round(uploaded - started, 4)
        result.timings.total_s = round(time.perf_counter() - started, 4)
        return result
    finally:
        if not handed_over:
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
    progress: ProgressDep,
) -> Response:
    """Rate a trainee's master against the professional one (stored when signed in)."""
    result = await rate_request(
        request, settings=settings, registry=registry, pool=pool, progress=progress
    )
    if user is not None:  # off the event loop: a database write
        stored = await run_in_threadpool(
            store_rate_response, db_session=db_session, user=user, result=result
        )
        result.id = stored.id
    return JSONResponse(result.model_dump(mode="json"))


@router.get(
    "/rate/progress/{progress_id}",
    summary="Stage of a rating in flight",
    response_model=ProgressOut,
    responses={404: {"model": ErrorResponse, "description": "Unknown or expired progress id."}},
)
def rate_progress(
    progress: ProgressDep,
    progress_id: Annotated[str, Path(pattern=f"^{PROGRESS_ID_PATTERN}$")],
) -> ProgressOut:
    """Where the rating sent with this `progress_id` stands: receiving, queued, analysing, done."""
    stage = progress.get(progress_id)
    if stage is None:
        raise ServiceError(
            "No rating in flight has this progress id yet (its files may still be arriving), "
            "or it finished more than 15 minutes ago.",
            status_code=404,
        )
    return ProgressOut(stage=stage)


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
    settings = get_app_settings(request)
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
    progress: ProgressDep,
) -> HTMLResponse:
    """Rate the uploaded pair; the result partial under htmx, the whole page otherwise."""
    status_code, headers = 200, {}
    result: RateResponse | None = None
    error: str | None = None
    try:
        result = await rate_request(
            request, settings=settings, registry=registry, pool=pool, progress=progress
        )
    except ServiceError as refusal:
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
