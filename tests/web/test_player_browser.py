"""The A/B player in headless Chromium: rate two files, play, switch, loop, and its filters."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from app.audio.eq import EqOperation, apply, response_db
from app.audio.spectrum import Comparison
from app.config import Settings
from app.http.deps import SESSION_COOKIE
from app.ml.registry import ModelRegistry, Recognition
from tests.accounts_support import make_app
from tests.conftest import low_passed, pink_noise
from tests.history.test_rating_audio import kept_rating
from tests.web.test_browser import browser, live_server  # noqa: F401  (fixtures)
from tests.web.test_pages_browser import offsite_requests, serious_violations

pytestmark = pytest.mark.browser

#: What the fake model "hears": the candidate is the reference with this bell.
BOOST = EqOperation(frequency_hz=1000.0, gain_db=6.0, width_octaves=1.0)


class BoostModel:
    """A fake model that always recognises `BOOST` (rating 1)."""

    id = "general"
    metadata: dict[str, Any] = {"id": "general", "description": "fake", "figures": {}}

    def recognise(self, comparison: Comparison) -> Recognition:
        curve = response_db(
            [BOOST],
            frequency_hz=comparison.spec.band_centres_hz,
            sample_rate_hz=comparison.spec.sample_rate_hz,
        )
        return Recognition(model_id=self.id, operations=[BOOST], curve_db=np.asarray(curve))


@pytest.fixture
def app(app_settings: Settings) -> FastAPI:
    """The real app with a model that hears one bell."""
    application: FastAPI = make_app(
        app_settings, ModelRegistry(models={"general": BoostModel()}, default_id="general")
    )
    return application


@pytest.fixture
def masters(write_audio: Callable[..., Path]) -> dict[str, Path]:
    """A 12 s reference and the same song with `BOOST` applied, 3 dB louder, as WAV files."""
    song = pink_noise(duration_s=12.0, sample_rate_hz=44_100, seed=3)
    boosted = apply(song, [BOOST], sample_rate_hz=44_100) * 10 ** (3 / 20)
    return {
        "reference": write_audio(song, "reference.wav"),
        "candidate": write_audio(boosted.astype(np.float32), "candidate.wav"),
    }


def _wait(condition: Callable[[], Any], *, timeout_s: float = 20.0, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _player_state(driver: Any) -> dict[str, Any]:
    state: dict[str, Any] = driver.execute_script(
        """
        const p = window.MasteringPlayer && window.MasteringPlayer.current;
        const s = document.getElementById('player');
        // Until the page's script has made its player, nothing is ready.
        if (!p || !s) return {ready: false, playing: false};
        return {
          source: s.dataset.source, playing: !!s.dataset.playing, ready: !!s.dataset.ready,
          position: p.wave.getCurrentTime(), reference_time: p.referenceAudio.currentTime,
          reference_src: p.referenceAudio.currentSrc, candidate_src: p.candidateAudio.currentSrc,
          gains: {reference: p.gains.reference.gain.value, candidate: p.gains.candidate.gain.value,
                  fix: p.gains.fix.gain.value},
          filters: p.filters.map(f => ({type: f.type, frequency: f.frequency.value,
                                        gain: f.gain.value, q: f.Q.value})),
          loop: s.dataset.loopStart
            ? [Number(s.dataset.loopStart), Number(s.dataset.loopEnd)] : null,
        };
        """
    )
    return state


def _submit(driver: Any, server_url: str, masters: dict[str, Path]) -> None:
    """Open the rating page, choose the two masters and submit them."""
    from selenium.webdriver.common.by import By

    driver.get(server_url + "/")
    for name, path in masters.items():
        driver.find_element(By.CSS_SELECTOR, f"input[name={name}]").send_keys(str(path))
    driver.find_element(By.CSS_SELECTOR, "#rate-form button[type=submit]").click()


def _press(driver: Any, key: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(key).perform()


def test_rate_then_listen_switch_and_loop(
    live_server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    masters: dict[str, Path],
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    _submit(browser, live_server, masters)
    _wait(lambda: browser.find_elements(By.ID, "rating-number"), timeout_s=60, what="the rating")
    assert browser.find_element(By.ID, "rating-number").text == "1"
    _wait(lambda: _player_state(browser)["ready"], what="the player to load the chosen files")
    state = _player_state(browser)
    # The files play from the browser's own copies, never from the server.
    assert state["candidate_src"].startswith("blob:") and state["reference_src"].startswith("blob:")
    # The fix undoes the recognised bell: one peaking filter cutting 6 dB at 1 kHz.
    assert state["filters"] == [
        {"type": "peaking", "frequency": 1000.0, "gain": -6.0, "q": pytest.approx(1.41, abs=0.01)}
    ]
    # Level-matched: the candidate is about 3 dB louder, so it is turned down, the reference not.
    assert state["source"] == "candidate"
    assert 10 ** (-4.5 / 20) < state["gains"]["candidate"] < 10 ** (-1.5 / 20)
    assert state["gains"]["reference"] == 0 and state["gains"]["fix"] == 0

    browser.find_element(By.CSS_SELECTOR, "#player [data-play]").click()
    _wait(lambda: _player_state(browser)["position"] > 1.0, what="playback to advance")
    before = _player_state(browser)
    _press(browser, "1")
    after = _player_state(browser)
    assert after["source"] == "reference" and after["playing"]
    assert after["position"] >= before["position"]  # the position is kept
    time.sleep(0.3)
    after = _player_state(browser)
    assert after["gains"]["reference"] > 0.9 and after["gains"]["candidate"] < 0.01
    assert abs(after["reference_time"] - after["position"]) < 0.3  # the two play in step
    browser.save_screenshot(str(tmp_path / "player-reference.png"))
    assert serious_violations(browser) == []

    _press(browser, "3")
    time.sleep(0.3)
    fix = _player_state(browser)
    assert fix["source"] == "fix" and fix["position"] >= after["position"]
    assert fix["gains"]["fix"] > 0.5 and fix["gains"]["reference"] < 0.01

    browser.find_element(By.CSS_SELECTOR, "#player [data-matched]").click()  # unmatched
    time.sleep(0.3)
    assert _player_state(browser)["gains"]["fix"] == pytest.approx(1.0, abs=0.01)

    _press(browser, " ")
    _wait(lambda: not _player_state(browser)["playing"], what="space to pause")
    _press(browser, "2")
    assert _player_state(browser)["source"] == "candidate"

    # Drag across the middle of the waveform: a region, then playback loops inside it.
    wave = browser.find_element(By.CSS_SELECTOR, "#player [data-waveform]")
    width = wave.size["width"]
    ActionChains(browser).move_to_element_with_offset(
        wave, -width // 10, 0
    ).click_and_hold().move_by_offset(width // 10, 0).release().perform()
    loop = _wait(lambda: _player_state(browser)["loop"], what="a loop region")
    assert 0.5 < loop[1] - loop[0] < 3.0
    browser.find_element(By.CSS_SELECTOR, "#player [data-play]").click()
    time.sleep(loop[1] - loop[0] + 1.5)
    looping = _player_state(browser)
    assert looping["playing"]
    assert loop[0] - 0.05 <= looping["position"] <= loop[1] + 0.3
    browser.save_screenshot(str(tmp_path / "player-loop.png"))
    # The keyboard loops too: "[" at the playhead, "]" a moment later.
    browser.find_element(By.CSS_SELECTOR, "#player [data-clear-loop]").click()
    _wait(lambda: _player_state(browser)["loop"] is None, what="the loop to clear")
    _press(browser, "[")
    time.sleep(1.0)
    _press(browser, "]")
    keyed = _wait(lambda: _player_state(browser)["loop"], what="a loop from the keyboard")
    assert 0.7 < keyed[1] - keyed[0] < 1.6
    assert (tmp_path / "player-loop.png").stat().st_size > 10_000

    assert offsite_requests(browser, live_server) == []


CHART_ALPHA = """
const el = document.querySelector('[data-spectra] [data-chart=difference]');
const canvas = el.querySelector('canvas');
const over = el.querySelector('.u-over').getBoundingClientRect();
const box = canvas.getBoundingClientRect();
const ratio = canvas.width / box.width;
const context = canvas.getContext('2d');
// Alpha of the plot's pixels at `hz`, at ten heights across it.
return arguments[0].map(hz => {
  const x = over.left - box.left + over.width * Math.log(hz / 20) / Math.log(20480 / 20);
  return Array.from({length: 10}, (_, k) => {
    const y = over.top - box.top + over.height * (k + 0.5) / 10;
    return context.getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1).data[3];
  });
});
"""


def test_the_charts_shade_the_top_the_reference_does_not_hold(
    live_server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    write_audio: Callable[..., Path],
) -> None:
    from selenium.webdriver.common.by import By

    # Both masters from one MP3-sourced song: nothing above 15 kHz in either.
    song = low_passed(
        pink_noise(duration_s=12.0, sample_rate_hz=44_100, seed=3),
        cutoff_hz=15_000.0,
        sample_rate_hz=44_100,
    )
    masters = {
        "reference": write_audio(song, "reference.wav", subtype="FLOAT"),
        "candidate": write_audio(
            apply(song, [BOOST], sample_rate_hz=44_100), "candidate.wav", subtype="FLOAT"
        ),
    }
    _submit(browser, live_server, masters)
    _wait(
        lambda: browser.find_elements(By.CSS_SELECTOR, "[data-chart=difference] .uplot canvas"),
        timeout_s=60,
        what="the charts",
    )
    notice = browser.find_element(By.CSS_SELECTOR, "[data-reference-top]").text
    assert "The reference holds no audio above" in notice
    assert "Shaded above" in browser.find_element(By.CSS_SELECTOR, "[data-spectra]").text
    shaded, clear = browser.execute_script(CHART_ALPHA, [18_500.0, 40.0])
    # Shaded: every height is covered; clear: only where a line or the grid passes.
    assert min(shaded) > 40, shaded
    assert sorted(clear)[5] < 20, clear


WEB_AUDIO_RESPONSE = """
const [moves, freqs, done] = arguments;
const context = new OfflineAudioContext(1, 128, 44100);
const nodes = window.MasteringPlayer.makeFilters(context, moves, 1);
done(window.MasteringPlayer.responseDb(nodes, freqs));
"""


@pytest.mark.parametrize(
    "operations",
    [
        [EqOperation(1000.0, -6.0, 1.0)],
        [EqOperation(65.41, 6.0, 2.0), EqOperation(4186.0, -3.0, 0.5)],
        [EqOperation(16744.0, 6.0, 2.0), EqOperation(261.63, -6.0, 0.5)],
        [
            EqOperation(8372.0, 4.5, 1.0),
            EqOperation(130.81, 6.0, 1.0),
            EqOperation(523.25, -6.0, 2.0),
        ],
        [
            EqOperation(120.0, 4.0, type="low_shelf"),
            EqOperation(8000.0, -3.0, type="high_shelf", slope=1.0),
        ],
        [
            EqOperation(40.0, 0.0, type="high_pass", order=4),
            EqOperation(16000.0, 0.0, type="low_pass"),
        ],
    ],
    ids=["one-cut", "wide-and-narrow", "near-nyquist", "three", "shelves", "pass-filters"],
)
def test_web_audio_filters_match_eq_response(
    live_server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    operations: list[EqOperation],
) -> None:
    """The browser's BiquadFilterNodes render app/audio/eq.py's response within 0.5 dB."""
    browser.get(live_server + "/")
    _wait(lambda: browser.execute_script("return !!window.MasteringPlayer"), what="player.js")
    frequency_hz = np.geomspace(20.0, 20_000.0, 200)
    moves = [
        {
            "frequency_hz": op.frequency_hz,
            "gain_db": op.gain_db,
            "width_octaves": op.width_octaves,
            "type": op.type,
            "slope": op.slope,
            "order": op.order,
        }
        for op in operations
    ]
    browser.set_script_timeout(10)
    rendered = np.array(
        browser.execute_async_script(WEB_AUDIO_RESPONSE, moves, frequency_hz.tolist()), dtype=float
    )
    expected = response_db(operations, frequency_hz=frequency_hz, sample_rate_hz=44_100)
    worst = float(np.max(np.abs(rendered - expected)))
    assert worst < 0.5, json.dumps({"worst_db": worst})


DROP = """
const [name, fileName, text] = arguments;
const zone = document.querySelector(`#rate-form input[name=${name}]`).closest('[data-drop]');
const transfer = new DataTransfer();
transfer.items.add(new File([text], fileName, {type: 'audio/wav'}));
const init = {dataTransfer: transfer, bubbles: true, cancelable: true};
zone.dispatchEvent(new DragEvent('dragover', init));
zone.dispatchEvent(new DragEvent('drop', init));
return document.querySelector(`#rate-form input[name=${name}]`).files[0].name;
"""


def test_drop_files_and_see_errors_beside_the_file(
    live_server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    masters: dict[str, Path],
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    def error_of(name: str) -> str:
        box = browser.find_element(By.CSS_SELECTOR, f"[data-file-error={name}]")
        return "" if box.get_attribute("hidden") is not None else str(box.text)

    browser.get(live_server + "/")
    notes = tmp_path / "notes.txt"
    notes.write_text("not audio at all\n")
    browser.find_element(By.CSS_SELECTOR, "input[name=reference]").send_keys(str(notes))
    assert error_of("reference").startswith("notes.txt is not an audio file")
    assert error_of("candidate") == ""
    browser.find_element(By.CSS_SELECTOR, "input[name=candidate]").send_keys(
        str(masters["candidate"])
    )
    browser.find_element(By.CSS_SELECTOR, "#rate-form button[type=submit]").click()
    time.sleep(0.5)
    assert browser.find_element(By.ID, "result").text == ""  # nothing was sent

    # A file dropped on the box replaces the choice; this one only pretends to be WAV,
    # so the server refuses it and the refusal shows beside the reference.
    assert browser.execute_script(DROP, "reference", "fake.wav", "RIFF not really") == "fake.wav"
    assert error_of("reference") == ""
    browser.find_element(By.CSS_SELECTOR, "#rate-form button[type=submit]").click()
    _wait(lambda: error_of("reference"), what="the server's refusal beside the reference")
    assert "reference" in error_of("reference").lower() and error_of("candidate") == ""
    browser.save_screenshot(str(tmp_path / "upload-error.png"))
    assert offsite_requests(browser, live_server) == []


def test_upload_three_versions_and_see_them_ranked(
    live_server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    write_audio: Callable[..., Path],
    tmp_path: Path,
) -> None:
    """Three versions, each one bell off by a different amount: ranked closest first."""
    from selenium.webdriver.common.by import By

    song = pink_noise(duration_s=8.0, sample_rate_hz=44_100, seed=5)
    reference = write_audio(song, "reference.wav")
    versions = {}
    for name, gain_db in (("far.wav", 6.0), ("close.wav", 1.5), ("middle.wav", 3.5)):
        bell = EqOperation(frequency_hz=2000.0, gain_db=gain_db, width_octaves=1.0)
        versions[name] = write_audio(apply(song, [bell], sample_rate_hz=44_100), name)
    browser.get(live_server + "/")
    browser.find_element(By.CSS_SELECTOR, "input[name=reference]").send_keys(str(reference))
    browser.find_element(By.CSS_SELECTOR, "input[name=candidate]").send_keys(
        str(versions["far.wav"])
    )
    browser.find_element(By.CSS_SELECTOR, "input[data-versions]").send_keys(
        "\n".join(str(versions[name]) for name in ("close.wav", "middle.wav"))
    )
    browser.find_element(By.CSS_SELECTOR, "#rate-form button[type=submit]").click()
    _wait(
        lambda: len(browser.find_elements(By.CSS_SELECTOR, ".versions li.version")) == 3,
        timeout_s=90,
        what="three ranked versions",
    )
    titles = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".versions li.version > h3")]
    assert [t.split(" · rating")[0] for t in titles] == [
        "#1 · close.wav",
        "#2 · middle.wav",
        "#3 · far.wav",
    ]
    distances = [
        float(e.get_attribute("data-distance-db"))
        for e in browser.find_elements(By.CSS_SELECTOR, ".versions [data-distance-db]")
    ]
    assert distances == sorted(distances) and distances[0] < distances[-1]
    # Each keeps its moves; the one player starts on the closest and plays any other.
    assert len(browser.find_elements(By.CSS_SELECTOR, ".versions .suggestion[data-kind=eq]")) == 3
    assert len(browser.find_elements(By.ID, "player")) == 1
    assert browser.find_elements(By.CSS_SELECTOR, ".versions li.version [data-spectra] .uplot")
    _wait(lambda: _player_state(browser)["ready"], what="the player on version #1")
    browser.find_elements(By.CSS_SELECTOR, ".versions button.listen")[2].click()
    _wait(
        lambda: (
            browser.find_element(By.ID, "player").get_attribute("data-version") == "3"
            and _player_state(browser)["ready"]
        ),
        what="the player on version #3",
    )
    status = browser.find_element(By.CSS_SELECTOR, "#player [data-player-status]").text
    assert status.startswith("Ready: far.wav")
    browser.save_screenshot(str(tmp_path / "versions.png"))
    assert serious_violations(browser) == []  # the result, the player and the ranking
    assert offsite_requests(browser, live_server) == []


def test_stored_rating_plays_its_kept_audio_for_the_instructor(
    live_server: str,  # noqa: F811
    browser: Any,  # noqa: F811
    db: Session,
    app_settings: Settings,
    write_audio: Callable[..., Path],
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    rating, browsers = kept_rating(db, app_settings, write_audio)
    browser.get(live_server + "/sign-in")
    browser.add_cookie({"name": SESSION_COOKIE, "value": browsers["instructor"].token, "path": "/"})
    browser.get(f"{live_server}/ratings/{rating.id}")
    _wait(lambda: _player_state(browser)["ready"], what="the kept audio to load")
    state = _player_state(browser)
    assert state["reference_src"] == f"{live_server}/ratings/{rating.id}/audio/reference.ogg"
    assert state["candidate_src"] == f"{live_server}/ratings/{rating.id}/audio/candidate.ogg"
    # Level-matched by the stored alignment: the candidate was 3.1 dB quieter, so the
    # reference is turned down when it plays.
    browser.find_element(By.CSS_SELECTOR, "#player [data-play]").click()
    _press(browser, "1")
    _wait(lambda: _player_state(browser)["position"] > 0.5, what="playback")
    time.sleep(0.3)
    gains = _player_state(browser)["gains"]
    assert gains["reference"] == pytest.approx(10 ** (-3.1 / 20), abs=0.02)
    browser.save_screenshot(str(tmp_path / "stored-player.png"))
    assert offsite_requests(browser, live_server) == []
