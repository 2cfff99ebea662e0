"""Plan review: the tracks and tickets Tier 1 and Tier 2 proposed, before any ticket runs.

The person can edit a ticket (title, description, target files, dependencies), delete one,
send the plan back with a comment, or start it. Every change is checked as the conductor will
check it (`check_edited_plan`: ids, dependencies, no cycle), and refused inline if it breaks
the plan, so what is started is always a valid DAG.

Titles, descriptions, ids and file names are a model's: every cell is a sanitised `Text` (a
str cell would be parsed as markup), and the editors open on the sanitised text, so what the
person edits and starts is what they were shown.
"""

from __future__ import annotations

import copy

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Input, Label, Static, TextArea

from slop_tui.conductor.plan_check import check_edited_plan
from slop_tui.conductor.planning import PlanReview
from slop_tui.display import display_text, sanitize
from slop_tui.errors import SlopError
from slop_tui.models import Ticket, Track
from slop_tui.ui.screens.confirm import ConfirmScreen
from slop_tui.ui.widgets.key_footer import KeyFooter
from slop_tui.words import counted, verb

PLAN = Binding.Group("ticket")


def split_list(text: str) -> list[str]:
    """`a.py, b.py` or `a.py b.py` as a list, blanks dropped, order kept, duplicates removed."""
    out: list[str] = []
    for part in text.replace(",", " ").split():
        if part not in out:
            out.append(part)
    return out


class TicketEditScreen(ModalScreen[Ticket]):
    """Edit one ticket; `ctrl+s` checks the whole plan with the change and saves it."""

    CSS_PATH = "plan_review.tcss"
    BINDINGS = [
        Binding("ctrl+s", "save", "save", priority=True),
        Binding("escape", "cancel", "cancel"),
    ]

    def __init__(self, tracks: list[Track], track_index: int, ticket_index: int) -> None:
        super().__init__()
        self.tracks = tracks
        self.track_index = track_index
        self.ticket_index = ticket_index
        self.ticket = tracks[track_index].tickets[ticket_index]

    def compose(self) -> ComposeResult:
        t = self.ticket
        with Vertical(id="edit-ticket-box"):
            yield Static(display_text(f"Edit ticket {t.id} ({t.archetype.value})", one_line=True), id="edit-ticket-title")
            yield Label("title")
            yield Input(sanitize(t.title, one_line=True), id="edit-title")
            yield Label("target files (separated by spaces or commas)")
            yield Input(sanitize(", ".join(t.target_files), one_line=True), id="edit-files")
            yield Label("depends on (ticket ids)")
            yield Input(sanitize(", ".join(t.depends_on), one_line=True), id="edit-deps")
            yield Label("description")
            yield TextArea(sanitize(t.description), id="edit-description", soft_wrap=True)
            yield Static("", id="edit-ticket-error", classes="error", markup=False)
        yield KeyFooter()

    def action_save(self) -> None:
        title = self.query_one("#edit-title", Input).value.strip()
        edited = copy.deepcopy(self.ticket)
        edited.title = title
        edited.description = self.query_one("#edit-description", TextArea).text.strip()
        edited.target_files = split_list(self.query_one("#edit-files", Input).value)
        edited.depends_on = split_list(self.query_one("#edit-deps", Input).value)
        trial = copy.deepcopy(self.tracks)
        trial[self.track_index].tickets[self.ticket_index] = edited
        error = self.query_one("#edit-ticket-error", Static)
        try:
            if not title:
                raise SlopError(f"ticket {edited.id!r}: the title is empty")
            check_edited_plan(trial)
        except SlopError as exc:
            error.update(display_text(str(exc)))
            error.add_class("-shown")
            return
        self.dismiss(edited)

    def action_cancel(self) -> None:
        self.app.pop_screen()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_save()


