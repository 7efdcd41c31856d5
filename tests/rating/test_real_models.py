"""End to end with the shipped models: pink noise through sox's equalizer with a known set."""

from __future__ import annotations

import math
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from app.audio.eq import EqOperation, apply, response_db
from app.main import create_app
from app.ml.features import CURRENT_SPEC

from ..conftest import SAMPLE_RATE_HZ, kick_and_hats, low_passed, pink_noise
from .conftest import make_settings, post_pair

pytestmark = pytest.mark.needs("models", "sox")

#: (frequency Hz, width octaves, gain dB): C4 boosted, C8 cut, two octaves wide (an F1W2 set).
KNOWN_SET = [(261.63, 2.0, 6.0), (4186.01, 2.0, -6.0)]


def sox_equalised(source: Path, target: Path, *, level_db: float = 0.0) -> None:
    """`source`, raised by `level_db`, through sox's equalizer with `KNOWN_SET` into `target`."""
    effects = ["gain", f"{level_db}"]
    for frequency_hz, width_octaves, gain_db in KNOWN_SET:
        effects += ["equalizer", f"{frequency_hz}", f"{width_octaves}o", f"{gain_db}"]
    subprocess.run(
        ["sox", "-D", str(source), "-e", "floating-point", "-b", "32", str(target), *effects],
        check=True,
    )


def assert_rated_as_the_known_set(body: dict[str, Any]) -> None:
    """Two operations, each the matching one of `KNOWN_SET` in place, direction, size and width.

    Tolerances from the output measured on this module's ten lossy, low-passed and louder
    cases (F1W2 and general): at worst 0.020 octave off in frequency (general, 11 kHz
    low-pass: 4127.8 Hz for 4186 Hz), 1.0 dB in gain (F1W2 on the 11 kHz low-pass: -5.0 for
    -6 dB since stop 52's F1W2 reads the demodulated transfer; every other case within 0.2 dB,
    the MP3 at 0.6 dB before) and 0.214 octave in width (general, 11 kHz low-pass: 2.32 for 2,
    since stop 38's count chooser picks the fit of two bells, which bends to the difference
    held flat past the band limit, over that of three, whose third bell lay past it); the
    frequency margin is about twice that, the gain's the issue's 1.5 dB, the width's 1.4 times.
    """
    assert body["rating"] == 2, body["operations"]
    found = sorted(body["operations"], key=lambda op: op["frequency_hz"])
    for op, (want_hz, want_width, want_gain_db) in zip(found, KNOWN_SET, strict=True):
        assert abs(math.log2(op["frequency_hz"] / want_hz)) < 0.05, op
        assert math.copysign(1, op["gain_db"]) == math.copysign(1, want_gain_db), op  # boost/cut
        assert abs(op["gain_db"] - want_gain_db) < 1.5, op
        assert abs(math.log2(op["width_octaves"] / want_width)) < 0.3, op


@pytest.fixture(scope="module")
def real_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app with the models in models/, loaded once for this module."""
    settings = make_settings(tmp_path_factory.mktemp("real"), MAX_UPLOAD_MB=20)
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def masters(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 30 s pink-noise 'master' and the same through sox's equalizer with `KNOWN_SET`."""
    folder = tmp_path_factory.mktemp("masters")
    reference, candidate = folder / "reference.wav", folder / "candidate.wav"
    sf.write(
        reference,
        pink_noise(duration_s=30.0, sample_rate_hz=SAMPLE_RATE_HZ, seed=11),
        SAMPLE_RATE_HZ,
        subtype="FLOAT",
    )
    sox_equalised(reference, candidate)
    return reference, candidate


def test_a_master_against_itself_rates_zero_with_every_model(
    real_client: TestClient, masters: tuple[Path, Path]
) -> None:
    reference, _ = masters
    for model in real_client.get("/models").json()["models"]:
        body = post_pair(real_client, reference, reference, model=model["id"]).json()
        assert body["rating"] == 0, (model["id"], body["operations"])
        assert body["suggestions"] == []


