"""A run fails when a collected test was never reported, and says how many tests ran.

A test "ran" when pytest reported its outcome: its call phase (passed, failed, xfailed,
xpassed) or a setup that failed or skipped it. A collected test with no such report never
ran: for example when several collected tests share one id and pytest-xdist runs only the
first of them. Works with and without xdist (under xdist the controller counts; workers
send it their collection and their reports). `tests/conftest.py` registers it.
"""

from __future__ import annotations

from collections import Counter

import pytest


class RunGuard:
    """Counts the tests collected and the tests reported in one pytest run."""

    def __init__(self) -> None:
        self.collected: Counter[str] = Counter()
        self.ran: Counter[str] = Counter()
        self.counted = False
        self.never: Counter[str] | None = None

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Without xdist: the selected tests (after -k/-m deselection) are the ones to run."""
        self.collected.update(item.nodeid for item in session.items)
        self.counted = True

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: object, ids: list[str]) -> None:
        """Under xdist: every worker collects the same tests; count one worker's collection."""
        if not self.counted:
            self.collected.update(ids)
            self.counted = True

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Count a test once, at the report that settles its outcome."""
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.ran[report.nodeid] += 1

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Fail a run that would pass although some collected test never ran."""
        if session.config.option.collectonly or not self.counted:
            return
        self.never = self.collected - self.ran
        if self.never and exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """Print how many tests ran of those collected, and any that never ran."""
        if self.never is None:
            return
        total, ran = sum(self.collected.values()), sum(self.ran.values())
        terminalreporter.write_line(f"run guard: {ran} tests ran of {total} collected")
        if self.never:
            terminalreporter.write_line(
                f"run guard: FAILED: {sum(self.never.values())} collected tests never ran:",
                red=True,
            )
            for nodeid, count in sorted(self.never.items())[:50]:
                terminalreporter.write_line(f"  {nodeid}" + (f" (x{count})" if count > 1 else ""))


def register(config: pytest.Config) -> None:
    """Register a guard for this run (not in xdist workers: their controller counts)."""
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(RunGuard(), "run_guard")
