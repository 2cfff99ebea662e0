"""Two lines above the board: the run and its progress, then what it costs: the total, the
spend against the limits (when set), then tokens and cost per tier (cut first on a narrow
terminal).

While a model call is under way the first line ends with a spinner, the tier, how long the
call has taken, the tool call it is writing ("write_file app/config.py 8.1 KB": a long file
streams for many seconds) and, while it waits to retry, why and for how long ("T1 429, retrying
in 4 s (2/3)"): a slow or hung provider is never a static `planning…`. The spinner's timer runs
only while a call is in flight, so an idle board writes nothing to the terminal. A call that
streams shows the end of its text after the spinner, on the room the line has left, sanitised:
streamed text arrives between frames and is drawn by the spinner's next one, so it adds no
redraws.

When the repository's `.slop.toml` changed a setting, the first line starts with how many (where
no width can cut it off), and the header's tooltip lists each one, sanitised. The run's "always
allow" rules start the second line (a command no one is asked about must be visible), and the
tooltip lists them whole; the palette revokes them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual.timer import Timer
from textual.widget import Widget

from slop_tui.conductor.budget import Budget
from slop_tui.display import sanitize
from slop_tui.models import (
    AnyEvent,
    LiveDelta,
    ModelCallEnded,
    ModelCallRetrying,
    ModelCallStarted,
    ModelTextDelta,
    ModelToolDelta,
    TIER_ROLE,
    TIER_SHORT,
    TicketState,
    Tier,
    Usage,
)
from slop_tui.ui.run_view import RunView, format_cost, format_tokens
from slop_tui.ui.widgets.shown import can_be_seen

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SPIN_S = 0.25  # a frame every quarter second: alive, and a few bytes a second over SSH
# What the header's second line means, for its tooltip and the help screen.
USAGE_LEGEND = (
    "Second line: the run's tokens and cost, the spend against your limits when set, then per "
    "tier, T1 planner, T2 lead, T3 workers, T4 QA (`T1 574 —` = 574 tokens, cache reads "
    "included, no price known for that model: — is unknown, not free)."
)


@dataclass
class _Call:
    started: ModelCallStarted
    seen: float  # the clock when it started, as seen here
    retry: ModelCallRetrying | None = None
    retry_seen: float = 0.0  # the clock when the retry was told, for its countdown
    text: str = ""  # the end of what the call has streamed so far (`TEXT_KEPT` characters)
    tool: ModelToolDelta | None = None  # the tool call it is writing, if any


TEXT_KEPT = 400  # wider than any terminal line: the header shows only a line's worth
MIN_TAIL = 12  # cells; with less room left on the line the streamed text is not shown
_BLANKS = re.compile(r"[ \t\r\n]+")  # ordinary whitespace only: anything else is escaped


def text_tail(text: str, cells: int) -> str:
    """The end of `text` on one line in at most `cells` cells, sanitised, `…` first when cut.

    Cut from the left one sanitised character at a time, so an escape (`\\x1b`) is shown
    whole or not at all."""
    flat = _BLANKS.sub(" ", text).strip()
    if cells <= 0 or not flat:
        return ""
    pieces: list[str] = []
    used = 0
    for ch in reversed(flat):
        piece = sanitize(ch, one_line=True)
        width = cell_len(piece)
        if used + width > cells:
            while pieces and used + 1 > cells:  # room for the ellipsis
                used -= cell_len(pieces.pop())
            return "…" + "".join(reversed(pieces))
        pieces.append(piece)
        used += width
    return "".join(reversed(pieces))


def _size(chars: int) -> str:
    """How much of a tool call has come: `812 B`, `8.1 KB` (characters, near enough bytes)."""
    return f"{chars} B" if chars < 1000 else f"{chars / 1000:.1f} KB"


class ModelCalls:
    """The model calls under way, folded from `ModelCall*` events (the app feeds them)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._calls: dict[int, _Call] = {}

    def __bool__(self) -> bool:
        return bool(self._calls)

    def apply(self, event: AnyEvent | LiveDelta) -> bool:
        """Fold one event (or streamed text, or a tool call's progress) in; True when it was a
        model call's."""
        if isinstance(event, ModelTextDelta):
            call = self._calls.get(event.call)
            if call is not None:
                call.text = (call.text + event.text)[-TEXT_KEPT:]
        elif isinstance(event, ModelToolDelta):
            call = self._calls.get(event.call)
            if call is not None:
                call.tool = event
        elif isinstance(event, ModelCallStarted):
            self._calls[event.call] = _Call(started=event, seen=self.clock())
        elif isinstance(event, ModelCallRetrying):
            call = self._calls.get(event.call)
            if call is not None:
                call.retry, call.retry_seen = event, self.clock()
        elif isinstance(event, ModelCallEnded):
            self._calls.pop(event.call, None)
        else:
            return False
        return True

    def clear(self) -> None:
        """The run ended or was stopped: a cancelled call never says it ended."""
        self._calls.clear()

    def describe(self) -> Text:
        """`⠹ T1 planner 12 s` for the oldest call (`+2` more), with its retry if it waits."""
        call = self._oldest()
        if call is None:
            return Text()
        now = self.clock()
        elapsed = max(0, int(now - call.seen))
        frame = SPINNER[int(now / SPIN_S) % len(SPINNER)]
        tier = call.started.tier
        out = Text()
        out.append(f"{frame} ", style="bold")
        out.append(f"{TIER_SHORT[tier]} {TIER_ROLE[tier]}")
        if call.started.ticket_id:
            out.append(f" {sanitize(call.started.ticket_id, one_line=True)}")
        out.append(f" {elapsed} s")
        if len(self._calls) > 1:
            out.append(f" +{len(self._calls) - 1}")
        tool = call.tool
        if tool is not None:
            out.append(f" · {sanitize(tool.tool, one_line=True)}")
            if tool.path:
                out.append(f" {sanitize(tool.path, one_line=True)}")
            if tool.chars:
                out.append(f" {_size(tool.chars)}")
        retry = call.retry
        if retry is not None:
            left = max(0, round(retry.wait_s - (now - call.retry_seen)))
            what = str(retry.status) if retry.status is not None else "no answer"
            out.append(f" · {what}, retrying in {left} s ({retry.attempt}/{retry.tries})", style="bold")
        return out

    def streamed(self) -> str:
        """What the call `describe` shows has streamed so far (its end), raw."""
        call = self._oldest()
        return call.text if call is not None else ""

    def _oldest(self) -> _Call | None:
        """The call under way longest (the one the header shows), if any."""
        return min(self._calls.values(), key=lambda c: c.seen, default=None)


