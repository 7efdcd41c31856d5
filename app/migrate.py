"""Run the Alembic migrations from code (the prestart step)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from app.config import PROJECT_ROOT, get_settings


def alembic_config(url: str | None = None) -> Config:
    """Alembic configuration for this project, pointed at `url` or the settings' database."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["url"] = url or get_settings().database_url
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Bring the database schema up to `revision`."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None, revision: str) -> None:
    """Take the database schema down to `revision`."""
    command.downgrade(alembic_config(url), revision)
