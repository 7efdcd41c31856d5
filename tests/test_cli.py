"""The `mastering-trainer analyze` command on generated files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from app.audio.eq import EqOperation, apply, response_db
from app.audio.spectrum import SpectrumSpec
from app.cli import cli

from .conftest import pink_noise

runner = CliRunner()


def make_pair(write_audio: Callable[..., Path]) -> tuple[Path, Path]:
    song = pink_noise(duration_s=6.0, sample_rate_hz=44_100, seed=3)
    boosted = apply(song, [EqOperation(1000.0, 6.0, 1.0)], sample_rate_hz=44_100)
    reference = write_audio(np.stack([song, song], axis=1), "reference.wav", subtype="PCM_16")
    candidate = write_audio(boosted, "candidate.flac", subtype="PCM_24")
    return reference, candidate


def test_analyze_prints_the_bands_and_draws_them(
    write_audio: Callable[..., Path], tmp_path: Path
) -> None:
    reference, candidate = make_pair(write_audio)
    plot = tmp_path / "out.png"
    result = runner.invoke(cli, ["analyze", str(reference), str(candidate), "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    words = " ".join(result.output.split())  # rich wraps to the terminal's width
    assert "candidate.flac against reference.wav (dB, level-aligned)" in words
    lines = result.output.splitlines()
    # All 120 bands are printed; the one at 1 kHz shows the 6 dB boost.
    assert sum(1 for line in lines if " Hz " in line or " kHz " in line) >= 120
    at_1khz = next(line for line in lines if "1.0 kHz" in line)
    value_db = float(at_1khz.replace("│", " ").split()[-1])
    # The "1.0 kHz" band is centred at 1045.7 Hz, where the bell's own response is +5.90 dB;
    # printed: +5.86 dB. A band read 0.15 dB off the EQ's response is a wrong measurement.
    centres_hz = SpectrumSpec().band_centres_hz
    (centre_hz,) = centres_hz[(centres_hz >= 995) & (centres_hz < 1050)]
    (want_db,) = response_db(
        [EqOperation(1000.0, 6.0, 1.0)], frequency_hz=np.array([centre_hz]), sample_rate_hz=44_100
    )
    assert value_db == pytest.approx(want_db, abs=0.15)
    assert "offset +0.0 ms" in words
    assert "plot written to" in words and "".join(result.output.split()).endswith(str(plot))
    assert plot.stat().st_size > 1000
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_analyze_without_plot_writes_no_file(
    write_audio: Callable[..., Path], tmp_path: Path
) -> None:
    reference, candidate = make_pair(write_audio)
    result = runner.invoke(cli, ["analyze", str(reference), str(candidate)])
    assert result.exit_code == 0, result.output
    assert "plot written" not in result.output
    assert not list(tmp_path.glob("*.png"))


def test_a_bad_file_gives_a_clean_message_and_exit_code_2(
    write_audio: Callable[..., Path], tmp_path: Path
) -> None:
    reference, _ = make_pair(write_audio)
    bad = tmp_path / "notes.wav"
    bad.write_text("these are my mastering notes, not audio\n")
    result = runner.invoke(cli, ["analyze", str(reference), str(bad)])
    assert result.exit_code == 2
    words = " ".join(result.output.split())
    assert "notes.wav: is not a supported audio format" in words
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_too_short_file_names_the_limit(write_audio: Callable[..., Path]) -> None:
    short = write_audio(pink_noise(duration_s=2.0, sample_rate_hz=44_100), "short.wav")
    result = runner.invoke(cli, ["analyze", str(short), str(short)])
    assert result.exit_code == 2
    assert "short.wav: lasts 2.0 s; the minimum is 5 s." in " ".join(result.output.split())


def test_a_missing_file_exits_2_without_a_traceback(
    write_audio: Callable[..., Path], tmp_path: Path
) -> None:
    reference, _ = make_pair(write_audio)
    result = runner.invoke(cli, ["analyze", str(reference), str(tmp_path / "missing.wav")])
    assert result.exit_code == 2
    assert "missing.wav: could not be opened" in " ".join(result.output.split())
    assert "Traceback" not in result.output
