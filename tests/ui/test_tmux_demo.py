"""`slop demo` in a real terminal (tmux), as a person plays it: Enter, `s`; at the first clutch
the worker's reason is on screen; `e` then Esc leaves the JSON editor with the payload unchanged;
every clutch approved; the run ends `4/4 done`; ctrl+q exits 0 and leaves a clean terminal.

The demo runs as shipped (`python -m slop_tui demo`, its own scripted team and latencies, a few
seconds in all) in a temporary HOME, TMPDIR and working folder, on a private tmux server.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from slop_tui.models import Approve, DecisionMade, Edit
from slop_tui.store import Store
from tests.ui.tmux_demo import Tmux, approve_to_the_end, clutch_key, quit_and_check_the_terminal, start_demo, tmux  # noqa: F401 (the fixture)

FIRST_REASON = "I add the contract at the end of the module"

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed: the real-terminal demo test needs it")


def test_the_demo_in_a_real_terminal(tmux: Tmux, tmp_path: Path) -> None:  # noqa: F811
    temp = start_demo(tmux, tmp_path)
    tmux.keys("s")
    started = time.monotonic()

    first = tmux.wait(lambda s: clutch_key(s) is not None, "the first clutch")
    assert FIRST_REASON in first  # why the worker asks, at the clutch itself
    tmux.keys("e")
    tmux.wait(lambda s: "Esc discards" in s, "the JSON editor")
    tmux.keys("x", "y", "z", "Escape")  # typed, then discarded
    back = tmux.wait(lambda s: "Esc discards" not in s and "a approve" in s, "the clutch's view again")
    assert clutch_key(back) == clutch_key(first)

    approved = approve_to_the_end(tmux)
    assert approved >= 4
    print(f"run: {time.monotonic() - started:.1f} s, {approved} clutches")

    done = quit_and_check_the_terminal(tmux)
    assert "slop demo: the sample repository, as the run left it, is in" in done

    # The first proposal was approved as proposed: Esc left no edit behind.
    repo = next(temp.glob("slop-demo-*/sample_repo"))
    decisions = [e for e in Store(repo).events() if isinstance(e, DecisionMade)]
    assert decisions and not any(isinstance(e.decision, Edit) for e in decisions)
    assert isinstance(decisions[0].decision, Approve)
