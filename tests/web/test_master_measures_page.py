"""The rating page shows the loudness table and the measure charts, in Chromium and in HTML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from tests.web.test_browser import browser, live_server  # noqa: F401 (fixtures)

RATE = 44_100


def write_pair(folder: Path) -> tuple[Path, Path]:
    """A stereo master and the same 6 dB louder and a little wider: loudness and stereo differ."""
    rng = np.random.default_rng(18)
    common = rng.standard_normal(8 * RATE)
    left = common + 0.3 * rng.standard_normal(8 * RATE)
    right = common + 0.3 * rng.standard_normal(8 * RATE)
    master = (0.05 * np.stack([left, right], axis=1)).astype(np.float32)
    louder = master * np.float32(2.0)
    louder[:, 1] = 2.0 * (0.05 * (common + 0.6 * rng.standard_normal(8 * RATE)))
    reference, candidate = folder / "reference.wav", folder / "candidate.wav"
    sf.write(reference, master, RATE, subtype="FLOAT")
    sf.write(candidate, louder, RATE, subtype="FLOAT")
    return reference, candidate


def test_the_partial_holds_the_table_suggestions_by_kind_and_chart_data(
    client: TestClient, tmp_path: Path
) -> None:
    reference, candidate = write_pair(tmp_path)
    files = {
        "reference": ("reference.wav", reference.read_bytes(), "audio/wav"),
        "candidate": ("candidate.wav", candidate.read_bytes(), "audio/wav"),
    }
    page = client.post("/", files=files, headers={"HX-Request": "true"})
    assert page.status_code == 200, page.text
    html = page.text
    assert 'id="loudness-table"' in html and "<script>" not in html
    assert 'data-kind="loudness"' in html and "louder than the reference" in html
    # The 6 dB difference of integrated loudness is highlighted.
    row = html.split("Integrated loudness")[0].rsplit("<tr", 1)[1]
    assert "differs" in row
    payload = html.split('class="master-measures-data">')[1].split("</script>")[0]
    data = json.loads(payload)
    assert len(data["loudness"]["reference"]["short_term_lufs"]) == 11
    assert len(data["stereo"]["bands"]) == 9


@pytest.mark.browser
def test_the_page_draws_the_measures_in_chromium(
    live_server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    reference, candidate = write_pair(tmp_path)
    browser.get(f"{live_server}/")
    wait = WebDriverWait(browser, 60)
    wait.until(ec.presence_of_element_located((By.NAME, "reference")))
    browser.find_element(By.NAME, "reference").send_keys(str(reference))
    browser.find_element(By.NAME, "candidate").send_keys(str(candidate))
    browser.find_element(By.CSS_SELECTOR, "#rate-form button[type=submit]").click()
    wait.until(ec.presence_of_element_located((By.ID, "loudness-table")))
    selector = "[data-measure-chart='{}'] .uplot canvas"
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, selector.format("short-term"))))
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, selector.format("width"))))
    table = browser.find_element(By.ID, "loudness-table").text
    assert "Integrated loudness" in table and "True peak" in table
    assert browser.find_elements(By.CSS_SELECTOR, "#loudness-table tr.differs")
    legend = browser.find_element(By.CSS_SELECTOR, "[data-measure-chart='short-term']").text
    assert "reference" in legend and "your master" in legend
    loudness = browser.find_element(By.CSS_SELECTOR, "[data-kind='loudness']").text
    assert "louder than the reference" in loudness
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
