"""Render `models/REPORT.md` from the report's figures (`REPORT.json`) with a Jinja2 template.

The figures are computed elsewhere (`app.training.report.build_report`, with
the measures of `app.training.evaluate`); this module only lays them out, so
``mastering-trainer evaluate --render-only`` (or ``python -m app.training.render``)
rewrites ``REPORT.md`` from ``REPORT.json`` alone, byte for byte as the
evaluation wrote it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from app.training import evaluate as ev
from app.training.datasets import LOW_PASS_HZ, TRAIN_LOW_PASS_HZ
from app.training.grids import GRID_CONFIGS
from app.training.master_chain import LIMITER_VERSION
from app.training.synth import CHAIN_NUISANCES

#: The report's template.
TEMPLATE = Path(__file__).parent / "templates" / "REPORT.md.j2"


def cell(value: Any) -> str:
    """A table cell: the value, or ``-`` where there is none."""
    return "-" if value is None else f"{value}"


def check_cell(check: dict[str, float] | None) -> str:
    """A physics check in a cell: ``0`` (CatBoost alone) or ``weight @ scale [+ cost/bell]``."""
    if not check:
        return "-"
    if not check["physics_weight"]:
        return "0"
    text = f"{check['physics_weight']:g} @ {check['residual_scale_db']:g}"
    return text + (f" + {check['bell_cost']:g}/bell" if check.get("bell_cost") else "")


def carried_over(report: dict[str, Any]) -> list[str]:
    """A line per earlier evaluation whose figures this report carries over."""
    earlier: dict[tuple[str, str], list[str]] = {}
    for model_id, figures in ev.report_models(report).items():
        stamp = figures.get("evaluated")
        if stamp and stamp["at"] != report["generated_at"]:
            earlier.setdefault((stamp["at"], stamp["git_commit"]), []).append(model_id)
    return [
        f"The figures of {', '.join(model_ids)} carry over from the evaluation at {at} "
        f"(git {commit[:10]}): not evaluated this time (`evaluate --dataset` names the models "
        "to evaluate; a model whose refit has not finished keeps its last figures)."
        for (at, commit), model_ids in sorted(earlier.items())
    ]


def _reads_chain(figures: dict[str, Any]) -> bool:
    by_nuisance = figures.get("exact_by_nuisance") or figures.get("count_accuracy_by_nuisance")
    return any((by_nuisance or {}).get(kind.name.lower()) is not None for kind in CHAIN_NUISANCES)


#: How the report names each chain's limiter (`Dataset.limiter_kind`).
LIMITER_KIND_NAMES = {
    "none": "a compressor alone",
    "lookahead": "lookahead brickwall",
    "instant": "brickwall without lookahead",
    "clipper": "hard clipper",
    "juce": "pedalboard's Limiter (JUCE's)",
}


def limited_by(report: dict[str, Any]) -> dict[int, list[str]]:
    """Per limiter version before today's (`app.training.master_chain.LIMITER_VERSION`),
    the models whose figures read chain examples of it: 1 pedalboard's Limiter (and
    figures written before the field), 2 our lookahead brickwall alone, 3 our three kinds."""
    versions: dict[int, list[str]] = {version: [] for version in range(1, LIMITER_VERSION)}
    for model_id, figures in ev.report_models(report).items():
        version = figures.get("limiter_version", 1)
        if _reads_chain(figures) and version in versions:
            versions[version].append(model_id)
    return versions


def without_chain(figures: dict[str, Any]) -> float | None:
    """A grid model's exact-set % over the examples that skipped the master chain.

    All of its examples where none went through the chain; None where some did
    and the figures predate this one.
    """
    if not _reads_chain(figures):
        return figures.get("exact_set_accuracy")
    return figures.get("exact_set_accuracy_without_chain")


def _table_1(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for config in GRID_CONFIGS:
        figures = report["grid"].get(config.id, {})
        ours = figures.get("exact_set_accuracy")
        aim = ev.AIMS[config.id]
        rows.append(
            {
                "id": config.id,
                "paper": ev.PAPER_TABLE_1[config.id],
                "closed": report["closed_set"].get(config.id, {}),
                "figures": figures,
                "ours": ours,
                "aim": aim,
                "without_chain": without_chain(figures),
                "mark": "" if ours is None else (" ✓" if ours >= aim else " ✗"),
            }
        )
    return rows


def _paper_table_3(study: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The paper's Table 3 (cross-genre) beside ours, one row per grid configuration."""
    cross_genre = (study or {}).get("cross_genre", {})
    return [
        {
            "id": config.id,
            "paper": ev.PAPER_TABLE_3[config.id],
            "paper_faithful": cross_genre.get(config.id, {}).get("paper_faithful"),
            "ours": cross_genre.get(config.id, {}).get("ours"),
        }
        for config in GRID_CONFIGS
    ]


def point_cell(point: dict[str, Any]) -> str:
    """A gap experiment's fit in a cell: ``accuracy (examples per class)``, or ``-``."""
    if point.get("accuracy") is None:
        return "-"
    return f"{point['accuracy']} ({point['examples_per_class']:g}/class)"


