"""The rating page in headless Chromium: upload two files, see the rating and the plots."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn

from app.audio.eq import EqOperation
from app.config import Settings
from app.main import create_app
from app.ml.registry import ModelRegistry
from tests.components import headless_chromium

pytestmark = pytest.mark.browser


@pytest.fixture
def server_url(settings: Settings, fake_registry: ModelRegistry) -> Iterator[str]:
    """The app served by uvicorn on a free localhost port, in a thread."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(settings, registry=fake_registry)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def browser() -> Iterator[object]:
    """Headless Chromium (found on PATH); never downloads a browser or driver."""
    with headless_chromium(window_size="1200,1900") as driver:
        yield driver


def test_upload_two_files_and_see_the_rating(
    server_url: str, browser: object, pair: Callable[..., tuple[Path, Path]], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser  # type: ignore[assignment]
    reference, candidate = pair([EqOperation(300.0, 6.0, 1.0)])
    driver.get(server_url + "/")  # type: ignore[attr-defined]
    assert "Mastering Trainer" in driver.title  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "reference").send_keys(str(reference))  # type: ignore[attr-defined]
    driver.find_element(By.NAME, "candidate").send_keys(str(candidate))  # type: ignore[attr-defined]
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()  # type: ignore[attr-defined]
    wait = WebDriverWait(driver, 30)
    rating = wait.until(ec.visibility_of_element_located((By.ID, "rating-number")))
    assert rating.text == "1"
    page = driver.find_element(By.ID, "result").text  # type: ignore[attr-defined]
    assert "Decrease bass: cut about 6 dB around" in page
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-spectra] .uplot canvas")) == 2)
    legend = driver.find_elements(  # type: ignore[attr-defined]
        By.CSS_SELECTOR, "[data-chart=difference] .u-legend .u-label"
    )
    assert "EQ alone (compression and limiting left out)" in [label.text for label in legend]
    errors = [
        entry
        for entry in driver.get_log("browser")  # type: ignore[attr-defined]
        if entry["level"] == "SEVERE"
    ]
    assert errors == []
    shot = tmp_path / "rate-page.png"  # under the test's folder, never the checkout
    assert driver.save_screenshot(str(shot))  # type: ignore[attr-defined]

    # A bad file shows the server's sentence in the page, through htmx.
    short = tmp_path / "short.wav"
    from .badfiles import too_short

    short.write_bytes(too_short())
    driver.find_element(By.NAME, "candidate").send_keys(str(short))  # type: ignore[attr-defined]
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()  # type: ignore[attr-defined]
    error = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#result .error")))
    assert error.text == "candidate: lasts 1.0 s; the minimum is 5 s."
