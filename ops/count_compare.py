"""CatBoost's count alone, of general fits on the same validation examples, by slice.

A fit costs 5-12 minutes and `mastering-trainer evaluate` 30 more; this reads only a
bundle and a fitted (or installed) general model, so that two fits' count models compare
within a minute before either is evaluated. Each argument is a data folder holding
``bundle/general.npz`` and ``fitted/general/`` (an installed model folder linked there
reads too); the validation examples must be the same for the figures to compare::

    python ops/count_compare.py var var/b

Prints, per folder: the count right (%) over every validation example, without the master
chain, through it, with the chain alone (split by the chain's limiter kind where the bundle
holds it), mixtures of 2 or more without the chain and through it, the validation examples
as MP3 uploads, and the type model's presence accuracy per type. Beside each slice's count
right: the share whose true count lies further from CatBoost's than the fits reach
(`app.ml.general.NEARBY_COUNTS_REACH`), which no choice among those fits gets right.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from app.ml.general import NEARBY_COUNTS_REACH, type_probabilities
from app.ml.recognition import load_classifier
from app.training import evaluate as ev
from app.training import train as training
from app.training.bundle import Bundle
from app.training.master_chain import LimiterKind
from app.training.report import fitted_type_classifier, general_count_probabilities


def report(data_dir: Path) -> None:
    """Print one folder's figures."""
    bundle = Bundle.load(data_dir / "bundle" / "general.npz")
    fitted = data_dir / "fitted" / "general"
    validation = bundle.validation
    features = bundle.features[validation]
    classifier = load_classifier(fitted)
    counts = general_count_probabilities(classifier, features).argmax(axis=1)
    truth = bundle.targets[validation]
    dataset = training.bundle_dataset(bundle).validation
    right = counts == truth
    chain = dataset.through_chain
    alone = chain & (truth == 0)
    slices = {
        "all": np.ones_like(right),
        "no chain": ~chain,
        "chain": chain,
        "chain alone": alone,
        "mixtures no chain": (truth >= 2) & ~chain,
        "mixtures through chain": (truth >= 2) & chain,
    }
    if dataset.limiter_kind is not None:
        slices["chain alone, compressor alone"] = alone & np.isnan(dataset.limiter_kind)
        for kind in LimiterKind:
            slices[f"chain alone, {kind.name.lower()}"] = alone & (dataset.limiter_kind == kind)
    print(f"{data_dir}: {features.shape[1]} features, {len(truth)} validation examples")
    for name, mask in slices.items():
        out_of_reach = ev.percent(np.abs(counts - truth)[mask] > NEARBY_COUNTS_REACH)
        print(
            f"  count right, {name}: {ev.percent(right[mask])} % (n={int(mask.sum())};"
            f" out of the nearby counts' reach {out_of_reach} %)"
        )
    if bundle.validation_low_pass_features is not None:
        as_mp3 = bundle.validation_low_pass_features
        read = general_count_probabilities(classifier, as_mp3).argmax(axis=1)
        print(f"  count right as MP3 uploads: {ev.percent(read == truth)} %")
    type_classifier = fitted_type_classifier(fitted)
    if type_classifier is not None and bundle.type_targets is not None:
        presence = ev.type_presence_accuracy(
            type_probabilities(type_classifier, features), bundle.type_targets[validation]
        )
        print(f"  type presence right: {presence}")


if __name__ == "__main__":
    for folder in sys.argv[1:]:
        report(Path(folder))
