"""Suite-wide hooks: the reliability counts (see `tests/reliability/counts.py`) printed once in
the terminal summary, added up across pytest-xdist workers (each worker counts its own tests and
hands its counters to the controller when it finishes)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reliability import counts

_KEY = "slop_reliability_counts"


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker
        workeroutput[_KEY] = counts.export()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:  # xdist's hook, on the controller
    counts.merge(getattr(node, "workeroutput", {}).get(_KEY, []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = counts.report_lines()
    if not lines:
        return
    terminalreporter.write_sep("=", "reliability suite counts")
    for line in lines:
        terminalreporter.write_line(line)
