"""Synthesis, bundling, a tiny CatBoost fit, evaluation and installation, end to end."""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.audio.eq import EqOperation, response_db
from app.audio.spectrum import DEFAULT_SPEC, band_difference_db, compare
from app.ml.features import CURRENT_SPEC
from app.ml.fitting import PhysicsCheck
from app.ml.registry import load_registry
from app.training import fit, synth, train
from app.training.bundle import Bundle
from app.training.cli import DEFAULT_MANIFEST, write_bundles
from app.training.corpus import CorpusLayout, Track
from app.training.datasets import load_dataset
from app.training.evaluate import GENERAL_CHECKS, GENERAL_COUNT_AIM, REPLACED
from app.training.grids import decode_operations
from app.training.master_chain import LIMITER_GAIN_REDUCTION_COLUMN, draw_chain
from app.training.plan import PLAN_BY_ID, DatasetPlan, feature_spec, unflagged_lossy_share
from app.training.render import without_chain
from app.training.report import _against_replaced, build_report

from ..conftest import corpus_track, pink_noise

MANIFEST = DEFAULT_MANIFEST


def make_tracks(count: int) -> list[Track]:
    """Tracks whose md5s put the first half in training and the second in validation."""
    tracks, i = [], 0
    while len(tracks) < count:
        md5 = f"{i:08x}" + "0" * 24
        split = "validation" if int(md5[:8], 16) % 5 == 0 else "train"
        want = "train" if len(tracks) < count // 2 else "validation"
        if split == want:
            tracks.append(corpus_track(md5=md5, index=i))
        i += 1
    return tracks


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Track]]:
    """Six 'tracks' of coloured noise, one 10 s clip each (shorter than the real 30 s)."""
    folder = tmp_path_factory.mktemp("clips")
    tracks = make_tracks(6)
    for k, track in enumerate(tracks):
        noise = pink_noise(duration_s=10.0, sample_rate_hz=44_100, seed=k)
        np.save(folder / f"{track.md5}_0.npy", noise)
    return folder, tracks


def test_a_shard_holds_real_filtered_spectra(
    clips: tuple[Path, list[Track]], tmp_path: Path
) -> None:
    folder, tracks = clips
    shard = tmp_path / "F1W1" / "x_0.npz"
    synth.build_shard(
        folder / f"{tracks[0].md5}_0.npy",
        config_id="F1W1",
        per_clip=12,
        nuisances=True,
        shard_path=shard,
    )
    with np.load(shard) as data:
        assert data["reference_magnitude"].shape == (12, DEFAULT_SPEC.n_bins)
        ops, nuisance = data["operations"], data["nuisance"]
        ref, cand = data["reference_magnitude"], data["candidate_magnitude"]
    for row in np.flatnonzero(nuisance == synth.Nuisance.NONE):
        truth = decode_operations(ops[row])
        expected = response_db(
            truth, frequency_hz=DEFAULT_SPEC.band_centres_hz, sample_rate_hz=44_100
        )
        got = band_difference_db(ref[row], cand[row])
        mid = (DEFAULT_SPEC.band_centres_hz > 300) & (DEFAULT_SPEC.band_centres_hz < 12_000)
        assert np.max(np.abs(got - expected)[mid]) < 0.5


@pytest.mark.parametrize("nuisance", list(synth.Nuisance))
def test_each_nuisance_yields_a_usable_candidate(
    nuisance: synth.Nuisance, rng: np.random.Generator
) -> None:
    clip = pink_noise(duration_s=12.0, sample_rate_hz=44_100, seed=9)
    ops = [EqOperation(1000.0, 6.0, 1.0)]
    chain = draw_chain(
        rng=rng,
        compressor=nuisance is not synth.Nuisance.CHAIN_LIMITER,
        limiter=nuisance is not synth.Nuisance.COMPRESSOR,
    )
    value = synth.draw_nuisance_value(nuisance, rng=rng)
    candidate = synth.make_candidate(
        clip, ops, nuisance=nuisance, nuisance_value=value, chain=chain
    )
    assert np.isfinite(candidate).all() and len(candidate) > 5 * 44_100
    comparison = compare(clip, candidate)
    at_1k = int(np.argmin(np.abs(DEFAULT_SPEC.band_centres_hz - 1000)))
    assert comparison.band_db[at_1k] == pytest.approx(6.0, abs=1.5)
    if nuisance is synth.Nuisance.LEVEL:
        assert comparison.level_offset_db == pytest.approx(value, abs=0.5)


