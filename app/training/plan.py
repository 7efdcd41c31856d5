"""What gets built and trained by `mastering-trainer dataset build --all` and `train --all`."""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.audio.transfer import DEMODULATION_VERSION
from app.ml.features import CURRENT_SPEC, FeatureSpec


@dataclass(frozen=True, kw_only=True)
class DatasetPlan:
    """How many examples per clip a dataset draws, and what they and its model carry."""

    dataset_id: str
    per_clip: int
    nuisances: bool = True
    #: The model takes the `FeatureSpec` options (reference levels, lossy flag).
    feature_options: bool = False
    #: The model reads bins empty in both files as the level change
    #: (`FeatureSpec.level_floor`); the paper's closed-set task goes without.
    level_floor: bool = True
    #: The model reads the candidate through the static transfer (`FeatureSpec.coherent`).
    coherent: bool = False
    #: With `coherent`, the transfer is read from the candidate divided by its gain frame
    #: by frame (`FeatureSpec.demodulated`).
    demodulated: bool = False
    #: The nuisances include the master chain, a compressor and a limiter as a trainee
    #: uses them (`app.training.synth.CHAIN_NUISANCE_PROBABILITIES`).
    chain: bool = False
    #: Of the training examples lossy-coded or low-passed, this share goes unflagged
    #: (`FeatureSpec.lossy_flag` 0), as an MP3 handed back as a WAV, whose container
    #: says nothing (`app.training.datasets.told_lossy`; F1W2 since stop 55).
    unflagged_lossy_share: float = 0.0
    #: Boosting rounds in place of its kind's (`app.training.fit.PARAMS`; early stopping
    #: as ever): F1/2W2 since stop 64, whose fits had run into the grids' 8,000 (F1/4W2's
    #: tried at stop 66: 9,332 trees, no better through POST /rate).
    boosting_rounds: int | None = None


def demodulated_chain(
    dataset_id: str,
    *,
    per_clip: int,
    feature_options: bool = False,
    unflagged_lossy_share: float = 0.0,
    boosting_rounds: int | None = None,
) -> DatasetPlan:
    """A plan whose examples draw the master chain and whose model reads the demodulated
    transfer, as fitted: the general model's recipe, F1W2's since stop 52, F1/2W1/2's,
    F1/2W1's and F1W1's since stops 58, 59 and 61, F1/4W1/2's, F1W1/2's and F1/2W2's
    since stop 64, F1/4W2's since stop 65 (F1/4W1's tried at stop 60)."""
    return DatasetPlan(
        dataset_id=dataset_id,
        per_clip=per_clip,
        feature_options=feature_options,
        coherent=True,
        demodulated=True,
        chain=True,
        unflagged_lossy_share=unflagged_lossy_share,
        boosting_rounds=boosting_rounds,
    )


#: In build order: the service's first models and the hard F1/4W2 first, the
#: paper-faithful closed-set baselines last. About 276k examples (1334
#: clips). Every dataset but the closed-set baselines draws the master
#: chain, and its shards also hold the candidate's spectra through the demodulated
#: transfer: the general's, F1W2's (since stop 52), F1/2W1/2's (stop 58), F1/2W1's (stop
#: 59), F1W1's (stop 61), F1/4W1/2's, F1W1/2's and F1/2W2's (stop 64), F1/4W2's (stop
#: 65, on the transfer averaged over the frames before) and F1/4W1's (stop 67). The
#: longest build, F1W2's 40k examples, takes about 97 minutes on 2 cores
#: (`app.training.pool` holds each worker to one BLAS thread); `models/REPORT.md`, 'What
#: was tried', gives the other builds' times beside what they built.
PLAN = [
    demodulated_chain("F1W2", per_clip=30, feature_options=True, unflagged_lossy_share=0.5),
    demodulated_chain("general", per_clip=24),
    demodulated_chain("F1/4W2", per_clip=18, feature_options=True, unflagged_lossy_share=0.5),
    demodulated_chain("F1W1", per_clip=30, feature_options=True),
    demodulated_chain(
        "F1/2W2",
        per_clip=18,
        feature_options=True,
        unflagged_lossy_share=0.5,
        boosting_rounds=16_000,
    ),
    demodulated_chain("F1/2W1", per_clip=18, feature_options=True),
    demodulated_chain("F1/4W1", per_clip=30, feature_options=True, unflagged_lossy_share=0.5),
    demodulated_chain("F1/4W1/2", per_clip=18, feature_options=True, unflagged_lossy_share=0.5),
    demodulated_chain("F1W1/2", per_clip=6),
    demodulated_chain("F1/2W1/2", per_clip=6),
    DatasetPlan(dataset_id="paper-F1W2", per_clip=1, nuisances=False, level_floor=False),
    DatasetPlan(dataset_id="paper-F1W1", per_clip=1, nuisances=False, level_floor=False),
    DatasetPlan(dataset_id="paper-F1/2W2", per_clip=1, nuisances=False, level_floor=False),
    DatasetPlan(dataset_id="paper-F1/2W1", per_clip=1, nuisances=False, level_floor=False),
    DatasetPlan(dataset_id="paper-F1/4W1", per_clip=1, nuisances=False, level_floor=False),
    DatasetPlan(dataset_id="paper-F1/4W2", per_clip=1, nuisances=False, level_floor=False),
    DatasetPlan(dataset_id="paper-F1W1/2", per_clip=1, nuisances=False, level_floor=False),
    DatasetPlan(dataset_id="paper-F1/2W1/2", per_clip=1, nuisances=False, level_floor=False),
    DatasetPlan(dataset_id="paper-F1/4W1/2", per_clip=1, nuisances=False, level_floor=False),
]
PLAN_BY_ID = {plan.dataset_id: plan for plan in PLAN}
#: A dataset outside the plan: no chain, every lossy candidate told, served as fitted.
_OUTSIDE_PLAN = DatasetPlan(dataset_id="", per_clip=0)


def draws_chain(dataset_id: str) -> bool:
    """Whether a dataset's nuisances include the master chain (`DatasetPlan.chain`)."""
    return PLAN_BY_ID.get(dataset_id, _OUTSIDE_PLAN).chain


def unflagged_lossy_share(dataset_id: str) -> float:
    """`DatasetPlan.unflagged_lossy_share` of a dataset (0 for one not in the plan)."""
    return PLAN_BY_ID.get(dataset_id, _OUTSIDE_PLAN).unflagged_lossy_share


def boosting_rounds(dataset_id: str) -> int | None:
    """`DatasetPlan.boosting_rounds` of a dataset (None: its kind's)."""
    return PLAN_BY_ID.get(dataset_id, _OUTSIDE_PLAN).boosting_rounds


def feature_spec(dataset_id: str) -> FeatureSpec:
    """The features a dataset's model is trained on (`FeatureSpec` options from the plan)."""
    plan = PLAN_BY_ID.get(dataset_id)
    if plan is None:
        return CURRENT_SPEC
    options = plan.feature_options
    return replace(
        CURRENT_SPEC,
        reference_levels=options,
        lossy_flag=options,
        level_floor=plan.level_floor,
        coherent=plan.coherent,
        demodulated=plan.demodulated,
        demodulation_version=DEMODULATION_VERSION if plan.demodulated else 0,
    )
