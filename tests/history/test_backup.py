"""`db backup` while ratings are being written: the copy holds every committed rating."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from app.accounts.backup import BackupError, backup_sqlite
from app.accounts.models import Role
from app.db import engine_for, session_factory
from tests.accounts_support import make_rating, make_user


def test_backup_while_writing_keeps_every_committed_rating(
    db_url: str, db: Session, tmp_path: Path
) -> None:
    user = make_user(db, "writer@example.org", Role.STUDENT)
    committed: list[int] = []
    written: dict[int, int] = {}  # rating id -> the rating value committed with it
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        factory = session_factory(engine_for(db_url))
        try:
            with factory() as session:
                writer_user = session.merge(user)
                while not stop.is_set():
                    value = len(committed) % 5
                    rating = make_rating(session, writer_user, rating=value)
                    committed.append(rating.id)  # only after the commit returned
                    written[rating.id] = value
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(committed) < 50:
            time.sleep(0.01)
        backups = []
        for n in range(3):
            before = list(committed)
            target = backup_sqlite(url=db_url, target=tmp_path / f"backup-{n}.sqlite3")
            backups.append((before, target))
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not errors, errors
    assert len(committed) > 50
    for before, target in backups:
        with sqlite3.connect(target) as copy:
            assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            rows = dict(copy.execute("SELECT id, rating FROM ratings WHERE user_id = ?", [user.id]))
            (total,) = copy.execute("SELECT COUNT(*) FROM ratings").fetchone()
            (with_hash,) = copy.execute(
                "SELECT COUNT(*) FROM ratings WHERE candidate_sha256 = ?", ("b" * 64,)
            ).fetchone()
            assert copy.execute("SELECT COUNT(*) FROM users").fetchone() == (1,)
        ids = set(rows)
        assert set(before) <= ids  # every rating committed before the backup began
        # Nothing invented: every row in the copy is one the writer committed, with the value
        # it wrote, and the copy is a snapshot (every commit up to its newest row, no gaps).
        assert total == with_hash == len(ids)
        assert rows == {rating_id: written[rating_id] for rating_id in ids}
        assert ids == {rating_id for rating_id in committed if rating_id <= max(ids)}


def test_backup_restores_into_a_working_app_database(
    db_url: str, db: Session, tmp_path: Path
) -> None:
    user = make_user(db, "s@example.org")
    ids = {make_rating(db, user).id for _ in range(5)}
    target = backup_sqlite(url=db_url, target=tmp_path / "restore.sqlite3")
    restored = session_factory(engine_for(f"sqlite:///{target}"))
    from app.history.service import list_ratings

    with restored() as session:
        from app.accounts.models import User

        again = session.get(User, user.id)
        assert again is not None
        assert {r.id for r in list_ratings(db_session=session, user=again)} == ids
    engine_for(f"sqlite:///{target}").dispose()


def test_backup_refuses_its_own_file(db_url: str) -> None:
    with pytest.raises(BackupError):
        backup_sqlite(url=db_url, target=Path(db_url.split("///", 1)[1]))


def test_concurrent_writers_all_commit(db_url: str, db: Session) -> None:
    """Requests read first and write at the end (after the analysis): none is refused."""
    users = [make_user(db, f"u{i}@example.org") for i in range(6)]
    barrier = threading.Barrier(len(users))
    errors: list[BaseException] = []
    factory = session_factory(engine_for(db_url))

    def request(user_id: int) -> None:
        try:
            with factory() as session:
                from app.accounts.models import User

                user = session.get(User, user_id)  # authentication reads
                assert user is not None
                barrier.wait(timeout=10)  # everyone has read; the "analyses" run
                make_rating(session, user)  # then every request writes and commits
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=request, args=(u.id,)) for u in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    with sqlite3.connect(db_url.split("///", 1)[1]) as connection:
        assert connection.execute("SELECT COUNT(*) FROM ratings").fetchone() == (len(users),)
