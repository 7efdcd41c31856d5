"""Evaluate every fitted model, install it with its figures, and write the report.

A model can be evaluated alone (``mastering-trainer evaluate --dataset F1W2``):
the other models' figures carry over from the last ``REPORT.json``, each with the
time and commit of the evaluation that measured it. So do those of a model whose
fit is older than its bundle (a refit still running), since its model no longer
matches the bundle's features.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from catboost import CatBoost, CatBoostClassifier
from rich.progress import track

from app.audio.eq import EqOperation, EqType
from app.audio.spectrum import audible_top_band
from app.ml.count_choice import (
    CHOOSER_SEEDS,
    COUNT_CHOOSER_FILE,
    CountCandidate,
    TypeChoice,
    chooser_scores,
    fit_chooser,
)
from app.ml.features import CURRENT_SPEC, FeatureSpec
from app.ml.fitting import PhysicsCheck, bell_basis
from app.ml.general import (
    classified_type_choices,
    classified_types,
    type_probabilities,
)
from app.ml.grid import decode, note_rows
from app.ml.registry import MODEL_FILE, TYPES_MODEL_FILE, has_model, load_classifier, model_bytes
from app.training import evaluate as ev
from app.training import paper_study as study
from app.training import train as training
from app.training.bundle import Bundle
from app.training.corpus import CorpusLayout, Track, manifest_hash, read_manifest
from app.training.datasets import Dataset, load_dataset
from app.training.fit import TUNE_ONE_IN, fit_is_current, tuning_mask
from app.training.grids import GRID_CONFIGS, decode_operations
from app.training.render import write_report
from app.training.synth import NUISANCE_PROBABILITIES


def _fits(fitted_dir: Path) -> dict[str, dict[str, Any]]:
    return {
        path.parent.name: json.loads(path.read_text())
        for path in sorted(fitted_dir.glob("*/fit.json"))
    }


def _previous_report(models_dir: Path) -> dict[str, Any]:
    """The last report, each model's figures stamped with the evaluation that measured them."""
    path = models_dir / "REPORT.json"
    if not path.is_file():
        return {"figures": {}, "fits": {}, "paper_study": None}
    report = json.loads(path.read_text())
    stamp = {"at": report["generated_at"], "git_commit": report["git_commit"]}
    figures = {
        model_id: {"evaluated": stamp, **model_figures}
        for model_id, model_figures in ev.report_models(report).items()
    }
    study = report.get("paper_study")
    if study is not None:
        study = {**study, "closed_set": report.get("closed_set", {})}
    return {"figures": figures, "fits": report["fits"], "paper_study": study}


