"""Stored ratings keep the whole-master measures; the history charts the loudness difference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.accounts_support import make_rating, make_token, make_user, sign_in


def _post_louder(client: TestClient, tmp_path: Path, token: str) -> dict:  # type: ignore[type-arg]
    rng = np.random.default_rng(3)
    audio = (rng.standard_normal((44_100 * 6, 2)) * 0.05).astype(np.float32)
    reference, candidate = tmp_path / "reference.wav", tmp_path / "mine.wav"
    sf.write(reference, audio, 44_100, subtype="FLOAT")
    sf.write(candidate, audio * np.float32(10 ** (3 / 20)), 44_100, subtype="FLOAT")
    files = {
        "reference": ("reference.wav", reference.read_bytes(), "audio/wav"),
        "candidate": ("mine.wav", candidate.read_bytes(), "audio/wav"),
    }
    response = client.post("/rate", files=files, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_stored_rating_keeps_the_measures(
    client: TestClient, db: Session, tmp_path: Path
) -> None:
    user = make_user(db, "loud@example.org")
    token = make_token(db, user)
    answer = _post_louder(client, tmp_path, token)
    stored = client.get(
        f"/api/ratings/{answer['id']}", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert stored["loudness_difference_lu"] == answer["loudness"]["difference_lu"]
    assert abs(stored["loudness_difference_lu"] - 3.0) < 0.05
    assert stored["measures"]["loudness"] == answer["loudness"]
    assert stored["measures"]["stereo"] == answer["stereo"]
    assert [s["kind"] for s in stored["suggestions"]] == ["loudness"]


def test_the_history_page_charts_the_loudness_difference(
    client: TestClient, db: Session, tmp_path: Path
) -> None:
    user = make_user(db, "chart@example.org")
    make_rating(db, user, rating=2)  # stored before the measures: no loudness difference
    _post_louder(client, tmp_path, make_token(db, user))
    page = client.get("/history", headers=sign_in(db, user).use(client))
    assert page.status_code == 200
    assert 'id="loudness-history-chart"' in page.text
    assert "&#34;loudness_difference_lu&#34;: [null, 3." in page.text


def test_without_measures_there_is_no_loudness_chart(client: TestClient, db: Session) -> None:
    user = make_user(db, "old@example.org")
    make_rating(db, user, rating=1)
    page = client.get("/history", headers=sign_in(db, user).use(client))
    assert 'id="history-chart"' in page.text and "loudness-history-chart" not in page.text
