"""What gets built and trained by `mastering-trainer dataset build --all` and `train --all`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class DatasetPlan:
    """How many examples per clip a dataset draws, and whether it carries nuisances."""

    dataset_id: str
    per_clip: int
    nuisances: bool = True


#: In build order: the service's first models and the hard F1/4W2 first, the
#: paper-faithful closed-set baselines last. About 155k examples: some
#: 2 hours on 2 cores.
PLAN = [
    DatasetPlan(dataset_id="F1W2", per_clip=18),
    DatasetPlan(dataset_id="general", per_clip=18),
    DatasetPlan(dataset_id="F1/4W2", per_clip=12),
    DatasetPlan(dataset_id="F1W1", per_clip=18),
    DatasetPlan(dataset_id="F1/2W2", per_clip=12),
    DatasetPlan(dataset_id="F1/2W1", per_clip=6),
    DatasetPlan(dataset_id="F1/4W1", per_clip=10),
    DatasetPlan(dataset_id="F1/4W1/2", per_clip=6),
    DatasetPlan(dataset_id="F1W1/2", per_clip=6),
    DatasetPlan(dataset_id="F1/2W1/2", per_clip=6),
    DatasetPlan(dataset_id="paper-F1W2", per_clip=1, nuisances=False),
    DatasetPlan(dataset_id="paper-F1W1", per_clip=1, nuisances=False),
    DatasetPlan(dataset_id="paper-F1/2W2", per_clip=1, nuisances=False),
    DatasetPlan(dataset_id="paper-F1/2W1", per_clip=1, nuisances=False),
]
PLAN_BY_ID = {plan.dataset_id: plan for plan in PLAN}
