"""In headless Chromium: after the upload, the page shows the analysis's stages as they happen.

The only analysis worker is held busy, so the rating really waits ("queued"); once it is
let go, a gated model holds the analysis ("analysing"); then the result replaces both.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from app.config import Settings
from app.ml.registry import ModelRegistry
from tests.accounts_support import GateModel, make_app
from tests.conftest import pink_noise, served
from tests.web.test_browser import browser  # noqa: F401  (fixture)
from tests.web.test_pages_browser import offsite_requests, serious_violations
from tests.web.test_player_browser import _wait

pytestmark = pytest.mark.browser


@pytest.fixture
def model() -> Iterator[GateModel]:
    gate = GateModel()
    yield gate
    gate.gate.set()  # never leave a worker waiting


@pytest.fixture
def app(app_settings: Settings, model: GateModel) -> FastAPI:
    """The real app (one analysis worker, app_settings) with the gated model."""
    application: FastAPI = make_app(
        app_settings, ModelRegistry(models={"general": model}, default_id="general")
    )
    return application


def _progress(driver: Any) -> dict[str, str]:
    state: dict[str, str] = driver.execute_script(
        """
        const box = document.getElementById('progress');
        return {stage: box.dataset.stage || '', stages: box.dataset.stages || '',
                text: document.getElementById('progress-text').textContent,
                visible: getComputedStyle(box).visibility};
        """
    )
    return state


def test_queued_then_analysing_then_the_result(
    app: FastAPI,
    model: GateModel,
    browser: Any,  # noqa: F811
    write_audio: Callable[..., Path],
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    song = pink_noise(duration_s=8.0, sample_rate_hz=44_100, seed=8)
    files = {
        "reference": write_audio(song, "reference.wav"),
        "candidate": write_audio(song * 0.5, "candidate.wav"),
    }
    with served(app) as origin:
        browser.get(origin + "/")
        for name, path in files.items():
            browser.find_element(By.CSS_SELECTOR, f"input[name={name}]").send_keys(str(path))
        # Hold the only analysis worker, so the page's rating has to wait its turn.
        blocker = threading.Event()
        ticket = app.state.pool.admit()
        ticket.submit(lambda: blocker.wait(60))
        ticket.close()
        try:
            browser.find_element(By.CSS_SELECTOR, "#rate-form button[type=submit]").click()
            queued = _wait(
                lambda: (state := _progress(browser))["stage"] == "queued" and state,
                what="the page to show the rating queued",
                timeout_s=30,
            )
            assert queued["text"].startswith("Queued") and queued["visible"] == "visible"
            assert not model.entered.is_set()  # really waiting: no worker has it yet
            browser.save_screenshot(str(tmp_path / "queued.png"))
        finally:
            blocker.set()
        analysing = _wait(
            lambda: (state := _progress(browser))["stage"] == "analysing" and state,
            what="the page to show the analysis running",
        )
        assert analysing["text"] == "Analysing…" and model.entered.is_set()
        assert not browser.find_elements(By.ID, "rating-number")  # no answer yet
        browser.save_screenshot(str(tmp_path / "analysing.png"))
        model.gate.set()
        _wait(lambda: browser.find_elements(By.ID, "rating-number"), what="the rating")
        assert browser.find_element(By.ID, "rating-number").text == "0"
        stages = _progress(browser)["stages"].split()
        assert stages[0] == "uploading"
        assert stages.index("queued") < stages.index("analysing")
        browser.save_screenshot(str(tmp_path / "result.png"))
        assert (tmp_path / "queued.png").stat().st_size > 10_000
        assert offsite_requests(browser, origin) == []
        assert serious_violations(browser) == []
