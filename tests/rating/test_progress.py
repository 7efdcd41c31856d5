"""The stages of a rating in flight: the board in memory, and `GET /rate/progress/{id}`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.ml.registry import ModelRegistry
from app.rating.progress import ProgressBoard
from tests.accounts_support import GateModel
from tests.conftest import pink_noise

PROGRESS_ID = "0123456789abcdef0123456789abcdef"


class Clock:
    """A hand-moved monotonic clock."""

    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def test_board_remembers_stages_and_forgets_them_after_the_ttl() -> None:
    clock = Clock()
    board = ProgressBoard(ttl_s=60.0, clock=clock)
    assert board.get("a" * 16) is None
    board.set("a" * 16, "queued")
    clock.now_s += 30
    board.set("a" * 16, "analysing")  # an update restarts its time
    clock.now_s += 59
    assert board.get("a" * 16) == "analysing"
    clock.now_s += 1
    assert board.get("a" * 16) is None and len(board) == 0


def test_board_is_bounded_forgetting_the_least_recently_updated() -> None:
    board = ProgressBoard(max_entries=3, clock=Clock())
    for name in "abcd":
        board.set(name * 16, "queued")
    board.set("b" * 16, "analysing")
    board.set("e" * 16, "queued")
    assert len(board) == 3
    assert board.get("a" * 16) is None and board.get("c" * 16) is None
    assert board.get("b" * 16) == "analysing" and board.get("d" * 16) == "queued"


def test_board_takes_updates_from_many_threads() -> None:
    board = ProgressBoard(max_entries=500)
    ids = [f"{i:016d}" for i in range(2000)]
    with ThreadPoolExecutor(8) as workers:
        list(workers.map(lambda i: board.set(i, "analysing"), ids))
    assert len(board) == 500
    assert sum(board.get(i) == "analysing" for i in ids) == 500


@pytest.fixture
def gated(tmp_path: Path) -> Iterator[tuple[TestClient, GateModel]]:
    """The app with one analysis worker and a gated model."""
    model = GateModel()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DATA_DIR=tmp_path / "data",
        MAX_CONCURRENT_ANALYSES=1,
        MAX_QUEUED_ANALYSES=2,
    )
    app = create_app(
        settings, registry=ModelRegistry(models={"general": model}, default_id="general")
    )
    with TestClient(app) as client:
        yield client, model
        model.gate.set()


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_stages_queued_analysing_done_over_http(
    gated: tuple[TestClient, GateModel], write_audio: Callable[..., Path]
) -> None:
    client, model = gated
    song = pink_noise(duration_s=6.0, sample_rate_hz=44_100, seed=5)
    files = {
        name: (path.name, path.read_bytes(), "audio/wav")
        for name, path in {
            "reference": write_audio(song, "pro.wav"),
            "candidate": write_audio(song * 0.5, "mine.wav"),
        }.items()
    }
    url = f"/rate/progress/{PROGRESS_ID}"

    def stage() -> str | None:
        response = client.get(url)
        return response.json()["stage"] if response.status_code == 200 else None

    assert client.get(url).status_code == 404  # nothing sent yet
    # Hold the only worker, so the rating waits in the queue.
    blocker = threading.Event()
    ticket = client.app.state.pool.admit()  # type: ignore[attr-defined]
    ticket.submit(lambda: blocker.wait(30))
    ticket.close()
    with ThreadPoolExecutor(1) as poster:
        answer = poster.submit(client.post, "/rate", files=files, data={"progress_id": PROGRESS_ID})
        # "receiving" comes first, while the files are read; the poll may miss it.
        _until(lambda: stage() not in (None, "receiving"), "the rating to be queued")
        assert stage() == "queued"
        blocker.set()
        _until(model.entered.is_set, "a worker to take the rating")
        assert client.get(url).json() == {"stage": "analysing"}
        model.gate.set()
        response = answer.result(timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["rating"] == 0
    assert client.get(url).json() == {"stage": "done"}


@pytest.mark.parametrize(
    ("path", "status"),
    [("short", 422), ("bad!" * 8, 422), ("x" * 65, 422), ("f" * 32, 404)],
)
def test_malformed_or_unknown_ids_are_refused(
    gated: tuple[TestClient, GateModel], path: str, status: int
) -> None:
    client, _ = gated
    response = client.get(f"/rate/progress/{path}")
    assert response.status_code == status
    assert isinstance(response.json()["detail"], str if status == 404 else list)


def test_a_malformed_progress_id_in_the_form_is_refused(
    gated: tuple[TestClient, GateModel], write_audio: Callable[..., Path]
) -> None:
    client, _ = gated
    song = pink_noise(duration_s=6.0, sample_rate_hz=44_100, seed=6)
    path = write_audio(song, "pro.wav")
    files = {
        name: (path.name, path.read_bytes(), "audio/wav") for name in ("reference", "candidate")
    }
    response = client.post("/rate", files=files, data={"progress_id": "../../etc"})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("progress_id must be 16 to 64 letters")
