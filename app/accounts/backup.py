"""Online backup of the SQLite database, safe while the server writes."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    """The backup cannot be taken (not SQLite, no database file, check failed)."""


def sqlite_path(url: str) -> Path:
    """The database file of an SQLite URL; `BackupError` for any other database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise BackupError(
            f"db backup copies SQLite databases; this one is {parsed.get_backend_name()} "
            "(use that server's own tools, e.g. pg_dump)."
        )
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("The SQLite database is in memory; there is no file to back up.")
    return Path(parsed.database)


def backup_sqlite(*, url: str, target: Path) -> Path:
    """Copy the database into `target` with SQLite's online backup API.

    The copy is one consistent snapshot (every committed transaction up to the moment it
    starts; writers are not blocked under WAL). It is written next to `target` first, checked
    with ``PRAGMA quick_check`` and then renamed into place, so `target` is never half written.
    """
    source_path = sqlite_path(url)
    if not source_path.is_file():
        raise BackupError(f"There is no database file at {source_path}.")
    target = target.resolve()
    if target == source_path.resolve():
        raise BackupError("The backup must go to another file than the database itself.")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    try:
        source.execute("PRAGMA busy_timeout=30000")
        destination = sqlite3.connect(partial)
        try:
            source.backup(destination)
            destination.execute("PRAGMA journal_mode=DELETE")
            check = destination.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise BackupError(f"The backup failed its integrity check: {check}")
        finally:
            destination.close()
    finally:
        source.close()
    os.replace(partial, target)
    return target
