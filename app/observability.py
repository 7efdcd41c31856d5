"""Operations: liveness and readiness probes, Prometheus metrics, JSON logs with a request id."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import math
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import engine_for
from app.ml.registry import ModelRegistry
from app.rating.service import AnalysisPool, PoolFull, Ticket

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
access_logger = logging.getLogger("app.access")

TIMING_PHASES = ("upload_s", "queue_s", "decode_s", "compare_s", "recognise_s", "total_s")
RATE_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class Metrics:
    """The service's Prometheus metrics, in a registry of their own (one per application)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.admissions = Counter(
            "mt_analysis_admissions",
            "Analyses admitted by the pool.",
            registry=self.registry,
        )
        self.pool_refusals = Counter(
            "mt_analysis_pool_full",
            "Analyses refused because every worker and queue place was taken (503).",
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "mt_analysis_in_flight",
            "Analyses admitted and not yet finished (running, queued or uploading).",
            registry=self.registry,
        )
        self.capacity = Gauge(
            "mt_analysis_capacity", "Workers plus queue places.", registry=self.registry
        )
        self.rate_responses = Counter(
            "mt_rate_responses",
            "Answers of POST /rate by HTTP status (4xx and 503 are refusals).",
            ["status"],
            registry=self.registry,
        )
        self.rate_seconds = Histogram(
            "mt_rate_seconds",
            "The timings each successful POST /rate reports, by phase.",
            ["phase"],
            buckets=RATE_BUCKETS_S,
            registry=self.registry,
        )
        self.requests = Counter(
            "mt_http_requests",
            "HTTP requests by method and status.",
            ["method", "status"],
            registry=self.registry,
        )

    def watch_pool(self, pool: AnalysisPool) -> None:
        """Read the pool's occupancy at every scrape."""
        self.in_flight.set_function(lambda: pool.admitted)
        self.capacity.set(pool.capacity)

    def observe_rate(self, *, status: int, body: bytes) -> None:
        """Count one /rate answer and, when it succeeded, record its timings."""
        self.rate_responses.labels(status=str(status)).inc()
        if status != 200:
            return
        try:
            timings = json.loads(body).get("timings") or {}
        except (ValueError, AttributeError):
            return
        for phase in TIMING_PHASES:
            value = timings.get(phase)
            if isinstance(value, int | float):
                self.rate_seconds.labels(phase=phase.removesuffix("_s")).observe(value)


class MeteredPool(AnalysisPool):
    """An `AnalysisPool` that counts its admissions and refusals."""

    def __init__(self, *, workers: int, queue: int, metrics: Metrics) -> None:
        super().__init__(workers=workers, queue=queue)
        self.metrics = metrics
        metrics.watch_pool(self)

    def admit(self) -> Ticket:
        """Reserve a place like `AnalysisPool.admit`, counting the outcome."""
        try:
            ticket = super().admit()
        except PoolFull:
            self.metrics.pool_refusals.inc()
            raise
        self.metrics.admissions.inc()
        return ticket


class RequestContextMiddleware:
    """Give each request an id (X-Request-ID, kept when the caller sends a sane one), log it as
    one JSON access line and count it; /rate answers also feed the rating metrics."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"x-request-id"), ""
        )
        request_id = offered if REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        is_rate = scope["path"] == "/rate" and scope["method"] == "POST"
        started = time.perf_counter()
        status = 500
        body = bytearray()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            elif is_rate and message["type"] == "http.response.body" and status == 200:
                body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            duration_ms = (time.perf_counter() - started) * 1000
            self.metrics.requests.labels(method=scope["method"], status=str(status)).inc()
            if is_rate:
                self.metrics.observe_rate(status=status, body=bytes(body))
            access_logger.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(duration_ms, 1),
                    "client": (scope.get("client") or ("-",))[0],
                },
            )
            request_id_var.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and any extras."""

    FIELDS = ("method", "path", "status", "duration_ms", "client")

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as JSON."""
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        entry.update({key: getattr(record, key) for key in self.FIELDS if hasattr(record, key)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


JsonFormatter.converter = time.gmtime


def log_config(*, level: str = "INFO") -> dict[str, Any]:
    """A logging configuration (for uvicorn's ``log_config``): every logger as JSON on stderr."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "json"},
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }


router = APIRouter(include_in_schema=False)


#: How long one database check answers /readyz before the next one is made, seconds: probes
#: stay cheap and answer from the event loop while every analysis worker is busy.
READY_CHECK_TTL_S = 1.0


@dataclass
class _DatabaseCheck:
    """The last database check's outcome (None: reachable) and when it was made."""

    problem: str | None = None
    checked_at: float = -math.inf
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _check_database(url: str) -> str | None:
    try:
        with engine_for(url).connect() as connection:
            connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as error:
        return f"database: {type(error).__name__}: {str(error).splitlines()[0]}"
    return None


async def _database_problem(request: Request) -> str | None:
    """The database's problem, checked at most once per `READY_CHECK_TTL_S` per app."""
    state = request.app.state
    check: _DatabaseCheck | None = getattr(state, "database_check", None)
    if check is None:
        check = state.database_check = _DatabaseCheck()
    if time.monotonic() - check.checked_at >= READY_CHECK_TTL_S:
        async with check.lock:  # one check at a time; those waiting read its outcome
            if time.monotonic() - check.checked_at >= READY_CHECK_TTL_S:
                url = state.settings.database_url
                check.problem = await run_in_threadpool(_check_database, url)
                check.checked_at = time.monotonic()
    return check.problem


@router.get("/livez")
async def livez() -> JSONResponse:
    """Say the process answers (never looks at the database)."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
@router.get("/healthz")
async def readyz(request: Request) -> JSONResponse:
    """Report whether the service can serve: database reachable, models loaded."""
    problems = []
    loaded: ModelRegistry | None = getattr(request.app.state, "registry", None)
    if loaded is None or not loaded.ids:
        problems.append("models: not loaded")
    database = await _database_problem(request)
    if database is not None:
        problems.append(database)
    if problems:
        return JSONResponse(
            {"status": "unavailable", "reason": "; ".join(problems)}, status_code=503
        )
    return JSONResponse({"status": "ok"})


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Expose the Prometheus metrics."""
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
