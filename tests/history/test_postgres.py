"""The same service on PostgreSQL: migrations, sign-in, throttling, history, progress."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from app.accounts.models import Role
from app.config import Settings
from app.db import engine_for, session_factory
from app.http.deps import SESSION_COOKIE
from app.migrate import upgrade
from tests.accounts_support import (
    FAST_ACCOUNTS,
    PASSWORD,
    join,
    make_app,
    make_assignment,
    make_class,
    make_rating,
    make_token,
    make_user,
    postgres_schema_url,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from postgres_schema_url("mt_app_test")


def test_service_on_postgres(pg_url: str, tmp_path: Path) -> None:
    upgrade(pg_url)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, DATABASE_URL=pg_url, DATA_DIR=tmp_path / "data", MODELS_DIR=tmp_path
    )
    with session_factory(engine_for(pg_url))() as db:
        teacher = make_user(db, "t@example.org", Role.INSTRUCTOR)
        student = make_user(db, "s@example.org")
        other = make_user(db, "o@example.org")
        school_class = make_class(db, teacher)
        join(db, student, school_class)
        assignment = make_assignment(db, school_class, settings.DATA_DIR)
        now = datetime.now(UTC)
        old = make_rating(
            db, student, rating=3, assignment_id=assignment.id, when=now - timedelta(1)
        )
        new = make_rating(db, student, rating=1, assignment_id=assignment.id)
        others = make_rating(db, other, rating=2)
        student_token, teacher_token = make_token(db, student), make_token(db, teacher)
    with TestClient(make_app(settings), follow_redirects=False) as client:
        bearer = {"Authorization": f"Bearer {student_token}"}
        listed = client.get("/api/ratings", headers=bearer).json()["ratings"]
        assert [r["id"] for r in listed] == [new.id, old.id]
        assert listed[0]["created_at"] > listed[1]["created_at"]
        assert client.get(f"/api/ratings/{others.id}", headers=bearer).status_code == 404
        progress = client.get(
            f"/api/classes/{school_class.id}/progress",
            headers={"Authorization": f"Bearer {teacher_token}"},
        ).json()
        assert [p["rating"] for p in progress["students"][0]["ratings"]] == [3, 1]
        # POST /rate with a token stores the rating (JSON columns, both files' facts).
        noise = np.random.default_rng(5).standard_normal(44_100 * 6).astype(np.float32) * 0.1
        wav = io.BytesIO()
        sf.write(wav, noise, 44_100, format="WAV", subtype="PCM_16")
        files = {
            "reference": ("pro.wav", wav.getvalue(), "audio/wav"),
            "candidate": ("mine.wav", wav.getvalue(), "audio/wav"),
        }
        rated = client.post("/rate", files=files, headers=bearer)
        assert rated.status_code == 200, rated.text
        stored = client.get(f"/api/ratings/{rated.json()['id']}", headers=bearer).json()
        assert stored["candidate"]["filename"] == "mine.wav" and stored["operations"] == []
        # Sign-in and throttling work the same way.
        page = client.get("/sign-in").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        form = {"email": "s@example.org", "csrf_token": token.group(1)}
        assert client.post("/sign-in", data={**form, "password": PASSWORD}).status_code == 303
        client.cookies.delete(SESSION_COOKIE)  # back to an anonymous visitor
        for _ in range(FAST_ACCOUNTS.LOGIN_MAX_FAILURES):
            assert client.post("/sign-in", data={**form, "password": "wrong!"}).status_code == 401
        locked = client.post("/sign-in", data={**form, "password": PASSWORD})
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
