"""Security headers on pages, API answers, static files and refusals; HEAD on GET routes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.web.security import CONTENT_SECURITY_POLICY
from tests.accounts_support import World


def assert_hardened(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    policy = headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no CDN
    assert directives["frame-ancestors"] == "'none'"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize(
    "path", ["/", "/sign-in", "/sign-up", "/docs", "/openapi.json", "/models", "/healthz"]
)
def test_every_answer_carries_the_security_headers(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert_hardened(response)


def test_signed_in_pages_api_static_and_errors_carry_them(client: TestClient, world: World) -> None:
    headers = world.browsers["instructor"].use(client)
    for path in ("/history", "/classes", f"/classes/{world.school_class.id}", "/api/me"):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, path
        assert_hardened(response)
    assert_hardened(client.get("/static/js/rate.js"))
    assert_hardened(client.get("/api/ratings/999999", headers=headers))  # 404 JSON
    assert_hardened(client.post("/rate", content=b"x", headers={"Content-Length": "999999999"}))


def test_the_docs_page_has_no_inline_script(client: TestClient) -> None:
    page = client.get("/docs").text
    assert "<script>" not in page and "/static/js/swagger-init.js" in page
    assert client.get("/static/js/swagger-init.js").status_code == 200
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY.split("script-src")[1].split(";")[0]


@pytest.mark.parametrize(
    "path", ["/", "/sign-in", "/models", "/healthz", "/docs", "/static/js/rate.js"]
)
def test_head_is_answered_on_get_routes(client: TestClient, path: str) -> None:
    got = client.get(path)
    head = client.head(path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert_hardened(head)
