"""`mastering-trainer user create`, `token create` and `db backup`."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.accounts.settings import get_account_settings
from app.cli import cli
from app.config import get_settings
from app.db import engine_for
from tests.accounts_support import make_app


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ARGON2_TIME_COST", "1")
    monkeypatch.setenv("ARGON2_MEMORY_COST_KIB", "8")
    monkeypatch.setenv("ARGON2_PARALLELISM", "1")
    get_settings.cache_clear()
    get_account_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    get_account_settings.cache_clear()
    engine_for(url).dispose()


def test_user_and_token_create(env: str, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["user", "create", "--email", "Prof@Example.org", "--role", "instructor"],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    assert "created instructor prof@example.org" in result.output
    again = runner.invoke(
        cli, ["user", "create", "--email", "prof@example.org"], input="a long enough password\n"
    )
    assert again.exit_code == 2
    token = runner.invoke(cli, ["token", "create", "--email", "prof@example.org"])
    assert token.exit_code == 0
    raw = token.output.strip()
    assert raw.startswith("mt_")
    assert runner.invoke(cli, ["token", "create", "--email", "nobody@x.org"]).exit_code == 2
    settings = get_settings().model_copy(update={"DATA_DIR": tmp_path / "data"})
    with TestClient(make_app(settings)) as client:
        me = client.get("/api/me", headers={"Authorization": f"Bearer {raw}"})
        assert me.json()["role"] == "instructor"
    backup = runner.invoke(cli, ["db", "backup", str(tmp_path / "backup.sqlite3")])
    assert backup.exit_code == 0, backup.output
    assert (tmp_path / "backup.sqlite3").stat().st_size > 0


def test_backup_refuses_postgres(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@localhost/db")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["db", "backup", str(tmp_path / "b.sqlite3")])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2 and "pg_dump" in result.output
