"""Settings that change behaviour: DEFAULT_MODEL picks the served default or refuses to start."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.ml.registry import ModelLoadError, ModelRegistry

from .rating.conftest import FakeModel, make_settings


def registry() -> ModelRegistry:
    models = {"general": FakeModel("general"), "F1W2": FakeModel("F1W2")}
    return ModelRegistry(models=models, default_id="general")


def test_default_model_setting_chooses_the_default(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, DEFAULT_MODEL="F1W2")
    with TestClient(create_app(settings, registry=registry())) as client:
        assert client.get("/models").json()["default"] == "F1W2"


def test_without_the_setting_the_registry_default_stays(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path), registry=registry())) as client:
        assert client.get("/models").json()["default"] == "general"


def test_an_unknown_default_model_refuses_to_start(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, DEFAULT_MODEL="F9W9"), registry=registry())
    with pytest.raises(ModelLoadError, match="DEFAULT_MODEL='F9W9' is not a loaded model"):
        with TestClient(app):
            pass


def test_an_unset_secret_key_is_random_never_a_known_default(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first, second = Settings(_env_file=None), Settings(_env_file=None)
    assert len(first.SECRET_KEY) == 64 and first.SECRET_KEY != second.SECRET_KEY
    assert Settings(_env_file=None, SECRET_KEY="shared").SECRET_KEY == "shared"
