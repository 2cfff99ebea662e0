"""The log pane's defaults (issue 19): routine state moves wait at `debug`, no jumping event
numbers, and toasts that leave the log's newest lines readable."""

from __future__ import annotations

from pathlib import Path

from textual.widgets._toast import Toast

from slop_tui.models import TicketState
from slop_tui.ui.app import SlopApp
from slop_tui.ui.run_view import Level, state_move_level
from slop_tui.ui.widgets.log_pane import LEVEL_LABEL, LogPane
from tests.ui.helpers import sample_events

LEVEL_WORDS = tuple(LEVEL_LABEL.values())


def replayed() -> SlopApp:
    return SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, demo=True, replay=sample_events())


def entry_lines(log: LogPane) -> list[str]:
    """The pane's lines that start an entry (wrapped lines follow theirs)."""
    return [strip.text for strip in log.lines if strip.text.split(" ", 1)[0] in LEVEL_WORDS]


def test_routine_state_moves_are_debug_and_the_news_is_not() -> None:
    assert state_move_level(TicketState.IN_PROGRESS) is Level.DEBUG
    assert state_move_level(TicketState.AWAITING_APPROVAL) is Level.DEBUG
    assert state_move_level(TicketState.TODO) is Level.DEBUG
    assert state_move_level(TicketState.DONE) is Level.INFO
    assert state_move_level(TicketState.BLOCKED) is Level.WARN


async def test_the_default_level_hides_routine_moves_and_v_reaches_debug() -> None:
    app = replayed()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        log = app.screen.query_one("#log", LogPane)
        shown = " ".join(entry_lines(log))
        assert "todo → in_progress" not in shown and "in_progress → done" in shown, shown
        assert "level ≥ info" in str(log.border_title)
        for _ in range(4):  # info → hint → warn → error → debug
            await pilot.press("v")
        await pilot.pause()
        assert log.min_level is Level.DEBUG and "all levels" in str(log.border_title)
        everything = entry_lines(log)
        assert any("todo → in_progress" in line and line.startswith("debug") for line in everything)
        assert len(everything) > len(shown.split("info ")) - 1


async def test_log_lines_carry_no_event_numbers() -> None:
    app = replayed()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        log = app.screen.query_one("#log", LogPane)
        lines = [strip.text for strip in log.lines if strip.text.strip()]
        assert lines and all(not line.lstrip()[:1].isdigit() for line in lines), lines
        assert len(entry_lines(log)) >= 5


async def test_a_toast_does_not_cover_the_log_pane() -> None:
    app = replayed()
    async with app.run_test(size=(100, 30), notifications=True) as pilot:  # the pilot hides toasts unless asked
        await pilot.pause()
        log = app.screen.query_one("#log", LogPane)
        app.notify("A toast with enough words in it to take two lines of its box at this width.", timeout=30)
        await pilot.pause()
        await pilot.pause()
        toasts = list(app.screen.query(Toast))
        assert toasts
        for toast in toasts:
            assert toast.region.area > 0
            assert not toast.region.overlaps(log.region), (toast.region, log.region)
