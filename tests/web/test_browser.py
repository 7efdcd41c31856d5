"""A real browser (Debian's headless Chromium) signs in and sees the history page and chart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.accounts_support import PASSWORD, make_rating, make_user
from tests.components import headless_chromium
from tests.conftest import served

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    """The app served by uvicorn on a free local port, in a thread."""
    with served(app) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Chromium (found on PATH) driven by chromedriver, never downloaded."""
    with headless_chromium(window_size="1200,1000") as driver:
        yield driver


def test_sign_in_and_see_history(
    live_server: str, browser: Any, db: Session, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    student = make_user(db, "student@example.org")
    start = datetime.now(UTC) - timedelta(days=6)
    for day, rating in enumerate([5, 4, 4, 2, 3, 1, 0]):
        make_rating(db, student, rating=rating, when=start + timedelta(days=day))

    browser.get(f"{live_server}/history")  # not signed in: sent to the sign-in page
    wait = WebDriverWait(browser, 20)
    wait.until(ec.presence_of_element_located((By.NAME, "email")))
    assert "/sign-in" in browser.current_url
    browser.find_element(By.NAME, "email").send_keys("student@example.org")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form.stacked button[type=submit]").click()

    wait.until(ec.url_contains("/history"))
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#history-chart .uplot canvas")))
    rows = browser.find_elements(By.CSS_SELECTOR, "table.history tbody tr")
    assert len(rows) == 7
    assert "Your history" in browser.find_element(By.TAG_NAME, "h1").text
    nav = browser.find_element(By.CSS_SELECTOR, ".site-nav").text
    assert "Sign out" in nav and "History" in nav
    cookies = {c["name"]: c for c in browser.get_cookies()}
    assert cookies["mt_session"]["httpOnly"] and cookies["mt_session"]["sameSite"] == "Lax"
    shot = tmp_path / "history.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000  # under the test's tmp_path, never the checkout

    # Signing out through the navigation form (CSRF token included) ends the session.
    browser.find_element(By.CSS_SELECTOR, ".nav-form button").click()
    wait.until(ec.url_contains("/sign-in"))
    browser.get(f"{live_server}/history")
    wait.until(ec.url_contains("/sign-in"))
