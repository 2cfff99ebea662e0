"""One ticket in full: what it is, the context its worker got, the worker's text as it comes,
its event history, every proposal as a highlighted diff with the decision taken on it, and
the latest request it sent (in memory only: the running session's `RequestLog`).

Nearly all of it is a model's or a command's text: each tab is drawn as sanitised `Text`."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.rule import Rule
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import RichLog, Static, TabbedContent, TabPane

from slop_tui.conductor.printer import clean_text
from slop_tui.display import display_text, sanitize
from slop_tui.models import Approve, ApproveHunks, Reject, Tier
from slop_tui.providers.base import SCRIPTED_LABEL
from slop_tui.providers.scripted import priced_as
from slop_tui.ui.run_view import (
    Level,
    LogEntry,
    TicketView,
    describe_decision,
    format_breakdown,
    format_cost,
    format_tokens,
)
from slop_tui.ui.widgets.board import STATE_LOOK
from slop_tui.ui.widgets.diff_view import DiffView
from slop_tui.ui.widgets.key_footer import KeyFooter
from slop_tui.ui.widgets.request_view import RequestView
from slop_tui.words import counted

if TYPE_CHECKING:
    from slop_tui.ui.app import SlopApp

TABS = ("overview", "worker", "events", "diffs", "request")
TAB = Binding.Group("tab")


LIVE_ROWS = 6  # rows of the reply still streaming shown under the worker's turns (its end)
EVENT_CHARS = 160  # one line of the events tab; the payloads are in the other tabs
LEVEL_LOOK = {Level.DEBUG: ("", "dim"), Level.INFO: ("", "dim"),
              Level.HINT: ("hint", "bold cyan"), Level.WARN: ("warn", "bold yellow"),
              Level.ERROR: ("error", "bold red")}


def event_line(entry: LogEntry) -> Text:
    """One event as one readable line: its number, its level when it matters, and the first
    line of its text, cut short (a whole payload belongs to the diffs and worker tabs)."""
    word, style = LEVEL_LOOK[entry.level]
    first = next((line for line in sanitize(entry.text).splitlines() if line.strip()), "")
    text = " ".join(first.split())
    if len(text) > EVENT_CHARS or len(sanitize(entry.text).strip().splitlines()) > 1:
        text = text[:EVENT_CHARS].rstrip() + " …"
    line = Text(f"{entry.seq:>5} ", style="dim")
    line.append(f"{word:<6}", style=style)
    line.append(text)
    return line


class TicketDetailScreen(Screen[None]):
    CSS_PATH = "ticket_detail.tcss"
    BINDINGS = [
        Binding("escape", "back", "back"),
        Binding("1", "tab('overview')", "overview", group=TAB),
        Binding("2", "tab('worker')", "worker", group=TAB),
        Binding("3", "tab('events')", "events", group=TAB),
        Binding("4", "tab('diffs')", "diffs", group=TAB),
        Binding("5", "tab('request')", "request", group=TAB),
        Binding("c", "clutch", "clutch"),
        Binding("r", "retry", "retry"),
        Binding("x", "cancel_ticket", "cancel"),
        Binding("u", "undo", "undo"),
    ]

    def __init__(self, view: TicketView) -> None:
        super().__init__()
        self.view = view
        self._written: list[str] = []  # the turns the worker tab shows, as they were drawn
        self._waiting: bool | None = None  # the tab says nothing was written yet (None: unknown)

    @property
    def slop(self) -> SlopApp:
        return cast("SlopApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static("", id="detail-title", markup=False)
        with TabbedContent(id="detail-tabs"):
            with TabPane("1 overview", id="overview"):
                with VerticalScroll(classes="pane-scroll"):
                    yield Static("", id="overview-body", markup=False)
            with TabPane("2 worker", id="worker"):
                yield RichLog(id="worker-text", wrap=True, markup=False, auto_scroll=True, classes="pane-scroll")
                live = Static("", id="worker-live", markup=False)
                live.border_title = "writing…"
                live.display = False
                yield live
            with TabPane("3 events", id="events"):
                with VerticalScroll(classes="pane-scroll"):
                    yield Static("", id="events-body", markup=False)
            with TabPane("4 diffs", id="diffs"):
                with VerticalScroll(id="diffs-scroll", classes="pane-scroll"):
                    yield Static("", id="diffs-body", markup=False)
            with TabPane("5 request", id="request"):
                yield RequestView(self.view.ticket.id, id="request-view", classes="pane-scroll")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh_view(full=True))
        self.refresh_view(full=True)
        self.call_after_refresh(self._focus_pane)

    @on(TabbedContent.TabActivated)
    def _focus_pane(self) -> None:
        """The open tab's scrolling body takes the keys, so the arrows and page keys scroll it
        at once (focus on the tab strip would keep them); 1-5 still switch tabs."""
        active = self.query_one(TabbedContent).active
        self._draw_request(showing=active == "request")
        for widget in self.query(f"#{active} .pane-scroll"):
            widget.focus()
            return

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
        self._draw_request(force=full)
        self.refresh_worker(full=full)

    def refresh_worker(self, *, full: bool = False) -> None:
        """The worker tab: its turns, then the end of the reply still streaming, under them.

        The streaming reply has a few rows of its own rather than a turn in the log: a log
        only appends, so a growing turn would redraw the whole log (and the whole tab over
        SSH) ten times a second; its rows alone cost a few hundred bytes."""
        view = self.view
        self._draw_live()
        log = self.query_one("#worker-text", RichLog)
        if not view.text:
            waiting = not view.live.strip()  # nothing yet, not even a reply on its way
            if full or self._written or (waiting and not log.lines) or waiting is not self._waiting:
                log.clear()
                if waiting:
                    log.write(Text("The worker has not written anything yet.", style="dim"))
            self._written, self._waiting = [], waiting
            return
        self._waiting = None
        if full or not self._written or view.text[: len(self._written)] != self._written:
            log.clear()  # a turn still arriving grew: drawn again (a log only appends)
            self._written = []
        # One entry per turn of the worker's, a rule between turns, so two replies never run
        # together into one paragraph.
        for n in range(len(self._written), len(view.text)):
            if n:
                log.write(Rule(style="dim"))
            log.write(display_text(view.text[n].strip("\n")))
        self._written = list(view.text)

    def _draw_request(self, *, showing: bool | None = None, force: bool = False) -> None:
        view = self.query_one(RequestView)
        if showing is not None:
            view.showing = showing
        session = self.slop.session  # a replayed run has none
        view.use(session.requests if session is not None else None)
        if force:
            view.redraw(force=True)

    def _draw_live(self) -> None:
        live = self.query_one("#worker-live", Static)
        text = self.view.live.strip("\n")
        live.display = bool(text.strip())
        if not live.display:
            return
        width = max(live.size.width or self.size.width - 2, 20)
        rows = display_text(text).wrap(self.app.console, width)
        shown = Text("\n").join(rows[-LIVE_ROWS:])
        shown.stylize("italic")
        live.update(shown)

    def _overview(self) -> Text:
        t = self.view.ticket
        out = Text()

        def field(label: str, value: str) -> None:
            out.append(f"{label:<13}", style="bold")
            out.append(sanitize(value) + "\n")

        field("track", self.view.track_id)
        field("archetype", t.archetype.value)
        field("depends on", ", ".join(t.depends_on) or "nothing")
        field("usage", format_breakdown(t.usage))
        if self.view.worker == SCRIPTED_LABEL and t.usage.cost_usd is not None:
            # An offline team costs nothing: say whose prices the figure borrows.
            stand_ins = [f"{who} as {model}" for who, tier in (("worker", Tier.WORKER), ("QA", Tier.DEFAULT_CHEAP))
                         if (model := priced_as(tier))]
            field("priced as", ", ".join(stand_ins) + " (the scripted team's stand-ins)")
        field("target files", ", ".join(t.target_files) or "none named")
        if self.view.context is not None:
            ctx = self.view.context
            field(
                "context",
                f"{format_tokens(ctx.total_tokens)} tokens in {counted(len(ctx.files), 'view')}, "
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
        out = Text(no_wrap=True, overflow="ellipsis")
        for entry in self.view.history:
            out.append(event_line(entry))
            out.append("\n")
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
            verdict = "waiting" if decision is None else describe_decision(decision, record.proposal)
            style = "bold green" if isinstance(decision, (Approve, ApproveHunks)) else "bold red" if isinstance(decision, Reject) else "bold"
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