def test_only_a_plan_with_the_chain_draws_it() -> None:
    def drawn(config_id: str) -> set[synth.Nuisance]:
        rng = np.random.default_rng(3)
        return {synth.draw_example(config_id, rng=rng, nuisances=True).nuisance for _ in range(200)}

    assert set(synth.CHAIN_NUISANCES) <= drawn("general")
    assert set(synth.CHAIN_NUISANCES) <= drawn("F1W2")
    assert not set(synth.CHAIN_NUISANCES) & drawn("paper-F1/4W1")


def is_current(shard: Path, *, clip: Path, config_id: str, per_clip: int) -> bool:
    """`synth.shard_is_current` of the task building `shard` from `clip` with nuisances."""
    task = synth.ShardTask(
        clip_path=clip, config_id=config_id, per_clip=per_clip, nuisances=True, shard_path=shard
    )
    return synth.shard_is_current(task)


def fresh_build(
    clips: tuple[Path, list[Track]], tmp_path: Path, *, config_id: str, per_clip: int
) -> tuple[Path, Path]:
    """The first track's first clip, and a fresh build of its shard."""
    folder, tracks = clips
    clip = folder / f"{tracks[0].md5}_0.npy"
    fresh = tmp_path / "fresh.npz"
    synth.build_shard(
        clip, config_id=config_id, per_clip=per_clip, nuisances=True, shard_path=fresh
    )
    return clip, fresh


def assert_renders_as_fresh(
    shard: Path, *, fresh: Path, clip: Path, config_id: str, per_clip: int, renders: int
) -> None:
    """Building `shard` again renders `renders` examples and leaves it as `fresh`, a fresh
    build of the same task."""
    built = synth.build_shard(
        clip, config_id=config_id, per_clip=per_clip, nuisances=True, shard_path=shard
    )
    assert built == renders
    assert is_current(shard, clip=clip, config_id=config_id, per_clip=per_clip)
    with np.load(shard) as again, np.load(fresh) as direct:
        assert sorted(again.files) == sorted(direct.files)
        for key in direct.files:
            np.testing.assert_array_equal(again[key], direct[key])


def test_changing_per_clip_keeps_a_shards_first_examples_as_a_fresh_build_would(
    clips: tuple[Path, list[Track]], tmp_path: Path
) -> None:
    folder, tracks = clips
    clip = [folder / f"{tracks[0].md5}_0.npy"]

    def pending(per_clip: int) -> list[synth.ShardTask]:
        return synth.pending_tasks(
            clip, datasets_dir=tmp_path, config_id="F1W2", per_clip=per_clip, nuisances=True
        )

    shard = synth.shard_path_for(tmp_path, config_id="F1W2", clip_path=clip[0])
    assert sum(synth.run_tasks(pending(2), workers=1)) == 2
    assert pending(2) == [] and len(pending(3)) == 1
    assert sum(synth.run_tasks(pending(3), workers=1)) == 1
    assert is_current(shard, clip=clip[0], config_id="F1W2", per_clip=3) and pending(3) == []

    def assert_as_fresh(per_clip: int) -> None:
        fresh = tmp_path / "fresh.npz"
        synth.build_shard(
            clip[0], config_id="F1W2", per_clip=per_clip, nuisances=True, shard_path=fresh
        )
        with np.load(shard) as changed, np.load(fresh) as direct:
            assert changed.files == direct.files
            for key in direct.files:
                np.testing.assert_array_equal(changed[key], direct[key])

    assert_as_fresh(3)
    # Lowering per_clip (a plan edit) shrinks the shard to its first examples.
    assert len(pending(2)) == 1
    assert sum(synth.run_tasks(pending(2), workers=1)) == 0
    assert is_current(shard, clip=clip[0], config_id="F1W2", per_clip=2) and pending(2) == []
    assert_as_fresh(2)


