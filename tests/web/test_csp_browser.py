"""Headless Chromium reports no Content-Security-Policy violation on any page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy.orm import Session

from app.accounts.models import Role
from tests.accounts_support import PASSWORD, make_class, make_rating, make_user
from tests.web.test_browser import browser, live_server  # noqa: F401

pytestmark = pytest.mark.browser


def violations(driver: Any) -> list[str]:
    """Console messages of the page that name the Content Security Policy."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]
    ]


def test_no_page_breaks_the_content_security_policy(
    live_server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    db: Session,
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 30)
    seen: dict[str, list[str]] = {}

    # Swagger UI, served from /static and started by a script file.
    browser.get(f"{live_server}/docs")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".swagger-ui .info")))
    seen["/docs"] = violations(browser)

    # The rating page, an htmx upload and the uPlot spectrum chart of the result.
    noise = np.random.default_rng(1).standard_normal(44_100 * 6).astype(np.float32) * 0.1
    for name in ("reference", "candidate"):
        sf.write(tmp_path / f"{name}.wav", noise, 44_100, subtype="PCM_16")
    browser.get(f"{live_server}/")
    for name in ("reference", "candidate"):
        browser.find_element(By.NAME, name).send_keys(str(tmp_path / f"{name}.wav"))
    browser.find_element(By.CSS_SELECTOR, "#rate-form button[type=submit]").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#rating-number")))
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#result .uplot canvas")))
    seen["/"] = violations(browser)

    # Signed in as an instructor: history and a class with its progress chart.
    teacher = make_user(db, "teacher@example.org", Role.INSTRUCTOR)
    school_class = make_class(db, teacher)
    make_rating(db, teacher, rating=2)
    browser.get(f"{live_server}/sign-in")
    browser.find_element(By.NAME, "email").send_keys("teacher@example.org")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form.stacked button[type=submit]").click()
    wait.until(ec.url_contains("/history"))
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#history-chart .uplot canvas")))
    seen["/history"] = violations(browser)
    for path in (f"/classes/{school_class.id}", "/classes", "/account"):
        browser.get(f"{live_server}{path}")
        wait.until(ec.presence_of_element_located((By.TAG_NAME, "h1")))
        seen[path] = violations(browser)

    assert seen == {path: [] for path in seen}
