"""The main screen: the run's header, the prompt, the track board and the log pane."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static

from slop_tui.ui.run_view import Level, LogEntry, TicketView
from slop_tui.ui.widgets.board import TicketBoard
from slop_tui.ui.widgets.key_footer import KeyFooter
from slop_tui.ui.widgets.log_pane import LogPane
from slop_tui.ui.widgets.run_header import RunHeader

if TYPE_CHECKING:
    from slop_tui.ui.app import SlopApp

LEVEL_CYCLE = (Level.DEBUG, Level.INFO, Level.HINT, Level.WARN, Level.ERROR)
EMPTY = (
    "No run yet. Type what the team should do in the prompt above and press Enter: "
    "a planner cuts it into tracks, a lead into tickets, and every change stops at the clutch."
)


PLANNING = (
    "Planning: the planner (T1) cuts the request into tracks, then the lead (T2) each track into "
    "tickets; the header shows which call is under way and for how long. You review the plan "
    "before anything runs. S cancels."
)


class BoardScreen(Screen[None]):
    CSS_PATH = "board.tcss"
    HELP_TITLE = "board"
    # The footer names each action and follows the state (`p pause` / `p resume`, `S stop`
    # while a run goes on); keys it leaves out for room are listed by `?`, like every key.
    BINDINGS = [
        # Priority like the app's (which is not in the footer); still a character in the prompt.
        Binding("question_mark", "app.help_key", "help", priority=True, tooltip="this list of keys"),
        Binding("c", "clutch", "clutch", tooltip="decide the proposals waiting at the clutch"),
        Binding("r", "retry", "retry", tooltip="run the selected ticket again, with a fresh worker"),
        Binding("x", "cancel_ticket", "cancel", tooltip="stop the selected ticket for good (asks first)"),
        Binding("u", "undo", "undo", tooltip="put back the files the selected ticket changed (asks first)"),
        Binding("p", "pause", "pause", tooltip="start no new ticket; running ones go on"),
        Binding("p", "unpause", "resume", tooltip="start tickets again"),
        Binding(
            "S", "stop_run", "stop",
            tooltip="stop the run or the planning: commands are killed, the run is saved (asks first)",
        ),
        Binding("R", "resume_run", "resume", tooltip="continue the stopped run where it stopped"),
        Binding("f", "filter_ticket", "log: this ticket", show=False, tooltip="show only the selected ticket's log lines (again: all)"),
        Binding("v", "cycle_level", "log: level", show=False, tooltip="the log's lowest level: info, hint, warn, error, debug (every state move)"),
        Binding("s", "toggle_raw", "log: stderr", show=False, tooltip="show a failed command's raw output under its hint"),
        Binding("l", "toggle_linear", "linear", show=False, tooltip="one ticket at a time, every tool call stops at the clutch"),
        Binding("n", "new_run", "new run", show=False, tooltip="to the prompt: type a request, Enter starts a run"),
        Binding("g", "run_branch", "land or drop", show=False, tooltip="the run branch's commits and diff: land it or drop it"),
        Binding("q", "quit", "quit", tooltip="leave slop (asks first while a run goes on)"),
        # Letter keys type into the prompt while it has focus; Esc gives them back to the board.
        Binding("escape", "leave_prompt", "keys to the board", tooltip="letter keys work the board again"),
    ]

    @property
    def slop(self) -> SlopApp:
        return cast("SlopApp", self.app)

    def compose(self) -> ComposeResult:
        app = self.slop
        yield RunHeader(app.view, demo=app.demo, overrides=app.repo_overrides, id="header")
        yield Input(value=app.initial_prompt, placeholder="What should the team do? Enter starts a run", id="prompt")
        yield Static(EMPTY, id="empty", markup=False)
        yield TicketBoard(app.view, id="board")
        yield LogPane(id="log")
        yield KeyFooter(compact=True)

    _footer_state: tuple[bool, bool, bool] | None = None

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._restyle())
        self.refresh_plan()
        self.reset_log()
        if self.slop.view.tracks:
            self.query_one(TicketBoard).focus()
        else:
            self.query_one("#prompt", Input).focus()

    def _restyle(self) -> None:
        board = self.query_one(TicketBoard)
        board.refresh_styles()
        board.rebuild()
        log = self.query_one(LogPane)
        log.refresh_styles()
        log.redraw()

    # -- updates from the app -------------------------------------------------------------------

    def refresh_plan(self) -> None:
        """A new plan (or none): every row again."""
        has_plan = bool(self.slop.view.tracks)
        self.query_one("#empty").display = not has_plan
        board = self.query_one(TicketBoard)
        board.display = has_plan
        board.rebuild()
        self.refresh_header()

    def reset_log(self) -> None:
        """Show the whole of the run's log again (a new run, a replayed one)."""
        self.query_one(LogPane).reset(self.slop.view.log)
        self.slop.log_shown = len(self.slop.view.log)

    def apply_changes(self, changed: set[str], entries: list[LogEntry]) -> None:
        if changed:
            self.query_one(TicketBoard).update_rows(changed)
        if entries:
            self.query_one(LogPane).add(entries)
        self.refresh_header()

    def refresh_header(self) -> None:
        header = self.query_one(RunHeader)
        app = self.slop
        state = (app.running, app.paused, app.can_resume)
        if state != self._footer_state:
            self._footer_state = state
            self.refresh_bindings()  # `p pause` / `p resume`, `S stop` (not per event)
            empty = self.query_one("#empty", Static)
            if empty.display:
                empty.update(PLANNING if app.running else EMPTY)
        header.calls = app.calls
        header.linear, header.paused = app.linear, app.paused
        header.pending = len(app.clutch.pending)
        header.busy = app.busy
        header.always = app.allow_list.rules()
        header.redraw()

    # -- actions -----------------------------------------------------------------------------------

    def _selected(self) -> TicketView | None:
        ticket = self.query_one(TicketBoard).selected_ticket()
        if ticket is None:
            self.notify("Select a ticket row first (arrows, then the key).", severity="warning")
        return ticket

    @on(TicketBoard.Opened)
    def _row_opened(self, event: TicketBoard.Opened) -> None:
        self.action_open_ticket()

    def action_open_ticket(self) -> None:
        view = self._selected()
        if view is not None:
            self.slop.open_ticket(view)

    def action_clutch(self) -> None:
        self.slop.open_clutch()

    def action_retry(self) -> None:
        if (view := self._selected()) is not None:
            self.slop.ticket_action("retry", view)

    def action_cancel_ticket(self) -> None:
        if (view := self._selected()) is not None:
            self.slop.ticket_action("cancel", view)

    def action_undo(self) -> None:
        if (view := self._selected()) is not None:
            self.slop.ticket_action("undo", view)

    def action_toggle_linear(self) -> None:
        self.slop.set_linear(not self.slop.linear)

    def action_pause(self) -> None:
        self.slop.set_paused(True)

    def action_unpause(self) -> None:
        self.slop.set_paused(False)

    def action_stop_run(self) -> None:
        self.slop.ask_stop_run()

    def action_resume_run(self) -> None:
        self.slop.resume_run()

    def action_run_branch(self) -> None:
        self.slop.open_run_end()

    def action_new_run(self) -> None:
        self.query_one("#prompt", Input).focus()

    def action_filter_ticket(self) -> None:
        log = self.query_one(LogPane)
        if log.ticket_filter is not None:
            log.set_filters(ticket=None)
            return
        view = self.query_one(TicketBoard).selected_ticket()
        if view is None:
            self.notify("Select a ticket row to filter the log by it.", severity="warning")
            return
        log.set_filters(ticket=view.ticket.id)

    def action_cycle_level(self) -> None:
        log = self.query_one(LogPane)
        index = LEVEL_CYCLE.index(log.min_level)
        log.set_filters(min_level=LEVEL_CYCLE[(index + 1) % len(LEVEL_CYCLE)])

    def action_toggle_raw(self) -> None:
        log = self.query_one(LogPane)
        log.set_filters(show_raw=not log.show_raw)

    async def action_quit(self) -> None:
        await self.slop.action_quit()

    @on(Input.Submitted, "#prompt")
    def _prompt_submitted(self, event: Input.Submitted) -> None:
        prompt = event.value.strip()
        if not prompt:
            self.notify("Type what the team should do first.", severity="warning")
            return
        if self.slop.start_run(prompt):
            self.query_one(TicketBoard).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        app = self.slop
        if action == "leave_prompt":
            return isinstance(self.focused, Input)
        if action == "pause":
            return not app.paused
        if action == "unpause":
            return app.paused
        if action == "stop_run":
            return app.running
        if action == "resume_run":
            return not app.running and app.can_resume
        return True

    def action_leave_prompt(self) -> None:
        board = self.query_one(TicketBoard)
        if board.display:
            board.focus()
        else:
            self.query_one(LogPane).focus()
