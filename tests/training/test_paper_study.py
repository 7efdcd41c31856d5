"""The paper's closed-set study: genre folds, leak-free splits, the score cache, the report."""

from __future__ import annotations

import copy
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.training import paper_study as study
from app.training.bundle import Bundle
from app.training.corpus import Track
from app.training.render import render_report

from ..conftest import corpus_track

MODELS = Path(__file__).resolve().parents[2] / "models"
#: Genre guesses of the tiny corpus: two families to hold out, one too small.
GENRES = ["rock/pop"] * 4 + ["electronic (game)"] * 4 + ["jazz"]
PLAN = study.StudyPlan(
    iterations=12,
    border_count=16,
    min_fold_tracks=3,
    shares=(0.5,),
    longer=2,
    gap_configs=("F1W1",),
    configs=("F1W1",),
)
EXAMPLES_PER_TRACK = 6


def make_tracks() -> list[Track]:
    """Nine tracks, three families, some of each family's tracks in validation."""
    return [
        corpus_track(md5=f"{i:032x}", index=i, genre=genre, duration_s=90.0)
        for i, genre in enumerate(GENRES)
    ]


def make_bundle(tracks: list[Track], *, stem: str, seed: int) -> Bundle:
    """Three classes told apart by the first feature; the last feature is the track's index."""
    rng = np.random.default_rng(seed)
    rows = len(tracks) * EXAMPLES_PER_TRACK
    track_index = np.repeat(np.arange(len(tracks)), EXAMPLES_PER_TRACK)
    targets = np.arange(rows) % 3
    features = np.column_stack(
        [targets + 0.1 * rng.standard_normal(rows), rng.standard_normal((rows, 2)), track_index]
    )
    md5 = np.array([tracks[i].md5 for i in track_index])
    return Bundle(
        dataset_id=stem,
        kind="paper",
        features=features,
        targets=targets.astype(np.int16),
        # Tracks 0, 4 and 5 are the validation tracks (one or two of each family held out).
        is_validation=np.isin(track_index, [0, 4, 5]),
        track_md5=md5,
    )


@pytest.fixture
def layout(tmp_path: Path) -> study.StudyLayout:
    """Both closed-set bundles of F1W1, and the larger build's, in a data folder's layout."""
    tracks = make_tracks()
    bundle_dir = tmp_path / "bundle"
    more_dir = tmp_path / study.MORE_PER_CLIP_DIR / "bundle"
    for folder in (bundle_dir, more_dir):
        folder.mkdir(parents=True)
        for seed, stem in enumerate(("paper-F1W1", "paper-F1W1-ours")):
            make_bundle(tracks, stem=stem, seed=seed).save(folder / f"{stem}.npz")
    return study.StudyLayout.of(bundle_dir=bundle_dir, fitted_dir=tmp_path / "fitted")


def test_genre_families_group_the_manifests_guesses() -> None:
    assert study.genre_family("orchestral/electronic (cinematic)") == "orchestral"
    assert study.genre_family("thrash metal") == "metal"
    assert study.genre_family("Electronic") == "electronic"
    families = study.genre_families(make_tracks())
    assert {name: len(md5s) for name, md5s in families.items()} == {
        "electronic": 4,
        "rock": 4,
        "jazz": 1,
    }
    held_out = study.held_out_families(make_tracks(), min_tracks=3)
    assert list(held_out) == ["electronic", "rock"]


def test_no_fit_tests_on_a_track_it_trained_on(layout: study.StudyLayout) -> None:
    tracks = make_tracks()
    fits = study.planned_fits(tracks=tracks, plan=PLAN)
    assert {fit.part for fit in fits} == {
        "closed",
        "genre-electronic",
        "genre-rock",
        "share-0.5",
        "longer",
        "more-per-clip",
    }
    jazz = make_tracks()[-1].md5
    for fit in fits:
        bundle = Bundle.load(layout.bundle_paths(fit)[0])
        trained = Bundle.load(layout.bundle_paths(fit)[-1])
        train, test = study.split_masks(
            fit, bundle=bundle, train_bundle=trained, tracks=tracks, plan=PLAN
        )
        assert train.any() and test.any()
        assert trained.track_md5 is not None and bundle.track_md5 is not None
        assert not set(trained.track_md5[train]) & set(bundle.track_md5[test]), fit.name
        if fit.part.startswith("genre-"):
            family = study.genre_families(tracks)[fit.part.removeprefix("genre-")]
            assert set(bundle.track_md5[test]) == family
            # A family too small to hold out always trains.
            assert jazz in set(trained.track_md5[train])