def test_a_shard_renders_again_only_what_an_older_limiter_rendered(
    clips: tuple[Path, list[Track]], tmp_path: Path
) -> None:
    _, tracks = clips
    clip, fresh = fresh_build(clips, tmp_path, config_id="F1W2", per_clip=8)
    layout = CorpusLayout(data_dir=tmp_path)
    shard = synth.shard_path_for(layout.datasets, config_id="F1W2", clip_path=clip)
    with np.load(fresh) as data:
        arrays = {key: data[key] for key in data.files if key != "limiter_version"}
    limited = np.isfinite(arrays["chain"][:, LIMITER_GAIN_REDUCTION_COLUMN])
    assert 0 < limited.sum() < 8  # seed-fixed draws: some limited, some not
    arrays["candidate_magnitude"][limited] = 0.0  # as pedalboard's limiter left them
    arrays["chain"] = arrays["chain"][:, :-1]  # and before the limiter kinds' column
    shard.parent.mkdir(parents=True)
    np.savez(shard, **arrays)  # a shard written before `limiter_version`
    with np.load(shard) as data:
        np.testing.assert_array_equal(synth.stale_examples(data), limited)
    assert not is_current(shard, clip=clip, config_id="F1W2", per_clip=8)
    # `train` fits none of it (nor an older bundle of it): the shard must be rendered again
    assert write_bundles(["F1W2"], layout=layout, tracks=tracks) == ["F1W2"]
    assert not (tmp_path / "bundle").exists()
    assert_renders_as_fresh(
        shard, fresh=fresh, clip=clip, config_id="F1W2", per_clip=8, renders=limited.sum()
    )


#: The tiny pipeline's grid: a plan with the feature options and the master chain.
GRID = "F1/4W1"


