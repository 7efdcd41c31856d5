"""The run guard (tests/run_guard.py) fails a run in which a collected test never ran."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

CONFTEST = """
from tests import run_guard

def pytest_configure(config):
    run_guard.register(config)
"""

TESTS = """
import pytest

@pytest.mark.parametrize("n", [1, 2, 3])
def test_one(n):
    pass

@pytest.mark.skip(reason="a skip is reported, so it ran")
def test_skipped():
    pass
"""


def test_a_run_where_every_test_is_reported_passes(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_some=TESTS)
    result = pytester.runpytest_inprocess("-p", "no:randomly", "-p", "no:xdist")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["run guard: 4 tests ran of 4 collected"])


def test_a_run_that_skips_running_collected_tests_fails(pytester: pytest.Pytester) -> None:
    # As when several tests share one id and xdist runs only the first: run one of four.
    pytester.makeconftest(
        CONFTEST
        + """
import pytest

@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    item = session.items[0]
    item.config.hook.pytest_runtest_protocol(item=item, nextitem=None)
    return True
"""
    )
    pytester.makepyfile(test_some=TESTS)
    result = pytester.runpytest_inprocess("-p", "no:randomly", "-p", "no:xdist")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "run guard: 1 tests ran of 4 collected",
            "run guard: FAILED: 3 collected tests never ran:",
            "  test_some.py::test_one[[]2[]]",
        ]
    )
