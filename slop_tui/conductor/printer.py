"""The headless progress display of `slop run`: a bus subscriber, like the TUI.

On a terminal it keeps a live table (ticket, state, tokens, cost) at the bottom and prints the
moments that matter above it; piped, under `nohup` or in CI it prints plain lines, one per
moment, with no cursor movement and no colour. It reads its own queue, so however slow the
terminal, no worker waits for it, and it sees every event in order.

Titles, commands, paths, outputs and messages come from models, commands and files: every line
goes through `clean_text` (the display sanitiser) on its way out, and table cells are `Text`,
never markup, so no escape sequence or `[link=...]` in them reaches the terminal.

While a human answers a prompt (the clutch or the plan review) the printer is put on `hold`:
lines wait in order and the live table steps aside, so nothing is drawn over the question.
"""

from __future__ import annotations

import asyncio
import copy
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from rich.text import Text

from slop_tui.display import display_text, has_unsafe, sanitize
from slop_tui.words import counted, format_usage, plural
from slop_tui.models import (
    AnyEvent,
    Approve,
    ApproveHunks,
    DecisionMade,
    ErrorRaised,
    FileChanged,
    FilesRestored,
    HintGiven,
    ModelCallRetrying,
    PlanAccepted,
    ProposalMade,
    Reject,
    Edit,
    RunFinished,
    RunStarted,
    Ticket,
    TicketState,
    TicketStateChanged,
    ToolResult,
    Track,
    Usage,
    UsageUpdated,
)

if TYPE_CHECKING:  # a terminal's: imported when one shows the lines and the live table
    from rich.console import Console, Group
    from rich.live import Live

_STATE_STYLE = {
    TicketState.TODO: "dim",
    TicketState.IN_PROGRESS: "cyan",
    TicketState.AWAITING_APPROVAL: "yellow",
    TicketState.DONE: "green",
    TicketState.BLOCKED: "red",
    TicketState.CANCELLED: "magenta",
}


def restored_summary(paths: list[str], limit: int = 300) -> str:
    """`restored 2 files: a.py, b.py`: the one line a `FilesRestored` reads as, here and in
    the TUI. Paths come from the log (a model chose them): sanitised, and clipped."""
    if not paths:
        return "restored no file"
    return f"restored {counted(len(paths), 'file')}: " + _one_line(", ".join(paths), limit)


