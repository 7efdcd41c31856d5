"""Kept masters and their Opus previews are removed once their class's retention has passed.

Real files on disk (WAV written by soundfile, previews made by ffmpeg), on a migrated SQLite
file and on PostgreSQL; the sweep as the CLI runs it, and as the server runs it at start-up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.accounts.models import Role, User
from app.classes.models import Assignment, SchoolClass
from app.config import Settings, get_settings
from app.db import engine_for, session_factory
from app.history.audio import make_preview, preview_path
from app.history.models import Rating
from app.history.retention import purge_kept_audio
from app.history.service import describe_file, store_rating
from app.migrate import upgrade
from tests.accounts_support import (
    join,
    make_assignment,
    make_class,
    make_user,
    postgres_schema_url,
    sign_in,
)
from tests.conftest import pink_noise

HTML = {"Accept": "text/html"}
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database built by the migrations (the retention column comes from i20b)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'retention.sqlite3'}"
        upgrade(url)
        yield url
        engine_for(url).dispose()
    else:
        for url in postgres_schema_url("mt_retention_test"):
            upgrade(url)
            yield url


@dataclass
class Kept:
    """A class that keeps audio, its assignment and its student."""

    school_class: SchoolClass
    assignment: Assignment
    student: User
    reference: Path


def keeping_class(
    db: Session, data_dir: Path, write_audio: Callable[..., Path], *, days: int, name: str
) -> Kept:
    """A class keeping audio for `days`, with an assignment on a real reference file."""
    teacher = make_user(db, f"{name}-teacher@example.org", Role.INSTRUCTOR)
    student = make_user(db, f"{name}-student@example.org")
    school_class = make_class(db, teacher, name, keep_audio=True)
    school_class.audio_retention_days = days
    join(db, student, school_class)
    song = pink_noise(duration_s=5.0, sample_rate_hz=44_100, seed=len(name))
    reference = write_audio(song, f"{name}-pro.wav")
    assignment = make_assignment(db, school_class, data_dir, reference=reference)
    return Kept(school_class, assignment, student, data_dir / assignment.reference_path)


def kept_rating(
    db: Session, data_dir: Path, write_audio: Callable[..., Path], kept: Kept, *, age_days: float
) -> Rating:
    """A rating `age_days` old whose candidate is kept on disk, with its preview made."""
    candidate = write_audio(
        pink_noise(duration_s=5.0, sample_rate_hz=44_100, seed=int(age_days * 10)) * 0.5,
        f"mine-{age_days}.wav",
    )
    rating = store_rating(
        db_session=db,
        user=kept.student,
        assignment_id=kept.assignment.id,
        result={
            "rating": 0,
            "model": "general",
            "operations": [],
            "suggestions": [],
            "alignment": {"offset_s": 0.0, "overlap_s": 5.0, "level_offset_db": -6.0},
        },
        reference_info=describe_file(kept.reference, filename="pro.wav"),
        candidate_info=describe_file(candidate, filename="mine.wav"),
        candidate_path=candidate,
        data_dir=data_dir,
    )
    rating.created_at = NOW - timedelta(days=age_days)
    db.commit()
    make_preview(data_dir / str(rating.candidate_audio_path))
    return rating


def files_of(data_dir: Path, rating: Rating) -> tuple[Path, Path]:
    kept = data_dir / str(rating.candidate_audio_path)
    return kept, preview_path(kept)


def test_purge_removes_audio_past_each_class_retention(
    migrated_url: str, tmp_path: Path, write_audio: Callable[..., Path]
) -> None:
    data_dir = tmp_path / "data"
    with session_factory(engine_for(migrated_url))() as db:
        week = keeping_class(db, data_dir, write_audio, days=7, name="week")
        month = keeping_class(db, data_dir, write_audio, days=30, name="month")
        old = kept_rating(db, data_dir, write_audio, week, age_days=10)
        recent = kept_rating(db, data_dir, write_audio, week, age_days=2)
        in_month = kept_rating(db, data_dir, write_audio, month, age_days=10)
        old_files, recent_files = files_of(data_dir, old), files_of(data_dir, recent)
        month_files = files_of(data_dir, in_month)
        ids = old.id, recent.id, in_month.id
    for path in (*old_files, *recent_files, *month_files):
        assert path.is_file() and path.stat().st_size > 0, path

    assert purge_kept_audio(database_url=migrated_url, data_dir=data_dir, now=NOW) == [ids[0]]

    assert not any(path.exists() for path in old_files)  # the master and its preview
    assert all(path.is_file() for path in (*recent_files, *month_files))
    assert week.reference.is_file()  # the assignment's professional master stays
    with session_factory(engine_for(migrated_url))() as db:
        paths = {i: db.get(Rating, i).candidate_audio_path for i in ids}  # type: ignore[union-attr]
    assert paths[ids[0]] is None and paths[ids[1]] and paths[ids[2]]
    # Again: nothing left to do. Eight days on, the recent one's week has passed too.
    assert purge_kept_audio(database_url=migrated_url, data_dir=data_dir, now=NOW) == []
    later = NOW + timedelta(days=6)
    assert purge_kept_audio(database_url=migrated_url, data_dir=data_dir, now=later) == [ids[1]]
    assert not any(path.exists() for path in recent_files)
    assert all(path.is_file() for path in month_files)


def test_kept_audio_of_a_deleted_assignment_is_purged(
    migrated_url: str, tmp_path: Path, write_audio: Callable[..., Path]
) -> None:
    data_dir = tmp_path / "data"
    with session_factory(engine_for(migrated_url))() as db:
        kept = keeping_class(db, data_dir, write_audio, days=365, name="gone")
        rating = kept_rating(db, data_dir, write_audio, kept, age_days=1)
        files = files_of(data_dir, rating)
        rating.assignment_id = None  # what deleting the assignment does (SET NULL)
        db.commit()
    assert purge_kept_audio(database_url=migrated_url, data_dir=data_dir, now=NOW) == [rating.id]
    assert not any(path.exists() for path in files)


def test_cli_purges(
    tmp_path: Path, write_audio: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.cli import cli

    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    data_dir = tmp_path / "data"
    upgrade(url)
    with session_factory(engine_for(url))() as db:
        kept = keeping_class(db, data_dir, write_audio, days=1, name="cli")
        rating = kept_rating(db, data_dir, write_audio, kept, age_days=3)  # 3 days before NOW
        files = files_of(data_dir, rating)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["audio", "purge"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"removed the kept audio of 1 rating(s): {rating.id}" in result.output
    assert not any(path.exists() for path in files)


def test_server_sweeps_at_start_up(
    app: object,
    db: Session,
    app_settings: Settings,
    write_audio: Callable[..., Path],
) -> None:
    kept = keeping_class(db, app_settings.DATA_DIR, write_audio, days=7, name="served")
    old = kept_rating(db, app_settings.DATA_DIR, write_audio, kept, age_days=400)
    fresh = kept_rating(db, app_settings.DATA_DIR, write_audio, kept, age_days=0)
    old.created_at = datetime.now(UTC) - timedelta(days=8)
    fresh.created_at = datetime.now(UTC)
    db.commit()
    old_files, fresh_files = (
        files_of(app_settings.DATA_DIR, old),
        files_of(app_settings.DATA_DIR, fresh),
    )
    browser = sign_in(db, kept.student)
    with TestClient(app, follow_redirects=False) as client:  # type: ignore[arg-type]
        deadline = time.monotonic() + 20
        while any(path.exists() for path in old_files) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(path.exists() for path in old_files)
        assert all(path.is_file() for path in fresh_files)
        browser.use(client)
        assert 'id="player"' not in client.get(f"/ratings/{old.id}", headers=HTML).text
        assert 'id="player"' in client.get(f"/ratings/{fresh.id}", headers=HTML).text
        assert client.get(f"/ratings/{old.id}/audio/candidate.ogg").status_code == 404


def test_instructor_sets_the_retention(client: TestClient, db: Session, tmp_path: Path) -> None:
    teacher = make_user(db, "sets@example.org", Role.INSTRUCTOR)
    student = make_user(db, "student-sets@example.org")
    school_class = make_class(db, teacher, keep_audio=True)
    join(db, student, school_class)
    url = f"/classes/{school_class.id}/settings"
    headers = sign_in(db, teacher).use(client)
    page = client.get(f"/classes/{school_class.id}", headers=HTML).text
    assert 'name="audio_retention_days"' in page and 'value="90"' in page  # the default
    form = {"keep_audio": "true", "audio_retention_days": "14"}
    assert client.post(url, data=form, headers=headers).status_code == 303
    db.expire_all()
    assert db.get(SchoolClass, school_class.id).audio_retention_days == 14  # type: ignore[union-attr]
    refused = client.post(
        url, data={"keep_audio": "true", "audio_retention_days": "0"}, headers={**headers, **HTML}
    )
    assert refused.status_code == 422
    assert "Keep audio for 1 to 3650 days; got 0." in refused.text
    db.expire_all()
    assert db.get(SchoolClass, school_class.id).audio_retention_days == 14  # type: ignore[union-attr]
    # Only the keep-audio box (an older form): the retention is left as it is.
    assert client.post(url, data={"keep_audio": "true"}, headers=headers).status_code == 303
    db.expire_all()
    assert db.get(SchoolClass, school_class.id).audio_retention_days == 14  # type: ignore[union-attr]
    student_headers = sign_in(db, student).use(client)
    assignment = make_assignment(db, school_class, tmp_path / "data")
    page = " ".join(client.get(f"/assignments/{assignment.id}", headers=HTML).text.split())
    assert "keeps your master on disk for 14 days" in page  # the student is told
    form = {"audio_retention_days": "1"}
    assert client.post(url, data=form, headers=student_headers).status_code == 403
