"""Remove kept masters, and their Opus previews, once their class's retention has passed.

A class that keeps audio keeps each student's master for `audio_retention_days` after its
rating; `purge_expired_audio` removes the file and the preview beside it and forgets the
path, so the rating's page shows no player any more. A kept master whose assignment is
gone (nobody can play it) goes too. The server runs it at start-up and every
`AUDIO_PURGE_INTERVAL_S`; `mastering-trainer audio purge` runs it once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.classes.models import Assignment, SchoolClass
from app.db import engine_for, session_factory
from app.history.audio import preview_path
from app.history.models import Rating
from app.history.service import KEPT_FOLDER

logger = logging.getLogger(__name__)


def _expired(*, db_session: Session, now: datetime) -> list[Rating]:
    """Ratings with kept audio past their class's retention, or whose assignment is gone."""
    expired = list(
        db_session.scalars(
            select(Rating).where(
                Rating.candidate_audio_path.is_not(None), Rating.assignment_id.is_(None)
            )
        )
    )
    classes = db_session.execute(select(SchoolClass.id, SchoolClass.audio_retention_days)).all()
    for class_id, days in classes:
        cutoff = now - timedelta(days=days)
        expired += db_session.scalars(
            select(Rating)
            .join(Assignment, Rating.assignment_id == Assignment.id)
            .where(
                Assignment.class_id == class_id,
                Rating.candidate_audio_path.is_not(None),
                Rating.created_at < cutoff,
            )
        )
    return expired


def _remove(path: Path, *, data_dir: Path) -> int:
    """Remove a file under `data_dir` (never outside it); 1 when it was there."""
    if not path.resolve().is_relative_to(data_dir.resolve()):
        logger.warning("Not removing %s: it is outside DATA_DIR", path)
        return 0
    try:
        path.unlink()
    except FileNotFoundError:
        return 0
    return 1


def purge_expired_audio(
    *, db_session: Session, data_dir: Path, now: datetime | None = None
) -> list[int]:
    """Remove every kept master past its class's retention, with its preview.

    Parameters
    ----------
    db_session : Session
        Changed (the ratings forget their paths); the caller commits.
    data_dir : Path
        `DATA_DIR`, which the kept paths are relative to.
    now : datetime, optional
        The time to measure retention from; the current time by default.

    Returns
    -------
    list of int
        The ids of the ratings whose audio was removed, ascending.
    """
    now = now or datetime.now(UTC)
    purged = []
    for rating in _expired(db_session=db_session, now=now):
        kept = data_dir / str(rating.candidate_audio_path)
        files = _remove(kept, data_dir=data_dir) + _remove(preview_path(kept), data_dir=data_dir)
        rating.candidate_audio_path = None
        purged.append(rating.id)
        logger.info("Removed the kept audio of rating %s (%d files)", rating.id, files)
    db_session.flush()
    return sorted(purged)


def purge_kept_audio(
    *, database_url: str, data_dir: Path, now: datetime | None = None
) -> list[int]:
    """Open a session, purge (`purge_expired_audio`) and commit; nothing kept, nothing opened."""
    if not (data_dir / KEPT_FOLDER).is_dir():
        return []
    with session_factory(engine_for(database_url))() as db_session:
        purged = purge_expired_audio(db_session=db_session, data_dir=data_dir, now=now)
        db_session.commit()
    return purged


async def sweep_kept_audio(*, database_url: str, data_dir: Path, interval_s: float) -> None:
    """Purge now and then every `interval_s` seconds, until cancelled; failures are logged."""
    while True:
        try:
            purged = await asyncio.to_thread(
                purge_kept_audio, database_url=database_url, data_dir=data_dir
            )
        except (SQLAlchemyError, OSError):
            logger.exception("The sweep of kept audio failed; it runs again in %s s", interval_s)
        else:
            if purged:
                logger.info("Removed the kept audio of %d ratings past retention", len(purged))
        await asyncio.sleep(interval_s)
