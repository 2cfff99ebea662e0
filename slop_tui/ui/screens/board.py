"""The main screen: the run's header, the prompt, the track board and the log pane."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from slop_tui.ui.run_view import Level, LogEntry, TicketView
from slop_tui.ui.widgets.board import TicketBoard
from slop_tui.ui.widgets.log_pane import LogPane
from slop_tui.ui.widgets.run_header import RunHeader

if TYPE_CHECKING:
    from slop_tui.ui.app import SlopApp

TICKET = Binding.Group("ticket")  # retry, cancel, undo the selected ticket
LOG = Binding.Group("log")  # filter by the selected ticket, cycle the level, show raw stderr
RUN = Binding.Group("run")  # linear mode, pause dispatch, new run, the run branch (land or drop)
LEVEL_CYCLE = (Level.INFO, Level.HINT, Level.WARN, Level.ERROR)
EMPTY = (
    "No run yet. Type what the team should do in the prompt above and press Enter: "
    "a planner cuts it into tracks, a lead into tickets, and every change stops at the clutch."
)


class BoardScreen(Screen[None]):
    CSS_PATH = "board.tcss"
    BINDINGS = [
        Binding("c", "clutch", "clutch"),
        Binding("r", "retry", "retry", group=TICKET),
        Binding("x", "cancel_ticket", "cancel", group=TICKET),
        Binding("u", "undo", "undo", group=TICKET),
        Binding("f", "filter_ticket", "ticket", group=LOG),
        Binding("v", "cycle_level", "level", group=LOG),
        Binding("s", "toggle_raw", "stderr", group=LOG),
        Binding("l", "toggle_linear", "linear", group=RUN),
        Binding("p", "toggle_pause", "pause", group=RUN),
        Binding("n", "new_run", "new run", group=RUN),
        Binding("g", "run_branch", "land or drop the run branch", group=RUN),
        Binding("q", "quit", "quit"),
        # Letter keys type into the prompt while it has focus; Esc gives them back to the board.
        Binding("escape", "leave_prompt", "keys to the board"),
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
        yield Footer()

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

    def action_toggle_pause(self) -> None:
        self.slop.set_paused(not self.slop.paused)

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
        await self.app.action_quit()

    @on(Input.Submitted, "#prompt")
    def _prompt_submitted(self, event: Input.Submitted) -> None:
        prompt = event.value.strip()
        if not prompt:
            self.notify("Type what the team should do first.", severity="warning")
            return
        if self.slop.start_run(prompt):
            self.query_one(TicketBoard).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "leave_prompt":
            return isinstance(self.focused, Input)
        return True

    def action_leave_prompt(self) -> None:
        board = self.query_one(TicketBoard)
        if board.display:
            board.focus()
        else:
            self.query_one(LogPane).focus()