def test_tiny_models_train_evaluate_install_and_recognise(
    clips: tuple[Path, list[Track]], tmp_path: Path
) -> None:
    folder, tracks = clips
    datasets_dir, bundle_dir = tmp_path / "datasets", tmp_path / "bundle"
    fitted_dir, models_dir = tmp_path / "fitted", tmp_path / "models"
    for dataset_id in (GRID, "general", f"paper-{GRID}"):

        def pending(dataset_id: str = dataset_id) -> list[synth.ShardTask]:
            return synth.pending_tasks(
                sorted(folder.glob("*.npy")),
                datasets_dir=datasets_dir,
                config_id=dataset_id,
                per_clip=8,
                nuisances=not dataset_id.startswith("paper"),
            )

        assert sum(synth.run_tasks(pending(), workers=1)) == 48
        assert pending() == []
        dataset = load_dataset(datasets_dir, dataset_id, tracks=tracks)
        assert dataset.is_validation.sum() == 24 and len(dataset) == 48
        limited = np.isin(dataset.nuisance, synth.CHAIN_NUISANCES) & (
            dataset.nuisance != synth.Nuisance.COMPRESSOR
        )
        assert dataset.limiter_kind is not None
        np.testing.assert_array_equal(np.isfinite(dataset.limiter_kind), limited)
        assert not set(dataset.train.track_md5) & set(dataset.validation.track_md5)
        for path in train.write_bundles(dataset, bundle_dir=bundle_dir):
            if dataset_id.startswith(synth.PAPER_PREFIX):
                # The paper's closed-set fits are `paper-study`'s alone (test_paper_study).
                with pytest.raises(ValueError, match="paper-study"):
                    fit.fit_bundle(path, out_dir=fitted_dir, task_type="CPU", threads=1)
                continue
            read_back = train.bundle_dataset(Bundle.load(path)).limiter_kind
            np.testing.assert_array_equal(read_back, dataset.limiter_kind)
            info = fit.fit_bundle(
                path, out_dir=fitted_dir, task_type="CPU", threads=1, iterations=15
            )
            assert info["validation_examples"] == 24
            assert info["train_examples"] + info["tune_examples"] == 24
            assert (info["tune_examples"] > 0) == (info["kind"] != "paper")
            # A share of the training examples stands for MP3 uploads (not the paper's).
            assert (info["low_passed_train_share"] > 0) == (info["kind"] != "paper")
    report = build_report(
        bundle_dir=bundle_dir, fitted_dir=fitted_dir, models_dir=models_dir, manifest=MANIFEST
    )
    text = report.read_text()
    assert "| F1/4W1 | 89.7 |" in text and "## The general model" in text
    assert "F1/4W1: trained with the feature options" in text
    figures = json.loads((models_dir / "REPORT.json").read_text())
    assert_report_matches_its_figures(text, figures)
    # Not fitted yet: the report says which study fits are pending.
    assert figures["closed_set"][GRID] == {"paper_faithful": None, "ours": None}
    assert f"paper-{train.bundle_name(GRID)}--closed--1000" in figures["paper_study"]["pending"]
    assert "`mastering-trainer paper-study` computes them" in text
    registry = load_registry(models_dir)
    assert registry.ids == [GRID, "general"] and registry.default_id == "general"
    # Installed gzip-compressed, as shipped (models/ under GitHub's 100 MB).
    installed = {path.name for path in (models_dir / "general").glob("*.cbm*")}
    assert {"model.cbm.gz", "types.cbm.gz"} <= installed and "model.cbm" not in installed
    metadata = registry.get(GRID).metadata
    assert metadata["feature_spec"]["n_bands"] == 120 and metadata["grid"]["note_names"][0] == "C1"
    # The plan trains F1/4W1 with the feature options; a bundle without them is stale.
    assert metadata["feature_spec"]["reference_levels"] is metadata["feature_spec"]["lossy_flag"]
    assert metadata["feature_spec"]["lossy_flag"] is True
    # Every non-paper model of the plan reads bins empty in both files as the level change.
    assert metadata["feature_spec"]["level_floor"] is True
    assert registry.get("general").metadata["feature_spec"]["level_floor"] is True
    assert "F1/4W1, general: read the bins where neither file holds audio" in text
    bundle = bundle_dir / f"{train.bundle_name(GRID)}.npz"
    share = unflagged_lossy_share(GRID)
    assert share == 0.5
    current = partial(train.bundle_is_current, newest_shard_mtime=0.0, unflagged_lossy_share=share)
    assert current(bundle, spec=feature_spec(GRID))
    assert not current(bundle, spec=CURRENT_SPEC)
    # ... and one whose lossy flags the plan would write otherwise.
    assert not train.bundle_is_current(bundle, spec=feature_spec(GRID), newest_shard_mtime=0.0)
    # The validation examples again as MP3 uploads, measured in the report;
    # a bundle without them is stale.
    arrays = train.load_bundle(bundle)
    assert len(arrays[train.LOW_PASS_KEY]) == arrays["is_validation"].sum()
    assert not np.array_equal(
        arrays[train.LOW_PASS_KEY], arrays["features"][arrays["is_validation"].astype(bool)]
    )
    assert 0 <= figures["grid"][GRID]["exact_set_accuracy_low_pass"] <= 100
    assert 0 <= figures["general"]["count_accuracy_low_pass"] <= 100
    assert "MP3 upload, low-pass at 16 kHz" in text
    assert "| low-passed (%) |" in text
    cutoffs_hz = arrays[train.TRAIN_LOW_PASS_KEY]
    assert not np.isfinite(cutoffs_hz[arrays["is_validation"].astype(bool)]).any()
    for key in (train.LOW_PASS_KEY, train.TRAIN_LOW_PASS_KEY):
        old = tmp_path / "old.npz"
        np.savez(old, **{k: v for k, v in arrays.items() if k != key})
        assert not current(old, spec=feature_spec(GRID))
    for model_id, model_figures in (
        (GRID, figures["grid"][GRID]),
        ("general", figures["general"]),
    ):
        decode = registry.get(model_id).metadata["decode"]  # chosen on tuning tracks
        assert decode == model_figures["physics_check"]
        assert PhysicsCheck.from_dict(decode) in GENERAL_CHECKS.values()
    # The general model's answers with shelves or pass filters have a check of their own.
    typed_decode = registry.get("general").metadata["decode_typed"]
    assert typed_decode == figures["general"]["physics_check_typed"]
    assert PhysicsCheck.from_dict(typed_decode) in GENERAL_CHECKS.values()
    assert registry.get("general").typed_physics == PhysicsCheck.from_dict(typed_decode)  # type: ignore[attr-defined]
    clip = np.load(folder / f"{tracks[0].md5}_0.npy")
    comparison = compare(clip, clip)
    for model_id in registry.ids:
        recognition = registry.get(model_id).recognise(comparison)
        assert recognition.model_id == model_id
        assert recognition.curve_db.shape == (120,)

    # One model evaluated alone: the other's figures carry over, stamped with
    # the evaluation that measured them, and the report says so.
    where = {"bundle_dir": bundle_dir, "fitted_dir": fitted_dir, "models_dir": models_dir}
    build_report(**where, manifest=MANIFEST, only={"general"})
    alone = json.loads((models_dir / "REPORT.json").read_text())
    assert alone["grid"][GRID] == figures["grid"][GRID]
    assert alone["general"]["evaluated"]["at"] == alone["generated_at"] != figures["generated_at"]
    assert (
        f"The figures of {GRID} carry over from the evaluation at {figures['generated_at']}"
        in (models_dir / "REPORT.md").read_text()
    )
    # A study read on another machine: with fewer of its fits cached here, its figures carry over.
    read_elsewhere = {
        **alone["paper_study"],
        "fits_done": 146,
        "read_at": "elsewhere",
        "read_at_git_commit": "0" * 40,
    }
    closed = {config: {"paper_faithful": 57.4, "ours": 100.0} for config in alone["closed_set"]}
    (models_dir / "REPORT.json").write_text(
        json.dumps({**alone, "paper_study": read_elsewhere, "closed_set": closed})
    )
    build_report(**where, manifest=MANIFEST, only={"general"})
    carried = json.loads((models_dir / "REPORT.json").read_text())
    assert carried["paper_study"]["read_at"] == "elsewhere" and carried["closed_set"] == closed
    # A refit under way (its bundle newer than its fit) keeps the model's last figures.
    later = (fitted_dir / train.bundle_name(GRID) / "fit.json").stat().st_mtime + 60
    os.utime(bundle, (later, later))
    build_report(**where, manifest=MANIFEST)
    refitting = json.loads((models_dir / "REPORT.json").read_text())
    assert refitting["grid"][GRID] == figures["grid"][GRID]
    assert refitting["general"]["evaluated"]["at"] == refitting["generated_at"]

    # The refit is measured against the model it replaces, on the same examples.
    assert REPLACED not in figures["grid"][GRID]  # nothing was installed before
    os.utime(bundle, (later - 120, later - 120))
    fit.fit_bundle(bundle, out_dir=fitted_dir, task_type="CPU", threads=1, iterations=5)
    build_report(**where, manifest=MANIFEST, only={GRID})
    refit = json.loads((models_dir / "REPORT.json").read_text())["grid"][GRID]
    replaced = refit[REPLACED]
    for key in ("exact_set_accuracy", "exact_set_accuracy_low_pass"):  # also as MP3 uploads
        assert replaced[key] == figures["grid"][GRID][key]
    gained = replaced["only_this_right"] - replaced["only_replaced_right"]
    assert gained == round(
        (refit["exact_set_accuracy"] - replaced["exact_set_accuracy"]) * 24 / 100
    )
    assert "## Refits against the models they replaced" in (models_dir / "REPORT.md").read_text()
    # Evaluated again, the refit is the installed model: its comparison stands.
    build_report(**where, manifest=MANIFEST, only={GRID})
    again = json.loads((models_dir / "REPORT.json").read_text())["grid"][GRID]
    assert again[REPLACED] == replaced


