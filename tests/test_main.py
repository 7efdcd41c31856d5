"""The application: lifespan, health, docs without a CDN, static files, refusal to start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.audio.transfer import DEMODULATION_VERSION
from app.main import create_app
from app.ml.features import CURRENT_SPEC
from app.ml.registry import ModelLoadError, ModelRegistry, check_feature_spec
from app.training.plan import feature_spec

from .components import require
from .rating.conftest import FakeModel, make_settings


@pytest.fixture
def registry() -> ModelRegistry:
    return ModelRegistry(models={"general": FakeModel("general")}, default_id="general")


def test_healthz_is_ok_with_database_and_models(tmp_path: Path, registry: ModelRegistry) -> None:
    with TestClient(create_app(make_settings(tmp_path), registry=registry)) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_answers_503_with_the_reason_when_the_database_is_down(
    tmp_path: Path, registry: ModelRegistry
) -> None:
    settings = make_settings(
        tmp_path, DATABASE_URL="postgresql://nobody:secret@127.0.0.1:9/none?connect_timeout=2"
    )
    with TestClient(create_app(settings, registry=registry)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["reason"].startswith("database: ")
    assert "secret" not in body["reason"]


def test_healthz_answers_503_before_the_models_are_loaded(tmp_path: Path) -> None:
    client = TestClient(create_app(make_settings(tmp_path)))  # lifespan not run
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "models: not loaded" in response.json()["reason"]


def test_docs_are_served_from_static_without_a_cdn(tmp_path: Path, registry: ModelRegistry) -> None:
    with TestClient(create_app(make_settings(tmp_path), registry=registry)) as client:
        page = client.get("/docs").text
        assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page
        assert "/static/vendor/swagger-ui/swagger-ui.css" in page
        assert "cdn" not in page.lower() and "fastapi.tiangolo.com" not in page
        for asset in (
            "swagger-ui/swagger-ui-bundle.js",
            "swagger-ui/swagger-ui.css",
            "htmx/htmx.min.js",
            "uplot/uPlot.iife.min.js",
            "uplot/uPlot.min.css",
        ):
            assert client.get(f"/static/vendor/{asset}").status_code == 200, asset
        schema = client.get("/openapi.json").json()
    assert {"/rate", "/models"} <= schema["paths"].keys()
    body = schema["paths"]["/rate"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert body["schema"]["required"] == ["reference", "candidate"]


def test_rating_page_has_no_cdn_references(tmp_path: Path, registry: ModelRegistry) -> None:
    with TestClient(create_app(make_settings(tmp_path), registry=registry)) as client:
        page = client.get("/").text
    assert "/static/vendor/htmx/htmx.min.js" in page
    assert 'hx-post="/"' in page and 'name="reference"' in page and 'name="candidate"' in page
    assert "https://" not in page


def _write_models(models_dir: Path, *, n_fft: int) -> None:
    folder = models_dir / "general"
    folder.mkdir(parents=True)
    spec = {**CURRENT_SPEC.to_dict(), "n_fft": n_fft}
    metadata = {"id": "general", "kind": "general", "feature_spec": spec}
    (folder / "metadata.json").write_text(json.dumps(metadata))
    registry = {"default": "general", "models": {"general": "general"}}
    (models_dir / "registry.json").write_text(json.dumps(registry))


def test_a_feature_spec_mismatch_refuses_to_start(tmp_path: Path) -> None:
    _write_models(tmp_path / "models", n_fft=4096)
    app = create_app(make_settings(tmp_path, MODELS_DIR=tmp_path / "models"))
    with pytest.raises(
        ModelLoadError, match=r"model general was trained on other features.*n_fft 4096"
    ):
        with TestClient(app):
            pass


def test_a_feature_option_passes_the_spec_check_and_other_differences_do_not() -> None:
    stored = {**CURRENT_SPEC.to_dict(), "reference_levels": True, "lossy_flag": True}
    check_feature_spec({"feature_spec": stored}, model_id="F1W2")
    with pytest.raises(ModelLoadError, match="n_fft 4096"):
        check_feature_spec({"feature_spec": {**stored, "n_fft": 4096}}, model_id="F1W2")


def test_a_model_of_another_demodulation_is_refused() -> None:
    stored = {**feature_spec("general").to_dict()}
    assert stored["demodulation_version"] == DEMODULATION_VERSION > 0
    check_feature_spec({"feature_spec": stored}, model_id="general")
    del stored["demodulation_version"]  # fitted before the version was recorded
    with pytest.raises(
        ModelLoadError, match=f"version 0 .*computes version {DEMODULATION_VERSION}"
    ):
        check_feature_spec({"feature_spec": stored}, model_id="general")
    plain = {**CURRENT_SPEC.to_dict(), "coherent": True}  # no demodulation: no version
    check_feature_spec({"feature_spec": plain}, model_id="F1W2")


def test_a_missing_registry_refuses_to_start(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, MODELS_DIR=tmp_path / "nothing"))
    with pytest.raises(ModelLoadError, match="registry.json is missing"):
        with TestClient(app):
            pass


def test_the_shipped_models_load(tmp_path: Path) -> None:
    models_dir = Path(__file__).resolve().parents[1] / "models"
    require("models")
    with TestClient(create_app(make_settings(tmp_path, MODELS_DIR=models_dir))) as client:
        body = client.get("/models").json()
        assert client.get("/healthz").status_code == 200
    ids = [m["id"] for m in body["models"]]
    assert "general" in ids and "F1W2" in ids
    assert body["default"] == "general"
