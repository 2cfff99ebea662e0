"""Keys with lasting effects ask first: `x` cancel, `u` undo, `q` / Ctrl+Q while a run goes
on. Only `y` goes ahead; `n`, Enter and Esc keep everything as it was. Ctrl+C mid-run stops
the run as `slop run` does: it is saved, the way to resume is said, and the status is 130."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App
from textual.color import Color
from textual.pilot import Pilot
from textual.screen import ModalScreen
from textual.widgets import DataTable

from slop_tui.models import TicketState
from slop_tui.store import Store
from slop_tui.ui.app import SlopApp
from slop_tui.ui.screens.clutch import ClutchScreen
from slop_tui.ui.screens.confirm import ConfirmScreen
from slop_tui.ui.screens.plan_review import PlanReviewScreen
from slop_tui.ui.screens.run_end import ConfirmDropScreen
from slop_tui.vcs.git_run import RunBranch
from tests.ui.helpers import screen_text, wait_for
from tests.ui.scenario import NOTES, app_on, make_repo
from tests.ui.test_pilot import run_to_end, select, states

SIZE = (100, 30)


async def asked(pilot: Pilot[Any], app: SlopApp, key: str, words: str) -> None:
    await pilot.press(key)
    await wait_for(lambda: isinstance(app.screen, ConfirmScreen), pilot=pilot)
    assert words in screen_text(app)


async def to_first_clutch(pilot: Pilot[Any], app: SlopApp) -> None:
    """Start the run and leave its first clutch for later: a run under way, on the board."""
    await pilot.press("enter")
    await wait_for(lambda: isinstance(app.screen, PlanReviewScreen), pilot=pilot)
    await pilot.press("s")
    await wait_for(lambda: isinstance(app.screen, ClutchScreen), pilot=pilot)
    await pilot.press("escape")
    await wait_for(lambda: not isinstance(app.screen, ClutchScreen), pilot=pilot)


async def test_cancel_and_quit_mid_run_ask_and_no_keeps_things(tmp_path: Path) -> None:
    repo, env = make_repo(tmp_path)
    app = app_on(repo, env, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await to_first_clutch(pilot, app)
        waiting = {t for t, s in states(app).items() if s is TicketState.AWAITING_APPROVAL}
        assert waiting
        ticket = sorted(waiting)[0]
        await select(pilot, app, ticket)
        for no in ("n", "enter", "escape"):
            await asked(pilot, app, "x", f"Cancel ticket {ticket}?")
            await pilot.press(no)
            await pilot.pause(0.2)
            assert not isinstance(app.screen, ConfirmScreen)
            assert states(app)[ticket] is TicketState.AWAITING_APPROVAL
        for key in ("q", "ctrl+q"):
            await asked(pilot, app, key, "A run is under way. Stop it and quit?")
            await pilot.press("n")
            await pilot.pause(0.2)
            assert app.running and app.is_running  # still here, still running
        await asked(pilot, app, "x", f"Cancel ticket {ticket}?")
        await pilot.press("y")
        await wait_for(lambda: states(app)[ticket] is TicketState.CANCELLED, pilot=pilot)
        await asked(pilot, app, "q", "Stop it and quit?")
        await pilot.press("y")
        await wait_for(lambda: not app.is_running, timeout=10, pilot=pilot)
    assert app.return_code == 0
    state = Store(repo).load_state()
    assert state is not None and not state.finished  # saved, resumable


async def test_undo_asks_and_no_keeps_the_files(tmp_path: Path) -> None:
    repo, env = make_repo(tmp_path)
    app = app_on(repo, env, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(pilot, app)
        await select(pilot, app, "c")
        await asked(pilot, app, "u", "Undo ticket c?")
        await pilot.press("n")
        await pilot.pause(0.3)
        assert states(app)["c"] is TicketState.DONE
        assert (repo / "notes.md").read_text() == NOTES
        await asked(pilot, app, "u", "Undo ticket c?")
        await pilot.press("y")
        await wait_for(lambda: states(app)["c"] is TicketState.TODO, pilot=pilot)
        assert not (repo / "notes.md").exists()
        # No run goes on any more: q leaves at once.
        await pilot.press("q")
        await wait_for(lambda: not app.is_running, pilot=pilot)
    assert app.return_code == 0


async def test_ctrl_c_mid_run_says_how_to_resume_and_exits_130(tmp_path: Path, capsys: Any) -> None:
    repo, env = make_repo(tmp_path)
    app = app_on(repo, env, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await to_first_clutch(pilot, app)
        await pilot.press("ctrl+c")
        await wait_for(lambda: not app.is_running, timeout=10, pilot=pilot)
    assert app.return_code == 130
    said = " ".join(capsys.readouterr().err.split())  # printed once the terminal is the shell's
    assert "slop: interrupted; running commands were stopped and the run saved: `slop resume` continues it" in said
    state = Store(repo).load_state()
    assert state is not None and not state.finished
    assert TicketState.AWAITING_APPROVAL not in {t.state for _, t in state.tickets()}


async def test_plan_review_delete_and_abort_ask(tmp_path: Path) -> None:
    repo, env = make_repo(tmp_path)
    app = app_on(repo, env, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, PlanReviewScreen), pilot=pilot)
        review = app.screen
        assert isinstance(review, PlanReviewScreen)
        table = review.query_one("#plan-table", DataTable)
        table.move_cursor(row=table.row_count - 1)  # the last ticket: nothing depends on it
        await pilot.pause()
        await asked(pilot, app, "d", "Delete ticket c from the plan?")
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is review and [t.id for t in review.tracks[0].tickets] == ["a", "b", "c"]
        await asked(pilot, app, "d", "Delete ticket c from the plan?")
        await pilot.press("y")
        await wait_for(lambda: [t.id for t in review.tracks[0].tickets] == ["a", "b"], pilot=pilot)
        await asked(pilot, app, "q", "Abort the run at plan review?")
        await pilot.press("enter")  # Enter is no
        await pilot.pause()
        assert app.screen is review and app.running
        await asked(pilot, app, "q", "Abort the run at plan review?")
        await pilot.press("y")
        await wait_for(lambda: not app.running, timeout=8, pilot=pilot)
    assert not (repo / "calc.py").exists()


async def test_each_question_keeps_its_own_frame_whichever_was_asked_before() -> None:
    """The stop/undo question is framed in the warning colour, dropping a run in the error
    colour, asked in any order (a screen's stylesheet applies app-wide once loaded, and both
    boxes are `#confirm-box`)."""
    run = RunBranch(run_id="r1", branch="slop/r1", base_branch="main", base_sha="0" * 40)

    def undo() -> ModalScreen[bool]:
        return ConfirmScreen("Undo?")

    def drop() -> ModalScreen[bool]:
        return ConfirmDropScreen(run, 2)

    for asked_in_turn in ((undo, drop, undo), (drop, undo, drop)):
        app: App[None] = App()
        async with app.run_test(size=SIZE) as pilot:
            for make in asked_in_turn:
                screen = make()
                await app.push_screen(screen)
                await pilot.pause()
                frame = screen.query_one("#confirm-box").styles.border.top
                want = app.theme_variables["warning" if make is undo else "error"]
                assert frame[1] == Color.parse(want), [m.__name__ for m in asked_in_turn]
                app.pop_screen()
                await pilot.pause()