def test_a_replaced_model_of_other_feature_fields_is_not_compared(tmp_path: Path) -> None:
    """A model installed by code whose spec had other fields is no comparison, not a crash."""
    installed = tmp_path / "F1W1"
    installed.mkdir()
    (installed / "model.cbm").write_bytes(b"not read")
    spec = {**feature_spec("F1W1").to_dict(), "retired_field": 1}
    (installed / "metadata.json").write_text(json.dumps({"feature_spec": spec}))
    bundle = Bundle(
        dataset_id="F1W1",
        kind="grid",
        features=np.zeros((0, 1)),
        targets=np.zeros(0),
        is_validation=np.zeros(0, dtype=bool),
        spec=feature_spec("F1W1"),
    )
    assert (
        _against_replaced(
            installed, answers={}, truth=np.zeros(0), bundle=bundle, basis=np.zeros(0)
        )
        is None
    )


def markdown_rows(text: str, header_start: str) -> dict[str, dict[str, str]]:
    """The table whose header line starts with `header_start`: first cell -> {column: cell}."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    columns = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = dict(zip(columns, cells, strict=True))
    return rows


def number(cell: str) -> float | None:
    """A figure as the report prints it ('58.33 ✗', '-', '0')."""
    value = cell.replace("✗", "").replace("✓", "").strip()
    return None if value == "-" else float(value)


def assert_report_matches_its_figures(text: str, figures: dict[str, Any]) -> None:
    """REPORT.md shows REPORT.json's figures, marks each against its aim, lists every miss."""
    assert f"at {figures['generated_at']} (git {figures['git_commit'][:10]})" in text
    assert f"Corpus manifest sha256 `{figures['manifest_sha256'][:16]}" in text
    table_1 = markdown_rows(text, "| model | paper |")
    table_2 = markdown_rows(text, "| model | count accuracy |")
    table_3 = markdown_rows(text, "| model | 3 dB |")
    shortfalls = text.split("## Aims not reached", 1)[1].split("What was tried", 1)[0]
    assert set(table_1) == set(figures["aims"])
    for model_id, row in table_1.items():
        assert row["aim"] == f"≥ {figures['aims'][model_id]}"
        assert number(row["paper"]) == figures["paper"]["table_1"][model_id]
    for model_id, grid in figures["grid"].items():
        ours, aim = grid["exact_set_accuracy"], figures["aims"][model_id]
        row = table_1[model_id]
        assert number(row["ours (open, signed)"]) == ours
        assert row["ours (open, signed)"].endswith("✗") == (ours < aim)
        missed = f"- {model_id}: {ours} % against {aim} % ({aim - ours:.2f} short)"
        assert (missed in shortfalls) == (ours < aim), shortfalls
        assert number(row["ours, argmax only"]) == grid["argmax_exact_set_accuracy"]
        assert number(row["ours, without the master chain"]) == without_chain(grid)
        for by_kind in grid["exact_by_limiter_kind"].values():
            assert sum(f["examples"] for f in by_kind.values()) <= grid["validation_examples"]
        assert number(row["least-squares baseline (open)"]) == grid["least_squares_baseline_exact"]
        closed = figures["closed_set"][model_id]
        assert number(row["paper-faithful (closed)"]) == closed["paper_faithful"]
        assert number(row["our features (closed)"]) == closed["ours"]
        # An exact set has the right count: exact-set accuracy cannot exceed count accuracy.
        assert 0 <= ours <= grid["count_accuracy"] <= 100
        fit_figures = figures["fits"][train.bundle_name(model_id)]
        assert grid["validation_examples"] == fit_figures["validation_examples"]
        assert number(table_2[model_id]["count accuracy"]) == grid["count_accuracy"]
        for count, value in grid["exact_by_count"].items():
            assert number(table_2[model_id][f"exact, {count} ops"]) == value
        for gain_db, value in grid["exact_by_gain_db"].items():
            assert number(table_3[model_id][f"{gain_db} dB"]) == value
        assert number(table_3[model_id]["no nuisance"]) == grid["exact_by_nuisance"]["none"]
        low_pass = table_3[model_id]["MP3 upload, low-pass at 16 kHz"]
        assert number(low_pass) == grid["exact_set_accuracy_low_pass"]
        assert number(table_3[model_id]["gain error (median dB)"]) == grid["gain_error_db_median"]
    general = figures["general"]
    rows = markdown_rows(text, "| figure | value | aim |")
    count = rows["count accuracy (%), final answers, bells-only sets"]
    assert number(count["value"]) == general["count_accuracy"]
    assert count["aim"] == f"≥ {GENERAL_COUNT_AIM:g}"
    missed = f"- general count: {general['count_accuracy']} % against {GENERAL_COUNT_AIM:g} %"
    assert (missed in shortfalls) == (general["count_accuracy"] < GENERAL_COUNT_AIM)
    assert (
        number(rows["count accuracy (%), CatBoost count alone"]["value"])
        == (general["count_model_accuracy"])
    )
    for label, key in (
        ("median frequency error (octaves)", "frequency_error_octaves_median"),
        ("median gain error (dB)", "gain_error_db_median"),
        ("median width error (octaves, log2 ratio)", "width_error_octaves_median"),
    ):
        assert number(rows[label]["value"]) == general[key], label


