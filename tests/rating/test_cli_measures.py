"""`mastering-trainer rate` and `analyze` print loudness, dynamics and stereo of both masters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import typer
from typer.testing import CliRunner

from app.ml.registry import ModelRegistry
from app.rating import cli as rating_cli

from ..conftest import SAMPLE_RATE_HZ

runner = CliRunner()


@pytest.fixture
def louder_pair(tmp_path: Path, master: np.ndarray) -> tuple[Path, Path]:
    reference, candidate = tmp_path / "pro.wav", tmp_path / "mine.wav"
    sf.write(reference, master, SAMPLE_RATE_HZ, subtype="FLOAT")
    sf.write(candidate, master * np.float32(10 ** (3 / 20)), SAMPLE_RATE_HZ, subtype="FLOAT")
    return reference, candidate


def test_rate_prints_the_measures_and_the_kind_of_each_suggestion(
    monkeypatch: pytest.MonkeyPatch, fake_registry: ModelRegistry, louder_pair: tuple[Path, Path]
) -> None:
    monkeypatch.setattr(rating_cli, "load_registry", lambda _: fake_registry)
    app = typer.Typer()
    app.command("rate")(rating_cli.rate_command)
    app.command("other")(lambda: None)
    result = runner.invoke(app, ["rate", *map(str, louder_pair)], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Loudness (normalised to -14 LUFS)" in out and "integrated (LUFS)" in out
    assert "+3.0" in out  # the integrated loudness difference
    assert "loudness" in out and "Turn the master down about 3 dB" in out
    assert "crest factor per octave band" in out and "Stereo: width" in out


def test_analyze_prints_the_measures(louder_pair: tuple[Path, Path]) -> None:
    from app.cli import cli

    result = runner.invoke(cli, ["analyze", *map(str, louder_pair)], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "true peak (dBTP)" in result.stdout and "median PSR" in result.stdout
