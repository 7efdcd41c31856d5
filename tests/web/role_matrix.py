"""The authorisation table: every route of accounts, classes and history, by role.

`test_role_matrix_pages.py` and `test_role_matrix_api.py` run its two halves (two files, so
`pytest -n 2 --dist loadfile` spreads them over both workers).

Each case runs on a fresh database with the same cast: an anonymous visitor, a student in
the instructor's class, another student (in another class), the instructor, another
instructor and an admin. Browsers send the session cookie and the CSRF header (anonymous
visitors: the double-submit cookie and header), so what is tested is authorisation alone.
Role checks answer 403, object checks 404, pages redirect anonymous visitors to sign in (303),
the API answers them 401.
"""

from __future__ import annotations

import importlib
import io
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.classes.router import SavedUpload, get_assignment_rater
from app.web.deps import CSRF_COOKIE, CSRF_HEADER
from tests.accounts_support import PASSWORD, World, fake_result, make_token

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
    make_token(db, world.student)
    token_id = 1
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
    }
    tabled = set()
    for case in CASES:
        path = case.path
        for short, name in placeholders.items():
            path = path.replace(short, name)
        tabled.add((case.method, path))
    assert registered == tabled
