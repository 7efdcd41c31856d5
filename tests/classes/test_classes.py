"""Classes, assignments, submissions and progress (JSON and CSV)."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import soundfile as sf
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.classes import service
from app.classes.models import Assignment
from app.classes.router import SavedUpload, get_assignment_rater
from app.config import Settings
from app.history.models import Rating
from app.ml.registry import ModelRegistry
from tests.accounts_support import (
    World,
    assert_rated_as_known_eq,
    fake_result,
    known_eq_wavs,
    make_app,
    make_rating,
    make_user,
    real_rating_registry,
    sign_in,
)


def wav_bytes(seconds: float = 6.0, seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    noise = np.random.default_rng(seed).standard_normal(int(44_100 * seconds)) * 0.1
    sf.write(buffer, noise.astype(np.float32), 44_100, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def set_assignment(
    client: TestClient, world: World, reference: bytes, *, filename: str, title: str, due_at: str
) -> int:
    """The instructor sets an assignment with `reference` as its master; return its id."""
    response = client.post(
        f"/classes/{world.school_class.id}/assignments",
        headers=world.browsers["instructor"].use(client),
        data={"title": title, "due_at": due_at},
        files={"reference": (filename, reference, "audio/wav")},
    )
    assert response.status_code == 303
    return int(response.headers["location"].rsplit("/", 1)[1])


def test_join_codes_are_unambiguous_and_unique(db: Session, world: World) -> None:
    codes = {service.new_join_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(not set(code) & set("01OIL") for code in codes)
    assert world.school_class.join_code != world.other_class.join_code


def test_instructor_sets_an_assignment_with_the_professional_master(
    client: TestClient, db: Session, world: World, app_settings: Settings
) -> None:
    headers = world.browsers["instructor"].use(client)
    reference = wav_bytes()
    assignment_id = set_assignment(
        client,
        world,
        reference,
        filename="pro master.wav",
        title="Song B",
        due_at="2030-01-01T12:00",
    )
    assignment = db.get(Assignment, assignment_id)
    assert assignment is not None
    assert assignment.due_at == datetime(2030, 1, 1, 12, tzinfo=UTC)
    assert abs(assignment.reference_duration_s - 6.0) < 0.01
    stored = app_settings.DATA_DIR / assignment.reference_path
    assert stored.read_bytes() == reference
    # Not audio: refused with the audio layer's sentence, nothing stored.
    response = client.post(
        f"/classes/{world.school_class.id}/assignments",
        headers=headers,
        data={"title": "Bad", "due_at": "2030-01-01T12:00"},
        files={"reference": ("notes.txt", b"hello " * 100, "text/plain")},
    )
    assert response.status_code == 415 and "reference" in response.text
    assert db.scalar(select(Assignment).where(Assignment.title == "Bad")) is None


def _submit(client: TestClient, world: World, **headers: str) -> Any:
    return client.post(
        f"/assignments/{world.assignment.id}/submit",
        headers=headers,
        files={"candidate": ("my master.wav", wav_bytes(seed=3), "audio/wav")},
    )


def test_submission_is_rated_against_the_stored_master(
    client: TestClient, db: Session, world: World, app: Any, app_settings: Settings
) -> None:
    seen: dict[str, SavedUpload] = {}

    async def rater(reference: SavedUpload, candidate: SavedUpload, model_id: str | None) -> Any:
        seen["reference"], seen["candidate"] = reference, candidate
        assert candidate.path.is_file()
        return fake_result(2)

    app.dependency_overrides[get_assignment_rater] = lambda: rater
    headers = world.browsers["student"].use(client)
    response = _submit(client, world, **headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["rating"] == 2 and body["assignment_id"] == world.assignment.id
    assert seen["reference"].path == app_settings.DATA_DIR / world.assignment.reference_path
    assert seen["reference"].sha256 == world.assignment.reference_sha256
    rating = db.get(Rating, body["id"])
    assert rating is not None and rating.user_id == world.student.id
    assert rating.candidate_audio_path is None  # the class does not keep audio
    assert not (app_settings.DATA_DIR / "audio").exists()
    assert not seen["candidate"].path.exists()  # the upload is removed afterwards
    # A browser form gets sent back to the assignment page.
    response = _submit(client, world, Accept="text/html", **headers)
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/assignments/{world.assignment.id}?rated=")


def test_audio_is_kept_on_disk_only_when_the_class_asks(
    client: TestClient, db: Session, world: World, app: Any, app_settings: Settings
) -> None:
    async def rater(reference: SavedUpload, candidate: SavedUpload, model_id: str | None) -> Any:
        return fake_result(0)

    app.dependency_overrides[get_assignment_rater] = lambda: rater
    headers = world.browsers["instructor"].use(client)
    settings_url = f"/classes/{world.school_class.id}/settings"
    assert (
        client.post(settings_url, data={"keep_audio": "true"}, headers=headers).status_code == 303
    )
    headers = world.browsers["student"].use(client)
    body = _submit(client, world, **headers).json()
    db.expire_all()
    rating = db.get(Rating, body["id"])
    assert rating is not None and rating.candidate_audio_path is not None
    kept = app_settings.DATA_DIR / rating.candidate_audio_path
    assert kept.read_bytes() == wav_bytes(seed=3)
    assert kept.suffix == ".wav"
    assert client.get(f"/api/ratings/{body['id']}", headers=headers).json()["audio_kept"] is True


def test_progress_and_csv_for_the_instructor(client: TestClient, db: Session, world: World) -> None:
    late = make_user(db, "late@example.org")
    service.join_class(db_session=db, user=late, code=world.school_class.join_code)
    db.commit()
    start = datetime.now(UTC) - timedelta(days=3)
    make_rating(db, world.student, rating=1, assignment_id=world.assignment.id, when=start)
    make_rating(db, world.student, rating=0, assignment_id=world.assignment.id)
    make_rating(db, world.student, rating=4)  # not an assignment: private to the student
    make_rating(db, world.other_student, rating=2)
    headers = world.browsers["instructor"].use(client)
    progress = client.get(f"/api/classes/{world.school_class.id}/progress", headers=headers)
    students = {s["email"]: s for s in progress.json()["students"]}
    assert set(students) == {"student@example.org", "late@example.org"}
    assert students["late@example.org"]["ratings"] == []
    timeline = students["student@example.org"]["ratings"]
    assert [p["rating"] for p in timeline] == [1, 1, 0]  # oldest first; world's rating is 1
    assert timeline[0]["created_at"] < timeline[-1]["created_at"]
    exported = client.get(f"/api/classes/{world.school_class.id}/progress.csv", headers=headers)
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 3 and {r["student_email"] for r in rows} == {"student@example.org"}
    assert rows[0]["assignment_title"] == "Song A" and rows[-1]["rating"] == "0"


def test_csv_defuses_formulas(db: Session, world: World) -> None:
    progress = [
        service.StudentProgress(
            user_id=1,
            email="=cmd@example.org",
            ratings=[
                service.ProgressPoint(
                    rating_id=1,
                    created_at=datetime.now(UTC),
                    assignment_id=1,
                    assignment_title="+SUM(A1)",
                    model="general",
                    rating=1,
                )
            ],
        )
    ]
    row = list(csv.reader(io.StringIO(service.progress_csv(progress))))[1]
    assert row[0] == "'=cmd@example.org" and row[4] == "'+SUM(A1)"


def test_pages_render(client: TestClient, db: Session, world: World) -> None:
    headers = world.browsers["instructor"].use(client)
    page = client.get(f"/classes/{world.school_class.id}", headers=headers).text
    assert world.school_class.join_code in page and "student@example.org" in page
    headers = world.browsers["student"].use(client)
    page = client.get(f"/classes/{world.school_class.id}", headers=headers).text
    assert world.school_class.join_code not in page and "Song A" in page
    page = client.get(f"/assignments/{world.assignment.id}", headers=headers).text
    assert 'name="candidate"' in page and "Decrease bass" in page
    history = client.get("/history", headers=headers).text
    assert "history-chart" in history and "/static/vendor/uplot/uPlot.iife.min.js" in history
    # Students cannot see a class they are not in, even with its id.
    browser = sign_in(db, make_user(db, "stranger@example.org"))
    assert (
        client.get(f"/classes/{world.school_class.id}", headers=browser.use(client)).status_code
        == 404
    )


def test_submission_through_the_real_rating_service(
    app_settings: Settings, db: Session, world: World, shipped_registry: ModelRegistry
) -> None:
    """Set an assignment with a real master, submit an EQ'd master, rated by a shipped model."""
    master, eqd = known_eq_wavs(seconds=7.0)
    with TestClient(
        make_app(app_settings, real_rating_registry(shipped_registry)), follow_redirects=False
    ) as client:
        assignment_id = set_assignment(
            client,
            world,
            master,
            filename="pro.wav",
            title="Real song",
            due_at="2030-01-01T12:00+01:00",
        )
        headers = world.browsers["student"].use(client)
        response = client.post(
            f"/assignments/{assignment_id}/submit",
            headers=headers,
            files={"candidate": ("mine.wav", eqd, "audio/wav")},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["rating"] == 2 and body["model"] == "F1W2" and isinstance(body["id"], int)
        assert_rated_as_known_eq(body["operations"])
        stored = client.get(f"/api/ratings/{body['id']}", headers=headers).json()
        assert stored["assignment_id"] == assignment_id and stored["rating"] == 2
        assert stored["operations"] == body["operations"]
        assert stored["reference"]["sha256"] == hashlib.sha256(master).hexdigest()
        assert stored["candidate"]["sha256"] == hashlib.sha256(eqd).hexdigest()
        # An unusable upload gets the audio layer's status and sentence, and nothing is stored.
        response = client.post(
            f"/assignments/{assignment_id}/submit",
            headers=headers,
            files={"candidate": ("short.wav", wav_bytes(seconds=1.0), "audio/wav")},
        )
        assert response.status_code == 422 and "candidate" in response.json()["detail"]
        ratings = client.get("/api/ratings", headers=headers).json()["ratings"]
        assert sum(r["assignment_id"] == assignment_id for r in ratings) == 1


def test_browsers_get_error_pages_and_clients_json(client: TestClient, world: World) -> None:
    headers = world.browsers["other_student"].use(client)
    page = client.get(
        f"/classes/{world.school_class.id}", headers={**headers, "Accept": "text/html"}
    )
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Not found" in page.text
    api = client.get(f"/api/ratings/{world.rating.id}", headers={**headers, "Accept": "text/html"})
    assert api.status_code == 404 and api.json() == {"detail": "No such rating."}
    client.cookies.clear()
    anonymous = client.get("/classes", headers={"Accept": "text/html"})
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/sign-in")


def test_progress_chart_shares_one_time_axis(db: Session, world: World) -> None:
    from app.web.classes import progress_chart

    start = datetime.now(UTC) - timedelta(days=2)
    make_rating(db, world.student, rating=3, assignment_id=world.assignment.id, when=start)
    progress = service.class_progress(db_session=db, school_class=world.school_class)
    progress.append(service.StudentProgress(user_id=0, email="idle@example.org", ratings=[]))
    chart = progress_chart(progress)
    assert chart["t"] == sorted(chart["t"]) and len(chart["t"]) == 2
    assert chart["series"] == [{"label": "student@example.org", "values": [3, 1]}]
