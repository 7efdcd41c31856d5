"""The model registry: `models/registry.json` and one folder per model.

Layout::

    models/registry.json            {"default": "general", "models": {"F1W2": "F1W2", ...}}
    models/<folder>/metadata.json   id, kind, feature spec, labels, figures, command, ...
    models/<folder>/model.cbm       the CatBoost model, or model.cbm.gz gzip-compressed
    models/general/types.cbm.gz     a typed general model's type model (types.cbm, or gzipped)

Loading validates every model's feature spec against the code's and fails
fast with a sentence that says which model and which field differ. What a
model answers (`Recognition`) and what the service needs of one
(`RecognitionModel`) live in `app.ml.recognition`, which the model kinds import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.audio.transfer import DEMODULATION_VERSION
from app.ml.features import CURRENT_SPEC, FeatureSpec
from app.ml.general import GeneralModel
from app.ml.grid import GridModel
from app.ml.recognition import (
    COMPRESSED_MODEL_FILE,
    MODEL_FILE,
    TYPES_MODEL_FILE,
    ModelLoadError,
    Recognition,
    RecognitionModel,
    curve_db,
    has_model,
    load_classifier,
    model_bytes,
    model_file,
)

__all__ = [
    "COMPRESSED_MODEL_FILE",
    "MODEL_FILE",
    "ModelLoadError",
    "TYPES_MODEL_FILE",
    "ModelRegistry",
    "Recognition",
    "RecognitionModel",
    "check_feature_spec",
    "curve_db",
    "folder_name",
    "has_model",
    "load_classifier",
    "load_model",
    "load_registry",
    "model_bytes",
    "model_file",
    "write_registry",
]


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
    if spec.demodulated and spec.demodulation_version != DEMODULATION_VERSION:
        raise ModelLoadError(
            f"model {model_id} was trained on the transfer's demodulation version "
            f"{spec.demodulation_version} (0: before versions were recorded); this code "
            f"computes version {DEMODULATION_VERSION}. Rebuild its dataset and retrain it "
            "with `mastering-trainer dataset build` and `train`, or install the matching code."
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
        return GridModel.load(folder, metadata)
    if kind == "general":
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
