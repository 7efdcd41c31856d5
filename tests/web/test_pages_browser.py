"""Every page in headless Chromium: axe-core finds no serious or critical violation, the
history chart reads dates, and a stored rating's page opens for its owner and instructor only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy.orm import Session

from app.http.deps import SESSION_COOKIE
from tests.accounts_support import World, make_rating
from tests.web.test_browser import browser, live_server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

#: axe-core from npm, vendored for the tests only (never served by the app).
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']})
  .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                          nodes: v.nodes.map(n => n.target.join(' '))}))))
  .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));
"""


def _sign_in_browser(driver: Any, origin: str, token: str) -> None:
    driver.get(origin + "/sign-in")
    driver.add_cookie({"name": SESSION_COOKIE, "value": token, "path": "/"})


def serious_violations(driver: Any) -> list[dict[str, Any]]:
    driver.set_script_timeout(30)
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    violations: list[dict[str, Any]] = driver.execute_async_script(RUN_AXE)
    return [v for v in violations if v["impact"] in {"serious", "critical"}]


def offsite_requests(driver: Any, origin: str) -> list[str]:
    names: list[str] = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name);"
    )
    host = urlsplit(origin).netloc
    return [
        n for n in names if urlsplit(n).scheme.startswith("http") and urlsplit(n).netloc != host
    ]


ANONYMOUS_PAGES = ["/", "/sign-in", "/sign-up"]
STUDENT_PAGES = [
    "/history",
    "/account",
    "/classes",
    "/classes/{class}",
    "/assignments/{assignment}",
    "/ratings/{rating}",
]
INSTRUCTOR_PAGES = ["/classes/{class}", "/ratings/{rating}"]


def test_axe_finds_no_serious_violation_on_any_page(
    live_server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    db: Session,
    world: World,
    tmp_path: Path,
) -> None:
    ids = {
        "class": world.school_class.id,
        "assignment": world.assignment.id,
        "rating": world.rating.id,
    }
    failures: dict[str, list[dict[str, Any]]] = {}
    visits = [(None, path) for path in ANONYMOUS_PAGES]
    visits += [("student", path) for path in STUDENT_PAGES]
    visits += [("instructor", path) for path in INSTRUCTOR_PAGES]
    visits += [("admin", "/admin/users")]
    for role, template in visits:
        browser.delete_all_cookies()
        if role:
            _sign_in_browser(browser, live_server, world.browsers[role].token)
        path = template.format(**ids)
        browser.get(live_server + path)
        assert urlsplit(browser.current_url).path == path, (role, path, browser.current_url)
        found = serious_violations(browser)
        if found:
            failures[f"{role or 'anonymous'} {path}"] = found
        name = f"{role or 'anonymous'}{path}".replace("/", "_")
        browser.save_screenshot(str(tmp_path / f"{name}.png"))
        assert offsite_requests(browser, live_server) == []
    assert failures == {}
    # The check can fail: an unlabelled field is a critical violation.
    browser.execute_script("document.body.insertAdjacentHTML('beforeend', '<input type=text>')")
    assert "label" in {v["id"] for v in serious_violations(browser)}


def test_history_chart_reads_dates_and_draws_the_distance(
    live_server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    db: Session,
    world: World,
    tmp_path: Path,
) -> None:
    start = datetime(2026, 11, 30, 14, 5, tzinfo=UTC)
    for minute, (rating, distance) in enumerate([(1, 2.4), (1, 1.9), (1, 1.2), (1, 0.8)]):
        stored = make_rating(
            db, world.student, rating=rating, when=start + timedelta(minutes=minute * 3)
        )
        stored.distance_db = distance
    db.commit()
    _sign_in_browser(browser, live_server, world.browsers["student"].token)
    browser.get(live_server + "/history")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 20).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#history-chart .uplot canvas"))
    )
    legend = browser.find_element(By.CSS_SELECTOR, "#history-chart .u-legend").text
    assert "distance (dB)" in legend and "rating" in legend
    # Tick labels for ratings minutes apart: hours and minutes, never ":16.600".
    labels: list[str] = browser.execute_script(
        """
        const t0 = Date.UTC(2026, 10, 30, 14, 5) / 1000;
        const u = {scales: {x: {min: t0, max: t0 + 600}}};
        return window.MasteringCharts.timeLabels(u, [t0, t0 + 300, t0 + 600], 0, 90, 300);
        """
    )
    assert len(set(labels)) == 3
    for label in labels:
        assert "Nov" in label or "30" in label, label
        assert not label.startswith(":") and "." not in label.split()[-1], label
    browser.save_screenshot(str(tmp_path / "history-distance.png"))


def test_rating_page_in_the_browser_for_owner_instructor_and_others(
    live_server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    db: Session,
    world: World,
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    path = f"{live_server}/ratings/{world.rating.id}"
    for role, status in (("student", 200), ("instructor", 200), ("other_student", 404)):
        browser.delete_all_cookies()
        _sign_in_browser(browser, live_server, world.browsers[role].token)
        browser.get(path)
        heading = browser.find_element(By.TAG_NAME, "h1").text
        if status == 200:
            assert browser.find_element(By.ID, "rating-number").text == "1", role
            assert browser.find_elements(By.CSS_SELECTOR, "[data-presets] a[download]"), role
        else:
            assert "Not found" in heading
        browser.save_screenshot(str(tmp_path / f"rating-{role}.png"))
    # The instructor reaches it from the class page.
    browser.delete_all_cookies()
    _sign_in_browser(browser, live_server, world.browsers["instructor"].token)
    browser.get(f"{live_server}/classes/{world.school_class.id}")
    links = browser.find_elements(By.CSS_SELECTOR, f"a[href='/ratings/{world.rating.id}']")
    assert links
