"""The report's rendering: REPORT.md from REPORT.json alone, through the Jinja2 template."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError
from typer.testing import CliRunner

from app.cli import cli
from app.training.render import limited_by, render_report, without_chain
from app.training.synth import CHAIN_NUISANCES

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture
def committed() -> dict[str, Any]:
    """The shipped models' figures."""
    report: dict[str, Any] = json.loads((MODELS / "REPORT.json").read_text())
    return report


def test_the_committed_report_renders_byte_for_byte(committed: dict[str, Any]) -> None:
    assert render_report(committed) == (MODELS / "REPORT.md").read_text()


def test_evaluate_render_only_rewrites_the_report_from_its_json(tmp_path: Path) -> None:
    for name in ("REPORT.json", "REPORT.md"):
        shutil.copyfile(MODELS / name, tmp_path / name)
    (tmp_path / "REPORT.md").write_text("stale")
    result = CliRunner().invoke(cli, ["evaluate", "--render-only", "--models-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "REPORT.md").read_bytes() == (MODELS / "REPORT.md").read_bytes()


def test_closed_set_figures_fill_table_1(committed: dict[str, Any]) -> None:
    report = copy.deepcopy(committed)
    report["closed_set"] = {"F1W1": {"paper_faithful": 84.3, "ours": 91.5}}
    rows = [line for line in render_report(report).splitlines() if line.startswith("| F1W1 |")]
    f1w1 = report["grid"]["F1W1"]["exact_set_accuracy"]
    assert rows[0].startswith(f"| F1W1 | 93.9 | 84.3 | 91.5 | {f1w1} ")
    f1w2 = report["grid"]["F1W2"]["exact_set_accuracy"]
    assert f"| F1W2 | 88.7 | - | - | {f1w2} " in render_report(report)


def test_grids_read_through_each_limiter_kind_get_a_row_of_their_own(
    committed: dict[str, Any],
) -> None:
    report = copy.deepcopy(committed)
    header = "| model | lookahead brickwall | brickwall without lookahead | hard clipper |"
    by_kind = report["grid"]["F1W2"]["exact_by_limiter_kind"]
    by_kind["chain_limiter"]["juce"] = {"examples": 249, "right": 81.5}
    by_kind["compressor_limiter"]["clipper"] = {"examples": 401, "right": 66.25}
    text = render_report(report)
    assert header in text
    row = next(line for line in text.splitlines() if line.startswith("| F1W2 | 94"))
    assert row.endswith("| 94.5 / 66.25 (291 / 401) | 81.5 / 76.64 (249 / 411) |")
    # A grid without JUCE's examples (one evaluated before that kind) gets no row, and with
    # no grid left, the table goes.
    by_kind["chain_limiter"]["juce"] = {"examples": 0, "right": None}
    lines = render_report(report).splitlines()
    assert not any(line.startswith("| F1W2 | 94") for line in lines)
    assert "| F1/2W1/2 | 100.0 / 98.94 (53 / 94) |" in "\n".join(lines)
    no_juce = {"examples": 0, "right": None}
    for figures in report["grid"].values():
        if "exact_by_limiter_kind" in figures:
            figures["exact_by_limiter_kind"]["chain_limiter"]["juce"] = no_juce
    assert header not in render_report(report)


def never_chained(figures: dict[str, Any]) -> dict[str, Any]:
    """`figures` as of a grid whose examples never went through the master chain."""
    for kind in CHAIN_NUISANCES:
        figures["exact_by_nuisance"][kind.name.lower()] = None
    return figures


def test_table_1_reads_a_chain_grid_without_its_chain_and_others_whole(
    committed: dict[str, Any],
) -> None:
    report = copy.deepcopy(committed)
    chain_grid, other = report["grid"]["F1W2"], never_chained(report["grid"]["F1/4W1"])
    chain_grid["exact_set_accuracy_without_chain"] = 97.25
    other.pop("exact_set_accuracy_without_chain", None)  # figures from before the column
    assert chain_grid["exact_by_nuisance"]["chain_limiter"] is not None
    assert without_chain(chain_grid) == 97.25
    assert without_chain(other) == other["exact_set_accuracy"]
    text = render_report(report)
    assert f"| {chain_grid['exact_set_accuracy']} ✗ | ≥ 97.0 | 97.25 |" in text
    del chain_grid["exact_set_accuracy_without_chain"]
    assert without_chain(chain_grid) is None
    assert "| ≥ 97.0 | - |" in render_report(report)


def test_a_report_without_the_general_model_or_refits_leaves_their_sections_out(
    committed: dict[str, Any],
) -> None:
    report = copy.deepcopy(committed)
    report["general"] = None
    for figures in report["grid"].values():
        figures.pop("against_replaced", None)
    text = render_report(report)
    assert "## The general model" not in text and "## Refits against" not in text
    assert "## Training time and dataset size" in text


def test_a_figure_missing_from_the_json_is_an_error_not_a_blank(
    committed: dict[str, Any],
) -> None:
    report = copy.deepcopy(committed)
    del report["general"]["width_error_octaves_median"]
    with pytest.raises(UndefinedError, match="width_error_octaves_median"):
        render_report(report)


def test_a_count_chooser_in_use_is_said_with_its_tuning_comparison(
    committed: dict[str, Any],
) -> None:
    report = copy.deepcopy(committed)
    report["general"]["count_chooser"] = {
        "tuning_examples": 1596,
        "seeds": [0, 1, 2],
        "held_out_examples": 800,
        "held_out_sets_right_check": 70.1,
        "held_out_sets_right_chooser": 80.2,
        "mcnemar_z": 6.1,
        "held_out_bells_only_check": 91.0,
        "held_out_bells_only_chooser": 91.5,
        "mcnemar_z_bells_only": 0.4,
        "used": True,
        "held_out_types_check": committed["general"]["types"],
        "held_out_types_chooser": committed["general"]["types"],
    }
    text = render_report(report)
    assert "the same held-out tuning examples by the aims' sets" in text
    assert "| 70.1 → 80.2 (z 6.1); 91.0 → 91.5 (z 0.4): used | - |" in text
    assert "a count chooser picks the count and the types among those fits" in text
    assert "on the 800 examples of the tracks left out" in text
    assert "the average of 3 small CatBoost models (seeds 0, 1, 2," in text
    report["general"]["count_chooser"]["used"] = False
    assert "a count chooser picks" not in render_report(report)


def test_the_note_names_the_models_whose_figures_read_an_older_limiter(
    committed: dict[str, Any],
) -> None:
    report = copy.deepcopy(committed)
    for figures in [*report["grid"].values(), report["general"]]:
        figures["limiter_version"] = 4
    assert limited_by(report) == {1: [], 2: [], 3: []}
    assert "were evaluated" not in render_report(report)
    assert "one of four limiter kinds" in render_report(report)
    del report["grid"]["F1/2W2"]["limiter_version"]
    del never_chained(report["grid"]["F1/4W1"])["limiter_version"]  # not named
    report["grid"]["F1W2"]["limiter_version"] = 3
    report["general"]["limiter_version"] = 2
    assert limited_by(report) == {1: ["F1/2W2"], 2: ["general"], 3: ["F1W2"]}
    text = render_report(report)
    assert "The figures of F1/2W2 were evaluated before our limiters" in text
    assert "The figures of general were evaluated on examples through the lookahead" in text
    assert "The figures of F1W2 were evaluated on examples through our three kinds" in text
    assert "one of four limiter kinds" not in text


def test_the_chain_alone_reads_per_limiter_kind_where_the_report_holds_them(
    committed: dict[str, Any],
) -> None:
    report = copy.deepcopy(committed)
    alone = report["general"]["types"]["chain_alone"]
    alone.pop("by_limiter_kind", None)
    assert "| the same, hard clipper |" not in render_report(report)
    alone["by_limiter_kind"] = {
        "none": {"examples": 96, "right": 97.92},
        "clipper": {"examples": 80, "right": 87.5},
    }
    text = render_report(report)
    assert "| the same, a compressor alone | 96 | no operation found | 97.92 | - |" in text
    assert "| the same, hard clipper | 80 | no operation found | 87.5 | - |" in text


def test_only_grid_models_on_the_averaged_transfer_are_named_as_such(
    committed: dict[str, Any],
) -> None:
    report = copy.deepcopy(committed)
    note = "divided by the gain each frequency met on average rather than demodulated"
    for figures in report["grid"].values():
        options = figures["feature_options"]
        figures["feature_options"] = [o for o in options if o not in ("coherent", "demodulated")]
    assert note not in render_report(report)
    report["grid"]["F1W2"]["feature_options"] += ["coherent"]
    assert f"{note} (`FeatureSpec.coherent`): F1W2." in render_report(report)
    report["grid"]["F1W2"]["feature_options"] += ["demodulated"]
    assert note not in render_report(report)
