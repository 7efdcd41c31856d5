"""Property-based API tests: schemathesis over every operation finds no server error."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.main import create_app
from app.migrate import upgrade
from app.ml.registry import ModelRegistry

from .conftest import FakeModel, make_settings

_registry = ModelRegistry(
    models={"general": FakeModel("general"), "F1W2": FakeModel("F1W2")}, default_id="general"
)
_settings = make_settings(Path(tempfile.mkdtemp(prefix="schemathesis-")), MAX_UPLOAD_MB=1)
upgrade(_settings.database_url)
_app = create_app(_settings, registry=_registry)
schema = schemathesis.openapi.from_asgi("/openapi.json", _app)

RATING_PATHS = {"/rate", "/models"}
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "60"))


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_a_server_error(case: schemathesis.Case) -> None:
    checks = [schemathesis.checks.not_a_server_error]
    if case.path in RATING_PATHS:  # ours also answer only documented statuses and shapes
        checks += [status_code_conformance, content_type_conformance, response_schema_conformance]
    case.call_and_validate(checks=checks)


@pytest.mark.parametrize("path", ["/", "/healthz", "/docs", "/openapi.json"])
def test_pages_outside_the_schema_answer(path: str) -> None:
    from fastapi.testclient import TestClient

    with TestClient(_app) as client:
        assert client.get(path).status_code == 200
