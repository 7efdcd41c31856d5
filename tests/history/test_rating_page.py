"""`/ratings/{id}`: a stored rating's page, for its owner and their instructor only."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import soundfile as sf
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.history.models import Rating
from app.history.service import StoredFile, store_rating
from tests.accounts_support import World, make_rating, make_token, make_user, sign_in

HTML = {"Accept": "text/html"}


def _rate(client: TestClient, tmp_path: Path, token: str) -> int:
    rng = np.random.default_rng(7)
    song = (rng.standard_normal(44_100 * 6) * 0.1).astype(np.float32)
    sf.write(tmp_path / "ref.wav", song, 44_100)
    sf.write(tmp_path / "mine.wav", song * 0.5, 44_100)
    files = {
        name: (f"{name}.wav", (tmp_path / path).read_bytes(), "audio/wav")
        for name, path in (("reference", "ref.wav"), ("candidate", "mine.wav"))
    }
    response = client.post("/rate", files=files, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.json()["distance_db"] < 0.5  # the same master 6 dB quieter
    rating_id: int = response.json()["id"]
    return rating_id


def test_stored_rating_keeps_distance_and_what_its_page_draws(
    client: TestClient, db: Session, tmp_path: Path
) -> None:
    user = make_user(db, "rater@example.org")
    rating_id = _rate(client, tmp_path, make_token(db, user))
    stored = db.get(Rating, rating_id)
    assert stored is not None and stored.distance_db is not None and stored.details is not None
    assert set(stored.details) == {"amount", "spectra", "alignment"}
    assert abs(stored.details["alignment"]["level_offset_db"] + 6.02) < 0.1

    sign_in(db, user).use(client)
    page = client.get(f"/ratings/{rating_id}", headers=HTML)
    assert page.status_code == 200
    assert f'data-distance-db="{stored.distance_db}"' in page.text
    spectra = re.search(r'class="spectra-data">(.*?)</script>', page.text, re.S)
    assert spectra and len(json.loads(spectra.group(1))["band_centres_hz"]) > 100
    assert 'id="player"' not in page.text  # no audio kept for this rating: nothing to play
    assert client.get(f"/api/ratings/{rating_id}").json()["distance_db"] == stored.distance_db


def test_instructor_reaches_students_rating_others_get_404(
    client: TestClient, world: World
) -> None:
    path = f"/ratings/{world.rating.id}"
    world.browsers["student"].use(client)
    own = client.get(path, headers=HTML)
    assert own.status_code == 200 and "your history" in own.text
    assert 'href="/presets/fix.apo?m=bell%2C261.63%2C-6.0%2C1' in own.text
    world.browsers["instructor"].use(client)
    teacher = client.get(path, headers=HTML)
    assert teacher.status_code == 200 and world.student.email in teacher.text
    for role in ("other_student", "other_instructor", "admin"):
        world.browsers[role].use(client)
        refused = client.get(path, headers=HTML)
        assert refused.status_code == 404, role
        assert "No such rating." in refused.text and "<html" in refused.text


def test_rating_stored_before_details_still_has_a_page(client: TestClient, db: Session) -> None:
    user = make_user(db, "old@example.org")
    old = make_rating(db, user, rating=2)
    assert old.details is None and old.distance_db is None
    sign_in(db, user).use(client)
    page = client.get(f"/ratings/{old.id}", headers=HTML)
    assert page.status_code == 200
    assert "2 EQ operations away" in page.text and "spectra-data" not in page.text
    # Suggestions stored before they had a kind are EQ moves, and the page lists them.
    assert "Decrease bass: cut about 6 dB around 262 Hz" in page.text


def test_history_links_each_rating_to_its_page(client: TestClient, db: Session) -> None:
    user = make_user(db, "linked@example.org")
    facts = make_rating(db, user)
    with_distance = store_rating(
        db_session=db,
        user=user,
        assignment_id=None,
        result={
            "rating": 1,
            "model": "m",
            "distance_db": 1.25,
            "operations": [],
            "suggestions": [],
        },
        reference_info=StoredFile(sha256="a" * 64, duration_s=30.0),
        candidate_info=StoredFile(sha256="b" * 64, duration_s=30.0),
    )
    db.commit()
    sign_in(db, user).use(client)
    page = client.get("/history", headers=HTML).text
    assert f'href="/ratings/{facts.id}"' in page and f'href="/ratings/{with_distance.id}"' in page
    assert "1.25 dB" in page
    chart = re.search(r'data-series="([^"]*)"', page)
    assert chart and "distance" in chart.group(1)
