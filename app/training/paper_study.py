"""The paper's closed-set task in full: its Table 1 columns, its Table 3 (cross-genre), and the gap.

Every fit here is the paper's closed-set classifier (`app.training.fit.PARAMS`
``"paper"``: MultiClass over the 50 fixed sets of +6 dB boosts, 1000
iterations, depth 5) on a closed-set bundle (``paper-<grid config>``: the
paper's |A(P) - A(T)| 1024-bin feature; ``paper-<grid config>-ours``: our band
features), never tested on a track it trained on:

- **Table 1 (closed).** Trained on the training tracks, tested on the
  validation tracks (split by track, as every model here).
- **Table 3 (cross-genre).** Every genre family (`genre_family` of the
  manifest's ``genre_guess``) with at least `StudyPlan.min_fold_tracks` tracks
  is held out in turn; a model fitted on every other track (families too small
  to hold out always train) classifies the held-out family's examples. The
  figure is the accuracy over every held-out example, each predicted by the
  model that never heard its genre.
- **The gap.** The paper trained on about 800 songs of one genre; the
  closed-set bundles hold one example per 30 s clip, about 20 per class. The
  same fit on shares of the training tracks' examples (tested on the
  validation tracks) shows how accuracy grows with examples per class; a fit
  with `StudyPlan.longer` times the iterations shows whether boosting rounds
  are what is missing; and, where a build with more examples per clip exists
  (``dataset build --dataset paper-F1W2 --per-clip 4 --data-dir
  DATA_DIR/paper-more-per-clip``, its ``clips`` a link to ``DATA_DIR/clips``),
  a fit on its training tracks, tested on the same validation examples, shows
  what more examples of the same songs do.

Speed: CatBoost's split scoring costs features x borders x classes. With its
CPU defaults (254 borders) a fit on the 1024-bin feature takes about 2.4
CPU-seconds per iteration (40 CPU-minutes a fit). Every study fit uses
`StudyPlan.border_count` borders on every device, and on the CPU the paper's
feature also scores a random share of its features per split (`CPU_RSM`;
CatBoost's GPU takes ``rsm`` for pairwise losses only). Each fit's record says
where it ran.

Every fit's score is cached as JSON under ``<fitted>/paper-study/``; a score
newer than its bundles and made with today's parameters is current and not
refitted, so ``mastering-trainer paper-study`` resumes where it stopped, and
``mastering-trainer evaluate`` only reads the scores (`study_figures`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from catboost import CatBoostClassifier

from app.ml.registry import folder_name
from app.training.bundle import Bundle
from app.training.corpus import Track
from app.training.evaluate import PAPER_TABLE_1
from app.training.fit import PARAMS
from app.training.grids import GRID_CONFIGS
from app.training.synth import PAPER_PREFIX
from app.training.train import OURS_SUFFIX

Feature = Literal["paper_faithful", "ours"]
#: Bundle-name suffix of each feature.
FEATURE_SUFFIX: dict[Feature, str] = {"paper_faithful": "", "ours": OURS_SUFFIX}
#: Share of the features each split scores on the CPU (``rsm``): the paper's
#: 1024 bins down to about 100, the order of our 121 band features.
CPU_RSM: dict[Feature, float] = {"paper_faithful": 0.1, "ours": 1.0}
#: Cache folder under the fits folder.
STUDY_DIR = "paper-study"
#: The command that computes the study's fits.
COMMAND = "mastering-trainer paper-study"
#: Data folder, inside the main one, of the build with more examples per clip.
MORE_PER_CLIP_DIR = "paper-more-per-clip"
#: The report's sections the fits fill, in plan order.
SECTIONS = ("table_1", "gap", "table_3")
#: First words of ``genre_guess`` that name the same family.
_FAMILY_ALIASES = {"thrash": "metal", "blues": "rock", "drum-and-bass": "electronic"}


@dataclass(frozen=True, kw_only=True)
class StudyPlan:
    """What the study fits, and with which parameters.

    Parameters
    ----------
    iterations : int
        Boosting rounds of every fit but the longer one (the paper's 1000).
    border_count : int
        Borders per feature, on every device (CatBoost's CPU default is 254).
    min_fold_tracks : int
        A genre family is held out only with at least this many tracks.
    shares : tuple of float
        Shares of the training tracks' examples the learning curve fits on
        (all of them is Table 1's fit).
    longer : int
        The longer fit's iterations, as a multiple of `iterations`.
    gap_configs : tuple of str
        Grid configurations the gap experiment runs on.
    more_per_clip : int
        Examples per clip of the larger build the gap experiment reads.
    configs : tuple of str
        Grid configurations of Table 1's closed columns and Table 3 (all nine).
    """

    iterations: int = PARAMS["paper"]["iterations"]
    border_count: int = 32
    min_fold_tracks: int = 15
    shares: tuple[float, ...] = (0.125, 0.25, 0.5)
    longer: int = 3
    gap_configs: tuple[str, ...] = ("F1W2", "F1W1")
    more_per_clip: int = 4
    configs: tuple[str, ...] = field(default_factory=lambda: tuple(c.id for c in GRID_CONFIGS))

    def params(self, *, iterations: int) -> dict[str, Any]:
        """The CatBoost parameters a fit is cached under (the same on every device)."""
        return {**PARAMS["paper"], "iterations": iterations, "border_count": self.border_count}

    def to_dict(self) -> dict[str, Any]:
        """The plan, for the report."""
        return asdict(self) | {"cpu_rsm": CPU_RSM, "paper_params": PARAMS["paper"]}


def genre_family(genre_guess: str) -> str:
    """The coarse genre of a manifest's ``genre_guess``: its first word.

    Examples
    --------
    >>> genre_family("orchestral/electronic (cinematic)"), genre_family("thrash metal")
    ('orchestral', 'metal')
    """
    first = re.split(r"[/ (]", genre_guess.strip().lower(), maxsplit=1)[0] or "unknown"
    return _FAMILY_ALIASES.get(first, first)


def genre_families(tracks: Iterable[Track]) -> dict[str, set[str]]:
    """Every family's tracks (md5s), largest family first."""
    families: dict[str, set[str]] = {}
    for track in tracks:
        families.setdefault(genre_family(track.genre), set()).add(track.md5)
    return dict(sorted(families.items(), key=lambda item: (-len(item[1]), item[0])))


def held_out_families(tracks: Iterable[Track], *, min_tracks: int) -> dict[str, set[str]]:
    """The families held out in turn (at least `min_tracks` tracks), largest first."""
    return {name: md5s for name, md5s in genre_families(tracks).items() if len(md5s) >= min_tracks}


@dataclass(frozen=True, kw_only=True)
class StudyFit:
    """One fit of the study: a bundle, which examples train and test, and its rounds."""

    config_id: str
    feature: Feature
    #: ``closed``, ``genre-<family>``, ``share-<share>``, ``longer`` or ``more-per-clip``.
    part: str
    iterations: int

    @property
    def bundle_stem(self) -> str:
        """The bundle it tests on (and trains on, but for ``more-per-clip``)."""
        return folder_name(PAPER_PREFIX + self.config_id) + FEATURE_SUFFIX[self.feature]

    @property
    def section(self) -> str:
        """The report's section it fills (one of `SECTIONS`)."""
        if self.part == "closed":
            return "table_1"
        return "table_3" if self.part.startswith("genre-") else "gap"

    @property
    def name(self) -> str:
        """Its cache file's stem."""
        return f"{self.bundle_stem}--{self.part}--{self.iterations}"


@dataclass(frozen=True, kw_only=True)
class FitScore:
    """How many test examples one closed-set fit classified right, and how it was fitted."""

    correct: int
    total: int
    train_examples: int
    classes_seen: int
    params: dict[str, Any]
    task_type: str
    rsm: float
    seconds: float

    @property
    def accuracy_percent(self) -> float | None:
        """Exact-set accuracy, %."""
        return round(100.0 * self.correct / self.total, 2) if self.total else None


def planned_fits(*, tracks: list[Track], plan: StudyPlan) -> list[StudyFit]:
    """Every fit of the study, most wanted first, so that a study cut short has its head.

    Table 1's fits (our features, then the paper's), the gap experiment on
    the first of `StudyPlan.gap_configs`, the cross-genre folds one
    configuration at a time (the gap configurations first), then the gap
    experiment on the other gap configurations; the gap and the folds fit the
    paper's feature, then ours.
    """
    rounds = plan.iterations
    features: tuple[Feature, ...] = ("ours", "paper_faithful")
    fits = [
        StudyFit(config_id=c, feature=f, part="closed", iterations=rounds)
        for f in features
        for c in plan.configs
    ]
    gap_parts = [(f"share-{share:g}", rounds) for share in plan.shares]
    gap_parts += [("longer", rounds * plan.longer), ("more-per-clip", rounds)]
    gap_configs = [c for c in plan.gap_configs if c in plan.configs]
    gap = [
        [
            StudyFit(config_id=c, feature=f, part=part, iterations=iterations)
            for f in ("paper_faithful", "ours")
            for part, iterations in gap_parts
        ]
        for c in gap_configs
    ]
    families = held_out_families(tracks, min_tracks=plan.min_fold_tracks)
    fold_configs = gap_configs + [c for c in plan.configs if c not in gap_configs]
    folds = [
        StudyFit(config_id=c, feature=f, part=f"genre-{family}", iterations=rounds)
        for c in fold_configs
        for f in ("paper_faithful", "ours")
        for family in families
    ]
    return fits + (gap[0] if gap else []) + folds + [fit for later in gap[1:] for fit in later]


def assert_no_shared_track(train_md5: np.ndarray, test_md5: np.ndarray) -> None:
    """`ValueError` where a test example's track also trains (a leak)."""
    if shared := set(train_md5.tolist()) & set(test_md5.tolist()):
        raise ValueError(f"{len(shared)} tracks both train and test, e.g. {sorted(shared)[0]}")


def _track_md5(bundle: Bundle) -> np.ndarray:
    if bundle.track_md5 is None:
        raise ValueError(f"bundle {bundle.dataset_id} has no track md5s to split by")
    return bundle.track_md5


def split_masks(
    fit: StudyFit,
    *,
    bundle: Bundle,
    train_bundle: Bundle,
    tracks: list[Track],
    plan: StudyPlan,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The training examples (of `train_bundle`) and the test examples (of `bundle`) of a fit.

    `train_bundle` is `bundle` but for ``more-per-clip`` (the larger build of
    the same dataset). Raises `ValueError` where a track would both train and test.
    """
    md5 = _track_md5(bundle)
    if fit.part.startswith("genre-"):
        family = held_out_families(tracks, min_tracks=plan.min_fold_tracks)[fit.part[6:]]
        test = np.isin(md5, sorted(family))
        train = ~test
    else:
        test = bundle.validation
        train = ~train_bundle.validation
        if fit.part.startswith("share-"):
            share = float(fit.part[6:])
            training = np.flatnonzero(train)
            keep = np.random.default_rng(seed).permutation(training)
            train = np.zeros_like(train)
            train[keep[: max(1, int(round(share * len(keep))))]] = True
    assert_no_shared_track(_track_md5(train_bundle)[train], md5[test])
    return train, test


def fit_and_score(
    *,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    params: dict[str, Any],
    rsm: float,
    task_type: str,
    threads: int,
) -> FitScore:
    """Fit the paper's classifier on the training examples and score it on the test ones.

    Parameters
    ----------
    x_train, y_train, x_test, y_test : np.ndarray
        Features and set indices; the two share no track.
    params : dict
        CatBoost parameters (`StudyPlan.params`).
    rsm : float
        Share of the features each split scores (CPU only; 1 scores all).
    task_type : {"CPU", "GPU"}
        Where CatBoost fits; a GPU fit ignores `rsm` and `threads`.
    threads : int
        CPU threads.

    Returns
    -------
    FitScore
    """
    device: dict[str, Any] = (
        {"task_type": "GPU", "devices": "0"}
        if task_type == "GPU"
        else {"thread_count": threads, **({"rsm": rsm} if rsm < 1 else {})}
    )
    classifier = CatBoostClassifier(
        **params, **device, random_seed=0, verbose=0, allow_writing_files=False
    )
    started = time.perf_counter()
    classifier.fit(x_train.astype(np.float32), y_train)
    seconds = time.perf_counter() - started
    classes = np.asarray(classifier.classes_)
    predicted = classes[np.argmax(classifier.predict_proba(x_test.astype(np.float32)), axis=1)]
    return FitScore(
        correct=int(np.sum(predicted == y_test)),
        total=len(y_test),
        train_examples=len(y_train),
        classes_seen=len(classes),
        params=params,
        task_type=task_type,
        rsm=1.0 if task_type == "GPU" else rsm,
        seconds=round(seconds, 1),
    )


@dataclass(frozen=True, kw_only=True)
class StudyLayout:
    """Where the study reads bundles and writes scores."""

    bundle_dir: Path
    fitted_dir: Path
    #: The bundle folder of the larger build (``more-per-clip``), if any.
    more_bundle_dir: Path | None = None

    @classmethod
    def of(cls, *, bundle_dir: Path, fitted_dir: Path) -> StudyLayout:
        """The layout of a data folder: the larger build in its `MORE_PER_CLIP_DIR`."""
        more = bundle_dir.parent / MORE_PER_CLIP_DIR / "bundle"
        return cls(bundle_dir=bundle_dir, fitted_dir=fitted_dir, more_bundle_dir=more)

    def score_path(self, fit: StudyFit) -> Path:
        """A fit's cached score."""
        return self.fitted_dir / STUDY_DIR / f"{fit.name}.json"

    def bundle_paths(self, fit: StudyFit) -> list[Path]:
        """The bundles a fit reads: the one it tests on, then the one it trains on."""
        tested = self.bundle_dir / f"{fit.bundle_stem}.npz"
        if fit.part != "more-per-clip":
            return [tested]
        more = self.more_bundle_dir or self.bundle_dir / "missing-more-per-clip"
        return [tested, more / f"{fit.bundle_stem}.npz"]


def cached_score(fit: StudyFit, *, layout: StudyLayout, plan: StudyPlan) -> FitScore | None:
    """A fit's score if it is current: newer than its bundles, with today's parameters."""
    path = layout.score_path(fit)
    bundles = layout.bundle_paths(fit)
    if not path.is_file() or not all(p.is_file() for p in bundles):
        return None
    if path.stat().st_mtime < max(p.stat().st_mtime for p in bundles):
        return None
    score = FitScore(**json.loads(path.read_text()))
    return score if score.params == plan.params(iterations=fit.iterations) else None


def run_fit(
    fit: StudyFit,
    *,
    layout: StudyLayout,
    tracks: list[Track],
    plan: StudyPlan,
    task_type: str = "CPU",
    threads: int = 2,
) -> FitScore:
    """Fit one study fit (whether or not it is current) and cache its score."""
    tested, trained = layout.bundle_paths(fit)[0], layout.bundle_paths(fit)[-1]
    bundle = Bundle.load(tested)
    train_bundle = bundle if trained == tested else Bundle.load(trained)
    train, test = split_masks(
        fit, bundle=bundle, train_bundle=train_bundle, tracks=tracks, plan=plan
    )
    score = fit_and_score(
        x_train=train_bundle.features[train],
        y_train=train_bundle.targets[train],
        x_test=bundle.features[test],
        y_test=bundle.targets[test],
        params=plan.params(iterations=fit.iterations),
        rsm=CPU_RSM[fit.feature],
        task_type=task_type,
        threads=threads,
    )
    path = layout.score_path(fit)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(score), indent=1) + "\n")
    return score


def pending_fits(
    *, layout: StudyLayout, tracks: list[Track], plan: StudyPlan
) -> tuple[list[StudyFit], list[StudyFit]]:
    """The planned fits whose bundles exist and which are not current, and those lacking bundles."""
    pending, missing = [], []
    for fit in planned_fits(tracks=tracks, plan=plan):
        if not all(p.is_file() for p in layout.bundle_paths(fit)):
            missing.append(fit)
        elif cached_score(fit, layout=layout, plan=plan) is None:
            pending.append(fit)
    return pending, missing


def study_figures(*, layout: StudyLayout, tracks: list[Track], plan: StudyPlan) -> dict[str, Any]:
    """The study's figures from its cached scores (figures not yet fitted are None)."""
    fits = planned_fits(tracks=tracks, plan=plan)
    scores = {fit: cached_score(fit, layout=layout, plan=plan) for fit in fits}
    features: tuple[Feature, ...] = ("paper_faithful", "ours")

    def accuracy(config_id: str, feature: Feature, part: str, iterations: int) -> float | None:
        fit = StudyFit(config_id=config_id, feature=feature, part=part, iterations=iterations)
        score = scores.get(fit)
        return score.accuracy_percent if score else None

    families = held_out_families(tracks, min_tracks=plan.min_fold_tracks)
    cross_genre: dict[str, dict[str, Any]] = {}
    for config_id in plan.configs:
        cross_genre[config_id] = {}
        for feature in features:
            folds = [
                scores[
                    StudyFit(
                        config_id=config_id,
                        feature=feature,
                        part=f"genre-{family}",
                        iterations=plan.iterations,
                    )
                ]
                for family in families
            ]
            done = [s for s in folds if s is not None]
            cross_genre[config_id][feature] = (
                round(100.0 * sum(s.correct for s in done) / sum(s.total for s in done), 2)
                if done and len(done) == len(folds) and sum(s.total for s in done)
                else None
            )
            cross_genre[config_id][f"{feature}_by_family"] = {
                family: score.accuracy_percent if score else None
                for family, score in zip(families, folds, strict=True)
            }
    all_families = genre_families(tracks)
    done = [score for score in scores.values() if score is not None]
    return {
        "plan": plan.to_dict(),
        "closed_set": {
            c: {f: accuracy(c, f, "closed", plan.iterations) for f in features}
            for c in plan.configs
        },
        "cross_genre": cross_genre,
        "held_out_families": {name: len(md5s) for name, md5s in families.items()},
        "always_train_families": {
            name: len(md5s) for name, md5s in all_families.items() if name not in families
        },
        "gap": {
            c: {f: _gap(c, f, scores=scores, plan=plan) for f in features}
            for c in plan.gap_configs
            if c in plan.configs
        },
        "fits_done": len(done),
        "fits_planned": len(fits),
        "fit_devices": {
            device: sum(s.task_type == device for s in done) for device in ("CPU", "GPU")
        },
        "fit_seconds": round(sum(s.seconds for s in done), 1),
        "pending": [fit.name for fit, score in scores.items() if score is None],
        "pending_by_section": {
            section: sum(score is None and fit.section == section for fit, score in scores.items())
            for section in SECTIONS
        },
        "command": COMMAND,
    }


def _gap(
    config_id: str,
    feature: Feature,
    *,
    scores: dict[StudyFit, FitScore | None],
    plan: StudyPlan,
) -> dict[str, Any]:
    """One configuration's gap experiment: the learning curve, the longer fit, more per clip."""

    def point(part: str, iterations: int) -> dict[str, Any]:
        fit = StudyFit(config_id=config_id, feature=feature, part=part, iterations=iterations)
        score = scores.get(fit)
        return {
            "iterations": iterations,
            "train_examples": score.train_examples if score else None,
            "examples_per_class": round(score.train_examples / score.classes_seen, 1)
            if score
            else None,
            "accuracy": score.accuracy_percent if score else None,
            "test_examples": score.total if score else None,
        }

    rounds = plan.iterations
    curve = [{"share": s, **point(f"share-{s:g}", rounds)} for s in plan.shares]
    curve.append({"share": 1.0, **point("closed", rounds)})
    gap = {
        "curve": curve,
        "longer": point("longer", rounds * plan.longer),
        "more_per_clip": {"per_clip": plan.more_per_clip, **point("more-per-clip", rounds)},
    }
    return gap | {"effects": gap_effects(gap, paper_percent=PAPER_TABLE_1[config_id])}


def gap_effects(gap: dict[str, Any], *, paper_percent: float) -> dict[str, Any] | None:
    """What each probe of the gap experiment did, in points against Table 1's fit.

    Parameters
    ----------
    gap : dict
        One configuration and feature's ``curve``, ``longer`` and ``more_per_clip``.
    paper_percent : float
        The paper's Table 1 figure for the configuration.

    Returns
    -------
    dict or None
        None until Table 1's fit is done. ``per_doubling``: points gained per
        doubling of the examples per class (least squares on their log2 over
        the finished points of the curve; None under two); ``last_doubling``:
        the same over the curve's last step alone (the half share to all of
        it); ``doublings_to_paper`` and ``examples_per_class_to_paper``:
        where the last step's rate would reach the paper's figure (an
        extrapolation, hopeful where the gains shrink; None where it does not
        grow);
        ``longer`` and ``more_per_clip``: each probe's points against Table
        1's fit; ``noise``: 1.96 standard errors of the difference of two
        accuracies of Table 1's level (add-one smoothed) on as many test
        examples (a difference within it is not told apart from chance).

    Examples
    --------
    >>> curve = [
    ...     {"accuracy": 40.0, "examples_per_class": 5.0, "test_examples": 400},
    ...     {"accuracy": 50.0, "examples_per_class": 10.0, "test_examples": 400},
    ...     {"accuracy": 60.0, "examples_per_class": 20.0, "test_examples": 400},
    ... ]
    >>> probe = {"accuracy": None}
    >>> effects = gap_effects(
    ...     {"curve": curve, "longer": probe, "more_per_clip": probe}, paper_percent=80.0
    ... )
    >>> effects["per_doubling"], effects["last_doubling"], effects["doublings_to_paper"]
    (10.0, 10.0, 2.0)
    >>> effects["examples_per_class_to_paper"], effects["noise"]
    (80, 6.79)
    """
    base = gap["curve"][-1]
    if base["accuracy"] is None:
        return None
    accuracy, total = base["accuracy"], base["test_examples"]
    done = [point for point in gap["curve"] if point["accuracy"] is not None]
    per_doubling = last_doubling = None
    if len(done) >= 2:
        x = np.log2([point["examples_per_class"] for point in done])
        y = np.array([point["accuracy"] for point in done])
        per_doubling = round(float(np.polyfit(x, y, 1)[0]), 2)
        if done[-2] is gap["curve"][-2]:
            last_doubling = round(float((y[-1] - y[-2]) / (x[-1] - x[-2])), 2)
    doublings = (
        round((paper_percent - accuracy) / last_doubling, 2)
        if last_doubling and last_doubling > 0 and paper_percent > accuracy
        else None
    )
    # Add-one smoothing keeps a perfect score's noise above 0.
    share = (accuracy / 100 * total + 1) / (total + 2) if total else 0.0

    def against_base(probe: dict[str, Any]) -> float | None:
        return None if probe["accuracy"] is None else round(probe["accuracy"] - accuracy, 2)

    return {
        "paper": paper_percent,
        "per_doubling": per_doubling,
        "last_doubling": last_doubling,
        "doublings_to_paper": doublings,
        "examples_per_class_to_paper": round(base["examples_per_class"] * 2**doublings)
        if doublings is not None
        else None,
        "longer": against_base(gap["longer"]),
        "more_per_clip": against_base(gap["more_per_clip"]),
        "noise": round(196 * float(np.sqrt(2 * share * (1 - share) / total)), 2) if total else None,
    }


def run_study(
    *,
    layout: StudyLayout,
    tracks: list[Track],
    plan: StudyPlan,
    task_type: str = "CPU",
    threads: int = 2,
) -> list[FitScore]:
    """Fit every pending fit whose bundles exist, in plan order; return the new scores."""
    pending, _ = pending_fits(layout=layout, tracks=tracks, plan=plan)
    return [
        run_fit(fit, layout=layout, tracks=tracks, plan=plan, task_type=task_type, threads=threads)
        for fit in pending
    ]
