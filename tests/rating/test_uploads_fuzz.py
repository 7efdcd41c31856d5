"""Bounded fuzzing of upload parsing: mangled multipart bodies sent to POST /rate through the real
ASGI app are answered 200 or a 4xx/503 with a JSON `detail`, never a 500. `make fuzz` runs more
examples (FUZZ_EXAMPLES, default 25 in `make test`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from app.main import create_app
from app.ml.registry import ModelRegistry
from tests.fuzzing import fuzz_settings

from .badfiles import noise, wav_bytes
from .conftest import FakeModel, make_settings

FUZZ = fuzz_settings(HealthCheck.function_scoped_fixture)
BOUNDARY = "fuzzboundary1234"
WAV = wav_bytes(noise(5.5))


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    registry = ModelRegistry(models={"general": FakeModel("general")}, default_id="general")
    settings_ = make_settings(tmp_path_factory.mktemp("fuzz"), MAX_UPLOAD_MB=1)
    with TestClient(create_app(settings_, registry=registry)) as client:
        yield client


def part(*, name: str, filename: str | None, content_type: str, body: bytes) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    head = f"Content-Disposition: {disposition}\r\nContent-Type: {content_type}\r\n\r\n"
    return f"--{BOUNDARY}\r\n".encode() + head.encode("utf-8", "surrogatepass") + body + b"\r\n"


names = st.sampled_from(["reference", "candidate", "model", "amount", ""]) | st.text(max_size=20)
texts = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters='"\r\n'), max_size=40
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    """Multipart bodies built from plausible and hostile parts, then maybe mangled."""
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        parts.append(
            part(
                name=draw(names).replace('"', ""),
                filename=draw(st.none() | texts),
                content_type=draw(st.sampled_from(["audio/wav", "text/plain", ""]) | texts),
                body=draw(st.sampled_from([WAV, WAV[:100], b"", b"50"]) | st.binary(max_size=512)),
            )
        )
    body = b"".join(parts) + (f"--{BOUNDARY}--\r\n".encode() if draw(st.booleans()) else b"")
    if draw(st.booleans()) and body:
        position = draw(st.integers(0, len(body) - 1))
        body = body[:position] + draw(st.binary(max_size=16)) + body[position + 1 :]
    return body


def assert_clean(response: object) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    assert status == 200 or 400 <= status < 500 or status == 503, status
    if status != 200:
        assert response.json()["detail"]  # type: ignore[attr-defined]


@FUZZ
@given(body=bodies())
def test_mangled_multipart_is_refused_cleanly(fuzz_client: TestClient, body: bytes) -> None:
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    assert_clean(fuzz_client.post("/rate", content=body, headers=headers))


@FUZZ
@given(
    content_type=st.sampled_from(
        ["multipart/form-data", "multipart/form-data; boundary=", "application/json", "audio/wav"]
    )
    | texts,
    body=st.binary(max_size=2048),
)
def test_arbitrary_bodies_and_content_types_are_refused_cleanly(
    fuzz_client: TestClient, content_type: str, body: bytes
) -> None:
    headers = {"Content-Type": content_type.encode("utf-8")}
    assert_clean(fuzz_client.post("/rate", content=body, headers=headers))


def test_a_body_cut_off_inside_the_reference_is_a_400(fuzz_client: TestClient) -> None:
    """Found by the fuzzing above: it answered 500 (KeyError) before."""
    body = part(name="candidate", filename="c.wav", content_type="audio/wav", body=WAV)
    body += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="reference"; '.encode()
    body += b'filename="r.wav"\r\n\r\n' + WAV[:1000]
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    answer = fuzz_client.post("/rate", content=body, headers=headers)
    assert answer.status_code == 400
    assert "reference file is incomplete" in answer.json()["detail"]


def test_the_fuzzed_app_still_rates(fuzz_client: TestClient, tmp_path: Path) -> None:
    files = {"reference": ("r.wav", WAV, "audio/wav"), "candidate": ("c.wav", WAV, "audio/wav")}
    assert fuzz_client.post("/rate", files=files).status_code == 200


def test_a_body_cut_off_inside_the_candidate_is_a_400_not_a_truncated_rating(
    fuzz_client: TestClient,
) -> None:
    body = part(name="reference", filename="r.wav", content_type="audio/wav", body=WAV)
    body += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="candidate"; '.encode()
    body += b'filename="c.wav"\r\n\r\n' + WAV[: len(WAV) // 2]
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    answer = fuzz_client.post("/rate", content=body, headers=headers)
    assert answer.status_code == 400
    assert "candidate file is incomplete" in answer.json()["detail"]
