"""Slow and stalled uploads against a real server (uvicorn on a free port, raw sockets).

An upload takes an analysis slot only once it has arrived whole; a body that stalls or
drags on answers 408; too many uploads at once answer 503 with Retry-After.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from app.ml.registry import ModelRegistry

from ..conftest import served
from .conftest import make_settings

IDLE_TIMEOUT_S = 1.5
#: Long enough for a whole rating on a loaded machine, so its reply comes first.
PATIENT_IDLE_TIMEOUT_S = 8.0
TOTAL_TIMEOUT_S = 4.0
MAX_UPLOADS = 4
#: The start of a POST /rate that then goes quiet: headers and a few body bytes.
SLOW_START = (
    b"POST /rate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: multipart/form-data; boundary=slow\r\nContent-Length: 1000000\r\n\r\n"
    b'--slow\r\nContent-Disposition: form-data; name="reference"; filename="r.wav"\r\n\r\nRIFF'
)


@dataclass
class Live:
    app: FastAPI
    url: str
    port: int


@pytest.fixture
def serve(tmp_path: Path, fake_registry: ModelRegistry) -> Iterator[Callable[..., Live]]:
    """Start servers with one analysis slot and no queue, short upload timeouts, in threads."""
    with ExitStack() as stack:

        def start(*, idle_timeout_s: float = IDLE_TIMEOUT_S) -> Live:
            settings = make_settings(
                tmp_path,
                MAX_CONCURRENT_ANALYSES=1,
                MAX_QUEUED_ANALYSES=0,
                MAX_UPLOADS_IN_FLIGHT=MAX_UPLOADS,
                UPLOAD_IDLE_TIMEOUT_S=idle_timeout_s,
                UPLOAD_TOTAL_TIMEOUT_S=max(TOTAL_TIMEOUT_S, 2 * idle_timeout_s),
            )
            app = create_app(settings, registry=fake_registry)
            url = stack.enter_context(served(app))
            return Live(app=app, url=url, port=int(url.rsplit(":", 1)[1]))

        yield start


@pytest.fixture
def live(serve: Callable[..., Live]) -> Live:
    return serve()


def slow_client(live: Live, stack: ExitStack) -> socket.socket:
    sock = stack.enter_context(socket.create_connection(("127.0.0.1", live.port), timeout=15))
    sock.sendall(SLOW_START)
    return sock


def answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or 15 s pass).

    A server that answers and closes while the client is still sending resets the
    connection once the client's next bytes arrive; what it sent before is kept.
    """
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (TimeoutError, ConnectionResetError):
        pass
    return b"".join(chunks)


def rate(live: Live, reference: Path, candidate: Path) -> httpx.Response:
    files = {
        "reference": ("reference.wav", reference.read_bytes(), "audio/wav"),
        "candidate": ("candidate.wav", candidate.read_bytes(), "audio/wav"),
    }
    return httpx.post(f"{live.url}/rate", files=files, timeout=30)


def test_stalled_uploads_hold_no_analysis_slot_and_time_out(
    serve: Callable[..., Live], pair: Callable[..., tuple[Path, Path]]
) -> None:
    live = serve(idle_timeout_s=PATIENT_IDLE_TIMEOUT_S)
    reference, candidate = pair()
    with ExitStack() as stack:
        stalled = [slow_client(live, stack) for _ in range(MAX_UPLOADS - 1)]
        time.sleep(0.3)
        assert live.app.state.pool.admitted == 0  # uploading is not analysing
        rated = rate(live, reference, candidate)  # the one slot is free for a whole upload
        assert rated.status_code == 200, rated.text
        assert rated.json()["rating"] == 0
        answered, _, _ = select.select(stalled, [], [], 0)
        assert answered == []  # rated while the stalled uploads still wait: not after them
        for sock in stalled:
            raw = answer(sock)
            assert raw.startswith(b"HTTP/1.1 408"), raw[:200]
            assert f"nothing arrived for {PATIENT_IDLE_TIMEOUT_S:g} s".encode() in raw
    assert live.app.state.pool.admitted == 0


def test_uploads_in_flight_are_bounded_with_a_503_that_says_so(
    live: Live, pair: Callable[..., tuple[Path, Path]]
) -> None:
    reference, candidate = pair()
    with ExitStack() as stack:
        for _ in range(MAX_UPLOADS):
            slow_client(live, stack)
        time.sleep(0.3)
        refused = rate(live, reference, candidate)
        assert refused.status_code == 503
        assert int(refused.headers["Retry-After"]) >= 1
        assert f"already receiving {MAX_UPLOADS} uploads" in refused.json()["detail"]
        time.sleep(IDLE_TIMEOUT_S + 0.5)  # the stalled uploads time out and free their places
        assert rate(live, reference, candidate).status_code == 200


def test_a_trickling_upload_meets_the_total_timeout(live: Live) -> None:
    with ExitStack() as stack:
        sock = slow_client(live, stack)
        started = time.monotonic()
        raw = b""
        while time.monotonic() - started < TOTAL_TIMEOUT_S + 3:
            sock.settimeout(0.5)
            try:  # look for the answer before each byte, so none is sent after it
                raw += sock.recv(65536)
            except TimeoutError:
                pass
            except ConnectionResetError:
                break
            if raw:
                break
            try:
                sock.sendall(b"x")  # one byte every half second: never idle for long
            except OSError:
                break
        sock.settimeout(5)
        raw += answer(sock)
    assert raw.startswith(b"HTTP/1.1 408"), raw[:200]
    assert b"longer than 4 s in all" in raw


def test_a_progress_id_sent_first_reads_receiving_while_the_files_arrive(live: Live) -> None:
    progress_id = "f" * 32
    url = f"{live.url}/rate/progress/{progress_id}"
    assert httpx.get(url).status_code == 404  # nothing sent yet
    with ExitStack() as stack:
        sock = stack.enter_context(socket.create_connection(("127.0.0.1", live.port), timeout=15))
        sock.sendall(
            SLOW_START.replace(
                b"--slow\r\n",
                b'--slow\r\nContent-Disposition: form-data; name="progress_id"\r\n\r\n'
                + progress_id.encode()
                + b"\r\n--slow\r\n",
                1,
            )
        )
        deadline = time.monotonic() + IDLE_TIMEOUT_S
        while (reply := httpx.get(url)).status_code == 404 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"stage": "receiving"}
        assert answer(sock).startswith(b"HTTP/1.1 408")  # the rest never came
