"""POST /rate and GET /models through the real ASGI app, with fake models and real audio files."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from app.audio.eq import EqOperation
from app.ml.registry import ModelRegistry

from ..conftest import low_passed
from .conftest import post_pair

CONTRACT_KEYS = {"rating", "model", "operations", "suggestions"}


def test_a_master_against_itself_rates_zero(
    client: TestClient, pair: Callable[..., tuple[Path, Path]]
) -> None:
    reference, _ = pair()
    response = post_pair(client, reference, reference)
    assert response.status_code == 200, response.text
    body = response.json()
    assert CONTRACT_KEYS <= body.keys()
    assert body["rating"] == 0
    assert body["operations"] == [] and body["suggestions"] == []
    assert body["model"] == "general"
    assert max(abs(v) for v in body["spectra"]["difference_db"]) < 0.1
    assert body["alignment"]["offset_s"] == 0.0


def test_the_answer_carries_operations_suggestions_spectra_and_timings(
    client: TestClient, pair: Callable[..., tuple[Path, Path]]
) -> None:
    reference, candidate = pair([EqOperation(1000.0, -6.0, 1.0)])
    body = post_pair(client, reference, candidate, model="F1W2").json()
    assert body["rating"] == 1 and body["model"] == "F1W2"
    (op,) = body["operations"]
    assert op["gain_db"] == pytest.approx(-6.0, abs=0.6)
    assert op["frequency_hz"] == pytest.approx(1000.0, rel=0.1)
    assert op["band"] == "mids"
    (move,) = body["suggestions"]
    assert move["action"] == "increase" and move["band"] == "mids"
    assert move["gain_db"] == pytest.approx(-op["gain_db"])
    assert move["text"].startswith("Increase mids: boost about 6 dB around ")
    spectra = body["spectra"]
    assert len(spectra["band_centres_hz"]) == 120
    for key in ("reference_db", "candidate_db", "difference_db", "curve_db"):
        assert len(spectra[key]) == 120
    assert max(spectra["reference_db"]) == 0.0
    assert min(spectra["difference_db"]) == pytest.approx(-6.0, abs=0.6)
    assert body["files"]["candidate"]["channels"] == 2
    assert len(body["files"]["reference"]["sha256"]) == 64
    timings = body["timings"]
    assert 0 < timings["analysis_s"] <= timings["total_s"]


def test_amount_scales_the_suggested_gains(
    client: TestClient, pair: Callable[..., tuple[Path, Path]]
) -> None:
    reference, candidate = pair([EqOperation(300.0, 6.0, 1.0)])
    full = post_pair(client, reference, candidate).json()
    half = post_pair(client, reference, candidate, amount="50").json()
    assert half["amount"] == 50.0
    assert half["operations"] == full["operations"]
    assert half["suggestions"][0]["gain_db"] == pytest.approx(full["suggestions"][0]["gain_db"] / 2)
    assert half["suggestions"][0]["text"].startswith("Decrease bass: cut about 3 dB")


def test_a_trimmed_and_quieter_candidate_is_aligned(
    client: TestClient, pair: Callable[..., tuple[Path, Path]], tmp_path: Path
) -> None:
    import soundfile as sf

    reference, _ = pair()
    samples, rate = sf.read(reference, dtype="float32")
    trimmed = tmp_path / "trimmed.wav"
    sf.write(trimmed, samples[rate // 2 :] * 0.5, rate, subtype="PCM_16")
    body = post_pair(client, reference, trimmed).json()
    assert body["rating"] == 0
    assert body["alignment"]["offset_s"] == pytest.approx(0.5, abs=0.001)
    assert body["alignment"]["level_offset_db"] == pytest.approx(-6.02, abs=0.1)


def test_uploads_are_spooled_privately_and_always_removed(
    client: TestClient,
    pair: Callable[..., tuple[Path, Path]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    reference, candidate = pair([EqOperation(1000.0, -6.0, 1.0)])
    assert post_pair(client, reference, candidate).status_code == 200
    assert post_pair(client, reference, b"").status_code == 422
    assert post_pair(client, reference, candidate, model="nope").status_code == 422
    assert list(spool.iterdir()) == []


def test_the_spool_folder_is_private() -> None:
    from app.rating.uploads import Spool

    spool = Spool.create()
    try:
        assert spool.folder.stat().st_mode & 0o777 == 0o700
    finally:
        spool.remove()
    assert not spool.folder.exists()


def test_models_lists_ids_what_they_recognise_and_figures(client: TestClient) -> None:
    body = client.get("/models").json()
    assert body["default"] == "general"
    assert [m["id"] for m in body["models"]] == ["general", "F1W2"]
    general = body["models"][0]
    assert general["default"] is True
    assert general["recognises"] and general["figures"] == {"exact_set_accuracy": 1.0}


@pytest.mark.parametrize(("format", "lossy"), [("WAV", False), ("FLAC", False), ("MP3", True)])
def test_the_model_is_told_whether_the_candidate_was_lossy_coded(
    client: TestClient,
    fake_registry: ModelRegistry,
    pair: Callable[..., tuple[Path, Path]],
    format: str,
    lossy: bool,
) -> None:
    reference, candidate = pair()
    samples, sample_rate_hz = sf.read(candidate, dtype="float32")
    encoded = candidate.with_suffix(f".{format.lower()}")
    sf.write(encoded, samples, sample_rate_hz, format=format)
    assert post_pair(client, reference, encoded).status_code == 200
    comparison = fake_registry.get().last_comparison  # type: ignore[attr-defined]
    assert comparison.candidate_lossy is lossy


def test_a_low_passed_candidate_is_reported_and_explained_on_the_page(
    client: TestClient, pair: Callable[..., tuple[Path, Path]], tmp_path: Path
) -> None:
    reference, candidate = pair([EqOperation(1000.0, -6.0, 1.0)])
    samples, rate = sf.read(candidate, dtype="float32")
    mp3_like = tmp_path / "mp3-like.wav"
    sf.write(mp3_like, low_passed(samples, cutoff_hz=11_000.0, sample_rate_hz=rate), rate)
    alignment = post_pair(client, reference, mp3_like).json()["alignment"]
    assert alignment["band_limited_file"] == "candidate"
    assert 11_000.0 * 2**-0.25 < alignment["band_limit_hz"] <= 11_000.0
    assert post_pair(client, reference, candidate).json()["alignment"]["band_limit_hz"] is None
    files = {
        "reference": ("reference.wav", reference.read_bytes(), "audio/wav"),
        "candidate": ("mine.wav", mp3_like.read_bytes(), "audio/wav"),
    }
    page = client.post("/", files=files, headers={"HX-Request": "true"})
    assert page.status_code == 200, page.text
    assert "Your master holds no audio above 10.2 kHz" in " ".join(page.text.split())
    assert "data-reference-top" not in page.text


def test_a_reference_that_stops_short_is_reported_and_explained_on_the_page(
    client: TestClient, pair: Callable[..., tuple[Path, Path]], tmp_path: Path
) -> None:
    # Both files from one MP3-sourced song, as loud as a master, on a CD's 16 bits:
    # nothing but the quantisation's floor above 15 kHz.
    reference, candidate = pair([EqOperation(1000.0, -6.0, 1.0)])
    files = {}
    for name, path in (("reference", reference), ("candidate", candidate)):
        samples, rate = sf.read(path, dtype="float32")
        cut = low_passed(samples, cutoff_hz=15_000.0, sample_rate_hz=rate)
        files[name] = tmp_path / f"{name}-15k.wav"
        sf.write(files[name], 0.9 * cut / np.max(np.abs(cut)), rate, subtype="PCM_16")
    alignment = post_pair(client, files["reference"], files["candidate"]).json()["alignment"]
    assert alignment["band_limit_hz"] is None
    assert abs(alignment["reference_top_hz"] - 15_000.0) < 1_000.0
    assert post_pair(client, reference, candidate).json()["alignment"]["reference_top_hz"] is None
    upload = {name: (f"{name}.wav", path.read_bytes(), "audio/wav") for name, path in files.items()}
    page = client.post("/", files=upload, headers={"HX-Request": "true"})
    assert page.status_code == 200, page.text
    top_khz = round(alignment["reference_top_hz"] / 1000, 1)
    assert f"The reference holds no audio above {top_khz} kHz" in " ".join(page.text.split())
