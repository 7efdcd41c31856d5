"""`mastering-trainer rate`: the same answer as POST /rate, without a server."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.audio.eq import EqOperation
from app.ml.registry import ModelRegistry
from app.rating import cli as rating_cli

from .badfiles import too_short

runner = CliRunner()


@pytest.fixture
def command(monkeypatch: pytest.MonkeyPatch, fake_registry: ModelRegistry) -> typer.Typer:
    monkeypatch.setattr(rating_cli, "load_registry", lambda _: fake_registry)
    app = typer.Typer()
    app.command("rate")(rating_cli.rate_command)
    app.command("other")(lambda: None)  # keep `rate` a subcommand, as in the real CLI
    return app


def test_the_real_cli_has_the_rate_command() -> None:
    from app.cli import cli

    assert "rate" in [c.name for c in cli.registered_commands]


def test_json_is_exactly_the_apis_json(
    command: typer.Typer, client: TestClient, pair: Callable[..., tuple[Path, Path]]
) -> None:
    reference, candidate = pair([EqOperation(300.0, 6.0, 1.0)])
    result = runner.invoke(
        command,
        ["rate", str(reference), str(candidate), "--model", "F1W2", "--amount", "50", "--json"],
    )
    assert result.exit_code == 0, result.output
    from_cli = json.loads(result.stdout)
    files = {
        "reference": ("reference.wav", reference.read_bytes(), "audio/wav"),
        "candidate": ("candidate.wav", candidate.read_bytes(), "audio/wav"),
    }
    from_api = client.post("/rate", files=files, data={"model": "F1W2", "amount": "50"}).json()
    assert from_cli.keys() == from_api.keys()
    for answer in (from_cli, from_api):
        answer.pop("timings")
    assert from_cli == from_api
    assert from_cli["suggestions"][0]["text"].startswith("Decrease bass: cut about 3 dB")


def test_the_table_reads_well(command: typer.Typer, pair: Callable[..., tuple[Path, Path]]) -> None:
    reference, candidate = pair([EqOperation(4000.0, -6.0, 1.0)])
    result = runner.invoke(command, ["rate", str(reference), str(candidate)])
    assert result.exit_code == 0, result.output
    assert "Rating 1" in result.stdout
    assert "Increase treble: boost about 6 dB around" in result.stdout
    same = runner.invoke(command, ["rate", str(reference), str(reference)])
    assert "same EQ as the professional master" in same.stdout


def test_bad_input_exits_2_with_the_sentence(
    command: typer.Typer, pair: Callable[..., tuple[Path, Path]], tmp_path: Path
) -> None:
    reference, _ = pair()
    short = tmp_path / "short.wav"
    short.write_bytes(too_short())
    result = runner.invoke(command, ["rate", str(reference), str(short)])
    assert result.exit_code == 2
    assert "candidate: lasts 1.0 s; the minimum is 5 s." in result.stderr
    unknown = runner.invoke(command, ["rate", str(reference), str(reference), "--model", "X"])
    assert unknown.exit_code == 2 and "Unknown model 'X'" in unknown.stderr
    missing = runner.invoke(command, ["rate", str(reference), str(tmp_path / "nope.wav")])
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    amount = runner.invoke(command, ["rate", str(reference), str(reference), "--amount", "200"])
    assert amount.exit_code == 2 and "amount must be" in amount.stderr


def test_importing_the_cli_leaves_blas_threads_alone_and_rating_holds_one() -> None:
    """The training commands import app.cli; only a process that rates holds BLAS to one thread."""
    import subprocess
    import sys

    script = (
        "import numpy\nfrom threadpoolctl import threadpool_info\n"
        "def blas():\n"
        "    return [p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas']\n"
        "before = blas()\n"
        "import app.cli\n"
        "from app.rating.service import one_blas_thread_per_caller\n"
        "after_import = blas()\n"
        "one_blas_thread_per_caller()\n"
        "print(set(before), set(after_import), set(blas()))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    env["OPENBLAS_NUM_THREADS"] = "2"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.split() == ["{2}", "{2}", "{1}"]
