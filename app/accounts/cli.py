"""`mastering-trainer user create`, `token create` and `db backup`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from app.accounts import service
from app.accounts.backup import BackupError, backup_sqlite
from app.accounts.models import Role
from app.accounts.settings import get_account_settings
from app.config import get_settings
from app.db import session_factory, session_scope

user_cli = typer.Typer(help="Manage users.", no_args_is_help=True)
token_cli = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
db_cli = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@contextmanager
def _session() -> Iterator[Session]:
    """A session on the migrated database; commits when the block succeeds."""
    from app.db import engine_for
    from app.migrate import upgrade

    url = get_settings().database_url
    upgrade(url)
    yield from session_scope(session_factory(engine_for(url)))


def _read_password() -> str:
    if sys.stdin.isatty():
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    return sys.stdin.readline().rstrip("\r\n")


@user_cli.command("create")
def create_user(
    email: Annotated[str, typer.Option(help="The user's email (their sign-in name).")],
    role: Annotated[Role, typer.Option(help="student, instructor or admin.")] = Role.STUDENT,
) -> None:
    """Create a user; the password is asked for, or read from the first line of stdin."""
    password = _read_password()
    try:
        with _session() as db_session:
            user = service.create_user(
                db_session=db_session,
                email=email,
                password=password,
                role=role,
                settings=get_account_settings(),
            )
            typer.echo(f"created {user.role} {user.email} (id {user.id})")
    except service.AccountError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from error


@token_cli.command("create")
def create_token(
    email: Annotated[str, typer.Option(help="Whose token: the user's email.")],
    name: Annotated[str, typer.Option(help="A name to recognise the token by.")] = "cli",
) -> None:
    """Create an API token for a user and print it (it is shown only this once)."""
    with _session() as db_session:
        user = service.get_user_by_email(db_session=db_session, email=email)
        if user is None:
            typer.echo(f"No user has the email {email}.", err=True)
            raise typer.Exit(2)
        _, raw = service.create_api_token(db_session=db_session, user=user, name=name)
        typer.echo(raw)


@db_cli.command("backup")
def backup(
    path: Annotated[Path, typer.Argument(help="Where to write the copy.")],
) -> None:
    """Copy the SQLite database with the online backup API (safe while the server writes)."""
    try:
        target = backup_sqlite(url=get_settings().database_url, target=path)
    except BackupError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from error
    typer.echo(f"backed up to {target}")
