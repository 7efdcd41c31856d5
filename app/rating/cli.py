"""`mastering-trainer rate`: the API's answer without a server."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.audio.errors import AudioError
from app.config import get_settings
from app.ml.registry import ModelLoadError, load_registry
from app.ml.suggestions import format_frequency
from app.rating.schemas import (
    DynamicsComparison,
    LoudnessComparison,
    RateResponse,
    StereoComparison,
)
from app.rating.service import (
    RatingError,
    Upload,
    one_blas_thread_per_caller,
    parse_amount,
    rate,
    resolve_model,
)

console = Console()
errors = Console(stderr=True)


def _upload(path: Path) -> Upload:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return Upload(
        source=path, filename=path.name, size_bytes=path.stat().st_size, sha256=digest.hexdigest()
    )


def rate_command(
    reference: Annotated[Path, typer.Argument(help="The professional master.", dir_okay=False)],
    candidate: Annotated[Path, typer.Argument(help="The trainee's master.", dir_okay=False)],
    model: Annotated[
        str | None, typer.Option("--model", help="Model id (default: the registry's).")
    ] = None,
    amount: Annotated[
        float, typer.Option("--amount", help="Strength of the suggestions, 0 to 100 %.")
    ] = 100.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
) -> None:
    """Rate a trainee's master against the professional one, as POST /rate does."""
    started = time.perf_counter()
    settings = get_settings()
    try:
        for path in (reference, candidate):
            if not path.is_file():
                raise RatingError(f"{path}: no such file.")
        amount_percent = parse_amount(amount)
        registry = load_registry(settings.MODELS_DIR)
        chosen = resolve_model(registry, model)
        one_blas_thread_per_caller()
        result = rate(
            reference=_upload(reference),
            candidate=_upload(candidate),
            model=chosen,
            amount_percent=amount_percent,
            loudness_target_lufs=settings.LOUDNESS_TARGET_LUFS,
        )
    except (AudioError, RatingError, ModelLoadError) as error:
        errors.print(
            f"[red]{getattr(error, 'message', error)}[/red]", highlight=False, soft_wrap=True
        )
        raise typer.Exit(2) from None
    result.timings.total_s = round(time.perf_counter() - started, 4)
    if as_json:
        print(result.model_dump_json())
    else:
        print_result(result, console=console)


def print_result(result: RateResponse, *, console: Console) -> None:
    """Print a rating as tables a person can read."""
    names = {role: info.filename or role for role, info in result.files.items()}
    if result.rating == 0:
        verdict = "[green]0: same EQ as the professional master.[/green]"
    else:
        plural = "s" if result.rating != 1 else ""
        verdict = f"[bold yellow]{result.rating}[/]: {result.rating} EQ operation{plural} away."
    console.print(f"[bold]{names['candidate']}[/] against [bold]{names['reference']}[/]")
    console.print(f"Rating {verdict}  (model {result.model})")
    if result.operations:
        table = Table(title="Recognised operations", caption="reference → candidate")
        for column in ("band", "frequency", "gain", "width"):
            table.add_column(column, justify="left" if column == "band" else "right")
        for op in result.operations:
            table.add_row(
                op.band,
                format_frequency(op.frequency_hz),
                f"{op.gain_db:+.1f} dB",
                f"{op.width_octaves:g} oct",
            )
        console.print(table)
    if result.suggestions:
        table = Table(title=f"What to change (EQ strength {result.amount:g} %)")
        table.add_column("kind")
        table.add_column("band")
        table.add_column("suggestion")
        for suggestion in result.suggestions:
            colour = "red" if suggestion.action == "decrease" else "green"
            table.add_row(suggestion.kind, suggestion.band or "", f"[{colour}]{suggestion.text}[/]")
        console.print(table)
    print_measures(
        loudness=result.loudness, dynamics=result.dynamics, stereo=result.stereo, console=console
    )
    align = result.alignment
    console.print(
        f"aligned at {align.offset_s:+.3f} s over {align.overlap_s:.1f} s, "
        f"level {align.level_offset_db:+.1f} dB; analysis {result.timings.analysis_s:.2f} s",
        highlight=False,
    )


def print_measures(
    *,
    loudness: LoudnessComparison | None,
    dynamics: DynamicsComparison | None,
    stereo: StereoComparison | None,
    console: Console,
) -> None:
    """Print the loudness, dynamics and stereo of both masters as tables."""
    if loudness is not None:
        table = Table(title=f"Loudness (normalised to {loudness.target_lufs:g} LUFS)")
        for column in ("", "reference", "candidate", "difference"):
            table.add_column(column, justify="left" if not column else "right")
        ref, cand = loudness.reference, loudness.candidate
        rows = (
            ("integrated", "LUFS", ref.integrated_lufs, cand.integrated_lufs),
            ("momentary max", "LUFS", ref.momentary_max_lufs, cand.momentary_max_lufs),
            ("short-term max", "LUFS", ref.short_term_max_lufs, cand.short_term_max_lufs),
            ("loudness range", "LU", ref.loudness_range_lu, cand.loudness_range_lu),
            ("sample peak", "dBFS", ref.sample_peak_dbfs, cand.sample_peak_dbfs),
            ("true peak", "dBTP", ref.true_peak_dbtp, cand.true_peak_dbtp),
            ("PLR", "dB", ref.plr_db, cand.plr_db),
            ("normalisation gain", "dB", ref.normalised_gain_db, cand.normalised_gain_db),
            (
                "true peak, normalised",
                "dBTP",
                ref.normalised_true_peak_dbtp,
                cand.normalised_true_peak_dbtp,
            ),
        )
        for name, unit, reference, candidate in rows:
            table.add_row(
                f"{name} ({unit})", f"{reference:.1f}", f"{candidate:.1f}",
                f"{candidate - reference:+.1f}",
            )  # fmt: skip
        console.print(table)
    if dynamics is not None:
        table = Table(title="Dynamics: crest factor per octave band (dB)")
        for column in ("band", "reference", "candidate"):
            table.add_column(column, justify="right")
        for band in dynamics.bands:
            table.add_row(
                f"{format_frequency(band.low_hz)}-{format_frequency(band.high_hz)}",
                f"{band.reference_crest_db:.1f}",
                f"{band.candidate_crest_db:.1f}",
            )
        console.print(table)
        console.print(
            f"median PSR {dynamics.reference_psr.median_db:.1f} dB (reference), "
            f"{dynamics.candidate_psr.median_db:.1f} dB (candidate). {dynamics.summary}",
            highlight=False,
        )
    if stereo is not None:
        table = Table(title="Stereo: width (side/mid, dB) and correlation per octave band")
        for column in ("band", "reference width", "candidate width", "ref corr", "cand corr"):
            table.add_column(column, justify="right")
        for item in stereo.bands:
            table.add_row(
                f"{format_frequency(item.low_hz)}-{format_frequency(item.high_hz)}",
                f"{item.reference_width_db:.1f}",
                f"{item.candidate_width_db:.1f}",
                f"{item.reference_correlation:+.2f}",
                f"{item.candidate_correlation:+.2f}",
            )
        console.print(table)
        for warning in stereo.mono_warnings:
            console.print(f"[yellow]mono compatibility: {warning}[/]", highlight=False)
