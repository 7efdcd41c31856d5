import math

import pytest

from app.training.evaluate import PHYSICS_CHECKS, parallel_map, shortfalls


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
