"""`mastering-trainer audio purge`: remove kept masters past their class's retention."""

from __future__ import annotations

import typer

from app.config import get_settings

audio_cli = typer.Typer(help="Kept audio of classes.", no_args_is_help=True)


@audio_cli.command("purge")
def purge() -> None:
    """Remove kept masters (and their previews) past their class's retention, then exit."""
    from app.history.retention import purge_kept_audio
    from app.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    purged = purge_kept_audio(database_url=settings.database_url, data_dir=settings.DATA_DIR)
    typer.echo(
        f"removed the kept audio of {len(purged)} rating(s)"
        + (f": {', '.join(map(str, purged))}" if purged else "")
    )
