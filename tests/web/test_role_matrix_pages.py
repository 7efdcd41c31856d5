"""Every page route crossed with every role (the table is in `role_matrix.py`)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.accounts_support import World
from tests.web.role_matrix import (
    CASES,
    ROLES,
    Case,
    check_every_route_is_in_the_table,
    check_route_for_role,
)

PAGES = [case for case in CASES if not case.path.startswith("/api/")]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", PAGES, ids=[c.id for c in PAGES])
def test_page_answers_role(
    case: Case, role: str, client: TestClient, db: Session, world: World, app: Any
) -> None:
    check_route_for_role(case, role, client, db, world, app)


def test_every_route_is_in_the_table() -> None:
    """A new route without a row in the table fails, so none escapes authorisation tests."""
    check_every_route_is_in_the_table()
