"""The `mastering-trainer` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from app.accounts.cli import db_cli, token_cli, user_cli
from app.audio.errors import AudioError
from app.audio.io import load_path
from app.audio.spectrum import DEFAULT_SPEC, Comparison, compare
from app.config import get_settings
from app.history.cli import audio_cli
from app.rating.cli import print_measures, rate_command
from app.rating.service import compared_measures, measure_audio
from app.training.cli import corpus_app, dataset_app, evaluate, paper_study, train

cli = typer.Typer(
    help="Mastering Trainer: how far is a master from the professional one, in EQ terms.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
cli.add_typer(corpus_app, name="corpus")
cli.add_typer(dataset_app, name="dataset")
cli.command()(train)
cli.command()(evaluate)
cli.command("paper-study")(paper_study)
cli.add_typer(user_cli, name="user")
cli.add_typer(token_cli, name="token")
cli.add_typer(db_cli, name="db")
cli.add_typer(audio_cli, name="audio")
cli.command("rate")(rate_command)


def _format_hz(frequency_hz: float) -> str:
    return f"{frequency_hz / 1000:.1f} kHz" if frequency_hz >= 1000 else f"{frequency_hz:.0f} Hz"


@cli.command()
def analyze(
    reference: Annotated[Path, typer.Argument(help="The professional master.")],
    candidate: Annotated[Path, typer.Argument(help="The trainee's master.")],
    plot: Annotated[
        Path | None, typer.Option(help="Also draw the difference into this PNG file.")
    ] = None,
) -> None:
    """Print the dB difference per 1/12-octave band, then loudness, dynamics and stereo of both."""
    try:
        ref, cand = load_path(reference), load_path(candidate)
    except AudioError as error:
        console.print(f"[red]{error.message}[/red]")
        raise typer.Exit(2) from error
    comparison = compare(ref.samples, cand.samples)
    table = Table(title=f"{candidate.name} against {reference.name} (dB, level-aligned)")
    table.add_column("band centre", justify="right")
    table.add_column("difference dB", justify="right")
    for centre_hz, value_db in zip(DEFAULT_SPEC.band_centres_hz, comparison.band_db, strict=True):
        table.add_row(_format_hz(centre_hz), f"{value_db:+.2f}")
    console.print(table)
    console.print(
        f"offset {comparison.offset_s * 1000:+.1f} ms, compared {comparison.overlap_s:.1f} s, "
        f"level {comparison.level_offset_db:+.2f} dB"
    )
    loudness, dynamics, stereo = compared_measures(
        measure_audio(ref), measure_audio(cand), target_lufs=get_settings().LOUDNESS_TARGET_LUFS
    )
    print_measures(loudness=loudness, dynamics=dynamics, stereo=stereo, console=console)
    if plot is not None:
        draw_difference(comparison, path=plot, title=f"{candidate.name} vs {reference.name}")
        console.print(f"plot written to {plot}")


def draw_difference(comparison: Comparison, *, path: Path, title: str) -> None:
    """Draw the band difference on a log-frequency axis into a PNG file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    centres = comparison.spec.band_centres_hz
    figure, axis = plt.subplots(figsize=(9, 4), dpi=110)
    axis.axhline(0, color="0.6", linewidth=0.8)
    axis.semilogx(centres, comparison.band_db, color="tab:blue", label="candidate - reference")
    axis.set_xlim(20, 20_000)
    span = max(6.0, float(np.max(np.abs(comparison.band_db))) * 1.1)
    axis.set_ylim(-span, span)
    axis.set_xlabel("frequency (Hz)")
    axis.set_ylabel("difference (dB)")
    axis.set_title(title)
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(loc="upper right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    migrate: Annotated[
        bool, typer.Option(help="Migrate first (off where one migration step runs for all).")
    ] = True,
) -> None:
    """Migrate the database, then serve the web app and API with uvicorn (JSON logs)."""
    import uvicorn

    from app.migrate import upgrade
    from app.observability import log_config

    if migrate:
        upgrade()
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        log_config=log_config(),
        access_log=False,
    )


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date (alembic upgrade head), then exit."""
    from app.migrate import upgrade

    upgrade()
    typer.echo("database at the latest migration")


def main() -> None:
    """Run the command line."""
    cli()


if __name__ == "__main__":
    main()
