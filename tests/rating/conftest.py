"""Fixtures for the rating service: a fake model, settings, a client and audio files."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from app.audio.eq import EqOperation, apply, response_db
from app.audio.spectrum import Comparison
from app.config import Settings
from app.main import create_app
from app.ml.registry import ModelRegistry, Recognition
from tests.accounts_support import app_settings, db, db_url, schema_template  # noqa: F401

from ..conftest import SAMPLE_RATE_HZ, pink_noise

REPO = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO / "models"


class FakeModel:
    """Recognises at most one bell: the band that differs most, when it differs by 1 dB or more.

    ``gate`` (an event) and ``barrier`` let tests hold analyses inside the worker.
    """

    def __init__(self, model_id: str, *, description: str = "A fake for tests") -> None:
        self.id = model_id
        self.metadata: dict[str, Any] = {
            "id": model_id,
            "description": description,
            "recognises": {"widths_octaves": [1.0], "gains_db": "any"},
            "figures": {"exact_set_accuracy": 1.0},
        }
        self.entered = threading.Event()
        self.last_comparison: Comparison | None = None
        self.gate: threading.Event | None = None
        self.barrier: threading.Barrier | None = None

    def recognise(self, comparison: Comparison) -> Recognition:
        self.last_comparison = comparison
        self.entered.set()
        if self.barrier is not None:
            self.barrier.wait(timeout=20)
        if self.gate is not None:
            self.gate.wait(timeout=20)
        band_db = comparison.band_db
        peak = int(np.argmax(np.abs(band_db)))
        operations = []
        if abs(band_db[peak]) >= 1.0:
            centre_hz = float(comparison.spec.band_centres_hz[peak])
            operations.append(EqOperation(centre_hz, float(np.round(band_db[peak])), 1.0))
        curve = response_db(
            operations,
            frequency_hz=comparison.spec.band_centres_hz,
            sample_rate_hz=comparison.spec.sample_rate_hz,
        )
        return Recognition(
            model_id=self.id,
            operations=operations,
            curve_db=curve,
            confidence=[0.9] * len(operations),
            # As the general model reads it (here: the plain difference, to draw it twice).
            read_difference_db=np.asarray(band_db) if self.id == "general" else None,
        )


@pytest.fixture
def fake_registry() -> ModelRegistry:
    """Two fake models, `general` the default."""
    return ModelRegistry(
        models={"general": FakeModel("general"), "F1W2": FakeModel("F1W2")}, default_id="general"
    )


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings isolated from the environment's `.env`, with a throwaway database."""
    values: dict[str, Any] = {
        "DATA_DIR": tmp_path / "var",
        "DATABASE_URL": "",
        "MODELS_DIR": MODELS_DIR,
        "MAX_UPLOAD_MB": 4,
        "MAX_CONCURRENT_ANALYSES": 2,
        "MAX_QUEUED_ANALYSES": 2,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Test settings (4 MB per file, 2 workers, 2 queued)."""
    return make_settings(tmp_path)


@pytest.fixture
def client(settings: Settings, fake_registry: ModelRegistry) -> Iterator[TestClient]:
    """The real ASGI app with its lifespan running and fake models."""
    with TestClient(create_app(settings, registry=fake_registry)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def master() -> np.ndarray:
    """Eight seconds of stereo pink noise: the 'professional master'."""
    left = pink_noise(duration_s=8.0, sample_rate_hz=SAMPLE_RATE_HZ, seed=1)
    right = pink_noise(duration_s=8.0, sample_rate_hz=SAMPLE_RATE_HZ, seed=2)
    return np.stack([left, right], axis=1)


@pytest.fixture
def pair(tmp_path: Path, master: np.ndarray) -> Callable[..., tuple[Path, Path]]:
    """Write the master and an EQ'd copy of it; return their paths."""

    def write(operations: list[EqOperation] | None = None) -> tuple[Path, Path]:
        reference = tmp_path / "reference.wav"
        candidate = tmp_path / "candidate.wav"
        sf.write(reference, master, SAMPLE_RATE_HZ, subtype="PCM_16")
        eqd = apply(master, operations or [], sample_rate_hz=SAMPLE_RATE_HZ)
        sf.write(candidate, eqd, SAMPLE_RATE_HZ, subtype="PCM_16")
        return reference, candidate

    return write


def post_pair(
    client: TestClient, reference: Path | bytes, candidate: Path | bytes, **data: str
) -> Any:
    """POST /rate with two files (paths or raw bytes) and optional form fields."""

    def content(item: Path | bytes) -> bytes:
        return item.read_bytes() if isinstance(item, Path) else item

    files = {
        "reference": ("reference.wav", content(reference), "audio/wav"),
        "candidate": ("candidate.wav", content(candidate), "audio/wav"),
    }
    return client.post("/rate", files=files, data=data)