def retry_line(event: ModelCallRetrying) -> str:
    """The log's words for a retry: `T1 planner: 429, retrying in 4 s (2/3)`."""
    return event.words()


def usage_text(usage: Usage) -> str:
    return f"{format_tokens(usage.total_tokens)} {format_cost(usage)}"


class RunHeader(Widget):
    """A fixed two-line widget that renders itself: an update repaints these two lines only,
    where a `Static.update` would ask for a layout of the whole screen (a 2,000-row table)."""

    DEFAULT_CSS = """
    RunHeader { height: 2; padding: 0 1; background: $panel; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(
        self, view: RunView, *, demo: bool = False, overrides: list[str] | None = None, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self._content = Text()
        self.view = view
        self.demo = demo
        self.overrides = [" ".join(sanitize(line).split()) for line in overrides or []]
        self.always: list[str] = []  # the run's "always allow" rules (`AllowList.rules()`)
        self._tooltip_rules: list[str] | None = None
        self._set_tooltip()
        self.linear = False
        self.paused = False
        self.pending = 0  # proposals waiting at the clutch
        self.busy: str | None = None  # what the conductor is doing when no ticket shows it
        self.calls = ModelCalls()  # the app folds model-call events in
        self.budget: Budget | None = None  # the spend limits; else the app's session's, if any
        self._spinner: Timer | None = None
        self._held = False  # redrawn while another screen covered it: repaint when it is back

    def on_mount(self) -> None:
        self.app.screen_change_signal.subscribe(self, self._screen_changed)
        self.redraw()

    def _screen_changed(self, _screen: object) -> None:
        if self._held and can_be_seen(self):
            self._held = False
            self.refresh()

    def _set_tooltip(self) -> None:
        if self._tooltip_rules == self.always:
            return  # a redraw per event batch: the tooltip only when the rules change
        self._tooltip_rules = list(self.always)
        lines = [USAGE_LEGEND]
        lines += [f"repository override: {line}" for line in self.overrides]
        lines += [f"always allowed: {sanitize(rule, one_line=True)}" for rule in self.always]
        self.tooltip = Text("\n".join(lines))

    def redraw(self) -> None:
        view = self.view
        line = Text()
        if self.demo:
            line.append(" offline demo ", style="reverse bold")
            line.append(" ")
        if self.overrides:
            line.append(f"repo overrides: {len(self.overrides)}", style="bold reverse")
            line.append(" · ")
        counts = view.counts()
        total = sum(counts.values())
        if total:
            line.append(f"{counts[TicketState.DONE]}/{total} done", style="bold")
            for state, word in (
                (TicketState.IN_PROGRESS, "running"),
                (TicketState.AWAITING_APPROVAL, "need you"),
                (TicketState.BLOCKED, "blocked"),
            ):
                if counts[state]:
                    line.append(f" · {counts[state]} {word}")
        elif self.busy:
            line.append(self.busy, style="bold")
        else:
            line.append("no run yet", style="dim")
        if self.calls:
            line.append(" · ")
            line.append_text(self.calls.describe())
        streamed = self.calls.streamed() if self.calls else ""
        rest = Text()
        if self.pending:
            rest.append(f" · clutch: {self.pending} waiting", style="bold reverse")
        if self.linear:
            rest.append(" · linear")
        if self.paused:
            rest.append(" · paused", style="bold")
        if view.finished is not None:
            rest.append(" · finished" if view.finished.ok else " · finished with problems", style="bold")
        if streamed:
            # Next to its spinner, on the room the rest of the line leaves (never pushing it off).
            room = self.size.width - 2 - line.cell_len - rest.cell_len - 1
            tail = text_tail(streamed, room) if room >= MIN_TAIL else ""
            if tail:
                line.append(" ")
                line.append(tail, style="italic")
        line.append_text(rest)
        usage = Text(style="dim" if not view.total.total_tokens else "")
        if self.always:
            rules = ", ".join(sanitize(rule, one_line=True) for rule in self.always)
            usage.append(f"always allowed: {rules}", style="bold reverse")
            usage.append("  ")
        self._set_tooltip()
        # The money before the tiers' split: at 80 columns the split is what gets cut.
        usage.append(f"total {usage_text(view.total)}", style="bold")
        against = self._budget_text(view)
        if against:
            usage.append(f" · budget {against}", style="bold")
        usage.append(" │ ")
        usage.append("  ".join(f"{TIER_SHORT[t]} {usage_text(view.tier_usage.get(t, Usage()))}" for t in Tier))
        both = Text("\n").join([line, usage])  # each line cut with `…`, never wrapped (the CSS)
        self._content = both
        self._held = not can_be_seen(self)
        if not self._held:
            self.refresh()
        self._spin(bool(self.calls))

    def _budget_text(self, view: RunView) -> str:
        """The spend against the limits, when the session driving the app has any."""
        budget = self.budget
        if budget is None:
            try:
                budget = getattr(getattr(self.app, "session", None), "budget", None)
            except Exception:  # not mounted in an app (yet): nothing to show
                return ""
        if not isinstance(budget, Budget):
            return ""
        return budget.header(view.total, (t.ticket.usage for t in view.tickets.values()))

    def _spin(self, on: bool) -> None:
        """Redraw on a timer while a call is under way (the elapsed time moves), never idle."""
        if on and self._spinner is None and self.is_attached:
            self._spinner = self.set_interval(SPIN_S, self.redraw)
        elif not on and self._spinner is not None:
            self._spinner.stop()
            self._spinner = None

    def render(self) -> Text:
        return self._content
