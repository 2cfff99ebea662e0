"""Snapshots at 80x24 and 120x40: the help screen over the board, and the header while the
planner's call is under way and waiting out a 429 (spinner, elapsed time, the retry line).

The spinner's clock is fixed, so each frame is the same on every run. Update this file's
snapshots (only) with `pytest tests/ui/test_help_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from slop_tui.models import ModelCallRetrying, ModelCallStarted, Tier
from slop_tui.ui.app import SlopApp
from tests.ui.helpers import SIZES, FixedClock, sample_events


@SIZES
def test_help_on_the_board(snap_compare: Any, size: tuple[int, int]) -> None:
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, demo=True, replay=sample_events())
    assert snap_compare(app, press=["escape", "question_mark"], terminal_size=size)


@SIZES
def test_spinner_while_the_planner_waits_out_a_429(snap_compare: Any, size: tuple[int, int]) -> None:
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, initial_prompt="Refactor config system")

    async def before(pilot: Pilot[Any]) -> None:
        clock = FixedClock(100.0)
        app.calls.clock = clock
        app.busy = "planning…"
        app.running = True  # as while a run is planned: the footer offers S stop
        app.calls.apply(ModelCallStarted(call=1, tier=Tier.PLANNER, model="deepseek:deepseek-chat"))
        clock.now = 112.0
        app.calls.apply(ModelCallRetrying(call=1, tier=Tier.PLANNER, attempt=2, tries=3, wait_s=4.0, status=429))
        clock.now = 112.2
        app.board.refresh_header()
        await pilot.press("escape")
        await pilot.pause()

    assert snap_compare(app, run_before=before, terminal_size=size)
