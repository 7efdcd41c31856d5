"""A run fails when a collected test was never reported, and says how many tests ran.

A test "ran" when pytest reported its outcome: its call phase (passed, failed, xfailed,
xpassed) or a setup that failed or skipped it. A collected test with no such report never
ran: for example when several collected tests share one id and pytest-xdist runs only the
first of them. Works with and without xdist (under xdist the controller counts; workers
send it their collection and their reports).
"""

from __future__ import annotations

from collections import Counter

import pytest

_collected: Counter[str] = Counter()
_ran: Counter[str] = Counter()
_state = {"collected": False}


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Without xdist: the selected tests (after -k/-m deselection) are the ones to run."""
    if _is_worker(session.config) or session.config.pluginmanager.has_plugin("dsession"):
        return
    _collected.update(item.nodeid for item in session.items)
    _state["collected"] = True


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: object, ids: list[str]) -> None:
    """Under xdist: every worker collects the same tests; count one worker's collection."""
    if not _state["collected"]:
        _collected.update(ids)
        _state["collected"] = True


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count a test once, at the report that settles its outcome."""
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _ran[report.nodeid] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail a run that would pass although some collected test never ran."""
    config = session.config
    if _is_worker(config) or config.option.collectonly or not _state["collected"]:
        return
    never = _collected - _ran
    session.config.stash[_summary] = (sum(_collected.values()), sum(_ran.values()), never)
    if never and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_summary = pytest.StashKey[tuple[int, int, Counter[str]]]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print how many tests ran of those collected, and any that never ran."""
    summary = terminalreporter.config.stash.get(_summary, None)
    if summary is None:
        return
    collected, ran, never = summary
    terminalreporter.write_line(f"run guard: {ran} tests ran of {collected} collected")
    if never:
        terminalreporter.write_line(
            f"run guard: FAILED: {sum(never.values())} collected tests never ran:", red=True
        )
        for nodeid, count in sorted(never.items())[:50]:
            terminalreporter.write_line(f"  {nodeid}" + (f" (x{count})" if count > 1 else ""))