def build_report(
    *,
    bundle_dir: Path,
    fitted_dir: Path,
    models_dir: Path,
    manifest: Path,
    only: set[str] | None = None,
) -> Path:
    """Figures for the fitted models (all, or those in `only`), installed, ``REPORT.md`` written."""
    manifest_sha256 = manifest_hash(manifest)
    tracks = read_manifest(manifest)
    fits = _fits(fitted_dir)
    previous = _previous_report(models_dir)
    stamp = {
        "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "git_commit": training.git_commit(),
    }

    def measured_now(model_id: str) -> bool:
        """Whether to evaluate a model now; if not, its last figures carry over."""
        name = training.bundle_name(model_id)
        current = name in fits and fit_is_current(
            fitted_dir=fitted_dir, bundle_path=bundle_dir / f"{name}.npz", same_params=False
        )
        if current and (only is None or model_id in only):
            return True
        if name in fits and not current:
            print(f"{model_id}: the fit is older than its bundle; its last figures carry over")
        return False

    def carried_over(model_id: str) -> dict[str, Any] | None:
        """A model's last figures, its fit's record carried over with them."""
        name = training.bundle_name(model_id)
        if name in previous["fits"]:
            fits[name] = previous["fits"][name]
        return previous["figures"].get(model_id)

    grid_figures: dict[str, dict[str, Any]] = {}
    for config in track(GRID_CONFIGS, description="evaluating grid models"):
        name = training.bundle_name(config.id)
        if not measured_now(config.id):
            if (last := carried_over(config.id)) is not None:
                grid_figures[config.id] = last
            continue
        bundle = Bundle.load(bundle_dir / f"{name}.npz")
        validation_mask = bundle.validation
        spec = bundle.spec
        basis = bell_basis(tuple(float(f) for f in config.notes_hz), float(config.width_octaves))
        classifier = load_classifier(fitted_dir / name)
        check, tuning = _physics_check(bundle, classifier, basis=basis)
        truth = bundle.targets[validation_mask]
        probabilities, predicted = _grid_answers(
            classifier, bundle.features[validation_mask], bundle=bundle, basis=basis, check=check
        )
        figures = ev.evaluate_grid(
            config=config,
            validation=training.bundle_dataset(bundle).validation,
            features=bundle.features[validation_mask],
            predicted=predicted,
            truth=truth,
        )
        figures["limiter_version"] = bundle.limiter_version
        figures["argmax_exact_set_accuracy"] = ev.percent(
            np.all(decode(probabilities) == truth, axis=1)
        )
        # Per figure suffix, the examples and whether this model got each right.
        answers = {"": (bundle.features[validation_mask], np.all(predicted == truth, axis=1))}
        if (mp3_uploads := bundle.validation_low_pass_features) is not None:
            _, low_pass_predicted = _grid_answers(
                classifier, mp3_uploads, bundle=bundle, basis=basis, check=check
            )
            answers[ev.LOW_PASS_SUFFIX] = (
                mp3_uploads,
                np.all(low_pass_predicted == truth, axis=1),
            )
            figures["exact_set_accuracy" + ev.LOW_PASS_SUFFIX] = ev.percent(
                answers[ev.LOW_PASS_SUFFIX][1]
            )
        if _is_installed(fitted_dir / name, models_dir=models_dir):
            # Evaluated again: the comparison made when this fit was installed stands.
            replaced = previous["figures"].get(config.id, {}).get(ev.REPLACED)
        else:
            replaced = _against_replaced(
                models_dir / name, answers=answers, truth=truth, bundle=bundle, basis=basis
            )
        if replaced is not None:
            figures[ev.REPLACED] = replaced
        figures["physics_check"] = check.to_dict()
        figures["physics_tuning_exact"] = tuning
        figures["feature_options"] = spec.options
        figures["evaluated"] = stamp
        grid_figures[config.id] = figures
        _install(
            config.id,
            fits[name],
            fitted_dir,
            models_dir,
            manifest_sha256,
            figures,
            decode=check,
            spec=spec,
        )
    general: dict[str, Any] | None = None
    if not measured_now("general"):
        general = carried_over("general")
    else:
        bundle = Bundle.load(bundle_dir / "general.npz")
        validation_mask = bundle.validation
        spec = bundle.spec
        classifier = load_classifier(fitted_dir / "general")
        type_classifier = fitted_type_classifier(fitted_dir / "general")
        top_bands = reference_top_bands(bundle, data_dir=bundle_dir.parent, tracks=tracks)
        check, typed_check, tuning = _general_check(
            bundle, classifier, type_classifier=type_classifier, top_bands=top_bands
        )
        chooser, chooser_figures = _count_chooser(
            bundle,
            classifier,
            type_classifier=type_classifier,
            top_bands=top_bands,
            target=fitted_dir / "general" / COUNT_CHOOSER_FILE,
        )
        validation = training.bundle_dataset(bundle).validation
        features = bundle.features[validation_mask]
        validation_tops = None if top_bands is None else top_bands[validation_mask]
        decoding = ev.GeneralDecoding(
            check=check, typed_check=typed_check, chooser=chooser, spec=spec
        )
        general = ev.evaluate_general(
            validation=validation,
            features=features,
            probabilities=general_count_probabilities(classifier, features),
            types=classified_types(type_classifier, features),
            decoding=decoding,
            top_bands=validation_tops,
            choices=classified_type_choices(type_classifier, features),
        )
        general["limiter_version"] = bundle.limiter_version
        if type_classifier is not None and bundle.type_targets is not None:
            general["type_presence_accuracy"] = ev.type_presence_accuracy(
                type_probabilities(type_classifier, features),
                bundle.type_targets[validation_mask],
            )
        if bundle.validation_low_pass_features is not None:
            sample = slice(None, None, ev.LOW_PASS_SUBSAMPLE)
            low_passed = bundle.validation_low_pass_features[sample]
            subset = np.zeros(len(validation), dtype=bool)
            subset[sample] = True
            general["count_accuracy_low_pass"] = ev.general_low_pass_count_accuracy(
                validation.subset(subset),
                features=low_passed,
                probabilities=general_count_probabilities(classifier, low_passed),
                types=classified_types(type_classifier, low_passed),
                decoding=decoding,
                top_bands=None if validation_tops is None else validation_tops[sample],
                choices=classified_type_choices(type_classifier, low_passed),
            )
        general["physics_check"] = check.to_dict()
        general["physics_check_typed"] = typed_check.to_dict()
        general["physics_tuning_count_accuracy"] = tuning
        general["count_chooser"] = chooser_figures
        general["feature_options"] = spec.options
        general["evaluated"] = stamp
        _install(
            "general",
            fits["general"],
            fitted_dir,
            models_dir,
            manifest_sha256,
            general,
            decode=check,
            decode_typed=typed_check,
            spec=spec,
        )
    paper_study = _paper_study(bundle_dir=bundle_dir, fitted_dir=fitted_dir, tracks=tracks)
    last_study = previous["paper_study"]
    if last_study is not None and paper_study["fits_done"] < last_study.get("fits_done", 0):
        # The study's cache is not here (a fresh machine): its last figures carry over.
        print(
            f"the paper study's cache holds {paper_study['fits_done']} finished fits, the last "
            f"report {last_study['fits_done']}; its figures carry over"
        )
        paper_study = dict(last_study)
    installed = training.update_registry(models_dir)
    if grid_figures:
        ev.draw_note_errors(grid_figures, path=models_dir / "note_errors.png")
    report = {
        "command": "mastering-trainer evaluate",
        "generated_at": stamp["at"],
        "git_commit": stamp["git_commit"],
        "manifest_sha256": manifest_sha256,
        "feature_spec": CURRENT_SPEC.to_dict(),
        "paper": ev.paper_figures(),
        "aims": ev.AIMS,
        "grid": grid_figures,
        "general": general,
        "closed_set": paper_study.pop("closed_set"),
        "paper_study": paper_study,
        "fits": fits,
        "installed": installed,
    }
    return write_report(report, models_dir=models_dir)


