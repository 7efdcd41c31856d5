"""The authorisation table: every route of accounts, classes and history, by role.

`test_role_matrix_pages.py` and `test_role_matrix_api.py` run its two halves (two files, so
`pytest -n 2 --dist loadfile` spreads them over both workers).

Each case runs on a fresh database with the same cast: an anonymous visitor, a student in
the instructor's class, another student (in another class), the instructor, another
instructor and an admin. Browsers send the session cookie and the CSRF header (anonymous
visitors: the double-submit cookie and header), so what is tested is authorisation alone.
Role checks answer 403, object checks 404, pages redirect anonymous visitors to sign in (303),
the API answers them 401.

Every user also holds a token and a private rating of their own, each named after its owner,
so an answer of 200 is checked for what it shows: the caller's own records, or their
class's (an instructor sees their students), never anyone else's.
"""

from __future__ import annotations

import csv
import importlib
import io
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import ApiToken
from app.classes.router import SavedUpload, get_assignment_rater
from app.history.models import Rating
from app.http.deps import CSRF_COOKIE, CSRF_HEADER
from tests.accounts_support import PASSWORD, World, fake_result, make_rating, make_token

ROLES = ("anonymous", "student", "other_student", "instructor", "other_instructor", "admin")
MY_MODULES = (
    "app.accounts.router",
    "app.classes.router",
    "app.history.router",
    "app.web.accounts",
    "app.web.classes",
    "app.web.history",
)


