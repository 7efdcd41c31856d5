"""A model that raises, and clients that leave mid-upload or mid-analysis.

The server answers JSON that names no internals, removes the upload's spool folder, stores
nothing for a request it did not finish, and keeps serving the next request.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audio.spectrum import Comparison
from app.config import Settings
from app.history.models import Rating
from app.ml.registry import ModelRegistry, Recognition
from tests.accounts_support import known_eq_wavs, make_app, make_token, make_user

from .conftest import FakeModel

SECRET = "model internals at /srv/models/secret.cbm"


class RaisingModel(FakeModel):
    """A model that fails inside `recognise`, as a corrupt or mismatched model would."""

    def recognise(self, comparison: Comparison) -> Recognition:
        raise RuntimeError(SECRET)


@pytest.fixture
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder the uploads' spool folders are made in (tempfile's, for this test)."""
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def held() -> FakeModel:
    """The default model; set its `gate` to hold an analysis inside the worker."""
    return FakeModel("general")


@pytest.fixture
def served(app_settings: Settings, held: FakeModel) -> Iterator[tuple[Any, TestClient]]:
    """The app (lifespan running) with a held fake model and a raising one."""
    registry = ModelRegistry(
        models={"general": held, "broken": RaisingModel("broken")}, default_id="general"
    )
    app = make_app(app_settings, registry)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield app, client


def multipart(model: str = "general") -> tuple[bytes, str]:
    """A /rate body (two 6 s WAV files and the model field) and its Content-Type."""
    master, eqd = known_eq_wavs(seconds=6.0)
    request = httpx.Request(
        "POST",
        "http://testserver/rate",
        files={
            "reference": ("reference.wav", master, "audio/wav"),
            "candidate": ("mine.wav", eqd, "audio/wav"),
        },
        data={"model": model},
    )
    return request.read(), request.headers["content-type"]


def assert_still_serving(client: TestClient) -> None:
    """The next rating is served (no worker or queue place is left taken)."""
    body, content_type = multipart()
    response = client.post("/rate", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 200 and response.json()["rating"] == 1


def call_then_leave(
    app: Any, *, body: bytes, content_type: str, token: str, sent_bytes: int, leave: Any
) -> list[dict[str, Any]]:
    """Call POST /rate over raw ASGI: send `sent_bytes` of `body`, then disconnect.

    After the body is sent, further `receive()` calls wait for `leave()` to be true before
    reporting the disconnect. Returns the messages the app sent.
    """
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/rate",
        "raw_path": b"/rate",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
            *([(b"authorization", f"Bearer {token}".encode())] if token else []),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    messages = [
        {"type": "http.request", "body": body[:sent_bytes], "more_body": sent_bytes < len(body)}
    ]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        while not leave():
            await asyncio.sleep(0.01)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> None:
        try:
            await app(scope, receive, send)
        except Exception:  # a server logs it and serves on; the caller checks the rest
            pass

    asyncio.run(run())
    return sent


def test_a_model_that_raises_answers_json_500_naming_no_internals(
    served: tuple[Any, TestClient], spool_dir: Path
) -> None:
    _, client = served
    body, content_type = multipart(model="broken")
    response = client.post("/rate", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"detail"} and response.json()["detail"]
    for internal in ("RuntimeError", "secret", "/srv", "Traceback"):
        assert internal not in response.text
    assert list(spool_dir.iterdir()) == []  # the upload's folder is gone
    assert_still_serving(client)  # the worker that raised is free again


def test_a_client_that_leaves_mid_upload_leaves_nothing_behind(
    served: tuple[Any, TestClient], spool_dir: Path, db: Session
) -> None:
    app, client = served
    token = make_token(db, make_user(db, "leaver@example.org"))
    body, content_type = multipart()
    assert len(body) > 400_000
    sent = call_then_leave(
        app,
        body=body,
        content_type=content_type,
        token=token,
        sent_bytes=200_000,  # inside the reference file
        leave=lambda: True,
    )
    assert sent[0]["status"] == 400
    assert sent[1]["body"] == b'{"detail":"The upload was interrupted."}'
    assert list(spool_dir.iterdir()) == []
    assert db.scalars(select(Rating)).all() == []
    assert_still_serving(client)


def test_a_client_that_leaves_mid_analysis_frees_its_worker_and_spool(
    served: tuple[Any, TestClient], spool_dir: Path, held: FakeModel
) -> None:
    app, client = served
    held.gate = threading.Event()
    left = threading.Event()

    def client_leaves_once_the_model_runs() -> None:
        if held.entered.wait(timeout=20):
            left.set()  # the client is gone while the analysis runs
            held.gate.set()  # type: ignore[union-attr]

    watcher = threading.Thread(target=client_leaves_once_the_model_runs)
    watcher.start()
    body, content_type = multipart()
    sent = call_then_leave(
        app, body=body, content_type=content_type, token="", sent_bytes=len(body), leave=left.is_set
    )
    watcher.join(timeout=20)
    assert left.is_set()
    assert [m["type"] for m in sent][:1] == ["http.response.start"]
    assert list(spool_dir.iterdir()) == []
    held.gate = None
    assert_still_serving(client)
