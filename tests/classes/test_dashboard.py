"""The instructor's dashboard: per assignment, each student's latest, best, distance and trend."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.accounts_support import World, make_rating


def _attempts(db: Session, world: World, distances: list[float]) -> list[int]:
    """The student's ratings on the assignment, each one count (1) with a falling distance."""
    start = datetime.now(UTC) - timedelta(hours=1)
    ids = []
    for minute, distance in enumerate(distances):
        rating = make_rating(
            db,
            world.student,
            rating=1,
            assignment_id=world.assignment.id,
            when=start + timedelta(minutes=minute + 1),
        )
        rating.distance_db = distance
        ids.append(rating.id)
    world.rating.created_at = start
    db.commit()
    return ids


def test_dashboard_shows_latest_best_distance_and_trend(
    client: TestClient, db: Session, world: World
) -> None:
    ids = _attempts(db, world, [3.1, 2.2, 2.6, 1.4])
    headers = world.browsers["instructor"].use(client)
    page = client.get(f"/classes/{world.school_class.id}", headers=headers).text
    table = page[page.index(f'data-assignment="{world.assignment.id}"') :]
    row = next(r for r in table.split("<tr>") if world.student.email in r)
    row = row[: row.index("</tr>")]
    cells = [re.sub(r"<[^>]*>?|\s+", " ", c).strip() for c in row.split("<td")[2:]]
    assert cells[0].endswith("5")  # five ratings: the world's one and four more
    assert f'href="/ratings/{ids[-1]}"' in row  # latest, linked to its page
    assert cells[3].endswith("1.40 dB") and cells[4].endswith("1.40 dB")
    assert "closer by 1.70 dB" in cells[5]  # 3.1 dB to 1.4 dB, while the count stayed 1
    # The student's history opens on click: every rating, newest first, each linked.
    history = row[row.index("<details") : row.index("</details>")]
    assert [int(i) for i in re.findall(r'href="/ratings/(\d+)"', history)] == [
        *reversed(ids),
        world.rating.id,
    ]
    assert 'id="progress-distance-chart"' in page


def test_progress_csv_and_json_carry_the_distance(
    client: TestClient, db: Session, world: World
) -> None:
    _attempts(db, world, [2.5])
    headers = world.browsers["instructor"].use(client)
    exported = client.get(f"/api/classes/{world.school_class.id}/progress.csv", headers=headers)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["distance_db"] for r in rows] == ["", "2.5"]
    body = client.get(f"/api/classes/{world.school_class.id}/progress", headers=headers).json()
    points = body["students"][0]["ratings"]
    assert [p["distance_db"] for p in points] == [None, 2.5]
