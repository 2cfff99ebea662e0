"""`?` and F1 open the keys of the screen in front (board, clutch, ticket detail, plan review),
read from the bindings in force; the footer names each action and follows the state."""

from __future__ import annotations

from pathlib import Path

from textual.binding import Binding

from slop_tui.ui.app import SlopApp
from slop_tui.ui.screens.board import BoardScreen
from slop_tui.ui.screens.clutch import ClutchScreen
from slop_tui.ui.screens.help import HelpScreen
from slop_tui.ui.screens.plan_review import PlanReviewScreen
from slop_tui.ui.screens.ticket_detail import TicketDetailScreen
from tests.ui.helpers import sample_events, sample_tracks, screen_text, write_proposal

SIZE = (100, 30)
STATEFUL = {"unpause", "stop_run", "resume_run", "leave_prompt"}  # shown only in their state


def replayed() -> SlopApp:
    return SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, demo=True, replay=sample_events())


def listed(app: SlopApp) -> dict[str, str]:
    """action -> its keys as shown (`a`, `n/enter/esc`); an action listed twice joins its keys."""
    screen = app.screen
    assert isinstance(screen, HelpScreen), type(screen).__name__
    out: dict[str, str] = {}
    for row in screen.rows:
        out[row.action] = f"{out[row.action]}/{row.keys}" if row.action in out else row.keys
    return out


def footer(app: SlopApp) -> str:
    return screen_text(app).splitlines()[-1]


def bindings(cls: type) -> list[Binding]:
    return [b for b in cls.__dict__["BINDINGS"] if isinstance(b, Binding)]


async def test_help_from_the_board_lists_every_key() -> None:
    app = replayed()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape")  # keys to the board
        await pilot.press("question_mark")
        rows = listed(app)
        for binding in bindings(BoardScreen):
            if binding.action not in STATEFUL:
                assert app.get_key_display(binding) in rows[binding.description].split("/"), binding
        assert rows["open"] == "⏎"  # the ticket list's own keys (enter)
        assert rows["help"] == "?/f1"  # the board's `?` first, then the app's F1
        shown = screen_text(app)
        assert "Keys · board" in shown
        # Closed by Esc; F1 opens and closes it too.
        await pilot.press("escape")
        assert isinstance(app.screen, BoardScreen)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("f1")
        assert isinstance(app.screen, BoardScreen)


async def test_help_explains_the_header_figures() -> None:
    app = replayed()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        legend = str(screen.query_one("#help-legend").render())
        assert "T1 planner, T2 lead, T3 workers, T4 QA" in legend
        assert "`T1 574 —` = 574 tokens" in legend


async def test_help_from_the_clutch_the_detail_and_plan_review() -> None:
    app = replayed()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(ClutchScreen(write_proposal(), waiting=1))
        await pilot.pause()
        await pilot.press("question_mark")
        rows = listed(app)
        assert rows["approve"] == "a" and rows["reject"] == "r" and rows["JSON"] == "e"
        assert "Keys · clutch" in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, ClutchScreen)  # back where it was asked from
        app.pop_screen()
        await pilot.pause()

        await pilot.press("escape", "down", "down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, TicketDetailScreen)
        await pilot.press("f1")
        rows = listed(app)
        assert rows["back"] == "esc" and "retry" in rows and "undo" in rows
        await pilot.press("escape")
        app.pop_screen()
        await pilot.pause()

        app.push_screen(PlanReviewScreen(sample_tracks()))
        await pilot.pause()
        await pilot.press("question_mark")
        rows = listed(app)
        assert rows["start run"] == "s" and rows["send back"] == "b" and rows["abort run"] == "q"


async def test_footer_names_each_action_and_follows_the_state() -> None:
    app = replayed()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("escape")
        shown = footer(app)
        for label in ("? help", "c clutch", "r retry", "x cancel", "u undo", "p pause", "q quit"):
            assert label in shown, shown
        assert "r x u" not in shown and "S stop" not in shown and "p resume" not in shown
        app.set_paused(True)
        await pilot.pause()
        assert "p resume" in footer(app) and "p pause" not in footer(app)
        app.running = True  # as while a run goes on
        app.board.refresh_header()
        await pilot.pause()
        assert "S stop" in footer(app)
        app.running = False
        app.set_paused(False)
        await pilot.pause()
        assert "p pause" in footer(app) and "S stop" not in footer(app)


async def test_the_clutch_help_lists_the_keys_that_work_everywhere() -> None:
    app = replayed()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(ClutchScreen(write_proposal(), waiting=1))
        await pilot.pause()
        await pilot.press("f1")
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        everywhere = {row.keys: row.action for row in screen.rows if row.section == "everywhere"}
        assert everywhere.get("f1") == "help" and everywhere.get("^c") == "quit"
