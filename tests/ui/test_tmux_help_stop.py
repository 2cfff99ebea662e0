"""`slop demo` in a real terminal (tmux): `?` opens the keys from the board and from the
clutch; the run is stopped from the board mid-run (`S`, then `y`), resumed (`R`), and ends
`4/4 done`; ctrl+q exits 0 and leaves a clean terminal.

The demo runs as shipped (`python -m slop_tui demo`) in a temporary HOME, TMPDIR and working
folder, on a private tmux server (`tests/ui/tmux_demo.py`).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from slop_tui.models import TicketState, TicketStateChanged
from slop_tui.store import Store
from tests.ui.tmux_demo import Tmux, approve_to_the_end, clutch_key, quit_and_check_the_terminal, start_demo, tmux  # noqa: F401 (the fixture)

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed: the real-terminal test needs it")


def test_help_then_stop_from_the_board_and_resume(tmux: Tmux, tmp_path: Path) -> None:  # noqa: F811
    temp = start_demo(tmux, tmp_path)
    tmux.keys("s")

    # `?` at the clutch: its keys; Esc goes back to the same clutch.
    first = tmux.wait(lambda s: clutch_key(s) is not None, "the first clutch")
    tmux.keys("?")
    shown = tmux.wait(lambda s: "Keys · clutch" in s, "the clutch's keys")
    assert re.search(r"\ba +approve", shown) and re.search(r"\br +reject", shown)
    tmux.keys("Escape")
    back = tmux.wait(lambda s: "Keys ·" not in s and clutch_key(s) is not None, "the clutch again")
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

    quit_and_check_the_terminal(tmux)

    # The stop interrupted a ticket (back to todo) and the resume ran it to the end.
    repo = next(temp.glob("slop-demo-*/sample_repo"))
    moves = [e for e in Store(repo).events() if isinstance(e, TicketStateChanged)]
    assert any(e.old is TicketState.AWAITING_APPROVAL and e.new is TicketState.TODO for e in moves)
    state = Store(repo).load_state()
    assert state is not None and all(t.state is TicketState.DONE for _, t in state.tickets())
