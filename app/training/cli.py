"""Subcommands for the corpus, datasets, training and evaluation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from app.config import PROJECT_ROOT, get_settings
from app.training import corpus, synth
from app.training.grids import GRID_CONFIGS
from app.training.plan import PLAN, PLAN_BY_ID, DatasetPlan

console = Console()
DEFAULT_MANIFEST = PROJECT_ROOT.parent / "shared" / "corpus" / "train.tsv"

corpus_app = typer.Typer(help="Fetch the training corpus and cut its clips.", no_args_is_help=True)
dataset_app = typer.Typer(help="Synthesise EQ datasets from the corpus.", no_args_is_help=True)

T = TypeVar("T")

ManifestOption = Annotated[Path, typer.Option(help="The corpus manifest (train.tsv).")]
DataDirOption = Annotated[
    Path | None, typer.Option(help="Data folder (default: the DATA_DIR setting, ./var).")
]


def progress_bar() -> Progress:
    """A rich progress bar with counts, elapsed and remaining time."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def tracked(items: Iterable[T], *, description: str, total: int) -> Iterator[T]:
    """Yield `items` while drawing a progress bar."""
    with progress_bar() as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)


def _layout(data_dir: Path | None) -> corpus.CorpusLayout:
    return corpus.CorpusLayout(data_dir or get_settings().DATA_DIR)


def _cache_one(args: tuple[corpus.Track, corpus.CorpusLayout]) -> int:
    track, layout = args
    return len(corpus.cache_clips(track, layout=layout))


@corpus_app.command("fetch")
def corpus_fetch(
    manifest: ManifestOption = DEFAULT_MANIFEST,
    data_dir: DataDirOption = None,
    workers: Annotated[int, typer.Option(help="Processes cutting clips.")] = 2,
) -> None:
    """Download and extract the corpus packages, check md5s, and cache the clips."""
    layout = _layout(data_dir)
    tracks = corpus.read_manifest(manifest)
    packages = corpus.packages_of(tracks)
    try:
        for _ in tracked(
            corpus.fetch(tracks, layout=layout), description="packages", total=len(packages)
        ):
            pass
    except corpus.CorpusError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error
    jobs = [(track, layout) for track in tracks if track.n_clips]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        clips = sum(tracked(pool.map(_cache_one, jobs), description="clips", total=len(jobs)))
    console.print(f"{len(tracks)} tracks, {clips} clips cached under {layout.clips}")


def clip_paths(tracks: list[corpus.Track], *, layout: corpus.CorpusLayout) -> list[Path]:
    """Every cached clip of `tracks`, in manifest order."""
    return [layout.clip_path(t, k) for t in tracks for k in range(t.n_clips)]


def _selected_datasets(
    *, grid: list[str], width: list[str], datasets: list[str], all_datasets: bool
) -> list[str]:
    if all_datasets:
        return [plan.dataset_id for plan in PLAN]
    chosen = [
        c.id
        for c in GRID_CONFIGS
        if (grid or width)
        and (not grid or str(c.grid_octaves) in grid)
        and (not width or str(c.width_octaves) in width)
    ]
    return chosen + [d for d in datasets if d not in chosen]


@dataset_app.command("build")
def dataset_build(
    grid: Annotated[
        list[str] | None,
        typer.Option(help="Grid step in octaves (1, 1/2, 1/4); combines with --width."),
    ] = None,
    width: Annotated[
        list[str] | None, typer.Option(help="Bell width in octaves (1/2, 1, 2).")
    ] = None,
    dataset: Annotated[
        list[str] | None, typer.Option(help="A dataset id: F1W2, general, paper-F1W2, ...")
    ] = None,
    all_datasets: Annotated[bool, typer.Option("--all", help="Every dataset of the plan.")] = False,
    per_clip: Annotated[
        int | None, typer.Option(help="Examples per clip (default: plan's).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Processes (default: every core).")] = 0,
    manifest: ManifestOption = DEFAULT_MANIFEST,
    data_dir: DataDirOption = None,
) -> None:
    """Synthesise datasets (resumable: clips already done are skipped)."""
    layout = _layout(data_dir)
    dataset_ids = _selected_datasets(
        grid=grid or [], width=width or [], datasets=dataset or [], all_datasets=all_datasets
    )
    if not dataset_ids:
        console.print("[red]Name datasets: --grid/--width, --dataset ID or --all.[/red]")
        raise typer.Exit(2)
    tracks = corpus.read_manifest(manifest)
    clips = [path for path in clip_paths(tracks, layout=layout) if path.is_file()]
    if not clips:
        console.print("[red]No cached clips: run `mastering-trainer corpus fetch` first.[/red]")
        raise typer.Exit(1)
    for dataset_id in dataset_ids:
        plan = PLAN_BY_ID.get(dataset_id, DatasetPlan(dataset_id=dataset_id, per_clip=6))
        tasks = synth.pending_tasks(
            clips,
            datasets_dir=layout.datasets,
            config_id=dataset_id,
            per_clip=per_clip or plan.per_clip,
            nuisances=plan.nuisances,
        )
        done = sum(
            tracked(
                synth.run_tasks(tasks, workers=workers or None),
                description=f"dataset {dataset_id}",
                total=len(tasks),
            )
        )
        console.print(
            f"{dataset_id}: {done} new examples; {len(clips) - len(tasks)} clips were done"
        )
