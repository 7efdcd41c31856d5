"""Every operation type through POST /rate, the page's table and curve, and the OpenAPI schema."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.audio.eq import EqOperation, response_db
from app.audio.spectrum import Comparison
from app.config import Settings
from app.main import create_app
from app.ml.registry import ModelRegistry, Recognition

from .conftest import post_pair

#: What the typed model answers whatever it hears: one operation of each type.
TYPED = [
    EqOperation(30.0, 0.0, type="high_pass", order=4),
    EqOperation(120.0, 3.0, type="low_shelf", slope=0.5),
    EqOperation(1000.0, -2.0, 1.0),
    EqOperation(6000.0, -3.0, type="high_shelf", slope=1.0),
    EqOperation(15_000.0, 0.0, type="low_pass", order=2),
]


class TypedModel:
    """Answers `TYPED`, with its summed response as the curve."""

    id = "general"
    metadata = {"id": "general", "description": "typed operations", "figures": {}}

    def recognise(self, comparison: Comparison) -> Recognition:
        curve = response_db(
            TYPED,
            frequency_hz=comparison.spec.band_centres_hz,
            sample_rate_hz=comparison.spec.sample_rate_hz,
        )
        return Recognition(model_id=self.id, operations=TYPED, curve_db=curve)


@pytest.fixture
def typed_client(settings: Settings) -> Iterator[TestClient]:
    """The real app, its only model the typed one."""
    registry = ModelRegistry(models={"general": TypedModel()}, default_id="general")
    with TestClient(create_app(settings, registry=registry)) as test_client:
        yield test_client


def test_every_operation_carries_its_type_and_shape(
    typed_client: TestClient, pair: Callable[..., tuple[Path, Path]]
) -> None:
    reference, candidate = pair()
    body = post_pair(typed_client, reference, candidate).json()
    assert body["rating"] == 5
    shapes = [
        (op["type"], op["gain_db"], op["width_octaves"], op["slope"], op["order"])
        for op in body["operations"]
    ]
    assert shapes == [
        ("high_pass", 0.0, None, None, 4),
        ("low_shelf", 3.0, None, 0.5, None),
        ("bell", -2.0, 1.0, None, None),
        ("high_shelf", -3.0, None, 1.0, None),
        ("low_pass", 0.0, None, None, 2),
    ]
    assert [s["text"] for s in body["suggestions"]] == [
        "Remove the high-pass at 30 Hz",
        "Lower the low shelf: about 3 dB below 120 Hz",
        "Increase mids: boost about 2 dB around 1 kHz",
        "Raise the high shelf: about 3 dB above 6 kHz",
        "Remove the low-pass at 15 kHz",
    ]
    assert [s["type"] for s in body["suggestions"]] == [op["type"] for op in body["operations"]]
    # the page's dashed curve is each type's own response, summed
    spectra = body["spectra"]
    expected = response_db(
        TYPED, frequency_hz=np.array(spectra["band_centres_hz"]), sample_rate_hz=44_100
    )
    np.testing.assert_allclose(spectra["curve_db"], expected, atol=0.01)
    assert min(spectra["curve_db"]) < -20  # the high-pass's and low-pass's skirts are drawn


def test_the_page_names_each_type_and_its_shape(
    typed_client: TestClient, pair: Callable[..., tuple[Path, Path]]
) -> None:
    reference, candidate = pair()
    html = typed_client.post(
        "/",
        files={
            "reference": ("reference.wav", reference.read_bytes(), "audio/wav"),
            "candidate": ("candidate.wav", candidate.read_bytes(), "audio/wav"),
        },
        headers={"HX-Request": "true"},
    ).text
    for words in ("high pass", "24 dB/oct", "low shelf", "slope 0.5", "1.0 oct", "12 dB/oct"):
        assert words in html
    assert "Remove the high-pass at 30 Hz" in html


def test_openapi_documents_the_types(typed_client: TestClient) -> None:
    schemas = typed_client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("Operation", "SuggestionOut"):
        kind = schemas[name]["properties"]["type"]
        # A suggestion of another kind than eq (loudness, ...) has type null.
        kind = {**kind, **next((k for k in kind.get("anyOf", []) if "enum" in k), {})}
        assert kind["enum"] == ["bell", "low_shelf", "high_shelf", "high_pass", "low_pass"]
        assert kind["default"] == "bell"
    assert "order" in schemas["Operation"]["properties"]
    assert "slope" in schemas["Operation"]["properties"]