def test_f1w2_recognises_the_known_set_exactly(
    real_client: TestClient, masters: tuple[Path, Path]
) -> None:
    body = post_pair(real_client, *masters, model="F1W2").json()
    assert body["model"] == "F1W2"
    assert body["rating"] == 2, body["operations"]
    found = [(op["frequency_hz"], op["width_octaves"], op["gain_db"]) for op in body["operations"]]
    # A grid model answers grid points: the known set is on F1W2's grid, so it comes back
    # exactly (measured: (261.63, 2.0, 6.0) and (4186.01, 2.0, -6.0)); gains within 0.2 dB.
    for (freq, width, gain), (want_freq, want_width, want_gain) in zip(
        sorted(found), KNOWN_SET, strict=True
    ):
        assert freq == pytest.approx(want_freq, abs=0.01)
        assert width == want_width
        assert gain == pytest.approx(want_gain, abs=0.2)
    texts = [s["text"] for s in body["suggestions"]]
    assert texts == [
        "Decrease bass: cut about 6 dB around 262 Hz",
        "Increase treble: boost about 6 dB around 4.2 kHz",
    ]
    assert [(s["band"], s["action"]) for s in body["suggestions"]] == [
        ("bass", "decrease"),
        ("treble", "increase"),
    ]


def test_the_general_model_finds_both_moves_with_the_right_directions(
    real_client: TestClient, masters: tuple[Path, Path]
) -> None:
    body = post_pair(real_client, *masters, model="general").json()
    big = [op for op in body["operations"] if abs(op["gain_db"]) >= 2.0]
    ops = sorted(big, key=lambda op: op["frequency_hz"])
    assert len(ops) == 2, body["operations"]
    # Measured: 262.3 Hz / +6.0 dB and 4186.0 Hz / -6.0 dB, both 2.0 octaves wide (0.004
    # octave and 0 dB off; the report's median errors are 0.005 octave and 0.10 dB).
    for op, (want_freq, want_width, want_gain) in zip(ops, KNOWN_SET, strict=True):
        assert abs(math.log2(op["frequency_hz"] / want_freq)) < 0.02, op
        assert math.copysign(1, op["gain_db"]) == math.copysign(1, want_gain), op
        assert abs(op["gain_db"] - want_gain) < 0.3, op
        assert abs(math.log2(op["width_octaves"] / want_width)) < 0.1, op
    moves = {(s["band"], s["action"]) for s in body["suggestions"] if abs(s["gain_db"]) >= 2.0}
    assert moves == {("bass", "decrease"), ("treble", "increase")}
    curve = body["spectra"]["curve_db"]
    difference = body["spectra"]["difference_db"]
    # The recognised bells explain the measured difference: 0.34 dB at worst here.
    assert max(abs(c - d) for c, d in zip(curve, difference, strict=True)) < 0.7


def test_the_general_model_rates_the_known_set_exactly(
    real_client: TestClient, masters: tuple[Path, Path]
) -> None:
    body = post_pair(real_client, *masters, model="general").json()
    assert body["rating"] == 2, body["operations"]
    assert [(s["band"], s["action"]) for s in body["suggestions"]] == [
        ("bass", "decrease"),
        ("treble", "increase"),
    ]


@pytest.mark.parametrize("model", ["F1W2", "general"])
def test_an_mp3_candidate_is_still_rated_exactly(
    real_client: TestClient, masters: tuple[Path, Path], tmp_path: Path, model: str
) -> None:
    reference, candidate = masters
    samples, sample_rate_hz = sf.read(candidate, dtype="float32")
    mp3 = tmp_path / "candidate.mp3"
    # Constant bit rate as in the training's lossy round trips (about 160 kbps here).
    sf.write(
        mp3,
        samples,
        sample_rate_hz,
        format="MP3",
        subtype="MPEG_LAYER_III",
        bitrate_mode="CONSTANT",
        compression_level=0.6,
    )
    body = post_pair(real_client, reference, mp3, model=model).json()
    assert body["files"]["candidate"]["format"] == "mp3"
    assert_rated_as_the_known_set(body)


@pytest.mark.parametrize("cutoff_hz", [16_000.0, 11_000.0])
@pytest.mark.parametrize("model", ["F1W2", "general"])
def test_a_low_passed_candidate_is_still_rated_exactly(
    real_client: TestClient,
    masters: tuple[Path, Path],
    tmp_path: Path,
    model: str,
    cutoff_hz: float,
) -> None:
    # What a 128 kbps MP3 (16 kHz) or a lower bit rate (11 kHz) leaves, decoded to WAV.
    reference, candidate = masters
    samples, sample_rate_hz = sf.read(candidate, dtype="float32")
    decoded = tmp_path / "decoded.wav"
    sf.write(
        decoded, low_passed(samples, cutoff_hz=cutoff_hz, sample_rate_hz=sample_rate_hz), 44100
    )
    body = post_pair(real_client, reference, decoded, model=model).json()
    assert body["alignment"]["band_limited_file"] == "candidate"
    assert_rated_as_the_known_set(body)


