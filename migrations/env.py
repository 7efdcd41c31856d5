"""Alembic environment: the URL comes from the settings, batch mode for SQLite."""

from __future__ import annotations

from alembic import context

# Every table the migrations manage is imported, so autogenerate and the schema check see them.
import app.accounts.models
import app.classes.models
import app.history.models  # noqa: F401
from app.config import get_settings
from app.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    """Run migrations online against the configured database."""
    url = config.attributes.get("url") or get_settings().database_url
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection, url)
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        _run(connection, url)
    engine.dispose()


def _run(connection, url: str) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=url.startswith("sqlite"),
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
