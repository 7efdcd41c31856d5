"""Operations: /livez and /readyz, Prometheus /metrics, request ids and JSON logs."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from app import observability
from app.main import create_app
from app.ml.registry import ModelRegistry
from app.observability import JsonFormatter, request_id_var

from .conftest import SAMPLE_RATE_HZ, pink_noise
from .rating.conftest import FakeModel, make_settings, post_pair

DOWN = "postgresql://nobody:secret@127.0.0.1:9/none?connect_timeout=2"


@pytest.fixture
def fake_registry() -> ModelRegistry:
    return ModelRegistry(models={"general": FakeModel("general")}, default_id="general")


@pytest.fixture
def pair(tmp_path: Path) -> Callable[[], tuple[Path, Path]]:
    def write() -> tuple[Path, Path]:
        paths = tmp_path / "reference.wav", tmp_path / "candidate.wav"
        for seed, path in enumerate(paths):
            samples = pink_noise(duration_s=6.0, sample_rate_hz=SAMPLE_RATE_HZ, seed=seed)
            sf.write(path, samples, SAMPLE_RATE_HZ, subtype="PCM_16")
        return paths

    return write


def metric(client: TestClient, line_start: str) -> float:
    """The value of the first /metrics sample whose line starts with `line_start`."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {line_start}")


def test_livez_answers_while_the_database_is_down_and_readyz_does_not(
    tmp_path: Path, fake_registry: ModelRegistry
) -> None:
    settings = make_settings(tmp_path, DATABASE_URL=DOWN)
    with TestClient(create_app(settings, registry=fake_registry)) as client:
        live = client.get("/livez")
        ready = client.get("/readyz")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    assert ready.status_code == 503
    assert ready.json()["reason"].startswith("database: ")


def test_readyz_checks_the_database_at_most_once_per_interval_and_sees_it_go(
    tmp_path: Path, fake_registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Probes under load answer from the last check; a database that goes away is still seen."""
    checks: list[str] = []
    problem: list[str | None] = [None]

    def check(url: str) -> str | None:
        checks.append(url)
        return problem[0]

    monkeypatch.setattr(observability, "_check_database", check)
    with TestClient(create_app(make_settings(tmp_path), registry=fake_registry)) as client:
        assert all(client.get("/readyz").status_code == 200 for _ in range(5))
        assert len(checks) == 1
        problem[0] = "database: OperationalError: gone"
        monkeypatch.setattr(observability, "READY_CHECK_TTL_S", 0.0)
        answer = client.get("/healthz")
    assert answer.status_code == 503 and answer.json()["reason"] == problem[0]
    assert len(checks) == 2


def test_metrics_count_admissions_refusals_and_rate_timings(
    tmp_path: Path, fake_registry: ModelRegistry, pair: Callable[..., tuple[Path, Path]]
) -> None:
    model = fake_registry.get("general")
    assert isinstance(model, FakeModel)
    model.gate = threading.Event()
    settings = make_settings(tmp_path, MAX_CONCURRENT_ANALYSES=1, MAX_QUEUED_ANALYSES=0)
    reference, candidate = pair()
    with TestClient(create_app(settings, registry=fake_registry)) as client:
        with ThreadPoolExecutor(1) as threads:
            running = threads.submit(post_pair, client, reference, candidate)
            assert model.entered.wait(10)
            assert metric(client, "mt_analysis_in_flight") == 1
            refused: Any = post_pair(client, reference, candidate)
            model.gate.set()
            assert running.result(20).status_code == 200
        assert refused.status_code == 503
        assert post_pair(client, reference, b"not audio").status_code == 415
        assert metric(client, "mt_analysis_admissions_total") == 2
        assert metric(client, "mt_analysis_pool_full_total") == 1
        assert metric(client, "mt_analysis_capacity") == 1
        assert metric(client, "mt_analysis_in_flight") == 0
        assert metric(client, 'mt_rate_responses_total{status="200"}') == 1
        assert metric(client, 'mt_rate_responses_total{status="503"}') == 1
        assert metric(client, 'mt_rate_responses_total{status="415"}') == 1
        for phase in ("upload", "queue", "decode", "compare", "recognise", "total"):
            assert metric(client, f'mt_rate_seconds_count{{phase="{phase}"}}') == 1, phase
        assert metric(client, 'mt_rate_seconds_sum{phase="total"}') > 0


def test_each_answer_carries_a_request_id_and_keeps_a_sane_one_offered(
    tmp_path: Path, fake_registry: ModelRegistry
) -> None:
    with TestClient(create_app(make_settings(tmp_path), registry=fake_registry)) as client:
        fresh = client.get("/livez").headers["X-Request-ID"]
        kept = client.get("/livez", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
        hostile = "x" * 65 + "\u00e9"
        replaced = client.get("/livez", headers={"X-Request-ID": hostile.encode("utf-8")})
    assert len(fresh) == 32 and kept == "abc-123"
    assert replaced.headers["X-Request-ID"] not in (hostile, "")


def test_access_log_lines_are_json_with_the_request_id(
    tmp_path: Path, fake_registry: ModelRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.access"):
        with TestClient(create_app(make_settings(tmp_path), registry=fake_registry)) as client:
            client.get("/models", headers={"X-Request-ID": "req-42"})
    record = next(r for r in caplog.records if r.name == "app.access")
    token = request_id_var.set("req-42")  # what the middleware had set while logging
    try:
        entry = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert entry["request_id"] == "req-42"
    assert entry["path"] == "/models" and entry["status"] == 200 and entry["method"] == "GET"
    assert entry["level"] == "info" and entry["time"].endswith("Z")
