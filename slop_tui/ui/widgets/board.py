"""The track board: every track and its tickets, one row each, coloured and labelled by state.

A `DataTable` in row-cursor mode: a track's row carries its progress and totals, each ticket's
row its state (a glyph and a word, so nothing depends on colour alone), the worker on it, its
tokens and cost. Updates repaint only the rows an event changed, which keeps a 2,000-ticket
board responsive while events stream in.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.color import Color
from textual.widgets import DataTable

from slop_tui.models import TicketState, Track
from slop_tui.ui.run_view import RunView, TicketView, format_cost, format_tokens

STATE_LOOK: dict[TicketState, tuple[str, str, str]] = {
    # state: (glyph, word, theme variable)
    TicketState.TODO: ("○", "todo", "state-todo"),
    TicketState.IN_PROGRESS: ("●", "running", "state-running"),
    TicketState.AWAITING_APPROVAL: ("◆", "needs you", "state-waiting"),
    TicketState.DONE: ("✔", "done", "state-done"),
    TicketState.BLOCKED: ("✖", "blocked", "state-blocked"),
    TicketState.CANCELLED: ("–", "cancelled", "state-cancelled"),
}

TRACK_PREFIX = "track:"
# Fixed columns: state, worker, tokens, cost; the ticket column takes what is left.
FIXED = (("state", 11), ("worker", 14), ("tokens", 6), ("cost", 6))
CELL_PADDING = 2  # DataTable pads each cell by one column on either side


def state_cell(state: TicketState, styles: dict[str, Style]) -> Text:
    glyph, word, variable = STATE_LOOK[state]
    return Text(f"{glyph} {word}", style=styles.get(variable, Style()), no_wrap=True)


class TicketBoard(DataTable[Text | str]):
    """The board. `rebuild()` after a new plan, `update_rows(keys)` after events."""

    DEFAULT_CSS = """
    TicketBoard { height: 1fr; }
    """
    # DataTable's own Enter binding is hidden; this one shows in the footer what it does here.
    BINDINGS = [Binding("enter", "select_cursor", "open")]

    def __init__(self, view: RunView, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.view = view
        self._styles: dict[str, Style] = {}
        self._title_width = 0

    # -- layout -----------------------------------------------------------------------------

    def _wanted_title_width(self) -> int:
        width = self.size.width or self.app.size.width
        fixed = sum(w + CELL_PADDING for _, w in FIXED) + CELL_PADDING + 1  # + scrollbar
        return max(14, width - fixed)

    def on_resize(self) -> None:
        if self._wanted_title_width() != self._title_width:
            self.rebuild()

    def refresh_styles(self) -> None:
        """Rich styles for the state colours of the current theme (called on theme change)."""
        variables = self.app.theme_variables
        styles: dict[str, Style] = {}
        for _, _, variable in STATE_LOOK.values():
            value = variables.get(variable)
            if value:
                styles[variable] = Style(color=Color.parse(value).rich_color)
        styles["track"] = Style(bold=True)
        self._styles = styles

    # -- content ----------------------------------------------------------------------------

    def selected_key(self) -> str | None:
        """The row key under the cursor (`track:<id>` for a track's row)."""
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def selected_ticket(self) -> TicketView | None:
        key = self.selected_key()
        if key is None or key.startswith(TRACK_PREFIX):
            return None
        return self.view.tickets.get(key)

    def rebuild(self) -> None:
        """Every row again (a new plan, a resize, a theme change); the cursor stays put."""
        if not self._styles:
            self.refresh_styles()
        keep = self.selected_key()
        self._title_width = self._wanted_title_width()
        self.clear(columns=True)
        self.add_column("ticket", width=self._title_width, key="ticket")
        for key, width in FIXED:
            self.add_column(key, width=width, key=key)
        for track in self.view.tracks:
            self.add_row(*self._track_cells(track), key=TRACK_PREFIX + track.id)
            for ticket in track.tickets:
                view = self.view.tickets[f"{track.id}/{ticket.id}"]
                self.add_row(*self._ticket_cells(view), key=view.key)
        if keep is not None and keep in self.rows:
            self.move_cursor(row=self.get_row_index(keep), animate=False)

    def update_rows(self, keys: set[str]) -> None:
        """Repaint the rows of `keys` and their tracks' rows."""
        tracks: set[str] = set()
        for key in keys:
            view = self.view.tickets.get(key)
            if view is None or key not in self.rows:
                continue
            for column, value in zip(("ticket", "state", "worker", "tokens", "cost"), self._ticket_cells(view)):
                self.update_cell(key, column, value)
            tracks.add(view.track_id)
        for track in self.view.tracks:
            if track.id in tracks and TRACK_PREFIX + track.id in self.rows:
                for column, value in zip(("ticket", "state", "worker", "tokens", "cost"), self._track_cells(track)):
                    self.update_cell(TRACK_PREFIX + track.id, column, value)

    def _track_cells(self, track: Track) -> tuple[Text | str, ...]:
        counts = self.view.counts(track)
        total = len(track.tickets)
        usage = self.view.track_usage(track)
        title = Text(f"▸ {track.id} {track.title}", style=self._styles.get("track", Style()), no_wrap=True)
        title.truncate(self._title_width, overflow="ellipsis")
        progress = Text(f"{counts[TicketState.DONE]}/{total} done", no_wrap=True)
        return (title, progress, "", format_tokens(usage.total_tokens), format_cost(usage))

    def _ticket_cells(self, view: TicketView) -> tuple[Text | str, ...]:
        ticket = view.ticket
        title = Text(f"  {ticket.id} {ticket.title}", no_wrap=True)
        title.truncate(self._title_width, overflow="ellipsis")
        running = ticket.state in (TicketState.IN_PROGRESS, TicketState.AWAITING_APPROVAL)
        worker = (view.worker or ticket.assigned_model or "worker") if running else ""
        worker_cell = Text(worker, no_wrap=True)
        worker_cell.truncate(FIXED[1][1], overflow="ellipsis")
        return (
            title,
            state_cell(ticket.state, self._styles),
            worker_cell,
            format_tokens(ticket.usage.total_tokens) if ticket.usage.total_tokens else "",
            format_cost(ticket.usage) if ticket.usage.total_tokens else "",
        )
