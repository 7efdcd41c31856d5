"""Cheap checks first: both uploads' headers, and what decoding would cost, before any decoding."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import app.rating.service as rating_service

from .conftest import post_pair


def lying_flac(*, sample_rate_hz: int, channels: int, duration_s: float) -> bytes:
    """A FLAC STREAMINFO header that claims this much audio, and next to no data."""
    frames = int(duration_s * sample_rate_hz)
    info = (sample_rate_hz << 44) | ((channels - 1) << 41) | (15 << 36) | frames
    block = (4096).to_bytes(2, "big") * 2 + bytes(6) + info.to_bytes(8, "big") + bytes(16)
    return b"fLaC" + bytes([0x80, 0, 0, 34]) + block + bytes(4096)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files the rating service decodes."""
    names: list[str] = []
    real = rating_service.load_audio

    def spy(source: Any, **kwargs: Any) -> Any:
        names.append(kwargs.get("name", "?"))
        return real(source, **kwargs)

    monkeypatch.setattr(rating_service, "load_audio", spy)
    return names


def test_a_bad_candidate_is_refused_before_the_reference_is_decoded(
    client: TestClient, pair: Callable[..., tuple[Path, Path]], decodes: list[str]
) -> None:
    reference, _ = pair()
    response = post_pair(client, reference, b"not audio at all " * 64)
    assert response.status_code == 415
    assert response.json()["detail"].startswith("candidate:")
    assert decodes == []


def test_a_file_too_costly_to_decode_is_refused_cheaply(
    client: TestClient, pair: Callable[..., tuple[Path, Path]], decodes: list[str]
) -> None:
    _, candidate = pair()
    hostile = lying_flac(sample_rate_hz=192_000, channels=8, duration_s=15 * 60)
    response = post_pair(client, hostile, candidate)
    assert response.status_code == 413
    detail = response.json()["detail"]
    assert detail.startswith("reference: 15.0 min at 192000 Hz with 8 channels")
    assert "the limit is 346 million" in detail
    assert decodes == []
    # The same file as the candidate: refused before the (good) reference is decoded.
    reference, _ = pair()
    response = post_pair(client, reference, hostile)
    assert response.status_code == 413 and response.json()["detail"].startswith("candidate:")
    assert decodes == []


def test_good_files_are_decoded_once_each(
    client: TestClient, pair: Callable[..., tuple[Path, Path]], decodes: list[str]
) -> None:
    reference, candidate = pair()
    assert post_pair(client, reference, candidate).status_code == 200
    assert decodes == ["reference", "candidate"]