def _gap_rows(study: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The gap experiment's rows: per configuration and feature, the curve and the two probes."""
    names = {"paper_faithful": "paper-faithful", "ours": "our features"}
    return [
        {"id": config_id, "feature": names[feature], **gap}
        for config_id, features in (study or {}).get("gap", {}).items()
        for feature, gap in features.items()
    ]


def _gap_findings(rows: list[dict[str, Any]]) -> list[str]:
    """A line per gap row with figures: what more examples, more rounds and more clips did."""
    lines = []
    for row in rows:
        points = [point for point in row["curve"] if point["accuracy"] is not None]
        parts = [
            f"{point['accuracy']} % with {point['examples_per_class']:g} examples per class"
            for point in points
        ]
        base = row["curve"][-1]["accuracy"]
        for probe, label in ((row["longer"], "iterations"), (row["more_per_clip"], "per clip")):
            if probe["accuracy"] is not None and base is not None:
                amount = probe["iterations"] if label == "iterations" else probe["per_clip"]
                parts.append(
                    f"{amount} {label}: {probe['accuracy']} % "
                    f"({probe['accuracy'] - base:+.2f} against Table 1's fit)"
                )
        if parts:
            paper = ev.PAPER_TABLE_1[row["id"]]
            lines.append(f"{row['id']}, {row['feature']} (paper {paper} %): " + "; ".join(parts))
    return lines


def _having(report: dict[str, Any], option: str) -> list[str]:
    return [
        name
        for name, figures in ev.report_models(report).items()
        if option in figures.get("feature_options", [])
    ]


def mark(value: float | None, aim: float) -> str:
    """`` ✓`` where a figure reaches its aim, `` ✗`` where it does not, nothing for none."""
    if value is None:
        return ""
    return " ✓" if value >= aim else " ✗"


def context(report: dict[str, Any]) -> dict[str, Any]:
    """Everything the template reads: the report and what is laid out from it."""
    grid = report["grid"]
    return {
        "report": report,
        "grid": grid,
        "general": report.get("general"),
        "carried_over": carried_over(report),
        "limited_by": limited_by(report),
        "limiter_kinds": LIMITER_KIND_NAMES,
        "table_1": _table_1(report),
        "paper_study": report.get("paper_study"),
        "paper_table_3": _paper_table_3(report.get("paper_study")),
        "gap_rows": _gap_rows(report.get("paper_study")),
        "gap_findings": _gap_findings(_gap_rows(report.get("paper_study"))),
        "with_options": _having(report, "lossy_flag"),
        "level_floor": _having(report, "level_floor"),
        "refits": {name: f[ev.REPLACED] for name, f in grid.items() if ev.REPLACED in f},
        "shortfalls": ev.shortfalls(report),
        "significance_z": ev.SIGNIFICANCE_Z,
        "low_pass_khz": LOW_PASS_HZ / 1000,
        "train_low_pass_khz": (min(TRAIN_LOW_PASS_HZ) / 1000, max(TRAIN_LOW_PASS_HZ) / 1000),
        "low_pass_subsample": ev.LOW_PASS_SUBSAMPLE,
        "curve_tolerance_db": ev.CURVE_TOLERANCE_DB,
        "aims": {
            "general_count": ev.GENERAL_COUNT_AIM,
            "general_frequency_octaves": ev.GENERAL_FREQUENCY_AIM_OCTAVES,
            "general_gain_db": ev.GENERAL_GAIN_AIM_DB,
            "type_right": ev.TYPE_RIGHT_AIM,
            "parameters_right": ev.PARAMETERS_RIGHT_AIM,
            "mixed_count": ev.MIXED_COUNT_AIM,
            "mixed_types": ev.MIXED_TYPES_AIM,
            "chain_count": ev.CHAIN_COUNT_AIM,
            "chain_alone": ev.CHAIN_ALONE_AIM,
        },
        # A general model of several types measures its count and errors on bells-only sets.
        "bells_label": ", bells-only sets" if (report.get("general") or {}).get("types") else "",
    }


def render_report(report: dict[str, Any]) -> str:
    """The text of ``REPORT.md`` for a report's figures."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATE.parent),
        autoescape=False,  # Markdown, not HTML
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters |= {
        "cell": cell,
        "check_cell": check_cell,
        "g": lambda x: f"{x:g}",
        "mark": mark,
        "point_cell": point_cell,
    }
    return environment.get_template(TEMPLATE.name).render(context(report))


def write_report(report: dict[str, Any], *, models_dir: Path) -> Path:
    """Write ``REPORT.md`` and its JSON twin ``REPORT.json``."""
    (models_dir / "REPORT.json").write_text(json.dumps(report, indent=2) + "\n")
    path = models_dir / "REPORT.md"
    path.write_text(render_report(report))
    return path


def rerender(*, models_dir: Path) -> Path:
    """Rewrite ``REPORT.md`` from ``REPORT.json`` (no evaluation)."""
    report = json.loads((models_dir / "REPORT.json").read_text())
    path = models_dir / "REPORT.md"
    path.write_text(render_report(report))
    return path


def main(argv: list[str] | None = None) -> None:
    """Rewrite ``REPORT.md`` from ``REPORT.json`` (no evaluation)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    rerender(models_dir=parser.parse_args(argv).models_dir)


if __name__ == "__main__":
    main()
