import math
from dataclasses import replace

import numpy as np
import pytest

from app.audio.eq import EqOperation
from app.training.datasets import Dataset
from app.training.evaluate import (
    PHYSICS_CHECKS,
    best_setting,
    curve_right,
    parallel_map,
    shortfalls,
    split_settings,
    typed_figures,
)
from app.training.grids import encode_operations
from app.training.master_chain import LimiterKind
from app.training.synth import Nuisance


@pytest.mark.parametrize("workers", [1, 2])
def test_parallel_map_keeps_the_order_of_its_items(workers: int) -> None:
    items = list(range(37))
    assert parallel_map(math.factorial, items, workers=workers) == [
        math.factorial(i) for i in items
    ]


def test_physics_checks_start_with_catboost_alone_and_are_all_distinct() -> None:
    checks = list(PHYSICS_CHECKS.values())
    assert checks[0].weight == 0 and all(check.weight > 0 for check in checks[1:])
    assert len(set(checks)) == len(checks)


def test_shortfalls_name_every_missed_aim_and_by_how_much() -> None:
    f1w2 = {
        "exact_set_accuracy": 98.0,
        "exact_by_gain_db": {"3": 94.0, "6": 99.0, "9": 99.0},
        "exact_by_nuisance": {"none": 99.0, "level": 96.0, "lossy": 70.0},
    }
    report = {
        "grid": {"F1W2": f1w2, "F1/4W2": {"exact_set_accuracy": 70.5}},
        "general": {
            "count_accuracy": 91.0,
            "frequency_error_octaves_median": 0.2,
            "gain_error_db_median": 0.1,
        },
    }
    assert shortfalls(report) == [
        "F1/4W2: 70.5 % against 80.0 % (9.50 short)",
        "F1W2 3 dB operations: 94.0 % against 95 % (1.00 short)",
        "F1W2 under lossy: 70.0 % against 95 % (25.00 short)",
        "general frequency error: 0.2 octave",
    ]


def _outcomes(*, right_both: int, fixed: int, broken: int) -> dict[str, np.ndarray]:
    """CatBoost alone ("0") and one check ("c") on a tuning set of those counts."""
    alone = [True] * right_both + [False] * fixed + [True] * broken
    check = [True] * right_both + [True] * fixed + [False] * broken
    return {"0": np.array(alone), "c": np.array(check)}


@pytest.mark.parametrize(
    ("fixed", "broken", "chosen"),
    [(10, 5, "0"), (12, 2, "c"), (40, 20, "c"), (3, 3, "0"), (0, 4, "0")],
)
def test_a_check_is_chosen_only_where_it_beats_catboost_alone_significantly(
    fixed: int, broken: int, chosen: str
) -> None:
    # 10 fixed against 5 broken: z = 5 / sqrt(15) = 1.3; 12 against 2: z = 2.7.
    assert best_setting(_outcomes(right_both=900, fixed=fixed, broken=broken)) == chosen


def test_typed_answers_get_the_check_that_suits_them_and_bells_keep_theirs() -> None:
    # 1000 bells-only examples where check "c" fixes 40 and breaks 2, then 300 typed
    # ones where it breaks 30 and fixes 2: each subset chooses on its own examples.
    bells = _outcomes(right_both=958, fixed=40, broken=2)
    typed = _outcomes(right_both=268, fixed=2, broken=30)
    correct = {k: np.concatenate([bells[k], typed[k]]) for k in bells}
    is_typed = np.arange(1300) >= 1000
    assert split_settings(correct, typed=is_typed, chosen_on=~is_typed) == ("c", "0")
    # Chosen over every example, the typed examples' losses would drown the bells' gain
    # (42 fixed against 32 broken: z = 1.2).
    assert split_settings(correct, typed=np.zeros(1300, dtype=bool)) == ("0", "0")


def test_the_bells_check_trades_nothing_it_guards_for_the_answers_it_decodes() -> None:
    # On the guarded sets "c" fixes 30 and breaks 0 and "d" fixes 29 and breaks 1 (no
    # worse than "c": z = 1); on 400 other bells-only answers (compressed, say) "c"
    # breaks 60 and "d" breaks none.
    guarded = {"0": [False] * 30 + [True] * 470, "c": [True] * 500, "d": [True] * 499 + [False]}
    other = {"0": [True] * 400, "c": [False] * 60 + [True] * 340, "d": [True] * 400}
    correct = {k: np.array(guarded[k] + other[k]) for k in guarded}
    chosen_on = np.arange(900) < 500
    typed = np.zeros(900, dtype=bool)
    assert split_settings(correct, typed=typed, chosen_on=chosen_on) == ("d", "0")
    # Where "d" is worse on the guarded sets, the guard keeps "c".
    correct["d"][:10] = False
    assert split_settings(correct, typed=typed, chosen_on=chosen_on) == ("c", "0")


