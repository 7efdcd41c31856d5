"""Stored ratings: the history API, POST /rate storage, audio kept only when asked."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import soundfile as sf
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from app.accounts.models import Role
from app.config import Settings
from app.history.models import Rating
from app.ml.registry import ModelRegistry
from tests.accounts_support import (
    World,
    assert_rated_as_known_eq,
    known_eq_wavs,
    make_app,
    make_rating,
    make_token,
    make_user,
    real_rating_registry,
    sign_in,
)


def test_list_is_own_and_newest_first(client: TestClient, db: Session, world: World) -> None:
    now = datetime.now(UTC)
    old = make_rating(db, world.student, rating=3, when=now - timedelta(days=2))
    new = make_rating(db, world.student, rating=0, when=now + timedelta(minutes=1))
    make_rating(db, world.other_student, rating=5)
    headers = world.browsers["student"].use(client)
    body = client.get("/api/ratings", headers=headers).json()
    ids = [r["id"] for r in body["ratings"]]
    assert ids[0] == new.id and ids[-1] == old.id
    assert set(ids) == {old.id, new.id, world.rating.id}
    first = body["ratings"][0]
    assert first["rating"] == 0 and first["candidate"]["sha256"] == "b" * 64
    assert first["reference"]["duration_s"] == 30.0 and first["audio_kept"] is False


def test_another_students_rating_is_404(client: TestClient, world: World) -> None:
    headers = world.browsers["other_student"].use(client)
    assert client.get(f"/api/ratings/{world.rating.id}", headers=headers).status_code == 404
    assert client.get("/api/ratings/999999", headers=headers).status_code == 404
    headers = world.browsers["student"].use(client)
    assert client.get(f"/api/ratings/{world.rating.id}", headers=headers).json()["id"] == (
        world.rating.id
    )


def test_ratings_table_holds_no_audio(db_url: str, db: Session) -> None:
    columns = {c["name"]: str(c["type"]) for c in inspect(db.get_bind()).get_columns("ratings")}
    assert not any("BLOB" in t.upper() or "BYTEA" in t.upper() for t in columns.values())
    for name in (
        "reference_sha256",
        "candidate_sha256",
        "reference_duration_s",
        "candidate_duration_s",
    ):
        assert name in columns


def _wav(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    sf.write(path, (rng.standard_normal(44_100 * 6) * 0.1).astype(np.float32), 44_100)
    return path


def _post_rate(client: TestClient, tmp_path: Path, **headers: str):  # type: ignore[no-untyped-def]
    reference = _wav(tmp_path / "reference.wav", 1)
    files = {
        "reference": ("reference.wav", reference.read_bytes(), "audio/wav"),
        "candidate": ("mine.wav", reference.read_bytes(), "audio/wav"),
    }
    return client.post("/rate", files=files, headers=headers)


def test_rate_with_token_stores_and_returns_id(
    app_settings: Settings, db: Session, shipped_registry: ModelRegistry
) -> None:
    """Rated by a shipped model on a known EQ: what is stored is what the model found."""
    user = make_user(db, "rater@example.org")
    token = make_token(db, user)
    headers = {"Authorization": f"Bearer {token}"}
    master, eqd = known_eq_wavs(seconds=6.0)
    files = {
        "reference": ("reference.wav", master, "audio/wav"),
        "candidate": ("mine.wav", eqd, "audio/wav"),
    }
    with TestClient(make_app(app_settings, real_rating_registry(shipped_registry))) as client:
        response = client.post("/rate", files=files, headers=headers)
        assert response.status_code == 200, response.text
        rating_id = response.json()["id"]
        assert isinstance(rating_id, int)
        stored = client.get(f"/api/ratings/{rating_id}", headers=headers)
    assert stored.status_code == 200
    body = stored.json()
    assert body["rating"] == 2 and body["model"] == "F1W2"
    assert_rated_as_known_eq(body["operations"])
    assert body["operations"] == response.json()["operations"]
    assert [(s["band"], s["action"]) for s in body["suggestions"]] == [
        ("bass", "decrease"),
        ("treble", "increase"),
    ]
    assert body["candidate"]["filename"] == "mine.wav"
    assert body["candidate"]["sha256"] == hashlib.sha256(eqd).hexdigest()
    assert body["reference"]["sha256"] == hashlib.sha256(master).hexdigest()
    assert abs(body["candidate"]["duration_s"] - 6.0) < 0.01


def test_rate_with_session_needs_csrf_header_to_store(
    client: TestClient, db: Session, tmp_path: Path
) -> None:
    browser = sign_in(db, make_user(db, "web@example.org"))
    headers = browser.use(client)
    assert isinstance(_post_rate(client, tmp_path, **headers).json()["id"], int)
    # A cross-site post carries the cookie but not the token: rated, never stored.
    assert _post_rate(client, tmp_path).json()["id"] is None
    assert (
        db.scalar(select(Rating.id).where(Rating.user_id == browser.user.id).limit(5)) is not None
    )
    assert len(db.scalars(select(Rating).where(Rating.user_id == browser.user.id)).all()) == 1


def test_anonymous_rate_stores_nothing(client: TestClient, db: Session, tmp_path: Path) -> None:
    response = _post_rate(client, tmp_path)
    assert response.status_code == 200 and response.json()["id"] is None
    assert db.scalars(select(Rating)).all() == []


def test_anonymous_rate_off_gives_401(app_settings: Settings, db: Session, tmp_path: Path) -> None:
    settings = app_settings.model_copy(update={"ANONYMOUS_RATE": False})
    token = make_token(db, make_user(db, "api@example.org"))
    with TestClient(make_app(settings)) as client:
        assert _post_rate(client, tmp_path).status_code == 401
        response = _post_rate(client, tmp_path, Authorization=f"Bearer {token}")
        assert response.status_code == 200 and isinstance(response.json()["id"], int)


def test_revoked_token_is_refused_on_rate(client: TestClient, db: Session, tmp_path: Path) -> None:
    user = make_user(db, "api@example.org", Role.STUDENT)
    token = make_token(db, user)
    headers = {"Authorization": f"Bearer {token}"}
    token_id = client.get("/api/tokens", headers=headers).json()[0]["id"]
    assert client.delete(f"/api/tokens/{token_id}", headers=headers).status_code == 204
    assert _post_rate(client, tmp_path, **headers).status_code == 401
    assert client.get("/api/ratings", headers=headers).status_code == 401


def test_rate_page_sends_the_token_and_stores_for_the_signed_in(
    client: TestClient, db: Session, tmp_path: Path
) -> None:
    browser = sign_in(db, make_user(db, "web@example.org"))
    headers = browser.use(client)
    page = client.get("/").text
    assert f'"X-CSRF-Token": "{browser.csrf}"' in page and "Sign out" in page
    reference = _wav(tmp_path / "reference.wav", 1).read_bytes()
    files = {
        "reference": ("reference.wav", reference, "audio/wav"),
        "candidate": ("mine.wav", reference, "audio/wav"),
    }
    response = client.post("/", files=files, headers={**headers, "HX-Request": "true"})
    assert response.status_code == 200
    listed = client.get("/api/ratings").json()["ratings"]
    assert len(listed) == 1 and listed[0]["candidate"]["filename"] == "mine.wav"
