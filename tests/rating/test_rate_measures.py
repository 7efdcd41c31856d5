"""POST /rate answers loudness, dynamics and stereo of both masters, documented in OpenAPI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from ..conftest import SAMPLE_RATE_HZ
from .conftest import post_pair


def test_the_same_file_gets_measures_and_no_suggestion(
    client: TestClient, pair: Callable[..., tuple[Path, Path]]
) -> None:
    reference, _ = pair()
    body = post_pair(client, reference, reference).json()
    assert body["suggestions"] == []
    loudness = body["loudness"]
    assert loudness["reference"] == loudness["candidate"]
    assert loudness["difference_lu"] == 0.0 and loudness["target_lufs"] == -14.0
    ref = loudness["reference"]
    assert ref["true_peak_dbtp"] >= ref["sample_peak_dbfs"]
    assert ref["plr_db"] == pytest.approx(ref["true_peak_dbtp"] - ref["integrated_lufs"], abs=0.02)
    assert ref["normalised_gain_db"] == pytest.approx(-14.0 - ref["integrated_lufs"], abs=0.02)
    assert ref["short_term_step_s"] == 0.5 and ref["short_term_start_s"] == 3.0
    # Eight seconds: 3 s blocks ending at 3.0, 3.5, ... 8.0 s.
    assert len(ref["short_term_lufs"]) == 11
    dynamics = body["dynamics"]
    assert [band["low_hz"] for band in dynamics["bands"]][:2] == [44.2, 88.4]
    assert len(dynamics["bands"]) == 9 and dynamics["limiting_db"] == 0.0
    stereo = body["stereo"]
    assert len(stereo["bands"]) == 9
    assert {"reference_width_db", "candidate_correlation"} <= stereo["bands"][0].keys()


def test_a_quieter_candidate_gets_one_loudness_suggestion(
    client: TestClient, tmp_path: Path, master: np.ndarray
) -> None:
    reference, candidate = tmp_path / "reference.wav", tmp_path / "candidate.wav"
    sf.write(reference, master, SAMPLE_RATE_HZ, subtype="FLOAT")
    sf.write(candidate, master * 10 ** (-4 / 20), SAMPLE_RATE_HZ, subtype="FLOAT")
    body = post_pair(client, reference, candidate).json()
    assert body["rating"] == 0
    (move,) = body["suggestions"]
    assert move["kind"] == "loudness" and move["action"] == "increase"
    assert move["gain_db"] == pytest.approx(4.0, abs=0.05)
    assert move["band"] is None and move["frequency_hz"] is None
    assert body["loudness"]["difference_lu"] == pytest.approx(-4.0, abs=0.05)


def test_a_mono_candidate_has_no_stereo_comparison(
    client: TestClient, tmp_path: Path, master: np.ndarray
) -> None:
    reference, candidate = tmp_path / "reference.wav", tmp_path / "candidate.wav"
    sf.write(reference, master, SAMPLE_RATE_HZ, subtype="PCM_16")
    sf.write(candidate, master.mean(axis=1), SAMPLE_RATE_HZ, subtype="PCM_16")
    body = post_pair(client, reference, candidate).json()
    assert body["stereo"] is None
    assert body["loudness"]["candidate"]["integrated_lufs"] < 0


def test_the_measures_are_documented_in_openapi(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    answer = schemas["RateResponse"]["properties"]
    assert {"loudness", "dynamics", "stereo"} <= answer.keys()
    assert "kind" in schemas["SuggestionOut"]["properties"]
    loudness = schemas["FileLoudness"]["properties"]
    for field in ("integrated_lufs", "momentary_max_lufs", "short_term_max_lufs",
                  "loudness_range_lu", "sample_peak_dbfs", "true_peak_dbtp", "plr_db",
                  "normalised_gain_db", "short_term_lufs"):  # fmt: skip
        assert loudness[field].get("description") or field in schemas["FileLoudness"]["required"]
    assert schemas["StereoBand"]["properties"].keys() >= {
        "low_hz", "high_hz", "reference_width_db", "candidate_width_db",
        "reference_correlation", "candidate_correlation",
    }  # fmt: skip
