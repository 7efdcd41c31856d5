"""The migrations build the models' schema from nothing, and step down and back up.

SQLite always; PostgreSQL when `DATABASE_URL_POSTGRES` is set (CI sets it, and fails
without it). A database that already holds users, classes and ratings goes down and up too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

import app.accounts.models
import app.classes.models
import app.history.models  # noqa: F401 - every table in the metadata
from app.accounts.models import Role
from app.db import Base, engine_for, make_engine, session_factory
from app.migrate import alembic_config, downgrade, upgrade
from tests.accounts_support import (
    join,
    make_assignment,
    make_class,
    make_rating,
    make_token,
    make_user,
    postgres_schema_url,
    sign_in,
)

TABLES = {
    "users",
    "user_sessions",
    "api_tokens",
    "classes",
    "memberships",
    "assignments",
    "ratings",
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
    else:
        yield from postgres_schema_url("mt_migrations")


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _differences(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_empty_database_then_down_one_step_and_back(database_url: str) -> None:
    upgrade(database_url)
    assert TABLES <= _tables(database_url)
    assert _differences(database_url) == []
    downgrade(database_url, "-1")
    assert _differences(database_url) != []  # the last step's change is gone
    upgrade(database_url)
    assert TABLES <= _tables(database_url)
    assert _differences(database_url) == []
    downgrade(database_url, "base")
    assert _tables(database_url) == set()


def test_history_is_linear() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    assert len(list(script.walk_revisions())) >= 3


def _row_facts(url: str) -> dict[str, object]:
    """Per table: its row count; and the values that must survive migrations untouched."""
    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
        with engine.connect() as connection:
            facts: dict[str, object] = {
                table: connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
                for table in tables
            }
            if "users" in tables:
                rows = connection.execute(text("SELECT email, role FROM users"))
                facts["users: email, role"] = sorted(map(tuple, rows))
            if "classes" in tables:
                rows = connection.execute(text("SELECT name, join_code FROM classes"))
                facts["classes: name, join_code"] = sorted(map(tuple, rows))
            if "ratings" in tables:
                rows = connection.execute(text("SELECT user_id, rating FROM ratings"))
                facts["ratings: user_id, rating"] = sorted(map(tuple, rows))
        return facts
    finally:
        engine.dispose()


def _seed(url: str, data_dir: Path) -> None:
    """Users of every role, a session, a token, two classes, a member, an assignment, ratings."""
    with session_factory(engine_for(url))() as db:
        teacher = make_user(db, "t@example.org", Role.INSTRUCTOR)
        make_user(db, "admin@example.org", Role.ADMIN)
        student = make_user(db, "s@example.org")
        school_class = make_class(db, teacher)
        make_class(db, teacher, "Second class")
        join(db, student, school_class)
        assignment = make_assignment(db, school_class, data_dir)
        make_rating(db, student, rating=3, assignment_id=assignment.id)
        make_rating(db, student, rating=1)
        make_token(db, student)
        sign_in(db, teacher)
    engine_for(url).dispose()


def _revisions() -> list[str]:
    """Every revision, newest first."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [revision.revision for revision in script.walk_revisions()]


@pytest.mark.parametrize("steps_down", range(1, len(_revisions()) + 1))
def test_a_database_with_data_goes_down_and_back_up_keeping_it(
    database_url: str, tmp_path: Path, steps_down: int
) -> None:
    """Down `steps_down` revisions and back to head on a database holding every kind of row.

    The tables a downgrade keeps keep every row and value; back at head, those rows are
    still there (an upgrade that cannot take existing rows fails here) and the schema is
    the models' again; the tables the downgrade dropped come back empty.
    """
    upgrade(database_url)
    _seed(database_url, tmp_path / "data")
    seeded = _row_facts(database_url)
    assert all(seeded[table] for table in TABLES), seeded  # every table holds rows
    target = (_revisions() + ["base"])[steps_down]
    downgrade(database_url, target)
    down = _row_facts(database_url)
    assert down == {key: seeded[key] for key in down}
    upgrade(database_url)
    back = _row_facts(database_url)
    kept = set(down)
    assert {key: back[key] for key in kept} == {key: seeded[key] for key in kept}
    assert all(back[table] == 0 for table in TABLES - kept), back
    assert _differences(database_url) == []
