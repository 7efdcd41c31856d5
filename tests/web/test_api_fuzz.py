"""schemathesis over the accounts, classes and history API, signed in with a token.

The rating service's schemathesis test calls every operation anonymously (401s here);
this one gets past authentication so the handlers themselves are fuzzed. Each operation
is its own test with its own fresh database (an instructor, a student in their class,
an assignment and a rating), and every generated case is sent with tokens minted for it,
so a fuzzed `DELETE /api/tokens/{token_id}` cannot leave the cases after it only 401s.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from sqlalchemy.orm import Session

from app.accounts.models import Role
from app.config import Settings
from tests.accounts_support import (
    join,
    make_app,
    make_assignment,
    make_class,
    make_rating,
    make_token,
    make_user,
)
from tests.fuzzing import fuzz, operations

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))


@pytest.mark.parametrize(("method", "path"), operations(path_regex="^/(api|assignments)/"))
def test_signed_in_operation_answers_no_server_error(
    method: str, path: str, app_settings: Settings, db: Session
) -> None:
    teacher = make_user(db, "t@example.org", Role.INSTRUCTOR)
    student = make_user(db, "s@example.org")
    school_class = make_class(db, teacher)
    join(db, student, school_class)
    assignment = make_assignment(db, school_class, app_settings.DATA_DIR)
    make_rating(db, student, assignment_id=assignment.id)
    statuses: list[int] = []

    def check(case: schemathesis.Case) -> None:
        for user in (teacher, student):
            response = case.call_and_validate(
                headers={"Authorization": f"Bearer {make_token(db, user)}"},
                checks=[schemathesis.checks.not_a_server_error],
            )
            statuses.append(response.status_code)

    app: Any = make_app(app_settings)
    fuzz(app, method=method, path=path, max_examples=MAX_EXAMPLES, check=check)
    # Signed in, so authentication let cases through to the handler (not only 401s).
    assert set(statuses) - {401}, statuses
