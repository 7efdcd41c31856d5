"""Sign-in throttling, hashing cap, token revocation, CSRF cookie, proxy headers, passwords."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.accounts import service
from app.accounts.throttle import LoginThrottle, LoginThrottled, hashing_slots
from app.config import Settings
from app.http.deps import CSRF_COOKIE, CSRF_HEADER
from tests.accounts.test_auth import form_token
from tests.accounts_support import (
    FAST_ACCOUNTS,
    PASSWORD,
    World,
    make_app,
    make_assignment,
    make_user,
    sign_in,
)


def client_at(app: Any, address: str) -> TestClient:
    """A browser at this client address (no cookies yet)."""
    return TestClient(app, client=(address, 40000), follow_redirects=False)


def try_sign_in(client: TestClient, email: str, password: str) -> Any:
    token = form_token(client.get("/sign-in").text)
    return client.post("/sign-in", data={"email": email, "password": password, "csrf_token": token})


def error_text(response: Any) -> str:
    match = re.search(r'class="error"[^>]*>([^<]*)<', response.text)
    return match.group(1).strip() if match else response.text


def test_unknown_and_known_emails_get_the_same_answers(app: Any, db: Session) -> None:
    make_user(db, "victim@example.org")
    answers: dict[str, list[tuple[int, str, str | None]]] = {}
    for email in ("victim@example.org", "nobody@example.org"):
        browser = client_at(app, f"10.0.0.{len(answers) + 1}")
        answers[email] = [
            (r.status_code, error_text(r), r.headers.get("Retry-After"))
            for r in (
                try_sign_in(browser, email, "wrong password!")
                for _ in range(FAST_ACCOUNTS.LOGIN_MAX_FAILURES + 2)
            )
        ]
    known, unknown = answers.values()
    assert known == unknown  # status, sentence and Retry-After alike
    statuses = [status for status, _, _ in known]
    assert statuses == [401] * FAST_ACCOUNTS.LOGIN_MAX_FAILURES + [429, 429]
    assert "try again in" in known[-1][1] and "account" not in known[-1][1]


def test_the_right_password_passes_a_lock_an_attacker_caused(app: Any, db: Session) -> None:
    make_user(db, "victim@example.org")
    attacker = client_at(app, "203.0.113.9")
    for _ in range(FAST_ACCOUNTS.LOGIN_MAX_FAILURES):
        assert try_sign_in(attacker, "victim@example.org", "guess guess guess").status_code == 401
    # The attacker's address is locked for this email, even with the right password ...
    locked = try_sign_in(attacker, "victim@example.org", PASSWORD)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    # ... and one wrong try after the lock keeps only the attacker out, never the owner.
    owner = client_at(app, "198.51.100.7")
    assert try_sign_in(owner, "victim@example.org", PASSWORD).status_code == 303


def test_one_address_trying_many_emails_is_throttled(app: Any, db: Session) -> None:
    make_user(db, "someone@example.org")
    sprayer = client_at(app, "192.0.2.50")
    limit = FAST_ACCOUNTS.LOGIN_MAX_FAILURES_PER_ADDRESS
    statuses = [
        try_sign_in(sprayer, f"user{i}@example.org", "Summer2026!!").status_code
        for i in range(limit + 1)
    ]
    assert statuses == [401] * limit + [429]
    assert try_sign_in(sprayer, "someone@example.org", PASSWORD).status_code == 429
    assert (
        try_sign_in(client_at(app, "192.0.2.51"), "someone@example.org", PASSWORD).status_code
        == 303
    )


def test_locks_grow_and_failures_are_forgotten() -> None:
    now = [1000.0]
    throttle = LoginThrottle(FAST_ACCOUNTS, clock=lambda: now[0])
    key = {"address": "1.2.3.4", "email": "a@example.org"}
    for _ in range(FAST_ACCOUNTS.LOGIN_MAX_FAILURES):
        throttle.check(**key)
        throttle.failed(**key)
    with pytest.raises(LoginThrottled) as first:
        throttle.check(**key)
    assert first.value.retry_after_s == FAST_ACCOUNTS.LOGIN_LOCKOUT_S
    now[0] += FAST_ACCOUNTS.LOGIN_LOCKOUT_S  # the lock ends; one more failure doubles it
    throttle.check(**key)
    throttle.failed(**key)
    with pytest.raises(LoginThrottled) as second:
        throttle.check(**key)
    assert second.value.retry_after_s == 2 * FAST_ACCOUNTS.LOGIN_LOCKOUT_S
    now[0] += 2 * FAST_ACCOUNTS.LOGIN_LOCKOUT_S + FAST_ACCOUNTS.LOGIN_FAILURE_WINDOW_S + 1
    throttle.check(**key)  # forgotten after the window
    throttle.failed(**key)
    throttle.check(**key)


def test_password_hashing_is_capped(client: TestClient, db: Session) -> None:
    make_user(db, "s@example.org")
    slots = hashing_slots(FAST_ACCOUNTS)
    taken = 0
    while slots.acquire(blocking=False):
        taken += 1
    try:
        assert taken == FAST_ACCOUNTS.MAX_CONCURRENT_PASSWORD_HASHES
        busy = try_sign_in(client, "s@example.org", PASSWORD)
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
        assert "too many passwords at once" in busy.text
    finally:
        for _ in range(taken):
            slots.release()
    assert try_sign_in(client, "s@example.org", PASSWORD).status_code == 303


def test_a_password_change_revokes_the_api_tokens(client: TestClient, db: Session) -> None:
    user = make_user(db, "s@example.org")
    _, raw = service.create_api_token(db_session=db, user=user, name="laptop")
    db.commit()
    bearer = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/me", headers=bearer).status_code == 200
    headers = sign_in(db, user).use(client)
    data = {"current_password": PASSWORD, "new_password": "a brand new password"}
    assert client.post("/account/password", data=data, headers=headers).status_code == 303
    client.cookies.clear()
    refused = client.get("/api/me", headers=bearer)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]


def test_the_signed_out_csrf_cookie_is_signed_and_bound(client: TestClient, db: Session) -> None:
    make_user(db, "s@example.org")
    page = client.get("/sign-in")
    cookie, token = page.cookies[CSRF_COOKIE], form_token(page.text)
    assert token not in cookie  # the form token cannot be read off the cookie
    data = {"email": "s@example.org", "password": PASSWORD}
    # A cookie planted without the key, with the same value as the form token: refused.
    client.cookies.clear()
    client.cookies.set(CSRF_COOKIE, "x" * 43)
    assert client.post("/sign-in", data={**data, "csrf_token": "x" * 43}).status_code == 403
    # A tampered signature: refused.
    client.cookies.set(CSRF_COOKIE, cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB"))
    assert client.post("/sign-in", data={**data, "csrf_token": token}).status_code == 403
    # Another visitor's token does not fit this cookie.
    other = TestClient(client.app, follow_redirects=False).get("/sign-in")
    client.cookies.set(CSRF_COOKIE, cookie)
    assert (
        client.post("/sign-in", data={**data, "csrf_token": form_token(other.text)}).status_code
        == 403
    )
    assert client.post("/sign-in", data={**data, "csrf_token": token}).status_code == 303


def test_x_forwarded_host_counts_only_behind_a_trusted_proxy(
    client: TestClient, world: World, app_settings: Settings
) -> None:
    browser = world.browsers["student"]
    headers = {**browser.use(client), "Origin": "https://trainer.example"}
    headers["X-Forwarded-Host"] = "trainer.example"
    assert client.post("/api/tokens", json={}, headers=headers).status_code == 403
    trusted = make_app(app_settings.model_copy(update={"TRUST_PROXY_HEADERS": True}))
    with TestClient(trusted, follow_redirects=False) as behind_proxy:
        browser.use(behind_proxy)
        assert behind_proxy.post("/api/tokens", json={}, headers=headers).status_code == 201


@pytest.mark.parametrize(
    "password",
    [" " * 10, "\t" * 12, "password12", "Password12", "1234567890", "qwertyuiop", "aaaaaaaaaaaa"],
)
def test_weak_passwords_are_refused(db: Session, password: str) -> None:
    with pytest.raises(service.AccountError):
        make_user(db, "weak@example.org", password=password)


def test_sign_up_with_a_common_password_is_a_page_naming_it(
    client: TestClient, world: World
) -> None:
    token = form_token(client.get("/sign-up").text)
    data = {
        "email": "new@example.org",
        "password": "password12",
        "join_code": world.school_class.join_code,
        "csrf_token": token,
    }
    response = client.post("/sign-up", data=data)
    assert response.status_code == 400 and "most common" in response.text
    assert response.headers["content-type"].startswith("text/html")


def test_a_form_missing_a_field_is_a_page_not_json(client: TestClient, world: World) -> None:
    headers = {**world.browsers["instructor"].use(client), "Accept": "text/html"}
    response = client.post("/classes", data={}, headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "name" in response.text and "Check the form" in response.text
    # A REST client still gets JSON.
    api = client.post("/classes", data={}, headers={CSRF_HEADER: headers[CSRF_HEADER]})
    assert api.status_code == 422 and isinstance(api.json()["detail"], list)


def test_a_refused_assignment_upload_is_a_page_for_browsers(
    client: TestClient, world: World, db: Session, app_settings: Settings
) -> None:
    reference = app_settings.DATA_DIR.parent / "real-reference.wav"
    reference.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(2).standard_normal(44_100 * 6).astype(np.float32) * 0.1
    sf.write(reference, noise, 44_100, subtype="PCM_16")
    assignment = make_assignment(db, world.school_class, app_settings.DATA_DIR, reference)
    headers = world.browsers["student"].use(client)
    files = {"candidate": ("mine.txt", b"not audio " * 50, "text/plain")}
    url = f"/assignments/{assignment.id}/submit"
    page = client.post(url, files=files, headers={**headers, "Accept": "text/html"})
    assert page.status_code == 415 and page.headers["content-type"].startswith("text/html")
    assert "candidate:" in page.text
    api = client.post(url, files=files, headers=headers)
    assert api.status_code == 415 and api.json()["detail"].startswith("candidate:")