@pytest.mark.parametrize("level_db", [6.0, 10.0])
@pytest.mark.parametrize("model", ["F1W2", "general"])
def test_a_louder_master_of_a_song_with_nothing_above_16_khz_is_rated_exactly(
    real_client: TestClient, tmp_path: Path, model: str, level_db: float
) -> None:
    # A song from a lossy source holds nothing above 16 kHz in either master; the
    # trainee's is louder. Where neither holds audio, the level change is no EQ.
    song = pink_noise(duration_s=30.0, sample_rate_hz=SAMPLE_RATE_HZ, seed=12)
    reference = tmp_path / "reference.wav"
    sf.write(
        reference,
        low_passed(song, cutoff_hz=16_000.0, sample_rate_hz=SAMPLE_RATE_HZ),
        SAMPLE_RATE_HZ,
        subtype="FLOAT",
    )
    candidate = tmp_path / "candidate.wav"
    sox_equalised(reference, candidate, level_db=level_db)
    body = post_pair(real_client, reference, candidate, model=model).json()
    assert body["alignment"]["band_limited_file"] is None
    # ... and the answer says where the reference stops, which shows nothing above it.
    assert abs(np.log2(body["alignment"]["reference_top_hz"] / 16_000.0)) <= 1 / 12
    assert body["alignment"]["level_offset_db"] == pytest.approx(level_db, abs=0.3)
    assert_rated_as_the_known_set(body)


def test_the_general_model_shows_the_difference_it_read_with_the_compression_left_out(
    real_client: TestClient, tmp_path: Path
) -> None:
    pedalboard = pytest.importorskip("pedalboard")
    music = kick_and_hats(duration_s=30.0)
    applied = [EqOperation(3_000.0, 4.0, 1.0)]
    compressor = pedalboard.Compressor(threshold_db=-30, ratio=6, attack_ms=2, release_ms=60)
    squashed = compressor(apply(music, applied, sample_rate_hz=SAMPLE_RATE_HZ) * 4, SAMPLE_RATE_HZ)
    reference, candidate = tmp_path / "reference.wav", tmp_path / "candidate.wav"
    sf.write(reference, music, SAMPLE_RATE_HZ, subtype="FLOAT")
    sf.write(candidate, squashed, SAMPLE_RATE_HZ, subtype="FLOAT")
    spectra = post_pair(real_client, reference, candidate, model="general").json()["spectra"]
    centres_hz = CURRENT_SPEC.spectrum.band_centres_hz
    truth = response_db(applied, frequency_hz=centres_hz, sample_rate_hz=SAMPLE_RATE_HZ)
    inner = (centres_hz > 40) & (centres_hz < 16_000)

    def error_db(difference_db: list[float]) -> float:
        error = (np.array(difference_db) - truth)[inner]
        return float(np.sqrt(np.mean((error - np.median(error)) ** 2)))

    # The general model, F1W2 and the chain refits read the demodulated transfer
    # (`FeatureSpec.demodulated`).
    f1w2 = post_pair(real_client, reference, candidate, model="F1W2").json()["spectra"]
    # Measured: 0.68 dB RMS off the EQ alone demodulated, 1.46 plain (the kick's frames
    # hold little above 150 Hz, where the demodulation reads `g(t)`; on music it reads
    # closer, `ops/transfer_check.py`).
    plain_error_db = error_db(spectra["difference_db"])
    assert error_db(spectra["eq_difference_db"]) < 0.6 * plain_error_db
    assert f1w2["eq_difference_db"] == pytest.approx(spectra["eq_difference_db"], abs=1e-6)
    for refit_id in ("F1/2W1", "F1W1", "F1/4W1", "F1/2W2", "F1/4W1/2", "F1W1/2", "F1/4W2"):
        refit = post_pair(real_client, reference, candidate, model=refit_id).json()["spectra"]
        assert refit["eq_difference_db"] == pytest.approx(spectra["eq_difference_db"], abs=1e-6)
