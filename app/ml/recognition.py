"""What every model kind shares: its answer (`Recognition`), the service's view of it, its file.

The registry (`app.ml.registry`) loads the model kinds (`app.ml.grid`,
`app.ml.general`); they import these shared types from here, not from the
registry, so that no module imports one that imports it back.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
from catboost import CatBoost, CatBoostClassifier

from app.audio.eq import EqOperation, response_db
from app.audio.spectrum import Comparison, past_band_limit
from app.ml.features import CURRENT_SPEC

#: The CatBoost file in every model folder.
MODEL_FILE = "model.cbm"
#: The same file gzip-compressed; read when `MODEL_FILE` is absent.
COMPRESSED_MODEL_FILE = MODEL_FILE + ".gz"
#: The general model's second CatBoost file: which operation types but bells are present.
TYPES_MODEL_FILE = "types.cbm"


class ModelLoadError(RuntimeError):
    """A model folder that cannot be served (missing files, other feature spec)."""


@dataclass(frozen=True, kw_only=True)
class Recognition:
    """The EQ operations that turn the reference into the candidate."""

    model_id: str
    operations: list[EqOperation]
    #: Summed response of `operations` at the band centres, dB.
    curve_db: np.ndarray
    #: Per-operation confidence in [0, 1], same order as `operations`.
    confidence: list[float] = field(default_factory=list)
    #: The level-aligned band difference the fits read where it is not the comparison's
    #: (a model with `FeatureSpec.coherent` reads the candidate through the static
    #: transfer, so a compressor's or a limiter's imprint is left out); None where it is.
    read_difference_db: np.ndarray | None = None

    def seen_below(self, band_limit_hz: float | None) -> Recognition:
        """This recognition without the operations too far past a band limit to be seen.

        Above the limit one file holds no audio (`Comparison.band_limit_hz`), so
        a bell found there is the models' guess at a flat line, not an EQ move
        (`app.audio.spectrum.past_band_limit`).
        """
        past = past_band_limit(
            np.array([op.frequency_hz for op in self.operations]), band_limit_hz=band_limit_hz
        )
        if not past.any():
            return self
        kept = [op for op, gone in zip(self.operations, past, strict=True) if not gone]
        confidence = [c for c, gone in zip(self.confidence, past, strict=False) if not gone]
        return replace(self, operations=kept, curve_db=curve_db(kept), confidence=confidence)


class RecognitionModel(Protocol):
    """What the service needs of a model."""

    id: str
    metadata: dict[str, Any]

    def recognise(self, comparison: Comparison) -> Recognition:
        """Recognise the operations separating the two masters of `comparison`."""
        ...


def curve_db(operations: list[EqOperation]) -> np.ndarray:
    """Summed response of `operations` at the feature spec's band centres, dB."""
    return response_db(
        operations,
        frequency_hz=CURRENT_SPEC.spectrum.band_centres_hz,
        sample_rate_hz=CURRENT_SPEC.sample_rate_hz,
    )


def model_file(folder: Path, *, name: str = MODEL_FILE) -> Path:
    """A model file of a folder: `name` (``model.cbm``), else the same gzip-compressed.

    Raises
    ------
    ModelLoadError
        When the folder holds neither.
    """
    for candidate in (name, name + ".gz"):
        if (folder / candidate).is_file():
            return folder / candidate
    raise ModelLoadError(f"{folder}: no {name} or {name}.gz")


def has_model(folder: Path, *, name: str = MODEL_FILE) -> bool:
    """Whether a folder holds a model file, compressed or not."""
    return any((folder / candidate).is_file() for candidate in (name, name + ".gz"))


def model_bytes(folder: Path, *, name: str = MODEL_FILE) -> bytes:
    """The (decompressed) CatBoost model of a folder, as `name` holds it."""
    path = model_file(folder, name=name)
    data = path.read_bytes()
    return data if path.name == name else gzip.decompress(data)


def load_classifier(folder: Path, *, name: str = MODEL_FILE) -> CatBoostClassifier:
    """The CatBoost classifier stored in a model folder, compressed or not."""
    return _loaded(CatBoostClassifier(), folder, name=name)


def load_scorer(folder: Path, *, name: str) -> CatBoost:
    """A CatBoost model stored in a model folder whose raw scores are read (a ranker's or a
    classifier's log-odds alike), compressed or not."""
    return _loaded(CatBoost(), folder, name=name)


_Model = TypeVar("_Model", bound=CatBoost)


def _loaded(model: _Model, folder: Path, *, name: str) -> _Model:
    path = model_file(folder, name=name)
    if path.name == name:
        model.load_model(str(path))
    else:
        model.load_model(blob=model_bytes(folder, name=name))
    return model