def test_single_operations_and_mixtures_are_read_without_the_chain_and_with_it() -> None:
    shelf = EqOperation(120.0, 3.0, type="low_shelf", slope=0.5)
    high_pass = EqOperation(30.0, 0.0, type="high_pass", order=2)
    bell = EqOperation(1000.0, 4.0, 1.0)
    truths = [[shelf], [shelf], [high_pass, bell], [high_pass, bell], []]
    # Right without the chain; through a compressor, the shelf read as a bell and a
    # spurious bell added to the mixture; the chain alone read as nothing.
    answers = [[shelf], [EqOperation(60.0, 3.0, 3.0)], [high_pass, bell], [*truths[3], bell], []]
    nuisance = [
        Nuisance.NONE,
        Nuisance.COMPRESSOR,
        Nuisance.LEVEL,
        Nuisance.COMPRESSOR_LIMITER,
        Nuisance.COMPRESSOR,
    ]
    unread = np.zeros(len(truths))
    validation = Dataset(
        dataset_id="general",
        reference_magnitude=unread,
        candidate_magnitude=unread,
        operations=np.stack([encode_operations(ops, rows=5) for ops in truths]),
        nuisance=np.array(nuisance),
        nuisance_value=unread,
        track_md5=unread,
        is_validation=np.ones(len(truths), dtype=bool),
    )
    figures = typed_figures(validation, answers)
    assert figures["by_type"]["low_shelf"] == {
        "examples": 1,
        "type_right": 100.0,
        "frequency_and_gain_right": 100.0,
    }
    assert figures["with_chain"]["by_type"]["low_shelf"]["type_right"] == 50.0
    assert figures["mixed"] == {
        "examples": 1,
        "count_right": 100.0,
        "all_types_right": 100.0,
        "curve_right": 100.0,
    }
    assert figures["with_chain"]["mixed"]["count_right"] == 50.0
    assert figures["mixed_through_chain"] == {
        "examples": 1,
        "count_right": 0.0,
        "curve_right": 0.0,  # the spurious bell doubles the boost at 1 kHz
    }
    assert figures["chain_alone"] == {
        "examples": 1,
        "no_operation": 100.0,
        "by_limiter_kind": None,  # a dataset without the chain's settings
    }
    # The chain alone, split by its limiter: the compressor alone read as nothing, a
    # clipper alone (the last example, now) read as a bell.
    clipped = replace(
        validation,
        nuisance=np.array([*nuisance, Nuisance.CHAIN_LIMITER]),
        operations=np.concatenate([validation.operations, validation.operations[-1:]]),
        is_validation=np.ones(len(truths) + 1, dtype=bool),
        limiter_kind=np.array([np.nan, np.nan, np.nan, 0.0, np.nan, float(LimiterKind.CLIPPER)]),
    )
    kinds = typed_figures(clipped, [*answers, [bell]])["chain_alone"]["by_limiter_kind"]
    assert kinds == {
        "none": {"examples": 1, "right": 100.0},
        "lookahead": {"examples": 0, "right": None},
        "instant": {"examples": 0, "right": None},
        "clipper": {"examples": 1, "right": 0.0},
        "juce": {"examples": 0, "right": None},
    }


def test_an_answer_of_another_count_with_the_truth_s_curve_has_its_curve_right() -> None:
    high_pass = EqOperation(30.0, 0.0, type="high_pass", order=2)
    truth = [high_pass, EqOperation(1000.0, 4.0, 1.0)]
    halves = [high_pass, EqOperation(1000.0, 2.0, 1.0), EqOperation(1000.0, 2.0, 1.0)]
    assert curve_right(truth, halves)
    assert curve_right(truth, [*truth, EqOperation(5000.0, 0.5, 1.0)])  # a slight extra bell
    assert not curve_right(truth, [high_pass, EqOperation(1400.0, 4.0, 1.0)])  # 1/2 octave off
    assert not curve_right(truth, [EqOperation(1000.0, 4.0, 1.0)])  # the high-pass missed
