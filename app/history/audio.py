"""A stored rating's audio as previews the browser plays: Opus copies made by ffmpeg.

Only ratings whose class keeps audio have any: the candidate kept beside the rating and the
assignment's reference. Previews are files beside the kept audio (never in the database), so
whatever removes the kept audio removes them with it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session

from app.classes.models import Assignment
from app.errors import ServiceError
from app.history.models import Rating

Which = Literal["reference", "candidate"]
PREVIEW_BITRATE = "96k"
PREVIEW_TIMEOUT_S = 120.0


class PreviewError(ServiceError, RuntimeError):
    """ffmpeg could not make a preview, with a sentence for the user (503)."""

    default_status = 503


def kept_audio(*, db_session: Session, rating: Rating, data_dir: Path) -> dict[str, Path] | None:
    """The rating's kept reference and candidate files, or None when either is gone."""
    if not rating.candidate_audio_path or rating.assignment_id is None:
        return None
    assignment = db_session.get(Assignment, rating.assignment_id)
    if assignment is None or not assignment.reference_path:
        return None
    paths = {
        "reference": data_dir / assignment.reference_path,
        "candidate": data_dir / rating.candidate_audio_path,
    }
    return paths if all(path.is_file() for path in paths.values()) else None


def preview_path(source: Path) -> Path:
    """Where the preview of `source` lives: beside it."""
    return source.with_name(source.stem + ".preview.ogg")


def make_preview(source: Path, *, ffmpeg: str = "ffmpeg") -> Path:
    """An Ogg Opus preview of `source` (made once, reused while newer than its source)."""
    target = preview_path(source)
    if target.is_file() and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    command = [
        ffmpeg,
        "-nostdin",
        "-v",
        "error",
        "-y",
        "-i",
        str(source),
        "-vn",
        "-map_metadata",
        "-1",
        "-c:a",
        "libopus",
        "-b:a",
        PREVIEW_BITRATE,
        "-f",
        "ogg",
        str(partial),
    ]
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=PREVIEW_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as error:
        partial.unlink(missing_ok=True)
        raise PreviewError(
            f"The audio preview could not be made ({type(error).__name__})."
        ) from None
    partial.replace(target)
    return target
