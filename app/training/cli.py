"""Subcommands for the corpus, datasets, training and evaluation."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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

from app.config import get_settings
from app.training import corpus, synth
from app.training.grids import GRID_CONFIGS
from app.training.plan import (
    PLAN,
    PLAN_BY_ID,
    DatasetPlan,
    feature_spec,
    unflagged_lossy_share,
)
from app.training.pool import process_pool

console = Console()
#: The corpus list, carried inside the package (a copy of the shared list; see its README).
DEFAULT_MANIFEST = Path(__file__).resolve().parent / "manifests" / "train.tsv"

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
    with process_pool(workers=workers) as pool:
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
    # Pass k builds every dataset from the k-th clip of each track, so that an
    # interrupted build leaves every dataset with examples from every track.
    for clip_index in range(corpus.MAX_CLIPS_PER_TRACK):
        pass_clips = [path for path in clips if path.stem.endswith(f"_{clip_index}")]
        for dataset_id in dataset_ids:
            plan = PLAN_BY_ID.get(dataset_id, DatasetPlan(dataset_id=dataset_id, per_clip=6))
            tasks = synth.pending_tasks(
                pass_clips,
                datasets_dir=layout.datasets,
                config_id=dataset_id,
                per_clip=per_clip or plan.per_clip,
                nuisances=plan.nuisances,
            )
            done = sum(
                tracked(
                    synth.run_tasks(tasks, workers=workers or None),
                    description=f"clip {clip_index + 1} {dataset_id}",
                    total=len(tasks),
                )
            )
            console.print(f"{dataset_id}, clip {clip_index + 1} of each track: {done} new examples")


DatasetOption = Annotated[
    list[str] | None, typer.Option(help="Dataset ids (F1W2, general, paper-F1W2, ...).")
]
FittedOption = Annotated[
    Path | None, typer.Option(help="Where fits are written (default: DATA_DIR/fitted).")
]
ModelsOption = Annotated[
    Path | None, typer.Option(help="Where models are installed (default: MODELS_DIR).")
]


def write_bundles(
    dataset_ids: list[str],
    *,
    layout: corpus.CorpusLayout,
    tracks: list[corpus.Track],
    rebuild: bool = False,
) -> list[str]:
    """Write the bundle of each dataset whose bundle is missing or older than its shards;
    return the datasets that could not be read (their old bundles are not to be fitted)."""
    from app.training import train as training
    from app.training.datasets import load_dataset

    bundle_dir = layout.data_dir / "bundle"
    unread = []
    for dataset_id in tracked(dataset_ids, description="bundles", total=len(dataset_ids)):
        bundle = bundle_dir / f"{training.bundle_name(dataset_id)}.npz"
        shards = list((layout.datasets / synth.dataset_id(dataset_id)).glob("*.npz"))
        newest_shard = max((p.stat().st_mtime for p in shards), default=0.0)
        if rebuild or not training.bundle_is_current(
            bundle,
            spec=feature_spec(dataset_id),
            newest_shard_mtime=newest_shard,
            unflagged_lossy_share=unflagged_lossy_share(dataset_id),
        ):
            try:
                data = load_dataset(layout.datasets, dataset_id, tracks=tracks)
            except FileNotFoundError as error:
                console.print(f"[yellow]{error}[/yellow]")
                unread.append(dataset_id)
                continue
            training.write_bundles(data, bundle_dir=bundle_dir)
    return unread


def train(
    dataset: DatasetOption = None,
    all_datasets: Annotated[bool, typer.Option("--all", help="Every dataset of the plan.")] = False,
    task_type: Annotated[str, typer.Option(help="CPU, or GPU where CatBoost sees one.")] = "CPU",
    threads: Annotated[int, typer.Option(help="CPU threads for CatBoost.")] = 2,
    iterations: Annotated[int | None, typer.Option(help="Override the boosting rounds.")] = None,
    rebuild: Annotated[bool, typer.Option(help="Recompute bundles and refit.")] = False,
    then_evaluate: Annotated[
        bool,
        typer.Option(
            "--evaluate/--no-evaluate", help="Then run `evaluate` (tuning, figures, install)."
        ),
    ] = True,
    data_dir: DataDirOption = None,
    fitted_dir: FittedOption = None,
    models_dir: ModelsOption = None,
    manifest: ManifestOption = DEFAULT_MANIFEST,
) -> None:
    """Bundle features, fit CatBoost on the training tracks, install models (resumable)."""
    from app.training import fit as fitting
    from app.training import train as training

    layout = _layout(data_dir)
    bundle_dir = layout.data_dir / "bundle"
    fitted = fitted_dir or layout.data_dir / "fitted"
    dataset_ids = [p.dataset_id for p in PLAN] if all_datasets else list(dataset or [])
    if not dataset_ids:
        console.print("[red]Name datasets with --dataset ID or --all.[/red]")
        raise typer.Exit(2)
    tracks = corpus.read_manifest(manifest)
    unread = write_bundles(dataset_ids, layout=layout, tracks=tracks, rebuild=rebuild)
    if unread and not all_datasets:
        console.print(f"[red]Not fitted: {', '.join(unread)} (above).[/red]")
        raise typer.Exit(1)
    # The paper's closed-set bundles are fitted by `paper-study` alone.
    wanted = {
        training.bundle_name(d)
        for d in dataset_ids
        if not d.startswith(synth.PAPER_PREFIX) and d not in unread
    }
    names = [path.stem for path in sorted(bundle_dir.glob("*.npz")) if path.stem in wanted]
    for name in tracked(names, description="fits", total=len(names)):
        bundle = bundle_dir / f"{name}.npz"
        if rebuild or not fitting.fit_is_current(
            fitted_dir=fitted, bundle_path=bundle, iterations=iterations
        ):
            info = fitting.fit_bundle(
                bundle,
                out_dir=fitted,
                task_type=task_type,
                threads=threads,
                iterations=iterations,
            )
            console.print(f"{name}: {info['train_seconds']} s on {info['task_type']}")
    if then_evaluate:
        evaluate(
            dataset=None if all_datasets else dataset_ids,
            data_dir=data_dir,
            fitted_dir=fitted,
            models_dir=models_dir,
            manifest=manifest,
        )


def evaluate(
    dataset: DatasetOption = None,
    data_dir: DataDirOption = None,
    fitted_dir: FittedOption = None,
    models_dir: ModelsOption = None,
    manifest: ManifestOption = DEFAULT_MANIFEST,
    render_only: Annotated[
        bool,
        typer.Option("--render-only", help="Rewrite REPORT.md from REPORT.json; measure nothing."),
    ] = False,
    study_only: Annotated[
        bool,
        typer.Option(
            "--study-only",
            help="Read paper-study's cached scores into REPORT.json/.md; evaluate no model.",
        ),
    ] = False,
) -> None:
    """Measure the fitted models on validation tracks, install them, write models/REPORT.md.

    Without --dataset every model whose fit is current; the others keep the
    figures of the last report.
    """
    from app.training.render import rerender
    from app.training.report import build_report, refresh_paper_study

    if study_only:
        layout = _layout(data_dir)
        path = refresh_paper_study(
            bundle_dir=layout.data_dir / "bundle",
            fitted_dir=fitted_dir or layout.data_dir / "fitted",
            models_dir=models_dir or get_settings().MODELS_DIR,
            manifest=manifest,
        )
        console.print(f"report written to {path}")
        return
    if render_only:
        path = rerender(models_dir=models_dir or get_settings().MODELS_DIR)
        console.print(f"report written to {path}")
        return

    if unknown := sorted(set(dataset or []) - set(PLAN_BY_ID)):
        console.print(f"[red]Unknown dataset ids: {', '.join(unknown)}.[/red]")
        raise typer.Exit(2)
    layout = _layout(data_dir)
    models = models_dir or get_settings().MODELS_DIR
    path = build_report(
        bundle_dir=layout.data_dir / "bundle",
        fitted_dir=fitted_dir or layout.data_dir / "fitted",
        models_dir=models,
        manifest=manifest,
        only=set(dataset) if dataset else None,
    )
    console.print(f"report written to {path}")


def paper_study(
    task_type: Annotated[str, typer.Option(help="CPU, or GPU where CatBoost sees one.")] = "CPU",
    threads: Annotated[int, typer.Option(help="CPU threads for CatBoost.")] = 2,
    data_dir: DataDirOption = None,
    fitted_dir: FittedOption = None,
    manifest: ManifestOption = DEFAULT_MANIFEST,
) -> None:
    """Fit the paper's closed-set models: Table 1's closed columns, Table 3, the gap (resumable).

    Bundles the paper-* datasets, then runs every fit whose score is not
    current (cached under FITTED/paper-study); `evaluate` then reports them.
    """
    from app.training import paper_study as study

    layout = _layout(data_dir)
    tracks = corpus.read_manifest(manifest)
    plan = study.StudyPlan()
    write_bundles([synth.PAPER_PREFIX + c for c in plan.configs], layout=layout, tracks=tracks)
    more = corpus.CorpusLayout(layout.data_dir / study.MORE_PER_CLIP_DIR)
    if more.datasets.is_dir():
        gap_ids = [synth.PAPER_PREFIX + c for c in plan.gap_configs]
        write_bundles(
            [d for d in gap_ids if (more.datasets / synth.dataset_id(d)).is_dir()],
            layout=more,
            tracks=tracks,
        )
    study_layout = study.StudyLayout.of(
        bundle_dir=layout.data_dir / "bundle", fitted_dir=fitted_dir or layout.data_dir / "fitted"
    )
    pending, missing = study.pending_fits(layout=study_layout, tracks=tracks, plan=plan)
    if missing:
        console.print(
            f"[yellow]{len(missing)} fits lack their bundles, e.g. {missing[0].name}[/yellow]"
        )
    for fit in tracked(pending, description="paper-study fits", total=len(pending)):
        score = study.run_fit(
            fit, layout=study_layout, tracks=tracks, plan=plan, task_type=task_type, threads=threads
        )
        console.print(
            f"{fit.name}: {score.accuracy_percent} % of {score.total} "
            f"({score.seconds} s on {score.task_type})"
        )
