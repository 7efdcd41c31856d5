"""A stored rating's kept audio: Opus previews for its owner and their instructor only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.accounts.models import Role
from app.config import Settings
from app.history.audio import preview_path
from app.history.models import Rating
from app.history.service import describe_file, store_rating
from tests.accounts_support import Browser, join, make_assignment, make_class, make_user, sign_in
from tests.conftest import pink_noise

HTML = {"Accept": "text/html"}


def kept_rating(
    db: Session, settings: Settings, write_audio: Callable[..., Path]
) -> tuple[Rating, dict[str, Browser]]:
    """A rating in a class that keeps audio, with real reference and candidate files."""
    teacher = make_user(db, "keeps@example.org", Role.INSTRUCTOR)
    student = make_user(db, "mixer@example.org")
    stranger = make_user(db, "stranger@example.org")
    school_class = make_class(db, teacher, keep_audio=True)
    join(db, student, school_class)
    song = pink_noise(duration_s=6.0, sample_rate_hz=44_100, seed=9)
    reference = write_audio(song, "pro.wav")
    candidate = write_audio(song * 0.7, "mine.wav")
    assignment = make_assignment(db, school_class, settings.DATA_DIR, reference=reference)
    rating = store_rating(
        db_session=db,
        user=student,
        assignment_id=assignment.id,
        result={
            "rating": 0,
            "model": "general",
            "distance_db": 0.1,
            "operations": [],
            "suggestions": [],
            "amount": 100.0,
            "alignment": {"offset_s": 0.0, "overlap_s": 6.0, "level_offset_db": -3.1},
        },
        reference_info=describe_file(reference, filename="pro.wav"),
        candidate_info=describe_file(candidate, filename="mine.wav"),
        candidate_path=candidate,
        data_dir=settings.DATA_DIR,
    )
    db.commit()
    browsers = {
        "student": sign_in(db, student),
        "instructor": sign_in(db, teacher),
        "other_student": sign_in(db, stranger),
    }
    return rating, browsers


def test_owner_and_instructor_get_opus_previews_others_404(
    client: TestClient, db: Session, app_settings: Settings, write_audio: Callable[..., Path]
) -> None:
    rating, browsers = kept_rating(db, app_settings, write_audio)
    for role in ("student", "instructor"):
        browsers[role].use(client)
        for which in ("reference", "candidate"):
            response = client.get(f"/ratings/{rating.id}/audio/{which}.ogg")
            assert response.status_code == 200, (role, which)
            assert response.headers["content-type"] == "audio/ogg"
            assert response.content[:4] == b"OggS" and b"OpusHead" in response.content[:200]
        page = client.get(f"/ratings/{rating.id}", headers=HTML).text
        assert 'id="player"' in page and f"/ratings/{rating.id}/audio/candidate.ogg" in page
    kept = app_settings.DATA_DIR / str(rating.candidate_audio_path)
    assert preview_path(kept).is_file()  # beside the kept audio, never in the database
    browsers["other_student"].use(client)
    assert client.get(f"/ratings/{rating.id}/audio/candidate.ogg").status_code == 404
    assert client.get(f"/ratings/{rating.id}", headers=HTML).status_code == 404


@pytest.mark.parametrize("which", ["reference", "candidate"])
def test_no_audio_once_the_kept_file_is_gone(
    client: TestClient,
    db: Session,
    app_settings: Settings,
    write_audio: Callable[..., Path],
    which: str,
) -> None:
    rating, browsers = kept_rating(db, app_settings, write_audio)
    kept = app_settings.DATA_DIR / str(rating.candidate_audio_path)
    kept.unlink()
    browsers["student"].use(client)
    response = client.get(f"/ratings/{rating.id}/audio/{which}.ogg")
    assert response.status_code == 404
    assert response.json()["detail"] == "No audio kept for this rating."
    assert 'id="player"' not in client.get(f"/ratings/{rating.id}", headers=HTML).text
    assert not np.any([p.suffix == ".ogg" for p in kept.parent.iterdir()])
