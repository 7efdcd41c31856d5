"""The migrations build the models' schema from nothing, and step down and back up.

SQLite always; PostgreSQL when `DATABASE_URL_POSTGRES` is set (CI sets it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import app.accounts.models
import app.classes.models
import app.history.models  # noqa: F401 - every table in the metadata
from app.db import Base, make_engine
from app.migrate import alembic_config, downgrade, upgrade
from tests.accounts_support import postgres_schema_url

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