def _one_line(text: str, limit: int = 160) -> str:
    # Escaped first: `split()` would turn U+2028 or U+001F into a space and hide it.
    flat = " ".join(sanitize(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def clean_text(text: Text) -> Text:
    """`text` with its characters sanitised and its styles kept.

    A printed line is built from pieces, some ours and some a model's; cleaning the whole line
    at the sink means no piece can be forgotten.
    """
    if not has_unsafe(text.plain):
        return text
    cuts = sorted({o for span in text.spans for o in (span.start, span.end)} - {0, len(text)})
    out = text.blank_copy()
    for piece in text.divide(cuts):
        fixed = Text(sanitize(piece.plain))
        for span in piece.spans:  # each covers its whole piece: the cuts are at span edges
            fixed.stylize(span.style)
        out.append_text(fixed)
    return out


class Printer:
    """Consumes one bus queue until it yields None (the bus closed)."""

    def __init__(
        self,
        queue: asyncio.Queue[AnyEvent | None],
        *,
        stream: TextIO | None = None,
        live: bool | None = None,
        tracks: list[Track] | None = None,
    ) -> None:
        """`tracks`: the plan of a run being resumed, whose `PlanAccepted` was logged before."""
        self._queue = queue
        self._stream = stream if stream is not None else sys.stdout
        self.live = stream_is_terminal(self._stream) if live is None else live
        # A terminal's console (rich); plain mode writes each line's text as it is, with no
        # colour codes and no width games, so a log file reads as text.
        self.console: Console | None = None
        if self.live:
            from rich.console import Console

            self.console = Console(file=self._stream, highlight=False, force_terminal=True)
        self._tracks: list[Track] = copy.deepcopy(tracks) if tracks else []
        self._usage_by_ticket: dict[str, Usage] = {
            ticket.id: ticket.usage for track in self._tracks for ticket in track.tickets
        }
        self.total = sum(self._usage_by_ticket.values(), Usage())
        self._held = 0
        self._pending: list[Text] = []
        self._live: Live | None = None  # the live table, on a terminal only
        self.lines_printed = 0

    # -- hold / release around prompts -------------------------------------------------------

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Keep quiet (and hide the live table) while a human answers a question."""
        self._held += 1
        if self._held == 1 and self._live is not None:
            self._live.stop()
            self._live = None
        try:
            yield
        finally:
            self._held -= 1
            if self._held == 0:
                self._flush()

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        for line in pending:
            self._emit_line(line)
        self._refresh()

    # -- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Print until the bus closes. Events already queued are handled as one batch and the
        table is redrawn once per batch: a burst of events costs one redraw, not hundreds."""
        try:
            closed = False
            while not closed:
                batch = [await self._queue.get()]
                while not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                for event in batch:
                    if event is None:
                        closed = True
                        break
                    self.handle(event, refresh=False)
                self._refresh()
        finally:
            if self._live is not None:
                self._live.transient = False  # the last table stays on the screen
                self._live.stop()
                self._live = None

    def handle(self, event: AnyEvent, *, refresh: bool = True) -> None:
        """Update the picture for one event and print its line, if it has one."""
        line = self._line_for(event)
        if line is not None:
            if self._held:
                self._pending.append(line)
            else:
                self._emit_line(line)
        if refresh and not self._held:
            self._refresh()

    def _emit_line(self, line: Text) -> None:
        self.lines_printed += 1
        line = clean_text(line)
        if self._live is not None:
            self._live.console.print(line)
        elif self.console is not None:
            self.console.print(line)
        else:
            line.expand_tabs()  # as a console prints them
            self._stream.write(line.plain + "\n")
            self._stream.flush()

    # -- what each event says ----------------------------------------------------------------

    def _ticket(self, ticket_id: str) -> Ticket | None:
        for track in self._tracks:
            for ticket in track.tickets:
                if ticket.id == ticket_id:
                    return ticket
        return None

    def _line_for(self, event: AnyEvent) -> Text | None:
        if isinstance(event, RunStarted):
            return Text(f"run {event.run_id}: {_one_line(event.prompt)}", style="bold")
        if isinstance(event, PlanAccepted):
            # A copy: the event object is shared with every other subscriber.
            self._tracks = copy.deepcopy(event.tracks)
            n = sum(len(t.tickets) for t in event.tracks)
            text = Text(f"plan accepted: {counted(len(event.tracks), 'track')}, {counted(n, 'ticket')}", style="bold")
            for track in event.tracks:
                text.append(f"\n  track {track.id}: {_one_line(track.title)}")
                for ticket in track.tickets:
                    after = f" (after {', '.join(ticket.depends_on)})" if ticket.depends_on else ""
                    text.append(
                        f"\n    {ticket.id} [{ticket.archetype.value}] "
                        f"{_one_line(ticket.title, 80)}{after}"
                    )
            return text
        if isinstance(event, TicketStateChanged):
            shown = self._ticket(event.ticket_id)
            if shown is not None:
                shown.state = event.new
                shown.blocked_reason = event.reason
            text = Text(f"[{event.ticket_id}] ")
            text.append(event.new.value, style=_STATE_STYLE.get(event.new, ""))
            if event.new in (TicketState.DONE, TicketState.BLOCKED, TicketState.CANCELLED):
                text.append(f" ({format_usage(self._usage_by_ticket.get(event.ticket_id, Usage()))})")
            if event.reason:
                text.append(f": {_one_line(event.reason)}")
            if event.summary:
                text.append(f": {_one_line(event.summary)}")
            return text
        if isinstance(event, UsageUpdated):
            self.total = self.total + event.usage
            if event.ticket_id is not None:
                self._usage_by_ticket[event.ticket_id] = (
                    self._usage_by_ticket.get(event.ticket_id, Usage()) + event.usage
                )
            return None
        if isinstance(event, ProposalMade):
            p = event.proposal
            target = getattr(p.arguments, "path", None) or getattr(p.arguments, "command", None)
            return Text(f"[{p.ticket_id}] proposes {p.tool}" + (f" {_one_line(str(target), 100)}" if target else ""), style="dim")
        if isinstance(event, DecisionMade):
            decision = event.decision
            if isinstance(decision, Reject):
                return Text(f"[{event.ticket_id}] rejected: {_one_line(decision.reason)}", style="yellow")
            if isinstance(decision, Edit):
                return Text(f"[{event.ticket_id}] edited and approved", style="yellow")
            if isinstance(decision, ApproveHunks):
                chosen = ", ".join(str(i + 1) for i in sorted(decision.hunks))
                return Text(
                    f"[{event.ticket_id}] approved {plural(len(decision.hunks), 'hunk')} {chosen} only: "
                    f"{_one_line(decision.reason)}",
                    style="yellow",
                )
            if isinstance(decision, Approve) and decision.always:
                return Text(f"[{event.ticket_id}] always allowed for this run: {_one_line(decision.always)}", style="yellow")
            return None  # approvals are the common case; the result line follows
        if isinstance(event, ToolResult):
            if event.ok:
                return None
            return Text(f"[{event.ticket_id}] {event.tool} failed: {_one_line(event.output, 120)}", style="red")
        if isinstance(event, FileChanged):
            return Text(f"[{event.ticket_id}] changed {_one_line(event.path, 300)}")
        if isinstance(event, FilesRestored):
            return Text(f"[{event.ticket_id}] {restored_summary(event.paths)}", style="yellow")
        if isinstance(event, HintGiven):
            return Text(f"[{event.ticket_id}] hint: {_one_line(event.hint)}", style="yellow")
        if isinstance(event, ModelCallRetrying):  # a slow or failing provider, said as it happens
            where = f"[{event.ticket_id}] " if event.ticket_id else ""
            return Text(f"{where}{event.words()}", style="yellow")
        if isinstance(event, ErrorRaised):
            if event.message.startswith("budget"):  # a spend limit's notice, not a failure
                return Text(_one_line(event.message, 300), style="yellow")
            where = f"[{event.ticket_id}] " if event.ticket_id else ""
            return Text(f"{where}error: {_one_line(event.message, 300)}", style="red")
        if isinstance(event, RunFinished):
            done = sum(1 for t in self._tracks for k in t.tickets if k.state is TicketState.DONE)
            count = sum(len(t.tickets) for t in self._tracks)
            style = "bold green" if event.ok else "bold red"
            tally = f"{done}/{count} {plural(count, 'ticket')} done"
            text = Text(f"run {'finished' if event.ok else 'stopped'}: {tally}, {format_usage(self.total)}", style=style)
            # The session's message starts with the same tally: said once, then what else it says.
            rest = event.message.removeprefix(tally).lstrip(", ") if event.message else ""
            if rest and not event.ok:
                text.append(f": {_one_line(rest, 300)}")
            return text
        return None

    # -- the live table ----------------------------------------------------------------------

    def _refresh(self) -> None:
        if not self.live or self._held or not self._tracks:
            return
        renderable = self._table()
        if self._live is None:
            from rich.live import Live

            self._live = Live(
                renderable,
                console=self.console,
                auto_refresh=False,  # drawn from the event loop only, never from a thread
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        self._live.update(renderable, refresh=True)

    def _table(self) -> Group:
        from rich.console import Group
        from rich.table import Table

        table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
        table.add_column("ticket")
        table.add_column("state")
        table.add_column("title", overflow="ellipsis", no_wrap=True, max_width=48)
        table.add_column("usage", justify="right")
        for track in self._tracks:
            for ticket in track.tickets:
                # Text cells: a str cell would be parsed as markup.
                table.add_row(
                    display_text(ticket.id, one_line=True),
                    Text(ticket.state.value, style=_STATE_STYLE.get(ticket.state, "")),
                    display_text(ticket.title, one_line=True),
                    Text(format_usage(self._usage_by_ticket.get(ticket.id, Usage()))),
                )
        footer = Text(f"total {format_usage(self.total)}", style="bold")
        return Group(table, footer)


def stream_is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
