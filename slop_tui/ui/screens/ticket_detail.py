"""One ticket in full: what it is, the context its worker got, the worker's text as it comes,
its event history, and every proposal as a highlighted diff with the decision taken on it.

Nearly all of it is a model's or a command's text: each tab is drawn as sanitised `Text`."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.rule import Rule
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, RichLog, Static, TabbedContent, TabPane

from slop_tui.conductor.printer import clean_text
from slop_tui.display import display_text, sanitize
from slop_tui.models import Approve, Reject
from slop_tui.ui.run_view import TicketView, describe_decision, format_cost, format_tokens
from slop_tui.ui.widgets.board import STATE_LOOK
from slop_tui.ui.widgets.diff_view import DiffView

if TYPE_CHECKING:
    from slop_tui.ui.app import SlopApp

TABS = ("overview", "worker", "events", "diffs")
TAB = Binding.Group("tab")
TICKET = Binding.Group("ticket")


class TicketDetailScreen(Screen[None]):
    CSS_PATH = "ticket_detail.tcss"
    BINDINGS = [
        Binding("escape", "back", "back"),
        Binding("1", "tab('overview')", "overview", group=TAB),
        Binding("2", "tab('worker')", "worker", group=TAB),
        Binding("3", "tab('events')", "events", group=TAB),
        Binding("4", "tab('diffs')", "diffs", group=TAB),
        Binding("c", "clutch", "clutch"),
        Binding("r", "retry", "retry", group=TICKET),
        Binding("x", "cancel_ticket", "cancel", group=TICKET),
        Binding("u", "undo", "undo", group=TICKET),
    ]

    def __init__(self, view: TicketView) -> None:
        super().__init__()
        self.view = view
        self._text_shown = 0

    @property
    def slop(self) -> SlopApp:
        return cast("SlopApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static("", id="detail-title", markup=False)
        with TabbedContent(id="detail-tabs"):
            with TabPane("1 overview", id="overview"):
                with VerticalScroll():
                    yield Static("", id="overview-body", markup=False)
            with TabPane("2 worker", id="worker"):
                yield RichLog(id="worker-text", wrap=True, markup=False, auto_scroll=True)
            with TabPane("3 events", id="events"):
                with VerticalScroll():
                    yield Static("", id="events-body", markup=False)
            with TabPane("4 diffs", id="diffs"):
                with VerticalScroll(id="diffs-scroll"):
                    yield Static("", id="diffs-body", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh_view(full=True))
        self.refresh_view(full=True)

    # -- drawing -------------------------------------------------------------------------------

    def refresh_view(self, *, full: bool = False) -> None:
        view = self.view
        ticket = view.ticket
        glyph, word, _ = STATE_LOOK[ticket.state]
        worker = view.worker or ticket.assigned_model
        title = f"{ticket.id} · {ticket.title} · {glyph} {word}"
        if worker:
            title += f" · {worker}"
        title += f" · {format_tokens(ticket.usage.total_tokens)} tokens {format_cost(ticket.usage)}"
        self.query_one("#detail-title", Static).update(display_text(title, one_line=True))
        self.query_one("#overview-body", Static).update(clean_text(self._overview()))
        self.query_one("#events-body", Static).update(clean_text(self._events()))
        self._draw_diffs()
        log = self.query_one("#worker-text", RichLog)
        if full:
            log.clear()
            self._text_shown = 0
        if self._text_shown == 0 and not view.text:
            log.clear()
            log.write(Text("The worker has not written anything yet.", style="dim"))
            return
        if self._text_shown == 0:
            log.clear()
        # Pieces arrive as the model streams them; join what is new and write it as it came.
        new = "".join(view.text[self._text_shown :])
        if new:
            log.write(display_text(new))
        self._text_shown = len(view.text)

    def _overview(self) -> Text:
        t = self.view.ticket
        out = Text()

        def field(label: str, value: str) -> None:
            out.append(f"{label:<13}", style="bold")
            out.append(sanitize(value) + "\n")

        field("track", self.view.track_id)
        field("archetype", t.archetype.value)
        field("depends on", ", ".join(t.depends_on) or "nothing")
        field("target files", ", ".join(t.target_files) or "none named")
        if self.view.context is not None:
            ctx = self.view.context
            field(
                "context",
                f"{format_tokens(ctx.total_tokens)} tokens in {len(ctx.files)} view(s), "
                f"budget {format_tokens(ctx.budget)}",
            )
            for f in ctx.files:
                note = f": {f.note}" if f.note else ""
                line = f"{f.path} ({f.role}, {f.view}, {format_tokens(f.tokens)} tokens){note}"
                out.append(f"{'':<13}{sanitize(line, one_line=True)}\n")
        else:
            field("context", "not built yet (the worker builds it when the ticket starts)")
        if self.view.files_changed:
            field("changed", ", ".join(self.view.files_changed))
        if t.blocked_reason:
            field("blocked", t.blocked_reason)
        if t.result_summary:
            field("summary", t.result_summary)
        out.append("\n")
        out.append(t.description or "(no description)")
        return out

    def _events(self) -> Text:
        if not self.view.history:
            return Text("No events yet.", style="dim")
        out = Text()
        for entry in self.view.history:
            out.append(f"{entry.seq:>4} ", style="dim")
            out.append(" ".join(sanitize(entry.text).split()) + "\n")
        return out

    def _draw_diffs(self) -> None:
        """A heading and a `DiffView` per proposal, kept across redraws: a long diff is
        highlighted only where it is on screen, and only once."""
        records = self.view.proposals
        body = self.query_one("#diffs-body", Static)
        body.display = not records
        if not records:
            body.update(Text("No proposals yet.", style="dim"))
        scroll = self.query_one("#diffs-scroll", VerticalScroll)
        headings = list(scroll.query(".diff-heading").results(Static))
        views = list(scroll.query(DiffView).results(DiffView))
        for n, record in enumerate(records):
            decision = record.decision
            verdict = "waiting" if decision is None else describe_decision(decision)
            style = "bold green" if isinstance(decision, Approve) else "bold red" if isinstance(decision, Reject) else "bold"
            heading = Rule(display_text(f"proposal {n + 1} · {verdict}", style, one_line=True), align="left")
            if n < len(views):
                headings[n].update(heading)
                if views[n].proposal is not record.proposal:
                    views[n].show(record.proposal)
            else:
                view = DiffView(record.proposal, classes="-inline")
                view.can_focus = False  # the tab scrolls as one; a view taking the keys would stop it
                scroll.mount(Static(heading, classes="diff-heading"), view)

    # -- actions -------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_clutch(self) -> None:
        self.slop.open_clutch()

    def action_retry(self) -> None:
        self.slop.ticket_action("retry", self.view)

    def action_cancel_ticket(self) -> None:
        self.slop.ticket_action("cancel", self.view)

    def action_undo(self) -> None:
        self.slop.ticket_action("undo", self.view)
