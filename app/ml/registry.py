"""The model registry: `models/registry.json` and one folder per model.

Layout::

    models/registry.json            {"default": "general", "models": {"F1W2": "F1W2", ...}}
    models/<folder>/metadata.json   id, kind, feature spec, labels, figures, command, ...
    models/<folder>/*.cbm           the CatBoost model files of that kind

Loading validates every model's feature spec against the code's and fails
fast with a sentence that says which model and which field differ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from catboost import CatBoostClassifier

from app.audio.eq import EqOperation, response_db
from app.audio.spectrum import Comparison, past_band_limit
from app.ml.features import CURRENT_SPEC, FeatureSpec

#: The CatBoost file in every model folder.
MODEL_FILE = "model.cbm"


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


def load_classifier(folder: Path) -> CatBoostClassifier:
    """The CatBoost classifier stored in a model folder."""
    classifier = CatBoostClassifier()
    classifier.load_model(str(folder / MODEL_FILE))
    return classifier


def curve_db(operations: list[EqOperation]) -> np.ndarray:
    """Summed response of `operations` at the feature spec's band centres, dB."""
    return response_db(
        operations,
        frequency_hz=CURRENT_SPEC.spectrum.band_centres_hz,
        sample_rate_hz=CURRENT_SPEC.sample_rate_hz,
    )


def folder_name(model_id: str) -> str:
    """Folder of a model id: ``F1/2W1/2`` lives in ``F1_2W1_2``."""
    return model_id.replace("/", "_")


def check_feature_spec(metadata: dict[str, Any], *, model_id: str) -> None:
    """Raise `ModelLoadError` when the model was trained on other features than the code's."""
    stored = metadata.get("feature_spec")
    if not isinstance(stored, dict):
        raise ModelLoadError(f"model {model_id}: metadata.json has no feature_spec")
    try:
        spec = FeatureSpec.from_dict(stored)
    except TypeError as error:
        raise ModelLoadError(f"model {model_id}: unreadable feature_spec ({error})") from error
    base = spec.without_options()
    if base != CURRENT_SPEC:
        differing = [
            f"{name} {getattr(base, name)!r} (code: {getattr(CURRENT_SPEC, name)!r})"
            for name in CURRENT_SPEC.__dataclass_fields__
            if getattr(base, name) != getattr(CURRENT_SPEC, name)
        ]
        raise ModelLoadError(
            f"model {model_id} was trained on other features than this code computes: "
            + ", ".join(differing)
            + ". Retrain it with `mastering-trainer train` or install the matching code."
        )


def load_model(folder: Path) -> RecognitionModel:
    """Load one model folder, checking its metadata and feature spec."""
    metadata_path = folder / "metadata.json"
    if not metadata_path.is_file():
        raise ModelLoadError(f"{folder}: no metadata.json")
    metadata = json.loads(metadata_path.read_text())
    model_id = str(metadata.get("id", folder.name))
    check_feature_spec(metadata, model_id=model_id)
    kind = metadata.get("kind")
    if kind == "grid":
        from app.ml.grid import GridModel

        return GridModel.load(folder, metadata)
    if kind == "general":
        from app.ml.general import GeneralModel

        return GeneralModel.load(folder, metadata)
    raise ModelLoadError(f"model {model_id}: unknown kind {kind!r}")


@dataclass
class ModelRegistry:
    """Every servable model, by id, loaded once."""

    models: dict[str, RecognitionModel]
    default_id: str

    @property
    def ids(self) -> list[str]:
        """Model ids in registry order."""
        return list(self.models)

    def get(self, model_id: str | None = None) -> RecognitionModel:
        """The model `model_id`, or the default; `KeyError` for an unknown id."""
        return self.models[model_id or self.default_id]


def load_registry(models_dir: Path) -> ModelRegistry:
    """Load every model listed in ``models_dir/registry.json``.

    Raises
    ------
    ModelLoadError
        When the registry or any listed model cannot be served.
    """
    registry_path = models_dir / "registry.json"
    if not registry_path.is_file():
        raise ModelLoadError(f"{registry_path} is missing; train models or set MODELS_DIR")
    registry = json.loads(registry_path.read_text())
    models = {
        model_id: load_model(models_dir / folder)
        for model_id, folder in registry.get("models", {}).items()
    }
    default_id = registry.get("default") or next(iter(models), "")
    if default_id not in models:
        raise ModelLoadError(f"{registry_path}: default model {default_id!r} is not listed")
    return ModelRegistry(models=models, default_id=default_id)


def write_registry(models_dir: Path, *, model_ids: list[str], default_id: str) -> None:
    """Write ``registry.json`` listing `model_ids` (their folders must exist)."""
    payload = {"default": default_id, "models": {mid: folder_name(mid) for mid in model_ids}}
    (models_dir / "registry.json").write_text(json.dumps(payload, indent=2) + "\n")
