"""Hostile text on both databases: NUL characters, extreme due dates, unknown models.

Every test runs on SQLite and on PostgreSQL (`DATABASE_URL_POSTGRES`), where a NUL in
stored text used to be a 500.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.classes.models import Assignment
from app.db import Base, make_engine
from app.history.models import Rating
from app.http.deps import CSRF_HEADER
from tests.accounts_support import PASSWORD, World, make_assignment, make_token, postgres_schema_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, schema_template: Path) -> Iterator[str]:
    """This test's database: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        path = tmp_path / "db.sqlite3"
        shutil.copyfile(schema_template, path)
        yield f"sqlite:///{path}"
        return
    for url in postgres_schema_url(f"mt_i16_{os.getpid()}"):
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        engine.dispose()
        yield url


def wav_bytes(seconds: float = 6.0, seed: int = 3) -> bytes:
    noise = np.random.default_rng(seed).standard_normal(int(44_100 * seconds)) * 0.1
    buffer = io.BytesIO()
    sf.write(buffer, noise.astype(np.float32), 44_100, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def multipart(fields: dict[str, str], files: dict[str, tuple[bytes, bytes]]) -> tuple[bytes, str]:
    """A multipart body written by hand: raw bytes in filenames (httpx would escape a NUL)."""
    boundary = b"hostile-boundary-16"
    parts = [
        b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
        % (boundary, name.encode(), value.encode())
        for name, value in fields.items()
    ]
    parts += [
        b'--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
        b"Content-Type: audio/wav\r\n\r\n%s\r\n" % (boundary, name.encode(), filename, content)
        for name, (filename, content) in files.items()
    ]
    body = b"".join(parts) + b"--%s--\r\n" % boundary
    return body, f"multipart/form-data; boundary={boundary.decode()}"


def detail(response: Any) -> str:
    return str(response.json()["detail"])


def test_a_nul_in_a_sign_in_or_sign_up_email_is_a_422(client: TestClient, world: World) -> None:
    token = client.get("/sign-in").text.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"email": "a\x00b@ex.com", "password": PASSWORD, "csrf_token": token}
    signed_in = client.post("/sign-in", data=form)
    assert signed_in.status_code == 422 and "'email'" in detail(signed_in)
    form["join_code"] = world.school_class.join_code
    signed_up = client.post("/sign-up", data=form)
    assert signed_up.status_code == 422 and "NUL" in detail(signed_up)
    joined = client.post("/sign-up", data={**form, "email": "ok@ex.com", "join_code": "A\x00B"})
    assert joined.status_code == 422 and "'join_code'" in detail(joined)


def test_a_nul_in_a_class_name_token_name_or_title_is_a_422(
    client: TestClient, world: World, db: Session
) -> None:
    headers = world.browsers["instructor"].use(client)
    named = client.post("/classes", data={"name": "Mastering\x00 101"}, headers=headers)
    assert named.status_code == 422 and "'name'" in detail(named)
    token = client.post("/api/tokens", json={"name": "lap\x00top"}, headers=headers)
    assert token.status_code == 422 and "'name'" in detail(token)
    body, content_type = multipart(
        {"title": "Song\x00B", "due_at": "2030-01-01T12:00"},
        {"reference": (b"song.wav", wav_bytes())},
    )
    titled = client.post(
        f"/classes/{world.school_class.id}/assignments",
        content=body,
        headers={**headers, "Content-Type": content_type},
    )
    assert titled.status_code == 422 and "'title'" in detail(titled)
    # Browsers get the same refusal as a page.
    page = client.post(
        "/classes", data={"name": "A\x00"}, headers={**headers, "Accept": "text/html"}
    )
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")


def test_a_nul_in_an_uploaded_filename_is_dropped_not_a_lost_rating(
    client: TestClient, world: World, db: Session, app_settings: Any
) -> None:
    raw = make_token(db, world.student)
    body, content_type = multipart(
        {}, {"reference": (b"pro\x00.wav", wav_bytes()), "candidate": (b"a\x00b.wav", wav_bytes())}
    )
    rated = client.post(
        "/rate",
        content=body,
        headers={"Authorization": f"Bearer {raw}", "Content-Type": content_type},
    )
    assert rated.status_code == 200, rated.text
    stored = db.get(Rating, rated.json()["id"])
    assert stored is not None and stored.candidate_filename == "ab.wav"
    assert stored.reference_filename == "pro.wav"
    # An assignment submission too.
    reference = app_settings.DATA_DIR.parent / "real-reference.wav"
    reference.parent.mkdir(parents=True, exist_ok=True)
    reference.write_bytes(wav_bytes())
    assignment = make_assignment(db, world.school_class, app_settings.DATA_DIR, reference)
    body, content_type = multipart({}, {"candidate": (b"mine\x00.wav", wav_bytes(seed=4))})
    submitted = client.post(
        f"/assignments/{assignment.id}/submit",
        content=body,
        headers={"Authorization": f"Bearer {raw}", "Content-Type": content_type},
    )
    assert submitted.status_code == 200, submitted.text
    db.expire_all()
    rating = db.get(Rating, submitted.json()["id"])
    assert rating is not None and rating.candidate_filename == "mine.wav"


@pytest.mark.parametrize("due_at", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_an_extreme_due_date_is_a_4xx_sentence(
    client: TestClient, world: World, db: Session, due_at: str
) -> None:
    headers = world.browsers["instructor"].use(client)
    body, content_type = multipart(
        {"title": "Song B", "due_at": due_at}, {"reference": (b"song.wav", wav_bytes())}
    )
    response = client.post(
        f"/classes/{world.school_class.id}/assignments",
        content=body,
        headers={**headers, "Content-Type": content_type, "Accept": "text/html"},
    )
    assert response.status_code == 422
    assert "out of range" in response.text and "2000" in response.text
    assert db.scalar(select(Assignment).where(Assignment.title == "Song B")) is None


def test_an_assignment_with_an_unknown_model_is_a_422(
    client: TestClient, world: World, db: Session
) -> None:
    headers = world.browsers["instructor"].use(client)
    body, content_type = multipart(
        {"title": "Song C", "due_at": "2030-01-01T12:00", "model_id": "F9W9"},
        {"reference": (b"song.wav", wav_bytes())},
    )
    response = client.post(
        f"/classes/{world.school_class.id}/assignments",
        content=body,
        headers={**headers, "Content-Type": content_type, CSRF_HEADER: headers[CSRF_HEADER]},
    )
    assert response.status_code == 422
    assert "Unknown model" in response.text and "F9W9" in response.text
    assert db.scalar(select(Assignment).where(Assignment.title == "Song C")) is None


def test_the_services_refuse_nul_text_too(db: Session, world: World) -> None:
    """The command line and any other caller meet the same refusals as the web forms."""
    from app.accounts import service as accounts
    from app.classes import service as classes
    from tests.accounts_support import FAST_ACCOUNTS

    with pytest.raises(accounts.AccountError):
        accounts.create_user(
            db_session=db, email="a\x00b@ex.com", password=PASSWORD, role="student",
            settings=FAST_ACCOUNTS,
        )  # fmt: skip
    with pytest.raises(classes.ClassError, match="NUL"):
        classes.create_class(db_session=db, instructor=world.instructor, name="A\x00B")
