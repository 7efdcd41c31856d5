"""The evaluation's decisions (app.training.report)."""

from __future__ import annotations

import numpy as np

from app.training.report import _chooser_against_checks


def test_the_count_chooser_is_used_only_where_significantly_better_and_bells_hold() -> None:
    n = 400
    check_right = np.arange(n) % 10 != 0  # 90 %
    bells = np.arange(n) < 200
    better = check_right.copy()
    better[200:] = True  # right on every held-out example the checks got wrong past the bells
    figures = _chooser_against_checks(chooser_right=better, check_right=check_right, bells=bells)
    assert figures["used"] and figures["mcnemar_z"] > 2
    assert figures["held_out_sets_right_check"] == 90.0
    assert figures["held_out_sets_right_chooser"] == 95.0
    # As much better overall, but it breaks the bells-only sets: not used.
    worse_on_bells = better.copy()
    worse_on_bells[:200] = np.arange(200) % 4 != 0  # 75 % where the checks had 90 %
    worse_on_bells[200:] = True
    worse_on_bells[np.flatnonzero(~check_right[:200])] = True
    figures = _chooser_against_checks(
        chooser_right=worse_on_bells, check_right=check_right, bells=bells
    )
    assert figures["mcnemar_z_bells_only"] < -2 and not figures["used"]
    # No better than the checks: not used.
    same = _chooser_against_checks(chooser_right=check_right, check_right=check_right, bells=bells)
    assert not same["used"] and same["mcnemar_z"] == 0
