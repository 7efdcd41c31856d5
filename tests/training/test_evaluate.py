import math

import pytest

from app.training.evaluate import PHYSICS_CHECKS, parallel_map


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
