"""Evaluate every fitted model, install it with its figures, and write the report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import track

from app.ml.features import CURRENT_SPEC
from app.training import evaluate as ev
from app.training import train as training
from app.training.corpus import manifest_hash
from app.training.grids import GRID_CONFIGS


def _fits(fitted_dir: Path) -> dict[str, dict[str, Any]]:
    return {
        path.parent.name: json.loads(path.read_text())
        for path in sorted(fitted_dir.glob("*/fit.json"))
    }


def build_report(*, bundle_dir: Path, fitted_dir: Path, models_dir: Path, manifest: Path) -> Path:
    """Figures for every fitted model, models installed, ``REPORT.md`` written."""
    manifest_sha256 = manifest_hash(manifest)
    fits = _fits(fitted_dir)
    grid_figures: dict[str, dict[str, Any]] = {}
    for config in track(GRID_CONFIGS, description="evaluating grid models"):
        name = training.bundle_name(config.id)
        if name not in fits:
            continue
        bundle = training.load_bundle(bundle_dir / f"{name}.npz")
        validation_mask = bundle["is_validation"].astype(bool)
        probabilities, classes = ev.load_validation(fitted_dir, name)
        predicted = ev.grid_predictions(probabilities, classes, n_notes=len(config.notes_hz))
        figures = ev.evaluate_grid(
            config=config,
            validation=training.bundle_dataset(bundle).validation,
            features=bundle["features"][validation_mask],
            predicted=predicted,
            truth=bundle["targets"][validation_mask],
        )
        grid_figures[config.id] = figures
        _install(config.id, fits[name], fitted_dir, models_dir, manifest_sha256, figures)
    general: dict[str, Any] | None = None
    if "general" in fits:
        bundle = training.load_bundle(bundle_dir / "general.npz")
        validation_mask = bundle["is_validation"].astype(bool)
        probabilities, classes = ev.load_validation(fitted_dir, "general")
        general = ev.evaluate_general(
            validation=training.bundle_dataset(bundle).validation,
            features=bundle["features"][validation_mask],
            count_probabilities=probabilities,
            classes=classes,
        )
        _install("general", fits["general"], fitted_dir, models_dir, manifest_sha256, general)
    closed_set: dict[str, dict[str, float | None]] = {}
    for config in GRID_CONFIGS:
        name = ev.closed_set_name(config.id)
        if name not in fits:
            continue
        bundle = training.load_bundle(bundle_dir / f"{name}.npz")
        targets = bundle["targets"][bundle["is_validation"].astype(bool)]
        closed_set[config.id] = {
            "paper_faithful": ev.evaluate_closed_set(
                *ev.load_validation(fitted_dir, name), targets
            ),
            "ours": ev.evaluate_closed_set(
                *ev.load_validation(fitted_dir, name + training.OURS_SUFFIX), targets
            )
            if name + training.OURS_SUFFIX in fits
            else None,
        }
    installed = training.update_registry(models_dir)
    if grid_figures:
        ev.draw_note_errors(grid_figures, path=models_dir / "note_errors.png")
    report = {
        "command": "mastering-trainer evaluate",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": training.git_commit(),
        "manifest_sha256": manifest_sha256,
        "feature_spec": CURRENT_SPEC.to_dict(),
        "paper": ev.paper_figures(),
        "aims": ev.AIMS,
        "grid": grid_figures,
        "general": general,
        "closed_set": closed_set,
        "fits": fits,
        "installed": installed,
    }
    return ev.write_report(report, models_dir=models_dir)


def _install(
    model_id: str,
    fit_info: dict[str, Any],
    fitted_dir: Path,
    models_dir: Path,
    manifest_sha256: str,
    figures: dict[str, Any],
) -> None:
    metadata = training.model_metadata(
        dataset_id=model_id,
        fit_info=fit_info,
        manifest_sha256=manifest_sha256,
        figures=_json_ready(figures),
    )
    training.install_model(
        dataset_id=model_id, fitted_dir=fitted_dir, models_dir=models_dir, metadata=metadata
    )


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