def test_a_held_out_track_never_reaches_the_classifier(
    layout: study.StudyLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The features' last column is the track: what trains must hold none of the tested tracks."""
    seen: list[tuple[set[int], set[int]]] = []
    real = study.fit_and_score

    def spy(**kwargs: Any) -> study.FitScore:
        seen.append((set(kwargs["x_train"][:, -1].astype(int)), set(kwargs["x_test"][:, -1])))
        return real(**kwargs)

    monkeypatch.setattr(study, "fit_and_score", spy)
    study.run_study(layout=layout, tracks=make_tracks(), plan=PLAN)
    assert len(seen) == len(study.planned_fits(tracks=make_tracks(), plan=PLAN))
    for trained, tested in seen:
        assert trained and tested and not trained & tested


def test_a_split_that_shares_a_track_is_refused(layout: study.StudyLayout) -> None:
    tracks = make_tracks()
    fit = study.StudyFit(config_id="F1W1", feature="ours", part="more-per-clip", iterations=12)
    bundle = Bundle.load(layout.bundle_paths(fit)[0])
    # A larger build whose split put a validation track in training.
    leaky = replace(bundle, is_validation=np.zeros_like(bundle.validation))
    with pytest.raises(ValueError, match="both train and test"):
        study.split_masks(fit, bundle=bundle, train_bundle=leaky, tracks=tracks, plan=PLAN)


def test_the_cache_skips_current_fits_and_refits_stale_ones(layout: study.StudyLayout) -> None:
    tracks = make_tracks()
    planned = study.planned_fits(tracks=tracks, plan=PLAN)
    first = study.run_study(layout=layout, tracks=tracks, plan=PLAN)
    assert len(first) == len(planned) == 12
    assert study.run_study(layout=layout, tracks=tracks, plan=PLAN) == []
    # A rebuilt bundle (newer than the scores) makes its fits stale, and only those.
    now = max(p.stat().st_mtime for p in layout.fitted_dir.rglob("*.json"))
    for path in layout.fitted_dir.rglob("*.json"):
        os.utime(path, (now - 50, now - 50))
    for path in layout.bundle_dir.parent.rglob("*.npz"):
        newer = "-ours" in path.name and path.parent == layout.bundle_dir
        os.utime(path, (now, now) if newer else (now - 100, now - 100))
    refitted = study.run_study(layout=layout, tracks=tracks, plan=PLAN)
    assert len(refitted) == 6
    assert study.run_study(layout=layout, tracks=tracks, plan=PLAN) == []
    # So do other parameters.
    other = replace(PLAN, border_count=8)
    assert len(study.run_study(layout=layout, tracks=tracks, plan=other)) == 12


def test_figures_pool_the_held_out_examples(layout: study.StudyLayout) -> None:
    tracks = make_tracks()
    pending = study.study_figures(layout=layout, tracks=tracks, plan=PLAN)
    assert pending["closed_set"] == {"F1W1": {"paper_faithful": None, "ours": None}}
    assert pending["cross_genre"]["F1W1"]["ours"] is None
    assert len(pending["pending"]) == pending["fits_planned"] == 12
    study.run_study(layout=layout, tracks=tracks, plan=PLAN)
    figures = study.study_figures(layout=layout, tracks=tracks, plan=PLAN)
    assert figures["pending"] == [] and figures["fits_done"] == 12
    assert figures["fit_devices"] == {"CPU": 12, "GPU": 0}
    assert figures["held_out_families"] == {"electronic": 4, "rock": 4}
    assert figures["always_train_families"] == {"jazz": 1}
    scores = {
        path.stem: json.loads(path.read_text())
        for path in (layout.fitted_dir / study.STUDY_DIR).glob("*genre*.json")
        if "-ours--" in path.stem
    }
    assert sum(score["total"] for score in scores.values()) == 8 * EXAMPLES_PER_TRACK
    pooled = 100 * sum(s["correct"] for s in scores.values()) / (8 * EXAMPLES_PER_TRACK)
    assert figures["cross_genre"]["F1W1"]["ours"] == round(pooled, 2)
    gap = figures["gap"]["F1W1"]["paper_faithful"]
    assert [point["share"] for point in gap["curve"]] == [0.5, 1.0]
    closed = figures["closed_set"]["F1W1"]["paper_faithful"]
    assert gap["curve"][-1]["accuracy"] == closed is not None
    # Half the training tracks' examples, over three classes.
    assert gap["curve"][0]["examples_per_class"] == 18 / 3
    assert gap["longer"]["iterations"] == 24 and gap["longer"]["accuracy"] is not None
    assert gap["more_per_clip"]["accuracy"] is not None


def _report_with(paper_study: dict[str, Any]) -> dict[str, Any]:
    report: dict[str, Any] = copy.deepcopy(json.loads((MODELS / "REPORT.json").read_text()))
    report["closed_set"] = paper_study.pop("closed_set")
    report["paper_study"] = paper_study
    return report


def test_the_report_renders_filled_and_pending_study_tables(layout: study.StudyLayout) -> None:
    tracks = make_tracks()
    text = render_report(_report_with(study.study_figures(layout=layout, tracks=tracks, plan=PLAN)))
    assert "## Table 3 (the paper's): cross-genre" in text
    assert "| F1W1 | 87.83 | - | - |" in text
    assert "| F1W1 | paper-faithful | - | - | - | - |" in text
    assert "the figures marked - wait for 12 fits" in text.lower()
    assert "`mastering-trainer paper-study` computes them" in text
    study.run_study(layout=layout, tracks=tracks, plan=PLAN)
    figures = study.study_figures(layout=layout, tracks=tracks, plan=PLAN)
    text = render_report(_report_with(copy.deepcopy(figures)))
    cross = figures["cross_genre"]["F1W1"]
    assert f"| F1W1 | 87.83 | {cross['paper_faithful']} | {cross['ours']} |" in text
    closed = figures["closed_set"]["F1W1"]
    assert f"| F1W1 | 93.9 | {closed['paper_faithful']} | {closed['ours']} |" in text
    curve = figures["gap"]["F1W1"]["ours"]["curve"]
    assert f"| F1W1 | our features | {curve[0]['accuracy']} (6/class) |" in text
    assert "wait for" not in text and "held out in turn (at least 3 tracks)" in text
    longer = figures["gap"]["F1W1"]["ours"]["longer"]["accuracy"]
    assert f"- F1W1, our features (paper 93.9 %): {curve[0]['accuracy']} % with 6 examples" in text
    assert f"; 24 iterations: {longer} % ({longer - curve[-1]['accuracy']:+.2f} against" in text
    assert "electronic (4 tracks), rock (4 tracks); always in training: jazz (1)" in text
    effects = figures["gap"]["F1W1"]["ours"]["effects"]
    assert effects["longer"] == round(longer - curve[-1]["accuracy"], 2)
    assert f"- F1W1, our features, {curve[-1]['accuracy']} % against the paper's 93.9 %" in text
    assert f"2 times the iterations moves it {effects['longer']:+.2f} points" in text


def test_study_only_reads_the_scores_into_the_last_report(
    layout: study.StudyLayout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`evaluate --study-only`: the study's figures change, every other figure stays."""
    from app.training import report as reporting

    models = tmp_path / "models"
    models.mkdir()
    before = json.loads((MODELS / "REPORT.json").read_text())
    (models / "REPORT.json").write_text(json.dumps(before, indent=2) + "\n")
    monkeypatch.setattr(reporting, "read_manifest", lambda _: make_tracks())
    study.run_fit(
        study.StudyFit(config_id="F1W1", feature="ours", part="closed", iterations=12),
        layout=layout,
        tracks=make_tracks(),
        plan=PLAN,
    )
    path = reporting.refresh_paper_study(
        bundle_dir=layout.bundle_dir,
        fitted_dir=layout.fitted_dir,
        models_dir=models,
        manifest=tmp_path / "unused.tsv",
        plan=PLAN,
    )
    after = json.loads((models / "REPORT.json").read_text())
    assert {k: v for k, v in after.items() if k not in ("closed_set", "paper_study")} == {
        k: v for k, v in before.items() if k not in ("closed_set", "paper_study")
    }
    closed = after["closed_set"]["F1W1"]
    assert closed["paper_faithful"] is None and closed["ours"] is not None
    assert after["paper_study"]["pending_by_section"] == {"table_1": 1, "gap": 6, "table_3": 4}
    text = path.read_text()
    assert f"| F1W1 | 93.9 | - | {closed['ours']} |" in text
    assert "wait for 11 fits (1 of Table 1's closed columns, 6 of the gap" in text
    assert "by `mastering-trainer evaluate --study-only`" in text


def test_a_study_cut_short_has_table_1_then_the_first_gap_then_whole_fold_rows() -> None:
    plan = replace(PLAN, configs=("F1W1", "F1W2"), gap_configs=("F1W2", "F1W1"))
    fits = study.planned_fits(tracks=make_tracks(), plan=plan)
    sections = [fit.section for fit in fits]
    assert sections == ["table_1"] * 4 + ["gap"] * 6 + ["table_3"] * 8 + ["gap"] * 6
    assert {fit.config_id for fit in fits[4:10]} == {"F1W2"}
    assert [fit.feature for fit in fits[4:10]] == ["paper_faithful"] * 3 + ["ours"] * 3
    # The folds fill Table 3 a row at a time, the gap's configuration first.
    assert [(fit.config_id, fit.feature) for fit in fits[10:18:2]] == [
        ("F1W2", "paper_faithful"),
        ("F1W2", "ours"),
        ("F1W1", "paper_faithful"),
        ("F1W1", "ours"),
    ]


def test_the_committed_report_fills_table_1s_closed_columns_and_table_3() -> None:
    """Every closed-set figure of Table 1; Table 3 where its folds finished (F1W2 first)."""
    from app.training.grids import GRID_CONFIGS

    report = json.loads((MODELS / "REPORT.json").read_text())
    closed = report["closed_set"]
    assert set(closed) == {config.id for config in GRID_CONFIGS}
    assert all(value is not None for figures in closed.values() for value in figures.values())
    cross = report["paper_study"]["cross_genre"]
    assert None not in (cross["F1W2"]["paper_faithful"], cross["F1W2"]["ours"])
    assert len(report["paper_study"]["held_out_families"]) >= 2
