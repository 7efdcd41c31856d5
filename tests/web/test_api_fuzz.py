"""schemathesis over the accounts, classes and history API, signed in with a token.

The rating service's schemathesis test calls every operation anonymously (401s here);
this one gets past authentication so the handlers themselves are fuzzed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from app.accounts.models import Role
from app.config import Settings
from app.db import engine_for, session_factory
from app.migrate import upgrade
from tests.accounts_support import (
    join,
    make_app,
    make_assignment,
    make_class,
    make_rating,
    make_token,
    make_user,
)

_folder = Path(tempfile.mkdtemp(prefix="accounts-fuzz-"))
_settings = Settings(  # type: ignore[call-arg]
    _env_file=None,
    DATABASE_URL=f"sqlite:///{_folder / 'db.sqlite3'}",
    DATA_DIR=_folder / "data",
    MODELS_DIR=_folder,
)
upgrade(_settings.database_url)
with session_factory(engine_for(_settings.database_url))() as _db:
    _teacher = make_user(_db, "t@example.org", Role.INSTRUCTOR)
    _student = make_user(_db, "s@example.org")
    _class = make_class(_db, _teacher)
    join(_db, _student, _class)
    make_rating(_db, _student, assignment_id=make_assignment(_db, _class, _settings.DATA_DIR).id)
    TOKENS = {"instructor": make_token(_db, _teacher), "student": make_token(_db, _student)}

schema = schemathesis.openapi.from_asgi("/openapi.json", make_app(_settings)).include(
    path_regex="^/(api|assignments)/"
)
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_signed_in_operations_answer_no_server_error(case: schemathesis.Case) -> None:
    for token in TOKENS.values():
        case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"},
            checks=[schemathesis.checks.not_a_server_error],
        )
