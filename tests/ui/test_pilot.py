"""The TUI driven as a person would (Textual's pilot), on a real session with the scripted
provider: approve, reject with a reason, edit (invalid then valid), cancel, undo, linear
stepping, resume after a restart, a config problem, the remembered theme."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.geometry import Spacing
from textual.pilot import Pilot
from textual.widgets import Static, TextArea

from slop_tui.models import ContextBuilt, ContextFile, DecisionMade, Reject, TicketState, ToolResult
from slop_tui.store import Store
from slop_tui.ui.app import SlopApp
from slop_tui.ui.bridge import EDITED_NOTE
from slop_tui.ui.screens.clutch import ClutchScreen
from slop_tui.ui.screens.doctor import DoctorScreen
from slop_tui.ui.screens.plan_review import PlanReviewScreen
from slop_tui.ui.screens.resume import ResumeScreen
from slop_tui.ui.widgets.board import TicketBoard
from tests.ui.helpers import sample_events, screen_text, wait_for
from tests.ui.scenario import CALC_V1, CALC_V2, NOTES, app_on, make_repo

SIZE = (100, 30)
OnClutch = Callable[[Pilot[Any], ClutchScreen], Awaitable[bool]]


async def approve(pilot: Pilot[Any], screen: ClutchScreen) -> bool:
    await pilot.press("a")
    return True


async def run_to_end(pilot: Pilot[Any], app: SlopApp, on_clutch: OnClutch = approve, timeout: float = 30) -> None:
    """Start the run on the prefilled prompt, start the plan, answer every clutch."""
    await pilot.press("enter")
    await drive(pilot, app, on_clutch, timeout=timeout)


async def drive(pilot: Pilot[Any], app: SlopApp, on_clutch: OnClutch = approve, timeout: float = 30) -> None:
    loop = __import__("asyncio").get_running_loop()
    deadline = loop.time() + timeout
    while not (not app.running and app.view.finished is not None):
        assert loop.time() < deadline, "the run did not finish"
        await pilot.pause(0.03)
        if isinstance(app.screen, PlanReviewScreen):
            await pilot.press("s")
        elif isinstance(app.screen, ClutchScreen):
            await on_clutch(pilot, app.screen)


def states(app: SlopApp) -> dict[str, TicketState]:
    return {v.ticket.id: v.ticket.state for v in app.view.tickets.values()}


async def select(pilot: Pilot[Any], app: SlopApp, ticket_id: str) -> None:
    board = app.board.query_one(TicketBoard)
    board.focus()
    board.move_cursor(board.keys.index(f"calc/{ticket_id}"))
    await pilot.pause()


async def test_approve_every_change(tmp_path: Path) -> None:
    repo, env = make_repo(tmp_path)
    app = app_on(repo, env, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(pilot, app)
        assert states(app) == {"a": TicketState.DONE, "b": TicketState.DONE, "c": TicketState.DONE}
        assert app.view.finished is not None and app.view.finished.ok
        assert "3/3 done" in screen_text(app)
        # The detail shows the context the worker was given: which views, how many tokens,
        # exactly as the worker published it.
        b = app.view.tickets["calc/b"]
        assert b.context is not None and b.context.total_tokens > 0
        assert [(f.path, f.role, f.view) for f in b.context.files][:1] == [("calc.py", "target", "curated")]
        logged = [e for e in Store(repo).events() if isinstance(e, ContextBuilt) and e.ticket_id == "b"]
        assert logged == [b.context]
        await select(pilot, app, "b")
        await pilot.press("enter")
        await pilot.pause()
        text = screen_text(app)
        assert "calc.py (target, curated" in text and "sub written" in text
    assert (repo / "calc.py").read_text() == CALC_V2
    assert (repo / "notes.md").read_text() == NOTES


async def test_reject_needs_a_reason_and_the_worker_reads_it(tmp_path: Path) -> None:
    repo, env = make_repo(tmp_path)
    app = app_on(repo, env, tmp_path)
    refused_empty = False

    async def on_clutch(pilot: Pilot[Any], screen: ClutchScreen) -> bool:
        nonlocal refused_empty
        if screen.proposal.ticket_id == "c" and screen.proposal.tool == "write_file":
            await pilot.press("r", "enter")  # no reason: refused inline, still open
            await pilot.pause()
            assert app.screen is screen
            error = screen.query_one("#reject-error", Static)
            assert "reason is required" in str(error.render())
            # The clutch's own style, whatever screen was shown before (plan review's `.error`
            # is padded, and its stylesheet was loaded first).
            assert error.styles.padding == Spacing(0, 0, 0, 0)
            refused_empty = True
            await pilot.press(*"not in this run", "enter")
            return True
        return await approve(pilot, screen)

    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(pilot, app, on_clutch)
        assert refused_empty
        assert any("rejected (not in this run)" in e.text for e in app.view.log)
    assert not (repo / "notes.md").exists()
    events = Store(repo).events()
    assert any(isinstance(e, DecisionMade) and isinstance(e.decision, Reject) and e.decision.reason == "not in this run" for e in events)
    assert any(isinstance(e, ToolResult) and e.ticket_id == "c" and "not in this run" in e.output for e in events)


async def test_edit_invalid_then_valid_redraws_the_diff(tmp_path: Path) -> None:
    repo, env = make_repo(tmp_path)
    app = app_on(repo, env, tmp_path)
    seen_redraw = False

    async def on_clutch(pilot: Pilot[Any], screen: ClutchScreen) -> bool:
        nonlocal seen_redraw
        p = screen.proposal
        if p.ticket_id == "c" and p.tool == "write_file" and screen.note is None:
            await pilot.press("e")
            await pilot.pause()
            editor = screen.query_one("#edit-json", TextArea)  # the JSON editor, really mounted
            assert '"path": "notes.md"' in editor.text and '"tool"' not in editor.text
            editor.text = '{"path": "notes.md", "content": 42}'
            await pilot.press("ctrl+s")
            await pilot.pause()
            assert app.screen is screen
            assert "Expected `str`, got `int`" in str(screen.query_one("#edit-error", Static).render())
            editor.text = '{"path": "notes.md", "content": "# Edited\\n"}'
            await pilot.press("ctrl+s")
            return True
        if p.ticket_id == "c" and p.tool == "write_file":
            # The re-proposal of the edit comes first, with its diff redrawn from the payload.
            assert screen.note == EDITED_NOTE
            assert "+# Edited" in p.diff
            assert "+# Edited" in screen_text(app)
            seen_redraw = True
        return await approve(pilot, screen)

    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(pilot, app, on_clutch)
    assert seen_redraw
    assert (repo / "notes.md").read_text() == "# Edited\n"


async def test_look_elsewhere_then_come_back_to_the_same_proposal(tmp_path: Path) -> None:
    repo, env = make_repo(tmp_path)
    app = app_on(repo, env, tmp_path)
    came_back = False

    async def on_clutch(pilot: Pilot[Any], screen: ClutchScreen) -> bool:
        nonlocal came_back
        if not came_back:
            first = screen.proposal.id
            await pilot.press("escape")  # look elsewhere: nothing decided, nothing lost
            await pilot.pause(0.2)
            assert not isinstance(app.screen, ClutchScreen)  # and it does not pop up again by itself
            assert "waiting" in screen_text(app)
            await pilot.press("c")
            await pilot.pause()
            assert isinstance(app.screen, ClutchScreen) and app.screen.proposal.id == first
            came_back = True
        return await approve(pilot, app.screen)  # type: ignore[arg-type]

    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(pilot, app, on_clutch)
        assert came_back and app.view.finished is not None and app.view.finished.ok


async def test_cancel_a_ticket_waiting_at_the_clutch(tmp_path: Path) -> None:
    repo, env = make_repo(tmp_path)
    app = app_on(repo, env, tmp_path)
    cancelled = False

    async def on_clutch(pilot: Pilot[Any], screen: ClutchScreen) -> bool:
        nonlocal cancelled
        if screen.proposal.ticket_id == "c" and not cancelled:
            await pilot.press("escape")  # look elsewhere: it stays queued
            await pilot.pause()
            assert not isinstance(app.screen, ClutchScreen)
            assert any(item.proposal.ticket_id == "c" for item in app.clutch.pending)
            assert "clutch:" in screen_text(app) and "waiting" in screen_text(app)
            await select(pilot, app, "c")
            await pilot.press("x", "y")  # asked first
            await wait_for(lambda: states(app)["c"] is TicketState.CANCELLED, pilot=pilot)
            assert not any(item.proposal.ticket_id == "c" for item in app.clutch.pending)
            cancelled = True
            await pilot.press("c")  # back to the clutch for the others
            return True
        return await approve(pilot, screen)

    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(pilot, app, on_clutch)
        assert cancelled
        assert states(app) == {"a": TicketState.DONE, "b": TicketState.DONE, "c": TicketState.CANCELLED}
    assert not (repo / "notes.md").exists()
    assert (repo / "calc.py").read_text() == CALC_V2


async def test_undo_restores_files_and_refuses_to_lose_later_work(tmp_path: Path) -> None:
    repo, env = make_repo(tmp_path)
    app = app_on(repo, env, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(pilot, app)
        await select(pilot, app, "c")
        await pilot.press("u", "y")  # asked first
        await wait_for(lambda: states(app)["c"] is TicketState.TODO, pilot=pilot)
        assert not (repo / "notes.md").exists()
        # b changed calc.py after a: undoing a alone would lose b's work, so it is refused.
        await select(pilot, app, "a")
        await pilot.press("u", "y")  # asked first
        await pilot.pause(0.3)
        assert states(app)["a"] is TicketState.DONE
        assert (repo / "calc.py").read_text() == CALC_V2
        await select(pilot, app, "b")
        await pilot.press("u", "y")  # asked first
        await wait_for(lambda: states(app)["b"] is TicketState.TODO, pilot=pilot)
        assert (repo / "calc.py").read_text() == CALC_V1


async def test_linear_mode_steps_one_ticket_and_every_call(tmp_path: Path) -> None:
    repo, env = make_repo(tmp_path, read_first=True)
    app = app_on(repo, env, tmp_path)
    tools: list[str] = []

    async def on_clutch(pilot: Pilot[Any], screen: ClutchScreen) -> bool:
        active = [t for t, s in states(app).items() if s in (TicketState.IN_PROGRESS, TicketState.AWAITING_APPROVAL)]
        assert len(active) <= 1, active
        tools.append(screen.proposal.tool)
        return await approve(pilot, screen)

    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "l")  # from the prompt to the board, then linear on
        assert app.linear and "linear" in screen_text(app)
        await pilot.press("n", "enter")  # back to the prompt, start
        await drive(pilot, app, on_clutch)
    # Reads and finishes stop at the clutch too in linear mode.
    assert tools[0] == "list_files"
    assert tools.count("finish") == 3


async def test_resume_after_a_restart(tmp_path: Path) -> None:
    repo, env = make_repo(tmp_path)
    first = app_on(repo, env, tmp_path)
    async with first.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        answered = 0
        while answered < 2:
            await pilot.pause(0.03)
            if isinstance(first.screen, PlanReviewScreen):
                await pilot.press("s")
            elif isinstance(first.screen, ClutchScreen):
                await pilot.press("a")
                answered += 1
        await wait_for(lambda: isinstance(first.screen, ClutchScreen), pilot=pilot)
        # Quit with a proposal waiting and tickets running.
    state = Store(repo).load_state()
    assert state is not None and not state.finished

    second = app_on(repo, env, tmp_path)
    async with second.run_test(size=SIZE) as pilot:
        await wait_for(lambda: isinstance(second.screen, ResumeScreen), pilot=pilot)
        assert "Build calc" in screen_text(second)
        await pilot.press("r")
        await drive(pilot, second)
        assert states(second) == {"a": TicketState.DONE, "b": TicketState.DONE, "c": TicketState.DONE}
        # The replayed log shows what happened before the restart too.
        assert any(e.seq == 1 for e in second.view.log)
    assert (repo / "calc.py").read_text() == CALC_V2
    assert (repo / "notes.md").read_text() == NOTES


async def test_the_detail_shows_the_context_from_the_log_alone() -> None:
    """No session, no repository: what the detail shows can only come from the event."""
    files = [
        ContextFile(path="app/config.py", role="target", view="curated", tokens=640),
        ContextFile(path="app/storage.py", role="import", view="omitted", tokens=0, note="over the context budget"),
    ]
    events = sample_events()
    events.append(
        ContextBuilt(ticket_id="impl-config", track_id="config", files=files, total_tokens=2100, budget=12000,
                     seq=len(events) + 1, at=0.0)
    )
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None, demo=True, replay=events)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        text = screen_text(app)
        assert "impl-config" in text
        assert "2.1k tokens in 2 views, budget 12.0k" in text
        assert "app/config.py (target, curated, 640 tokens)" in text
        assert "app/storage.py (import, omitted, 0 tokens): over the context budget" in text


async def test_a_missing_key_shows_the_fix_not_a_crash(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {"SLOP_CONFIG_DIR": str(tmp_path / "empty-config")}  # built-in defaults, no key
    app = app_on(repo, env, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: isinstance(app.screen, DoctorScreen), pilot=pilot)
        text = screen_text(app)
        assert "no API key" in text and "export" in text
        await pilot.press("escape")  # the board, its prompt not focused (`q` quits, not types)
        await pilot.press("n", "enter")  # n: the prompt; a run cannot start: the doctor comes back
        await pilot.pause()
        assert isinstance(app.screen, DoctorScreen)


async def test_theme_choice_is_remembered(tmp_path: Path) -> None:
    repo, env = make_repo(tmp_path)
    app = app_on(repo, env, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "slop-dark"
        app.switch_theme("slop-light")
        await pilot.pause()
    again = app_on(repo, env, tmp_path)
    async with again.run_test(size=SIZE) as pilot:
        assert again.theme == "slop-light"


async def test_plan_review_edit_delete_then_start(tmp_path: Path) -> None:
    from slop_tui.ui.screens.plan_review import TicketEditScreen
    from textual.widgets import DataTable, Input

    repo, env = make_repo(tmp_path)
    app = app_on(repo, env, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, PlanReviewScreen), pilot=pilot)
        review = app.screen
        table = review.query_one("#plan-table", DataTable)
        table.move_cursor(row=3)  # track, a, b, c
        await pilot.press("e")
        await wait_for(lambda: isinstance(app.screen, TicketEditScreen), pilot=pilot)
        editor = app.screen
        editor.query_one("#edit-deps", Input).value = "c"  # a cycle: refused inline
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is editor and "depends on itself" in screen_text(app)
        editor.query_one("#edit-deps", Input).value = ""
        editor.query_one("#edit-title", Input).value = "Write the notes"
        await pilot.press("ctrl+s")
        await wait_for(lambda: app.screen is review, pilot=pilot)
        table.move_cursor(row=1)
        await pilot.press("d")  # a: b depends on it, refused
        await pilot.pause()
        assert "b depends on it" in screen_text(app)
        table.move_cursor(row=2)
        await pilot.press("d", "y")  # b: nothing depends on it (asked first)
        await pilot.pause()
        assert "Write sub" not in screen_text(app) and "Write the notes" in screen_text(app)
        await pilot.press("s")
        await drive(pilot, app)
        assert states(app) == {"a": TicketState.DONE, "c": TicketState.DONE}
        assert app.view.tickets["calc/c"].ticket.title == "Write the notes"
    assert (repo / "calc.py").read_text() == CALC_V1


async def test_palette_switches_the_theme(tmp_path: Path) -> None:
    repo, env = make_repo(tmp_path)
    app = app_on(repo, env, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "ctrl+p")
        await pilot.pause()
        await pilot.press(*"Theme: slop-light")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(lambda: app.theme == "slop-light", pilot=pilot)
    assert (tmp_path / "prefs" / "ui.toml").read_text().count("slop-light") == 1


async def test_the_header_shows_the_repository_overrides(tmp_path: Path) -> None:
    from slop_tui.ui.launch import build_app
    from slop_tui.ui.widgets.run_header import RunHeader

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".slop.toml").write_text("[run]\ncommand_timeout_s = 5\nworker_steps = 3\n")
    app = build_app(repo, env={"SLOP_CONFIG_DIR": str(tmp_path / "config")}, prefs_env={"SLOP_CONFIG_DIR": str(tmp_path / "config")})
    assert len(app.repo_overrides) == 2
    app.repo_overrides.append("a hostile line \x1b]0;title\x07 [@click=app.quit]x[/]")
    app.config_problem = None  # the board, not the doctor: no key is configured here
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert screen_text(app).splitlines()[0].lstrip().startswith("repo overrides: 3")
        tooltip = app.board.query_one(RunHeader).tooltip
        shown = getattr(tooltip, "plain", str(tooltip))
        assert "repository override: .slop.toml: run.command_timeout_s" in shown
        assert "\\x1b]0;title\\x07 [@click=app.quit]x[/]" in shown and "\x1b" not in shown
