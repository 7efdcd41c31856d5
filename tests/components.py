"""The real components some tests need, found on this machine or reported missing.

Under CI (`CI=true`, as `.ci/run` runs) a missing component fails the test that needs it:
CI installs every one, so a missing one means the suite no longer tests what it claims.
On a developer's machine the test is skipped with a reason that names what is missing.
Tests ask with the `needs` marker (`@pytest.mark.needs("sox", "postgres")`) or `require(...)`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Names `chromium` is installed under (Debian, Ubuntu, Google's build).
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def in_ci() -> bool:
    """Whether this run is CI's, where every component must be present."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def chromium() -> str | None:
    """The path of a Chromium (or Chrome) binary on PATH, if any."""
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def chromedriver() -> str | None:
    """The path of chromedriver on PATH, if any."""
    return shutil.which("chromedriver")


def _missing_program(name: str, package: str) -> str | None:
    return None if shutil.which(name) else f"`{name}` is not on PATH (apt-get install {package})"


def missing(component: str) -> str | None:
    """Why `component` cannot be used here, or None when it can."""
    if component in ("sox", "ffmpeg"):
        package = "sox libsox-fmt-all" if component == "sox" else component
        return _missing_program(component, package)
    if component == "postgres":
        if not os.environ.get("DATABASE_URL_POSTGRES"):
            return "DATABASE_URL_POSTGRES is not set (a PostgreSQL database to test against)"
        return None
    if component == "chromium":
        problems = []
        if chromium() is None:
            problems.append(f"no {' / '.join(CHROMIUM_NAMES)} on PATH (apt-get install chromium)")
        if chromedriver() is None:
            problems.append("no chromedriver on PATH (apt-get install chromium-driver)")
        return "; ".join(problems) or None
    if component == "models":
        if not (REPO / "models" / "registry.json").is_file():
            return "no trained models in models/ (models/registry.json is missing)"
        return None
    raise ValueError(f"unknown component {component!r}")


def require(*components: str) -> None:
    """Fail (under CI) or skip (elsewhere) the running test when a component is missing."""
    problems = [f"{name}: {why}" for name in components if (why := missing(name))]
    if not problems:
        return
    message = "missing component: " + "; ".join(problems)
    if in_ci():
        pytest.fail(f"{message} (CI=true: every real component must be present)", pytrace=False)
    pytest.skip(message)


@contextmanager
def headless_chromium(*, window_size: str = "1200,1000") -> Iterator[Any]:
    """A Selenium driver for the Chromium found on PATH; Selenium Manager never downloads."""
    require("chromium")
    os.environ["SE_OFFLINE"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium())
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={window_size}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console, CSP reports
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver()), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