def _paper_study(
    *,
    bundle_dir: Path,
    fitted_dir: Path,
    tracks: list[Track],
    plan: study.StudyPlan | None = None,
) -> dict[str, Any]:
    """The paper's closed-set figures, Table 3 and the gap, from `paper-study`'s cached fits."""
    return study.study_figures(
        layout=study.StudyLayout.of(bundle_dir=bundle_dir, fitted_dir=fitted_dir),
        tracks=tracks,
        plan=plan or study.StudyPlan(),
    )


def refresh_paper_study(
    *,
    bundle_dir: Path,
    fitted_dir: Path,
    models_dir: Path,
    manifest: Path,
    plan: study.StudyPlan | None = None,
) -> Path:
    """Read `paper-study`'s cached scores into the last report and write it again.

    Table 1's closed columns, Table 3 and the gap experiment are read again;
    every other figure stays as the last evaluation measured it (no model is
    evaluated or installed, so the grid models' bundles need not exist here).
    """
    report = json.loads((models_dir / "REPORT.json").read_text())
    paper_study = _paper_study(
        bundle_dir=bundle_dir, fitted_dir=fitted_dir, tracks=read_manifest(manifest), plan=plan
    )
    paper_study["read_at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
    paper_study["read_at_git_commit"] = training.git_commit()
    report["closed_set"] = paper_study.pop("closed_set")
    report["paper_study"] = paper_study
    return write_report(report, models_dir=models_dir)


def _note_probabilities(
    classifier: CatBoostClassifier, features: np.ndarray, *, bundle: Bundle
) -> np.ndarray:
    """A grid model's per-note class probabilities, ``(n, n_notes, 3)``, for example features."""
    notes_hz = bundle.grid_notes_hz
    rows = note_rows(features.astype(np.float32), notes_hz=notes_hz, spec=bundle.spec)
    return ev.note_probabilities(
        classifier.predict_proba(rows),
        np.asarray(classifier.classes_).astype(int),
        n_notes=len(notes_hz),
    )


def _grid_answers(
    classifier: CatBoostClassifier,
    features: np.ndarray,
    *,
    bundle: Bundle,
    basis: np.ndarray,
    check: PhysicsCheck,
) -> tuple[np.ndarray, np.ndarray]:
    """A grid model's per-note probabilities and its classes decoded as the service decodes."""
    probabilities = _note_probabilities(classifier, features, bundle=bundle)
    band_db = features[:, : CURRENT_SPEC.n_bands]
    return probabilities, ev.grid_predictions(
        probabilities, band_db=band_db, basis=basis, check=check
    )


def _is_installed(fitted: Path, *, models_dir: Path) -> bool:
    """Whether a fit is the model installed under its name."""
    installed = models_dir / fitted.name
    return has_model(installed) and model_bytes(installed) == (fitted / MODEL_FILE).read_bytes()


def _against_replaced(
    installed: Path,
    *,
    answers: dict[str, tuple[np.ndarray, np.ndarray]],
    truth: np.ndarray,
    bundle: Bundle,
    basis: np.ndarray,
) -> dict[str, Any] | None:
    """The installed model a refit replaces, decoded as it ships, on the same examples.

    `answers` holds, per figure suffix, the examples' features and whether the
    refit got each right. None where no model is installed or where it reads
    other features than the bundle holds.
    """
    if not has_model(installed):
        return None
    metadata = json.loads((installed / "metadata.json").read_text())
    try:
        replaced_spec = FeatureSpec.from_dict(metadata["feature_spec"])
    except TypeError:  # written by code whose spec had other fields
        return None
    if replaced_spec != bundle.spec:
        return None
    classifier = load_classifier(installed)
    check = PhysicsCheck.from_dict(metadata.get("decode"))
    figures: dict[str, Any] = {}
    for suffix, (features, right) in answers.items():
        _, predicted = _grid_answers(classifier, features, bundle=bundle, basis=basis, check=check)
        replaced_right = np.all(predicted == truth, axis=1)
        figures |= {
            f"exact_set_accuracy{suffix}": ev.percent(replaced_right),
            f"only_this_right{suffix}": int(np.sum(right & ~replaced_right)),
            f"only_replaced_right{suffix}": int(np.sum(~right & replaced_right)),
            f"mcnemar_z{suffix}": round(ev.mcnemar_z(right, replaced_right), 2),
        }
    return figures


def general_count_probabilities(classifier: CatBoostClassifier, features: np.ndarray) -> np.ndarray:
    """The general model's probabilities of 0..5 operations."""
    return ev.count_probabilities(
        classifier.predict_proba(features), np.asarray(classifier.classes_).astype(int)
    )


def _physics_check(
    bundle: Bundle, classifier: CatBoostClassifier, *, basis: np.ndarray
) -> tuple[PhysicsCheck, dict[str, float | None]]:
    """The physics weight chosen on the fit's tuning tracks (never the validation tracks)."""
    tune = tuning_mask(bundle)
    if not tune.any():
        return PhysicsCheck(), {}
    features = bundle.features[tune]
    return ev.choose_physics_check(
        _note_probabilities(classifier, features, bundle=bundle),
        band_db=features[:, : CURRENT_SPEC.n_bands],
        truth=bundle.targets[tune],
        basis=basis,
    )


#: Tuning examples the general model's physics check is chosen on, at most.
GENERAL_TUNING_EXAMPLES = 1000


def fitted_type_classifier(fitted: Path) -> CatBoostClassifier | None:
    """A fitted general model's type model; None for one of bells only."""
    return (
        load_classifier(fitted, name=TYPES_MODEL_FILE)
        if has_model(fitted, name=TYPES_MODEL_FILE)
        else None
    )


def reference_top_bands(
    bundle: Bundle, *, data_dir: Path, tracks: list[Track]
) -> np.ndarray | None:
    """`app.audio.spectrum.audible_top_band` of each example's reference, read from the
    dataset's shards (a bundle keeps no spectra); None where they are not here."""
    try:
        dataset = load_dataset(CorpusLayout(data_dir).datasets, bundle.dataset_id, tracks=tracks)
    except FileNotFoundError:
        return None
    if bundle.nuisance is None or not np.array_equal(dataset.nuisance, bundle.nuisance):
        raise ValueError(f"the {bundle.dataset_id} shards no longer match its bundle: rebundle")
    return np.array(
        [audible_top_band(m, spec=bundle.spec.spectrum) for m in dataset.reference_magnitude]
    )


@dataclass(frozen=True)
class GeneralExamples:
    """Some of a general bundle's examples as the fits read them."""

    features: np.ndarray
    dataset: Dataset
    types: list[tuple[EqType, ...]]
    probabilities: np.ndarray
    band_db: np.ndarray
    choices: list[list[TypeChoice]]
    top_bands: np.ndarray | None

    @property
    def rows(self) -> list[ev.GeneralExample]:
        """Each example's band difference, count probabilities and types."""
        return list(zip(self.band_db, self.probabilities, self.types, strict=True))

    @property
    def bells(self) -> np.ndarray:
        """The bells-only sets under the first general model's nuisances, whose figures
        must not drop."""
        data = self.dataset
        return data.bells_only & np.isin(data.nuisance, list(NUISANCE_PROBABILITIES))


def general_examples(
    bundle: Bundle,
    mask: np.ndarray,
    *,
    classifier: CatBoostClassifier,
    type_classifier: CatBoostClassifier | None,
    top_bands: np.ndarray | None,
) -> GeneralExamples:
    """The examples of `mask` with their types, count probabilities and `ev.general_band_db`."""
    features = bundle.features[mask]
    dataset = training.bundle_dataset(bundle).subset(mask)
    types = classified_types(type_classifier, features)
    band_db = ev.general_band_db(
        features[:, : CURRENT_SPEC.n_bands],
        candidate_lossy=dataset.candidate_lossy,
        top_bands=None if top_bands is None else top_bands[mask],
        types=types,
    )
    return GeneralExamples(
        features,
        dataset,
        types,
        general_count_probabilities(classifier, features),
        band_db,
        classified_type_choices(type_classifier, features),
        None if top_bands is None else top_bands[mask],
    )


def _general_check(
    bundle: Bundle,
    classifier: CatBoostClassifier,
    *,
    type_classifier: CatBoostClassifier | None,
    top_bands: np.ndarray | None = None,
) -> tuple[PhysicsCheck, PhysicsCheck, dict[str, float | None]]:
    """The general model's physics checks (bells only; more types), chosen on tuning tracks."""
    tune = tuning_mask(bundle)
    if not tune.any():
        return PhysicsCheck(), PhysicsCheck(), {}
    # Every k-th tuning example, at most `GENERAL_TUNING_EXAMPLES`: each takes seconds of fits.
    rows = np.flatnonzero(tune)
    tune = np.isin(np.arange(len(tune)), rows[:: -(-len(rows) // GENERAL_TUNING_EXAMPLES)])
    tuning = general_examples(
        bundle, tune, classifier=classifier, type_classifier=type_classifier, top_bands=top_bands
    )
    # The bells' check is compared on the bells-only sets, the typed answers' check on
    # those the type model gives shelves or pass filters.
    bells = tuning.bells
    return ev.choose_general_check(
        tuning.band_db,
        probabilities=tuning.probabilities,
        true_count=tuning.dataset.n_operations,
        types=tuning.types,
        chosen_on=bells if bells.any() else None,
    )


def _count_chooser(
    bundle: Bundle,
    classifier: CatBoostClassifier,
    *,
    type_classifier: CatBoostClassifier | None,
    top_bands: np.ndarray | None,
    target: Path,
) -> tuple[CatBoost | None, dict[str, Any]]:
    """The general model's count chooser, fitted on tuning tracks where it earns its place.

    It is fitted first on every other tuning track and compared on the tracks left
    out with the physics checks chosen on the same tracks as it
    (`ev.choose_general_check`, `_chooser_against_checks`); where it gets
    significantly more sets right there, their count and their types (McNemar's z
    above `SIGNIFICANCE_Z`), and none significantly fewer on the bells-only sets
    whose figures must hold, it is fitted again on every tuning track and written
    to `target` (removed otherwise). It picks among the fits of every set of types
    (`app.ml.count_choice.type_choices`), the checks among those of the type model's.
    """
    target.unlink(missing_ok=True)
    tune = tuning_mask(bundle)
    if not tune.any() or bundle.groups is None:
        return None, {}
    tuning = general_examples(
        bundle, tune, classifier=classifier, type_classifier=type_classifier, top_bands=top_bands
    )
    fits = chooser_fits(tuning, spec=bundle.spec)
    rows, candidates, right = fits.rows, fits.candidates, fits.right
    truth = tuning.dataset.n_operations
    held_out = (bundle.groups[tune] // TUNE_ONE_IN) % 2 == 1
    (fit_rows, out_rows), (fit_right, _) = _apart(rows, held_out), _apart(right, held_out)
    if len({bool(x) for r in fit_right for x in r}) < 2 or not held_out.any():
        return None, {}  # too few tuning examples to learn from and to judge on
    first = fit_chooser(fit_rows, right=fit_right)
    picked = ev.chosen(_apart(candidates, held_out)[1], right=chooser_scores(first, out_rows))
    fit_half = ~held_out
    bells = tuning.bells[fit_half]
    check, typed_check, _ = ev.choose_general_check(
        tuning.band_db[fit_half],
        probabilities=tuning.probabilities[fit_half],
        true_count=truth[fit_half],
        types=_apart(tuning.types, held_out)[0],
        chosen_on=bells if bells.any() else None,
        candidates=_apart(fits.own, held_out)[0],
    )
    checked = ev.checked_answers(
        _apart(tuning.rows, held_out)[1],
        _apart(fits.own, held_out)[1],
        check=check,
        typed_check=typed_check,
    )
    held_types = _apart(fits.true_types, held_out)[1]
    figures = _chooser_against_checks(
        chooser_right=np.array(
            [_type_list(c.operations) == t for c, t in zip(picked, held_types, strict=True)]
        ),
        check_right=np.array(
            [_type_list(found) == t for found, t in zip(checked, held_types, strict=True)]
        ),
        bells=tuning.bells[held_out],
    )
    figures["tuning_examples"] = int(len(truth))
    figures["seeds"] = list(CHOOSER_SEEDS)
    held = tuning.dataset.subset(held_out)
    figures["held_out_types_check"] = ev.typed_figures(held, checked)
    figures["held_out_types_chooser"] = ev.typed_figures(held, [c.operations for c in picked])
    if not figures["used"]:
        return None, figures
    chooser = fit_chooser(rows, right=right)
    chooser.save_model(str(target))
    return chooser, figures


_Item = TypeVar("_Item")


def _type_list(operations: list[EqOperation]) -> list[str]:
    """The sorted types of a set of operations: two sets with equal lists have the same
    count and the same types."""
    return sorted(op.type for op in operations)


@dataclass(frozen=True)
class ChooserFits:
    """The candidates of some general examples for the count chooser, and which are right."""

    #: Per example, per set of types (`ev.option_candidates`).
    per_set: list[list[list[CountCandidate]]]
    #: Per example, `ev.chooser_rows` of every set's candidates.
    rows: list[np.ndarray]
    #: Per example, the sorted types of its true set (`_type_list`).
    true_types: list[list[str]]

    @property
    def candidates(self) -> list[list[CountCandidate]]:
        """Per example, every set's candidates in the order of `rows`."""
        return ev.flat(self.per_set)

    @property
    def own(self) -> list[list[CountCandidate]]:
        """Per example, the candidates of the type model's own set (those the checks weigh)."""
        return [sets[0] for sets in self.per_set]

    @property
    def right(self) -> list[np.ndarray]:
        """Per example, whether each candidate has the true count and types."""
        return [
            np.array([_type_list(c.operations) == kinds for c in found])
            for found, kinds in zip(self.candidates, self.true_types, strict=True)
        ]


def _choice_options(examples: GeneralExamples, *, spec: FeatureSpec) -> list[list[ev.ChoiceOption]]:
    """`ev.choice_options` of `examples`."""
    return ev.choice_options(
        examples.features,
        probabilities=examples.probabilities,
        choices=examples.choices,
        candidate_lossy=examples.dataset.candidate_lossy,
        spec=spec,
        top_bands=examples.top_bands,
    )


def chooser_fits(examples: GeneralExamples, *, spec: FeatureSpec) -> ChooserFits:
    """Fit every set of types of each of `examples` (`ev.choice_options`)."""
    options = _choice_options(examples, spec=spec)
    per_set = ev.option_candidates(options)
    return ChooserFits(
        per_set,
        ev.chooser_rows(options, per_set),
        [_type_list(decode_operations(ops)) for ops in examples.dataset.operations],
    )


def described_again(
    fits: ChooserFits, examples: GeneralExamples, *, spec: FeatureSpec
) -> ChooserFits:
    """`fits` of `examples` with their chooser rows made again by today's code."""
    options = _choice_options(examples, spec=spec)
    return replace(fits, rows=ev.chooser_rows(options, fits.per_set))


def _apart(items: list[_Item], held_out: np.ndarray) -> tuple[list[_Item], list[_Item]]:
    """`items` kept in, and those `held_out`."""
    return (
        [item for item, out in zip(items, held_out, strict=True) if not out],
        [item for item, out in zip(items, held_out, strict=True) if out],
    )


def _chooser_against_checks(
    *, chooser_right: np.ndarray, check_right: np.ndarray, bells: np.ndarray
) -> dict[str, Any]:
    """The chooser's and the checks' share of sets right (count and types) on held-out
    tuning examples, and whether the chooser is used (see `_count_chooser`)."""
    z = ev.mcnemar_z(chooser_right, check_right)
    z_bells = ev.mcnemar_z(chooser_right[bells], check_right[bells])
    return {
        "held_out_examples": len(chooser_right),
        "held_out_sets_right_check": ev.percent(check_right),
        "held_out_sets_right_chooser": ev.percent(chooser_right),
        "mcnemar_z": round(z, 2),
        "held_out_bells_only_check": ev.percent(check_right[bells]),
        "held_out_bells_only_chooser": ev.percent(chooser_right[bells]),
        "mcnemar_z_bells_only": round(z_bells, 2),
        "used": bool(z > ev.SIGNIFICANCE_Z and z_bells >= -ev.SIGNIFICANCE_Z),
    }


def _install(
    model_id: str,
    fit_info: dict[str, Any],
    fitted_dir: Path,
    models_dir: Path,
    manifest_sha256: str,
    figures: dict[str, Any],
    *,
    decode: PhysicsCheck | None = None,
    decode_typed: PhysicsCheck | None = None,
    spec: FeatureSpec = CURRENT_SPEC,
) -> None:
    metadata = training.model_metadata(
        dataset_id=model_id,
        fit_info=fit_info,
        manifest_sha256=manifest_sha256,
        figures=_json_ready(figures),
        spec=spec,
    )
    if decode is not None:
        metadata["decode"] = decode.to_dict()
    if decode_typed is not None:
        metadata["decode_typed"] = decode_typed.to_dict()
    training.install_model(
        dataset_id=model_id, fitted_dir=fitted_dir, models_dir=models_dir, metadata=metadata
    )


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
