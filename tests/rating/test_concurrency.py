"""Analyses run on a bounded pool of worker threads; a full pool answers 503 with Retry-After."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app.audio.eq import EqOperation
from app.main import create_app
from app.ml.registry import ModelRegistry

from .conftest import FakeModel, make_settings, post_pair


def test_two_requests_at_once_both_succeed(
    client: TestClient, fake_registry: ModelRegistry, pair: Callable[..., tuple[Path, Path]]
) -> None:
    model = fake_registry.get("general")
    assert isinstance(model, FakeModel)
    model.barrier = threading.Barrier(2)  # each analysis waits until the other is running too
    reference, candidate = pair([EqOperation(2000.0, 6.0, 1.0)])
    with ThreadPoolExecutor(2) as threads:
        answers = list(threads.map(lambda _: post_pair(client, reference, candidate), range(2)))
    assert [a.status_code for a in answers] == [200, 200]
    assert [a.json()["rating"] for a in answers] == [1, 1]


def test_a_full_pool_answers_503_with_retry_after(
    tmp_path: Path, fake_registry: ModelRegistry, pair: Callable[..., tuple[Path, Path]]
) -> None:
    model = fake_registry.get("general")
    assert isinstance(model, FakeModel)
    model.gate = threading.Event()
    settings = make_settings(tmp_path, MAX_CONCURRENT_ANALYSES=1, MAX_QUEUED_ANALYSES=1)
    reference, candidate = pair()
    with TestClient(create_app(settings, registry=fake_registry)) as client:
        with ThreadPoolExecutor(2) as threads:
            running = threads.submit(post_pair, client, reference, candidate)
            assert model.entered.wait(10)
            queued = threads.submit(post_pair, client, reference, candidate)
            while client.app.state.pool.admitted < 2:  # type: ignore[attr-defined]
                threading.Event().wait(0.01)
            refused: Any = post_pair(client, reference, candidate)
            page: Any = client.post(
                "/",
                files={"reference": reference.read_bytes(), "candidate": candidate.read_bytes()},
                headers={"HX-Request": "true"},
            )
            model.gate.set()
            assert running.result(20).status_code == 200
            assert queued.result(20).status_code == 200
        assert refused.status_code == 503
        assert int(refused.headers["Retry-After"]) >= 1
        assert "busy" in refused.json()["detail"]
        assert page.status_code == 503 and "busy" in page.text
        assert "Retry-After" in page.headers
        assert client.app.state.pool.admitted == 0  # type: ignore[attr-defined]
        assert post_pair(client, reference, candidate).status_code == 200
