"""`slop demo` in a real terminal (tmux), as a person plays it, in one sitting:

- Enter, `s`; at the first clutch the worker's reason is on screen;
- `?` there lists the clutch's keys, and Esc goes back to the same clutch;
- `e` then Esc leaves the JSON editor with the payload unchanged;
- one change approved, then Esc to the board mid-run: `?` lists the board's keys;
- the run is stopped from the board (`S`, then `y`), resumed (`R`), every clutch approved, and it
  ends `4/4 done`;
- ctrl+q exits 0 and leaves a clean terminal.

The demo runs as shipped (`python -m slop_tui demo`, its own scripted team and latencies, a few
seconds in all) in a temporary HOME, TMPDIR and working folder, on a private tmux server
(`tests/ui/tmux_demo.py`). One journey rather than one per feature: each `slop demo` in a
terminal costs ~6 s of CPU (the TUI, the sample's `pytest` runs).
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from slop_tui.models import Approve, DecisionMade, Edit, TicketState, TicketStateChanged
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

    # `?` at the clutch: its keys; Esc goes back to the same clutch.
    tmux.keys("?")
    shown = tmux.wait(lambda s: "Keys · clutch" in s, "the clutch's keys")
    assert re.search(r"\ba +approve", shown) and re.search(r"\br +reject", shown)
    tmux.keys("Escape")
    back = tmux.wait(lambda s: "Keys ·" not in s and clutch_key(s) is not None, "the clutch again")
    assert clutch_key(back) == clutch_key(first)

    # `e`, typing, then Esc: the editor is left and nothing was changed.
    tmux.keys("e")
    tmux.wait(lambda s: "Esc discards" in s, "the JSON editor")
    tmux.keys("x", "y", "z", "Escape")  # typed, then discarded
    back = tmux.wait(lambda s: "Esc discards" not in s and "a approve" in s, "the clutch's view again")
    assert clutch_key(back) == clutch_key(first)

    tmux.keys("a")  # one change approved, then to the board with the next one left for later
    tmux.wait(lambda s: clutch_key(s) != clutch_key(first), "the first clutch to close")
    tmux.wait(lambda s: clutch_key(s) is not None, "the next clutch")
    tmux.keys("Escape")
    board = tmux.wait(lambda s: clutch_key(s) is None and "S stop" in s, "the board mid-run")
    assert "x cancel" in board and "u undo" in board

    # `?` on the board: its keys, the header explained.
    tmux.keys("?")
    shown = tmux.wait(lambda s: "Keys · board" in s, "the board's keys")
    assert re.search(r"\bS +stop", shown)
    tmux.keys("Escape")
    tmux.wait(lambda s: "Keys ·" not in s, "the help to close")

    # Stop from the board: asked, then stopped, resumable.
    tmux.keys("S")
    tmux.wait(lambda s: "Stop the run?" in s, "the stop question")
    tmux.keys("y")
    tmux.wait(lambda s: "R resume" in s, "the stopped run")
    tmux.keys("R")

    approved = approve_to_the_end(tmux, "the resumed run")
    assert approved >= 3
    print(f"run: {time.monotonic() - started:.1f} s, {approved + 1} clutches approved")

    done = quit_and_check_the_terminal(tmux)
    assert "slop demo: the sample repository, as the run left it, is in" in done

    repo = next(temp.glob("slop-demo-*/sample_repo"))
    events = Store(repo).events()
    # The first proposal was approved as proposed: Esc left no edit behind.
    decisions = [e for e in events if isinstance(e, DecisionMade)]
    assert decisions and not any(isinstance(e.decision, Edit) for e in decisions)
    assert isinstance(decisions[0].decision, Approve)
    # The stop interrupted a ticket (back to todo) and the resume ran it to the end.
    moves = [e for e in events if isinstance(e, TicketStateChanged)]
    assert any(e.old is TicketState.AWAITING_APPROVAL and e.new is TicketState.TODO for e in moves)
    state = Store(repo).load_state()
    assert state is not None and all(t.state is TicketState.DONE for _, t in state.tickets())