def _wav_bytes() -> bytes:
    buffer = io.BytesIO()
    noise = np.random.default_rng(0).standard_normal(44_100 * 6).astype(np.float32) * 0.1
    sf.write(buffer, noise, 44_100, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


WAV = _wav_bytes()


@dataclass(frozen=True)
class Case:
    """A route, how to call it, and the status each role must get."""

    method: str
    path: str  # {class}, {other_class}, {assignment}, {rating}, {token}, {code} are filled in
    expected: tuple[int, int, int, int, int, int]  # in ROLES order
    data: dict[str, str] | None = None
    json: dict[str, Any] | None = None
    file: str | None = None  # multipart file field carrying a WAV

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


#                                                  anon stud  other instr other admin
#                                                             stud        instr
CASES = [
    Case("GET", "/sign-in", (200, 200, 200, 200, 200, 200)),
    Case("POST", "/sign-in", (401, 401, 401, 401, 401, 401),
         data={"email": "nobody@example.org", "password": "wrong password"}),
    Case("GET", "/sign-up", (200, 200, 200, 200, 200, 200)),
    Case("POST", "/sign-up", (400, 303, 303, 303, 303, 303),
         data={"email": "new@example.org", "password": PASSWORD, "join_code": "WRONG000"}),
    Case("POST", "/sign-out", (303, 303, 303, 303, 303, 303)),
    Case("GET", "/account", (303, 200, 200, 200, 200, 200)),
    Case("POST", "/account/password", (303, 400, 400, 400, 400, 400),
         data={"current_password": "not the password", "new_password": "another password"}),
    Case("POST", "/account/tokens", (303, 200, 200, 200, 200, 200), data={"name": "x"}),
    Case("POST", "/account/tokens/{token}/revoke", (303, 303, 404, 404, 404, 404)),
    Case("GET", "/admin/users", (303, 403, 403, 403, 403, 200)),
    Case("POST", "/admin/users", (303, 403, 403, 403, 403, 303),
         data={"email": "prof@example.org", "password": PASSWORD, "role": "instructor"}),
    Case("GET", "/classes", (303, 200, 200, 200, 200, 200)),
    Case("POST", "/classes", (303, 403, 403, 303, 303, 303), data={"name": "New class"}),
    Case("POST", "/classes/join", (303, 303, 303, 403, 403, 403), data={"join_code": "{code}"}),
    Case("GET", "/classes/{class}", (303, 200, 404, 200, 404, 200)),
    Case("POST", "/classes/{class}/settings", (303, 403, 403, 303, 404, 303),
         data={"keep_audio": "true"}),
    Case("POST", "/classes/{class}/assignments", (303, 403, 403, 303, 404, 303),
         data={"title": "Song B", "due_at": "2030-01-01T12:00"}, file="reference"),
    Case("GET", "/assignments/{assignment}", (303, 200, 404, 200, 404, 200)),
    Case("POST", "/assignments/{assignment}/submit", (401, 200, 404, 403, 403, 403),
         file="candidate"),
    Case("GET", "/history", (303, 200, 200, 200, 200, 200)),
    Case("GET", "/ratings/{rating}", (303, 200, 404, 200, 404, 404)),
    Case("GET", "/ratings/{rating}/audio/candidate.ogg", (303, 404, 404, 404, 404, 404)),
    Case("GET", "/api/me", (401, 200, 200, 200, 200, 200)),
    Case("GET", "/api/tokens", (401, 200, 200, 200, 200, 200)),
    Case("POST", "/api/tokens", (401, 201, 201, 201, 201, 201), json={"name": "x"}),
    Case("DELETE", "/api/tokens/{token}", (401, 204, 404, 404, 404, 404)),
    Case("GET", "/api/ratings", (401, 200, 200, 200, 200, 200)),
    Case("GET", "/api/ratings/{rating}", (401, 200, 404, 404, 404, 404)),
    Case("GET", "/api/classes", (401, 200, 200, 200, 200, 200)),
    Case("GET", "/api/classes/{class}/progress", (401, 403, 403, 200, 404, 200)),
    Case("GET", "/api/classes/{class}/progress.csv", (401, 403, 403, 200, 404, 200)),
]  # fmt: skip


async def fake_rater(reference: SavedUpload, candidate: SavedUpload, model_id: str | None) -> Any:
    """Rates without models: one operation."""
    return fake_result(1)


def _fill(text: str, world: World, token_id: int) -> str:
    return (
        text.replace("{class}", str(world.school_class.id))
        .replace("{other_class}", str(world.other_class.id))
        .replace("{assignment}", str(world.assignment.id))
        .replace("{rating}", str(world.rating.id))
        .replace("{token}", str(token_id))
        .replace("{code}", world.other_class.join_code)
    )


def check_route_for_role(
    case: Case, role: str, client: TestClient, db: Session, world: World, app: Any
) -> None:
    """Call the route as the role and check the status the table expects."""
    app.dependency_overrides[get_assignment_rater] = lambda: fake_rater
    owned = seed_own_records(db, world)
    token_id = 1  # the student's
    if role == "anonymous":
        client.cookies.clear()  # a signed-out visitor's signed cookie and its form token
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/sign-in").text)
        assert token is not None and CSRF_COOKIE in client.cookies
        headers = {CSRF_HEADER: token.group(1)}
    else:
        headers = world.browsers[role].use(client)
    path = _fill(case.path, world, token_id)
    data = {k: _fill(v, world, token_id) for k, v in (case.data or {}).items()}
    files = {case.file: ("master.wav", WAV, "audio/wav")} if case.file else None
    response = client.request(
        case.method, path, headers=headers, data=data or None, json=case.json, files=files
    )
    expected = case.expected[ROLES.index(role)]
    assert response.status_code == expected, f"{role}: {response.text[:300]}"
    if expected == 303 and role == "anonymous" and case.method == "GET":
        assert response.headers["location"].startswith("/sign-in?next=")
    if expected == 200:
        check_only_own_records(case, role, response, world, owned)


USERS = ROLES[1:]
#: Whose records each role may see: their own, and an instructor their class's students.
VISIBLE = {
    "anonymous": set(),
    "student": {"student"},
    "other_student": {"other_student"},
    "instructor": {"instructor", "student"},
    "other_instructor": {"other_instructor", "other_student"},
    "admin": set(USERS),  # the admin's user list shows everyone
}
CLASS_NAMES = {"Mastering 101": {"student", "instructor"}, "Other class": {"other_student"}}
CLASS_NAMES["Other class"].add("other_instructor")


@dataclass(frozen=True)
class Owned:
    """The records each user owns: token ids and rating ids."""

    tokens: dict[str, set[int]]
    ratings: dict[str, set[int]]


def seed_own_records(db: Session, world: World) -> Owned:
    """A token and a private rating for every user, named after the owner."""
    make_token(db, world.student, name="token-of-student")  # id 1, the table's {token}
    for role in USERS[1:]:
        make_token(db, getattr(world, role), name=f"token-of-{role}")
    for role in USERS:
        make_rating(db, getattr(world, role), rating=2, filename=f"take-of-{role}.wav")
    tokens = {role: set() for role in USERS}
    ratings = {role: set() for role in USERS}
    by_id = {getattr(world, role).id: role for role in USERS}
    for token in db.scalars(select(ApiToken)):
        tokens[by_id[token.user_id]].add(token.id)
    for rating in db.scalars(select(Rating)):
        ratings[by_id[rating.user_id]].add(rating.id)
    return Owned(tokens=tokens, ratings=ratings)


def check_only_own_records(
    case: Case, role: str, response: Any, world: World, owned: Owned
) -> None:
    """A 200 shows only the caller's records (or their class's), none of anyone else's."""
    visible = VISIBLE[role]
    text = response.text
    shown = set(re.findall(r"[\w.+-]+@example\.org", text))
    assert shown <= {getattr(world, other).email for other in visible}, f"{role} sees {shown}"
    for other in USERS:
        if other != role:
            assert f"token-of-{other}" not in text, f"{role} sees {other}'s token"
            assert f"take-of-{other}.wav" not in text, f"{role} sees {other}'s rating"
    for name, members in CLASS_NAMES.items():
        if role != "admin" and role not in members:
            assert name not in text, f"{role} sees the class {name!r}"
    path = case.path
    if path == "/api/me":
        assert response.json()["email"] == getattr(world, role).email
    elif path == "/api/tokens" and case.method == "GET":
        assert {t["id"] for t in response.json()} == owned.tokens[role]
    elif path == "/api/ratings":
        assert {r["id"] for r in response.json()["ratings"]} == owned.ratings[role]
    elif path == "/api/ratings/{rating}":
        assert response.json()["id"] in owned.ratings[role]
    elif path == "/api/classes":
        names = {c["name"] for c in response.json()}
        assert names == {
            n for n, members in CLASS_NAMES.items() if role == "admin" or role in members
        }
    elif path == "/api/classes/{class}/progress":
        body = response.json()
        assert body["class_id"] == world.school_class.id
        assert {s["email"] for s in body["students"]} == {world.student.email}
        rating_ids = {r["rating_id"] for s in body["students"] for r in s["ratings"]}
        assert rating_ids == {world.rating.id}  # the assignment's, not the private take
    elif path == "/api/classes/{class}/progress.csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert {row["student_email"] for row in rows} == {world.student.email}
        assert {int(row["rating_id"]) for row in rows} == {world.rating.id}


def check_every_route_is_in_the_table() -> None:
    """A new route without a row here fails, so none escapes the authorisation table."""
    registered = {
        (method, route.path)
        for module in MY_MODULES
        for route in importlib.import_module(module).router.routes
        if isinstance(route, APIRoute)
        for method in route.methods - {"HEAD"}
    }
    placeholders = {
        "{class}": "{class_id}",
        "{assignment}": "{assignment_id}",
        "{rating}": "{rating_id}",
        "{token}": "{token_id}",
        "/audio/candidate.ogg": "/audio/{which}.ogg",
    }
    tabled = set()
    for case in CASES:
        path = case.path
        for short, name in placeholders.items():
            path = path.replace(short, name)
        tabled.add((case.method, path))
    assert registered == tabled
