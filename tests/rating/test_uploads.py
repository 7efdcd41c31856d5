"""The request size limit, on its own: 413 before the body is read, and while it streams."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import FastAPI, File, Form, UploadFile
from fastapi.testclient import TestClient

from app.rating.uploads import UploadGuardMiddleware


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
