"""Every /api route crossed with every role (the table is in `role_matrix.py`)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.accounts_support import World
from tests.web.role_matrix import CASES, ROLES, Case, check_route_for_role

API = [case for case in CASES if case.path.startswith("/api/")]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", API, ids=[c.id for c in API])
def test_api_route_answers_role(
    case: Case, role: str, client: TestClient, db: Session, world: World, app: Any
) -> None:
    check_route_for_role(case, role, client, db, world, app)
