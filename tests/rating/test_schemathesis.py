"""Property-based API tests: schemathesis over every operation finds no server error.

One test per operation (tests/fuzzing.py), each against a fresh app and database in its
own `tmp_path`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.main import create_app
from app.migrate import upgrade
from app.ml.registry import ModelRegistry
from tests.fuzzing import fuzz, operations

from .conftest import FakeModel, make_settings

RATING_PATHS = {"/rate", "/models"}
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "60"))


def fresh_app(tmp_path: Path) -> object:
    """The app with fake models and a migrated database of its own."""
    registry = ModelRegistry(
        models={"general": FakeModel("general"), "F1W2": FakeModel("F1W2")}, default_id="general"
    )
    settings = make_settings(tmp_path, MAX_UPLOAD_MB=1)
    upgrade(settings.database_url)
    return create_app(settings, registry=registry)


@pytest.mark.parametrize(("method", "path"), operations())
def test_no_operation_answers_a_server_error(method: str, path: str, tmp_path: Path) -> None:
    checks = [schemathesis.checks.not_a_server_error]
    if path in RATING_PATHS:  # ours also answer only documented statuses and shapes
        checks += [status_code_conformance, content_type_conformance, response_schema_conformance]

    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(checks=checks)

    fuzz(fresh_app(tmp_path), method=method, path=path, max_examples=MAX_EXAMPLES, check=check)


@pytest.mark.parametrize("path", ["/", "/healthz", "/docs", "/openapi.json"])
def test_pages_outside_the_schema_answer(path: str, tmp_path: Path) -> None:
    with TestClient(fresh_app(tmp_path)) as client:  # type: ignore[arg-type]
        assert client.get(path).status_code == 200
