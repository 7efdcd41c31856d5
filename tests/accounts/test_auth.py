"""Passwords, sign-up, sign-in/out, sessions, cookies, CSRF, throttling and API tokens."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.accounts import service
from app.accounts.models import ApiToken, Role, User
from app.http.deps import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from tests.accounts_support import (
    FAST_ACCOUNTS,
    PASSWORD,
    World,
    make_class,
    make_user,
    sign_in,
)


def form_token(html: str) -> str:
    """The CSRF token a page's form carries."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form has no CSRF token"
    return match.group(1)


def browser_sign_in(
    client: TestClient, email: str, password: str = PASSWORD
) -> tuple[int, TestClient]:
    """Sign in through the form, the way a browser does."""
    client.cookies.clear()
    token = form_token(client.get("/sign-in").text)
    response = client.post(
        "/sign-in", data={"email": email, "password": password, "csrf_token": token}
    )
    return response.status_code, client


def test_passwords_are_argon2id_and_verify(db: Session) -> None:
    user = make_user(db, "Someone@Example.org ")
    assert user.email == "someone@example.org"
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert service.authenticate(
        db_session=db, email="SOMEONE@example.org", password=PASSWORD, settings=FAST_ACCOUNTS
    )
    with pytest.raises(service.AccountError, match="already exists"):
        make_user(db, "someone@example.org")
    with pytest.raises(service.AccountError, match="at least 10 characters"):
        make_user(db, "short@example.org", password="short")


def test_sign_in_sets_a_safe_cookie_and_sign_out_revokes_it(
    client: TestClient, db: Session
) -> None:
    make_user(db, "s@example.org")
    status, client = browser_sign_in(client, "s@example.org")
    assert status == 303
    cookie = client.cookies.get(SESSION_COOKIE)
    assert cookie
    # The cookie is HttpOnly and SameSite=Lax; not Secure over plain http.
    client.cookies.clear()
    token = form_token(client.get("/sign-in").text)
    response = client.post(
        "/sign-in", data={"email": "s@example.org", "password": PASSWORD, "csrf_token": token}
    )
    set_cookie = response.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie and "secure" not in set_cookie
    assert client.get("/history").status_code == 200
    page = client.get("/history").text
    csrf = form_token(page)  # the sign-out form in the navigation
    assert client.post("/sign-out", data={"csrf_token": csrf}).status_code == 303
    # The old cookie, replayed, is dead on the server.
    client.cookies.set(SESSION_COOKIE, response.cookies[SESSION_COOKIE])
    assert client.get("/history").status_code == 303
    assert client.get("/api/ratings").status_code == 401


