"""The request size limit, on its own: 413 before the body is read, and while it streams."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.testclient import TestClient

from app.rating.uploads import (
    MB,
    PARSE_BATCH_BYTES,
    Spool,
    UploadGuardMiddleware,
    _FormReceiver,
    receive_form,
)


def small_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(UploadGuardMiddleware, max_body_bytes=1000, per_file_mb=1)

    @app.post("/form")
    def form(title: Annotated[str, Form()], file: Annotated[UploadFile, File()]) -> dict[str, str]:
        return {"title": title}

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    return app


def chunks(total: int) -> Iterator[bytes]:
    for _ in range(total // 100):
        yield b"z" * 100


def test_small_requests_pass() -> None:
    with TestClient(small_app()) as client:
        assert client.get("/ping").json() == {"pong": "yes"}
        ok = client.post("/form", data={"title": "t"}, files={"file": ("a.wav", b"x" * 100)})
        assert ok.status_code == 200


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    with TestClient(small_app()) as client:
        response = client.post("/form", content=b"x", headers={"Content-Length": "5000"})
    assert response.status_code == 413
    assert response.json()["detail"].startswith("The upload is larger than the 1000 bytes limit")


def test_a_streamed_form_over_the_limit_is_413_not_a_parse_error() -> None:
    with TestClient(small_app()) as client:
        response = client.post(
            "/form",
            content=chunks(5000),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
    assert response.status_code == 413


def test_htmx_requests_get_an_html_fragment() -> None:
    with TestClient(small_app()) as client:
        response = client.post(
            "/form", content=b"x", headers={"Content-Length": "5000", "HX-Request": "true"}
        )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.startswith('<div class="error" role="alert">The upload is larger')


def test_the_form_is_parsed_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The event loop only receives the body; a worker thread parses, writes and hashes it."""
    parsing_threads: set[int] = set()
    on_part_data = _FormReceiver.on_part_data

    def recording(self: _FormReceiver, data: bytes, start: int, end: int) -> None:
        parsing_threads.add(threading.get_ident())
        on_part_data(self, data, start, end)

    monkeypatch.setattr(_FormReceiver, "on_part_data", recording)
    app = FastAPI()

    @app.post("/spool")
    async def spool_route(request: Request) -> dict[str, object]:
        spool = Spool.create()
        try:
            await receive_form(request, spool, file_fields=("reference",), max_file_bytes=10 * MB)
            file = spool.files["reference"]
            return {"loop": threading.get_ident(), "size": file.size_bytes, "sha256": file.sha256}
        finally:
            spool.remove()

    audio = bytes(range(256)) * (3 * PARSE_BATCH_BYTES // 256 + 7)  # several batches
    with TestClient(app) as client:
        answer = client.post("/spool", files={"reference": ("r.wav", audio)}).json()
    assert answer["size"] == len(audio)
    assert answer["sha256"] == hashlib.sha256(audio).hexdigest()
    assert parsing_threads
    assert answer["loop"] not in parsing_threads
