"""The track board: every track and its tickets, one line each, coloured and labelled by state.

A line-API `ScrollView`, not a `DataTable`: each row is rendered once into a cached `Strip` and
re-rendered only when what it shows changes, and a cursor move repaints two lines. A table that
re-renders every visible cell after any update could not keep a 2,000-ticket board responsive
while hundreds of events a second stream in. A track's row carries its progress and totals; a
ticket's row its state (a glyph and a word, so nothing depends on colour alone), the worker on
it, its tokens and cost, and a ✦ before its title once QA gave its worker a hint. The column
header stays at the top while the rows scroll. Titles and worker labels are sanitised to one
line: a model's title cannot draw on the terminal.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.color import Color
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from slop_tui.display import display_text, sanitize
from slop_tui.models import TicketState, Track
from slop_tui.ui.run_view import RunView, TicketView, format_cost_fine, format_tokens
from slop_tui.ui.widgets.shown import can_be_seen

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
# Fixed columns after the ticket's: name, width. The ticket column takes what is left.
FIXED = (("state", 11), ("worker", 14), ("tokens", 6), ("cost", 7))
GAP = 2
HINT_MARK = "✦ "  # before the title of a ticket QA gave a hint on
MIN_TITLE = 14


def state_cell(state: TicketState, styles: dict[str, Style]) -> Text:
    glyph, word, variable = STATE_LOOK[state]
    return Text(f"{glyph} {word}", style=styles.get(variable, Style()), no_wrap=True)


class TicketBoard(ScrollView, can_focus=True):
    """The board. `rebuild()` after a new plan, `update_rows(keys)` after events."""

    HELP_TITLE = "ticket list"

    DEFAULT_CSS = """
    TicketBoard { height: 1fr; }
    """
    BINDINGS = [
        Binding("enter", "open", "open", show=False, tooltip="the selected ticket's detail: its worker, events and diffs"),
        Binding("up", "cursor(-1)", "up", show=False, tooltip="select a row (or click it; a click on the selected row opens it)"),
        Binding("down", "cursor(1)", "down", show=False),
        Binding("pageup", "page(-1)", "page up", show=False),
        Binding("pagedown", "page(1)", "page down", show=False),
        Binding("home", "jump(0)", "first", show=False),
        Binding("end", "jump(-1)", "last", show=False),
    ]

    cursor_row: reactive[int] = reactive(0, repaint=False, init=False)

    class Opened(Message):
        """Enter (or a click on the selected row) on a row."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def __init__(self, view: RunView, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = view
        self.keys: list[str] = []  # row keys in display order
        self._index: dict[str, int] = {}
        self._strips: dict[str, Strip] = {}  # rendered rows, without the cursor
        self._cells: dict[str, tuple[Text, ...]] = {}
        self._styles: dict[str, Style] = {}
        self._title_width = MIN_TITLE
        self._width = 0
        self._held = False  # rows changed while another screen covered the board (`shown.py`)

    def on_mount(self) -> None:
        self.app.screen_change_signal.subscribe(self, self._screen_changed)

    def _screen_changed(self, _screen: object) -> None:
        if self._held and can_be_seen(self):
            self._held = False
            self.refresh()

    # -- geometry -------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self.keys)

    def _content_width(self) -> int:
        return self.scrollable_content_region.width or self.size.width or self.app.size.width

    def on_resize(self, event: events.Resize) -> None:
        if self._content_width() != self._width:
            self._relayout()

    def _relayout(self) -> None:
        self._width = self._content_width()
        fixed = sum(w + GAP for _, w in FIXED)
        self._title_width = max(MIN_TITLE, self._width - fixed - 1)
        self._strips.clear()
        self.virtual_size = Size(self._width, len(self.keys) + 1)
        self.refresh()

    def refresh_styles(self) -> None:
        """Styles from the current theme (called on mount and on a theme change)."""
        variables = self.app.theme_variables
        styles: dict[str, Style] = {}
        for _, _, variable in STATE_LOOK.values():
            value = variables.get(variable)
            if value:
                styles[variable] = Style(color=Color.parse(value).rich_color)
        styles["track"] = Style(bold=True)
        styles["header"] = Style(bold=True, dim=True)

        def colour(name: str, fallback: str) -> Color:
            try:
                return Color.parse(variables.get(name) or fallback)
            except ValueError:  # values like "auto 87%" are relative, not colours
                return Color.parse(fallback)

        styles["hint"] = Style(color=colour("accent", "ansi_cyan").rich_color, bold=True)
        cursor = colour("block-cursor-background", "ansi_blue")
        styles["cursor"] = Style(bgcolor=cursor.rich_color, color=cursor.get_contrast_text().rich_color, bold=True)
        styles["cursor-blurred"] = Style(bgcolor=colour("block-cursor-blurred-background", "ansi_bright_black").rich_color)
        self._styles = styles
        self._strips.clear()
        self._cells.clear()
        self.refresh()

    # -- content --------------------------------------------------------------------------------

    def selected_key(self) -> str | None:
        if not self.keys:
            return None
        return self.keys[min(self.cursor_row, len(self.keys) - 1)]

    def selected_ticket(self) -> TicketView | None:
        key = self.selected_key()
        if key is None or key.startswith(TRACK_PREFIX):
            return None
        return self.view.tickets.get(key)

    def rebuild(self) -> None:
        """Every row again (a new plan); the cursor stays on the same row key if it still exists."""
        if not self._styles:
            self.refresh_styles()
        keep = self.selected_key()
        keys: list[str] = []
        for track in self.view.tracks:
            keys.append(TRACK_PREFIX + track.id)
            keys.extend(f"{track.id}/{t.id}" for t in track.tickets)
        self.keys = keys
        self._index = {k: i for i, k in enumerate(keys)}
        self._cells.clear()
        self._relayout()
        target = self._index.get(keep, 0) if keep is not None else 0
        self.set_reactive(TicketBoard.cursor_row, min(target, max(0, len(keys) - 1)))
        self._scroll_to_cursor()

    def update_rows(self, keys: set[str]) -> None:
        """Repaint the rows of `keys` and their tracks' rows, if what they show changed."""
        tracks: set[str] = set()
        for key in keys:
            view = self.view.tickets.get(key)
            if view is not None and key in self._index:
                self._maybe_repaint(key)
                tracks.add(view.track_id)
        for track_id in tracks:
            self._maybe_repaint(TRACK_PREFIX + track_id)

    def _maybe_repaint(self, key: str) -> None:
        if key not in self._cells:
            self._strips.pop(key, None)  # never drawn yet: drawn when it scrolls into view
            return
        cells = self._cells_for(key)
        if cells != self._cells[key]:
            self._cells[key] = cells
            self._strips.pop(key, None)
            if can_be_seen(self):
                self.refresh_line(self._index[key] + 1)
            else:
                self._held = True

    def _cells_for(self, key: str) -> tuple[Text, ...]:
        if key.startswith(TRACK_PREFIX):
            track_id = key[len(TRACK_PREFIX) :]
            track = next(t for t in self.view.tracks if t.id == track_id)
            return self._track_cells(track)
        return self._ticket_cells(self.view.tickets[key])

    def _track_cells(self, track: Track) -> tuple[Text, ...]:
        counts = self.view.counts(track)
        usage = self.view.track_usage(track)
        return (
            Text(sanitize(f"▸ {track.id} {track.title}", one_line=True), style=self._styles.get("track", Style())),
            Text(f"{counts[TicketState.DONE]}/{len(track.tickets)} done"),
            Text(""),
            Text(format_tokens(usage.total_tokens)),
            Text(format_cost_fine(usage)),
        )

    def _ticket_cells(self, view: TicketView) -> tuple[Text, ...]:
        ticket = view.ticket
        running = ticket.state in (TicketState.IN_PROGRESS, TicketState.AWAITING_APPROVAL)
        worker = (view.worker or ticket.assigned_model or "worker") if running else ""
        used = ticket.usage.total_tokens
        title = display_text(f"  {ticket.id} ", one_line=True)
        if view.hints:
            # QA stepped in on this one: worth a look at its events, even once it is done.
            title.append(HINT_MARK, style=self._styles.get("hint", Style()))
        title.append_text(display_text(ticket.title, one_line=True))
        return (
            title,
            state_cell(ticket.state, self._styles),
            display_text(worker, one_line=True),
            Text(format_tokens(used) if used else ""),
            Text(format_cost_fine(ticket.usage) if used else ""),
        )

    # -- rendering ------------------------------------------------------------------------------

    def _line(self, cells: tuple[Text, ...], base: Style) -> Strip:
        widths = (self._title_width, *(w for _, w in FIXED))
        line = Text(style=base, no_wrap=True, end="")
        for index, (cell, width) in enumerate(zip(cells, widths)):
            piece = cell.copy()
            piece.truncate(width, overflow="ellipsis", pad=True)
            line.append_text(piece)
            if index < len(widths) - 1:
                line.append(" " * GAP)
        segments = list(line.render(self.app.console))
        return Strip(segments).adjust_cell_length(self._width, base)

    def render_line(self, y: int) -> Strip:
        base = self.rich_style
        if y == 0:
            header = tuple(Text(name) for name in ("ticket", *(n for n, _ in FIXED)))
            return self._line(header, base + self._styles.get("header", Style()))
        index = self.scroll_offset.y + y - 1
        if index >= len(self.keys):
            return Strip([Segment(" " * self._width, base)], self._width)
        key = self.keys[index]
        strip = self._strips.get(key)
        if strip is None:
            cells = self._cells.get(key)
            if cells is None:
                cells = self._cells[key] = self._cells_for(key)
            strip = self._strips[key] = self._line(cells, base)
        if index == self.cursor_row:
            style = self._styles["cursor"] if self.has_focus else self._styles["cursor-blurred"]
            strip = strip.apply_style(style)
        return strip

    # -- cursor ---------------------------------------------------------------------------------

    def watch_cursor_row(self, old: int, new: int) -> None:
        self.refresh_line(old + 1)
        self.refresh_line(new + 1)
        self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        visible = max(1, self.scrollable_content_region.height - 1)
        top = self.scroll_offset.y
        row = self.cursor_row
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + visible:
            self.scroll_to(y=row - visible + 1, animate=False, immediate=True)

    def move_cursor(self, row: int) -> None:
        if self.keys:
            self.cursor_row = max(0, min(row, len(self.keys) - 1))

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self.cursor_row + direction * max(1, self.scrollable_content_region.height - 2))

    def action_jump(self, row: int) -> None:
        self.move_cursor(row if row >= 0 else len(self.keys) - 1)

    def action_open(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.post_message(self.Opened(key))

    def on_click(self, event: events.Click) -> None:
        if event.y < 1:
            return
        row = self.scroll_offset.y + event.y - 1
        if row < len(self.keys):
            if row == self.cursor_row:
                self.action_open()
            self.move_cursor(row)

    def on_focus(self) -> None:
        self.refresh_line(self.cursor_row + 1)

    def on_blur(self) -> None:
        self.refresh_line(self.cursor_row + 1)
