"""`GET /presets/fix.{format}`: the suggested fix as an EQ preset file to download."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.rating.presets import FORMATS, MAX_MOVES, PresetError, PresetMove, check_move, render

router = APIRouter(tags=["presets"])


def parse_move(text: str) -> PresetMove:
    """Read one `type,frequency_hz,gain_db,width_octaves` move, or raise `PresetError`."""
    parts = text.split(",")
    if len(parts) != 4:
        raise PresetError(f"move {text[:60]!r} must read type,frequency_hz,gain_db,width_octaves.")
    try:
        frequency_hz, gain_db, width_octaves = (float(p) for p in parts[1:])
    except ValueError:
        raise PresetError(f"move {text[:60]!r} holds something that is not a number.") from None
    return check_move(
        PresetMove(
            type=parts[0].strip(),
            frequency_hz=frequency_hz,
            gain_db=gain_db,
            width_octaves=width_octaves,
        )
    )


@router.get("/presets/fix.{preset_format}", summary="Download the fix as an EQ preset")
def download_preset(
    preset_format: str,
    m: Annotated[
        list[str] | None, Query(description="type,frequency_hz,gain_db,width_octaves")
    ] = None,
    name: Annotated[str, Query(max_length=200)] = "Mastering Trainer: suggested fix",
) -> Response:
    """Write the moves as JSON, Equalizer APO text (`apo`) or a plain list (`text`)."""
    if preset_format not in FORMATS:
        raise PresetError(
            f"Preset format {preset_format[:20]!r} is not one of json, apo, text.", status_code=404
        )
    moves_text = m or []
    if len(moves_text) > MAX_MOVES:
        raise PresetError(f"A preset holds at most {MAX_MOVES} moves; got {len(moves_text)}.")
    try:
        moves = [parse_move(text) for text in moves_text]
    except PresetError as error:
        raise PresetError(f"Cannot write the preset: {error}") from None
    media_type, extension = FORMATS[preset_format]
    suffix = "-equalizer-apo" if preset_format == "apo" else ""
    return Response(
        render(moves, preset_format=preset_format, name=name),
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="mastering-fix{suffix}.{extension}"'
        },
    )
