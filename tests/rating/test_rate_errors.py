"""Every bad input gets its status and a sentence naming the file and the limit; never a 500."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.ml.registry import ModelRegistry

from .badfiles import BAD_FILES, wav_bytes
from .conftest import make_settings, post_pair


@pytest.mark.parametrize("role", ["reference", "candidate"])
@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_file_gets_its_status_and_sentence(
    client: TestClient, pair: Callable[..., tuple[Path, Path]], kind: str, role: str
) -> None:
    make, status, words = BAD_FILES[kind]
    good, _ = pair()
    files = {"reference": good, "candidate": good, role: make()}
    response = post_pair(client, files["reference"], files["candidate"])
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert detail.startswith(f"{role}:"), detail
    for word in words:
        assert word in detail


def test_a_file_over_the_limit_is_refused_while_streaming(
    client: TestClient, settings: Settings, pair: Callable[..., tuple[Path, Path]]
) -> None:
    good, _ = pair()
    big = b"RIFF" + b"\0" * (settings.MAX_UPLOAD_MB * 1024 * 1024 + 10)
    response = post_pair(client, good, big)
    assert response.status_code == 413
    assert response.json() == {"detail": "candidate: is larger than the 4 MB limit per file."}


def test_a_request_over_the_limit_is_refused_from_its_content_length(client: TestClient) -> None:
    response = client.post(
        "/rate", content=b"x" * 10, headers={"Content-Length": str(50 * 1024 * 1024)}
    )
    assert response.status_code == 413
    assert "9 MB limit per request" in response.json()["detail"]
    assert "at most 4 MB" in response.json()["detail"]


def test_a_streamed_body_over_the_limit_is_cut_off(client: TestClient) -> None:
    def chunks():  # no Content-Length: chunked transfer
        for _ in range(12):
            yield b"y" * (1024 * 1024)

    response = client.post(
        "/rate", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=zz"}
    )
    assert response.status_code == 413
    assert "limit per request" in response.json()["detail"]


@pytest.mark.parametrize(
    ("kwargs", "status", "words"),
    [
        ({"json": {"reference": "x"}}, 415, ["multipart/form-data", "application/json"]),
        ({"content": b"--zz\r\nbroken"}, 415, ["no Content-Type"]),
        (
            {"content": b"garbage", "headers": {"Content-Type": "multipart/form-data"}},
            400,
            ["boundary"],
        ),
    ],
)
def test_a_body_that_is_not_a_form_is_refused(
    client: TestClient, kwargs: dict[str, object], status: int, words: list[str]
) -> None:
    response = client.post("/rate", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    for word in words:
        assert word in response.json()["detail"]


@pytest.mark.parametrize("missing", ["reference", "candidate"])
def test_a_missing_file_is_named(
    client: TestClient, pair: Callable[..., tuple[Path, Path]], missing: str
) -> None:
    good, _ = pair()
    present = "candidate" if missing == "reference" else "reference"
    response = client.post("/rate", files={present: ("a.wav", good.read_bytes(), "audio/wav")})
    assert response.status_code == 422
    assert response.json()["detail"].startswith(f"The {missing} file is missing")


def test_an_unknown_model_is_refused_with_the_choices(
    client: TestClient, pair: Callable[..., tuple[Path, Path]]
) -> None:
    good, _ = pair()
    response = post_pair(client, good, good, model="F9W9")
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "Unknown model 'F9W9'; choose one of general, F1W2 (see GET /models)."
    )


@pytest.mark.parametrize("amount", ["-5", "101", "abc", "nan", "inf"])
def test_an_amount_outside_0_to_100_is_refused(
    client: TestClient, pair: Callable[..., tuple[Path, Path]], amount: str
) -> None:
    good, _ = pair()
    response = post_pair(client, good, good, amount=amount)
    assert response.status_code == 422
    assert "amount must be a number from 0 to 100" in response.json()["detail"]


def test_masters_of_different_lengths_that_barely_overlap_are_refused(
    tmp_path: Path, fake_registry: ModelRegistry
) -> None:
    from .badfiles import noise

    song = noise(12.0)
    with TestClient(create_app(make_settings(tmp_path), registry=fake_registry)) as client:
        response = post_pair(client, wav_bytes(song[: 44_100 * 6]), wav_bytes(song[44_100 * 3 :]))
    assert response.status_code == 422, response.text
    assert "share only 3.0 s" in response.json()["detail"]