class PlanReviewScreen(Screen[PlanReview]):
    CSS_PATH = "plan_review.tcss"
    BINDINGS = [
        Binding("s", "start", "start run"),
        Binding("e", "edit", "edit", group=PLAN),
        Binding("d", "delete", "delete", group=PLAN),
        Binding("b", "send_back", "send back"),
        Binding("escape", "back", "back", show=False),
        Binding("q", "abort", "abort run"),
    ]

    def __init__(self, tracks: list[Track], *, error: str | None = None) -> None:
        super().__init__()
        self.tracks = copy.deepcopy(tracks)
        self.initial_error = error
        self.commenting = False

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="plan-title", markup=False)
        yield DataTable(id="plan-table", cursor_type="row")
        yield Static("", id="plan-detail", markup=False)
        yield Static(
            display_text(self.initial_error or ""),
            id="plan-error",
            classes="error -shown" if self.initial_error else "error",
        )
        with Vertical(id="comment-box"):
            yield Label("What should the planner change? Enter sends the plan back, Esc cancels.")
            yield Input(placeholder="comment (required)", id="plan-comment")
        yield KeyFooter()

    def _title(self) -> str:
        n = sum(len(t.tickets) for t in self.tracks)
        return (
            f"Plan review · {counted(len(self.tracks), 'track')}, {counted(n, 'ticket')} · "
            "nothing runs until you start it"
        )

    def on_mount(self) -> None:
        self._fill()
        self.query_one("#plan-table", DataTable).focus()

    def on_resize(self) -> None:
        self._fill()

    def _widths(self) -> dict[str, int]:
        """Each column's width, set rather than measured (a measured column keeps the widest
        cell it ever held): the id, after and kind columns whole, the title what they leave."""
        tickets = [t for track in self.tracks for t in track.tickets]

        def widest(cells: list[str], header: str) -> int:
            return max([len(sanitize(c, one_line=True)) for c in cells] + [len(header)])

        widths = {
            "ticket": widest([f"  {t.id}" for t in tickets] + [f"▸ {tr.id}" for tr in self.tracks], "ticket"),
            "after": widest([", ".join(t.depends_on) or "—" for t in tickets], "after"),
            "kind": widest([t.archetype.value for t in tickets], "kind"),
            "files": widest([", ".join(t.target_files) or "—" for t in tickets], "files"),
        }
        cell_padding = 2 * 5
        room = self.size.width - widths["ticket"] - widths["after"] - widths["kind"] - cell_padding - 2
        full = widest([t.title for t in tickets] + [tr.title for tr in self.tracks], "title")
        widths["title"] = min(full, max(16, room))
        return widths

    def _fill(self) -> None:
        table = self.query_one("#plan-table", DataTable)
        self.query_one("#plan-title", Static).update(self._title())
        keep = table.cursor_row
        table.clear(columns=True)
        widths = self._widths()
        # The id and what it waits for come first: they are what a person checks the order by,
        # so no width crops them; the title gets the room left, and the rest scrolls.
        for key in ("ticket", "after", "title", "kind", "files"):
            table.add_column(key, key=key, width=widths[key])

        def title(text: str, style: str = "") -> Text:
            cell = display_text(text, style, one_line=True)
            cell.truncate(widths["title"], overflow="ellipsis")
            return cell

        for ti, track in enumerate(self.tracks):
            table.add_row(
                display_text(f"▸ {track.id}", "bold", one_line=True), "", title(track.title, "bold"), "", "",
                key=f"track:{ti}",
            )
            for ki, ticket in enumerate(track.tickets):
                table.add_row(
                    display_text(f"  {ticket.id}", one_line=True),
                    display_text(", ".join(ticket.depends_on) or "—", one_line=True),
                    title(ticket.title),
                    Text(ticket.archetype.value),
                    display_text(", ".join(ticket.target_files) or "—", one_line=True),
                    key=f"ticket:{ti}:{ki}",
                )
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1), animate=False)
        self._show_detail()

    def _selected(self) -> tuple[int, int] | None:
        table = self.query_one("#plan-table", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or ""
        if not key.startswith("ticket:"):
            return None
        _, ti, ki = key.split(":")
        return int(ti), int(ki)

    @on(DataTable.RowHighlighted, "#plan-table")
    def _show_detail(self) -> None:
        where = self._selected()
        detail = self.query_one("#plan-detail", Static)
        if where is None:
            table = self.query_one("#plan-table", DataTable)
            if table.row_count:
                key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or ""
                track = self.tracks[int(key.split(":")[1])]
                detail.update(display_text(track.description or "(no description)"))
            return
        ticket = self.tracks[where[0]].tickets[where[1]]
        # The table crops long cells at the screen's edge; the detail shows the ticket whole.
        lines = [
            f"{ticket.id} · {' '.join(ticket.title.split())}",
            f"files: {', '.join(ticket.target_files) or '—'} · after: {', '.join(ticket.depends_on) or '—'}",
            ticket.description or "(no description)",
        ]
        detail.update(display_text("\n".join(lines)))

    def _error(self, message: str) -> None:
        error = self.query_one("#plan-error", Static)
        error.update(display_text(message))
        error.set_class(bool(message), "-shown")

    # -- actions -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("start", "edit", "delete", "send_back", "abort"):
            return not self.commenting
        return True

    def action_start(self) -> None:
        try:
            check_edited_plan(self.tracks)
        except SlopError as exc:
            self._error(str(exc))
            return
        self.dismiss(PlanReview.accept(copy.deepcopy(self.tracks)))

    def action_edit(self) -> None:
        where = self._selected()
        if where is None:
            self._error("Select a ticket row to edit it.")
            return

        def done(edited: Ticket | None) -> None:
            if edited is not None:
                self.tracks[where[0]].tickets[where[1]] = edited
                self._error("")
                self._fill()

        self.app.push_screen(TicketEditScreen(self.tracks, *where), callback=done)

    def action_delete(self) -> None:
        where = self._selected()
        if where is None:
            self._error("Select a ticket row to delete it.")
            return
        track = self.tracks[where[0]]
        ticket = track.tickets[where[1]]
        dependents = [t.id for t in track.tickets if ticket.id in t.depends_on]
        if dependents:
            self._error(
                f"{ticket.id} cannot go: {', '.join(dependents)} {verb(len(dependents), 'depends', 'depend')} "
                f"on it; edit {'its' if len(dependents) == 1 else 'their'} dependencies first"
            )
            return

        def answered(yes: bool | None) -> None:  # asked first: a deleted ticket is gone for the run
            if not yes:
                return
            del track.tickets[where[1]]
            if not track.tickets:
                del self.tracks[where[0]]
            self._error("")
            self._fill()

        question = sanitize(f"Delete ticket {ticket.id} from the plan?", one_line=True)
        self.app.push_screen(ConfirmScreen(question, "It will not run; s starts the rest.", yes="delete"), answered)

    def action_send_back(self) -> None:
        self.commenting = True
        self.query_one("#comment-box").add_class("-shown")
        self.query_one("#plan-comment", Input).focus()
        self.refresh_bindings()

    def action_back(self) -> None:
        if self.commenting:
            self.commenting = False
            self.query_one("#comment-box").remove_class("-shown")
            self.query_one("#plan-table").focus()
            self.refresh_bindings()

    def action_abort(self) -> None:
        def answered(yes: bool | None) -> None:  # asked first: the planning spent is lost
            if yes:
                self.dismiss(PlanReview.abort("stopped at plan review"))

        detail = "Nothing runs; a new run plans again from the start."
        self.app.push_screen(ConfirmScreen("Abort the run at plan review?", detail, yes="abort"), answered)

    @on(Input.Submitted, "#plan-comment")
    def _comment(self, event: Input.Submitted) -> None:
        comment = event.value.strip()
        if not comment:
            self._error("Say what should change: the planner reads the comment.")
            return
        self.dismiss(PlanReview.revise(comment))