def test_cookie_is_secure_under_https(app: object, db: Session) -> None:
    make_user(db, "s@example.org")
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        token = form_token(client.get("/sign-in").text)
        response = client.post(
            "/sign-in", data={"email": "s@example.org", "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 303
        assert all("secure" in c.lower() for c in response.headers.get_list("set-cookie"))


def test_expired_sessions_are_refused(client: TestClient, db: Session) -> None:
    browser = sign_in(db, make_user(db, "s@example.org"))
    db.execute(text("UPDATE user_sessions SET expires_at = :t"), {"t": datetime(2000, 1, 1)})
    db.commit()
    headers = browser.use(client)
    assert client.get("/api/ratings", headers=headers).status_code == 401


def test_cross_site_form_posts_are_refused(client: TestClient, db: Session, world: World) -> None:
    browser = world.browsers["student"]
    browser.use(client)
    data = {"current_password": PASSWORD, "new_password": "another long password"}
    # No token at all (what a form on another site can send): refused.
    assert client.post("/account/password", data=data).status_code == 403
    # A wrong token: refused.
    wrong = {**data, "csrf_token": "x" * 43}
    assert client.post("/account/password", data=wrong).status_code == 403
    # The right token but posted from another origin: refused.
    response = client.post(
        "/account/password",
        data={**data, "csrf_token": browser.csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    # JSON API with the session cookie needs the header too.
    assert client.post("/api/tokens", json={"name": "x"}).status_code == 403
    ok = client.post("/api/tokens", json={"name": "x"}, headers={CSRF_HEADER: browser.csrf})
    assert ok.status_code == 201
    # Signed-out forms use a double-submit cookie: without it, sign-in is refused too.
    client.cookies.clear()
    response = client.post("/sign-in", data={"email": "student@example.org", "password": PASSWORD})
    assert response.status_code == 403
    client.cookies.set(CSRF_COOKIE, "y" * 43)
    response = client.post(
        "/sign-in",
        data={"email": "student@example.org", "password": PASSWORD, "csrf_token": "z" * 43},
    )
    assert response.status_code == 403
    # The right token, with the header htmx sends: accepted.
    browser.use(client)
    response = client.post("/account/password", data={**data, "csrf_token": browser.csrf})
    assert response.status_code == 303


def test_sign_up_needs_a_join_code(client: TestClient, db: Session) -> None:
    teacher = make_user(db, "t@example.org", Role.INSTRUCTOR)
    school_class = make_class(db, teacher)
    token = form_token(client.get("/sign-up").text)
    data = {"email": "new@example.org", "password": PASSWORD, "csrf_token": token}
    assert client.post("/sign-up", data={**data, "join_code": "NOPE1234"}).status_code == 400
    code = school_class.join_code.lower()[:4] + "-" + school_class.join_code.lower()[4:]
    response = client.post("/sign-up", data={**data, "join_code": code})
    assert response.status_code == 303 and response.headers["location"] == "/history"
    me = client.get("/api/me", headers={CSRF_HEADER: ""}).json()
    assert me["role"] == "student" and me["email"] == "new@example.org"
    assert [c["id"] for c in client.get("/api/classes").json()] == [school_class.id]


def test_password_change_revokes_other_sessions(client: TestClient, db: Session) -> None:
    user = make_user(db, "s@example.org")
    other_device = sign_in(db, user)
    this_device = sign_in(db, user)
    headers = this_device.use(client)
    data = {"current_password": "wrong one here", "new_password": "a brand new password"}
    assert client.post("/account/password", data=data, headers=headers).status_code == 400
    data["current_password"] = PASSWORD
    assert client.post("/account/password", data=data, headers=headers).status_code == 303
    assert client.get("/api/me").status_code == 200
    other_device.use(client)
    assert client.get("/api/me").status_code == 401
    assert browser_sign_in(client, "s@example.org", "a brand new password")[0] == 303


def test_api_tokens_are_hashed_owned_and_revocable(client: TestClient, db: Session) -> None:
    owner = sign_in(db, make_user(db, "owner@example.org"))
    thief = sign_in(db, make_user(db, "thief@example.org"))
    created = client.post("/api/tokens", json={"name": "script"}, headers=owner.use(client))
    assert created.status_code == 201
    raw, token_id = created.json()["token"], created.json()["id"]
    row = db.get(ApiToken, token_id)
    assert row is not None and raw not in (row.token_hash, row.prefix) and len(row.token_hash) == 64
    bearer = {"Authorization": f"Bearer {raw}"}
    client.cookies.clear()
    assert client.get("/api/me", headers=bearer).json()["email"] == "owner@example.org"
    assert "token" not in client.get("/api/tokens", headers=bearer).json()[0]
    # Someone else cannot revoke it (404), its owner can; then it is refused.
    assert client.delete(f"/api/tokens/{token_id}", headers=thief.use(client)).status_code == 404
    client.cookies.clear()
    assert client.delete(f"/api/tokens/{token_id}", headers=bearer).status_code == 204
    assert client.get("/api/me", headers=bearer).status_code == 401
    assert client.get("/api/me", headers={"Authorization": "Bearer mt_nonsense"}).status_code == 401
    assert client.get("/api/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_token_page_shows_the_token_once(client: TestClient, db: Session) -> None:
    browser = sign_in(db, make_user(db, "s@example.org"))
    headers = browser.use(client)
    page = client.post("/account/tokens", data={"name": "laptop"}, headers=headers)
    assert page.status_code == 200
    raw = re.search(r'id="new-token">([^<]+)<', page.text)
    assert raw is not None
    assert raw.group(1) not in client.get("/account").text
    client.cookies.clear()
    me = client.get("/api/me", headers={"Authorization": f"Bearer {raw.group(1)}"})
    assert me.status_code == 200


def test_admin_creates_instructors(client: TestClient, db: Session) -> None:
    admin = sign_in(db, make_user(db, "root@example.org", Role.ADMIN))
    headers = admin.use(client)
    data = {"email": "prof@example.org", "password": PASSWORD, "role": "instructor"}
    assert client.post("/admin/users", data=data, headers=headers).status_code == 303
    assert client.post("/admin/users", data=data, headers=headers).status_code == 400
    prof = db.scalar(select(User).where(User.email == "prof@example.org"))
    assert prof is not None and prof.role == "instructor"


def test_signing_in_again_replaces_the_session(client: TestClient, db: Session) -> None:
    make_user(db, "s@example.org")
    assert browser_sign_in(client, "s@example.org")[0] == 303
    first = client.cookies.get(SESSION_COOKIE)
    csrf = form_token(client.get("/sign-in").text)  # signed in: the session's token
    response = client.post(
        "/sign-in", data={"email": "s@example.org", "password": PASSWORD, "csrf_token": csrf}
    )
    assert response.status_code == 303
    assert response.cookies[SESSION_COOKIE] != first
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, first or "")
    assert client.get("/api/me").status_code == 401


def test_api_without_credentials_is_401_not_403(client: TestClient) -> None:
    client.cookies.clear()
    assert client.post("/api/tokens", json={"name": "x"}).status_code == 401
    assert client.delete("/api/tokens/1").status_code == 401
