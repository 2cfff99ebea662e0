"""Prints every part's counts in the terminal summary of the run (see `counts.py`)."""

from __future__ import annotations

import pytest

from tests.reliability.counts import report_lines


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = report_lines()
    if not lines:
        return
    terminalreporter.write_sep("=", "reliability suite counts")
    for line in lines:
        terminalreporter.write_line(line)