def test_a_shard_of_another_transfer_is_rendered_again(
    clips: tuple[Path, list[Track]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A dataset whose model reads the transfer averaged over the frames, as F1/4W2's did
    # until stop 65.
    averaged = DatasetPlan(dataset_id="F1/4W2", per_clip=2, coherent=True)
    monkeypatch.setitem(PLAN_BY_ID, "F1/4W2", averaged)
    assert feature_spec("general").demodulated and not feature_spec("F1/4W2").demodulated
    clip, fresh = fresh_build(clips, tmp_path, config_id="general", per_clip=2)
    shard = tmp_path / "shard.npz"
    with np.load(fresh) as data:
        assert data["demodulated"].all()
        arrays = {key: data[key] for key in data.files if key != "demodulated"}
    np.savez(shard, **arrays)  # as written before the demodulated transfer
    with np.load(shard) as data:
        assert synth.coherent_is_stale(data, config_id="general")
        assert not synth.coherent_is_stale(data, config_id="F1/4W2")  # its model reads that one
    first = dict(arrays, demodulated=np.ones(2, dtype=bool))  # the first demodulation's
    assert synth.coherent_is_stale(first, config_id="general")
    assert not is_current(shard, clip=clip, config_id="general", per_clip=2)
    assert_renders_as_fresh(
        shard, fresh=fresh, clip=clip, config_id="general", per_clip=2, renders=2
    )


def test_a_shard_renders_again_only_the_sets_its_seeds_draw_otherwise(
    clips: tuple[Path, list[Track]], tmp_path: Path
) -> None:
    clip, fresh = fresh_build(clips, tmp_path, config_id="general", per_clip=3)
    shard = tmp_path / "shard.npz"
    with np.load(fresh) as data:
        arrays = {key: data[key].copy() for key in data.files}
    arrays["operations"][1, 0, 0] *= 2  # as an older space drew the second set
    arrays["candidate_magnitude"][1] = 0.0
    np.savez(shard, **arrays)
    with np.load(shard) as data:
        draws = synth.shard_draws("general", clip_stem=clip.stem, nuisances=True, count=3)
        np.testing.assert_array_equal(
            synth.redrawn_examples(data, draws=draws), [False, True, False]
        )
    assert not is_current(shard, clip=clip, config_id="general", per_clip=3)
    assert_renders_as_fresh(
        shard, fresh=fresh, clip=clip, config_id="general", per_clip=3, renders=1
    )
