"""Two lines above the board: the run and its progress, then tokens and cost per tier and in total.

When the repository's `.slop.toml` changed a setting, the first line starts with how many (where
no width can cut it off), and the header's tooltip lists each one, sanitised. The run's "always
allow" rules start the second line (a command no one is asked about must be visible), and the
tooltip lists them whole; the palette revokes them.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from slop_tui.display import sanitize
from slop_tui.models import TicketState, Tier, Usage
from slop_tui.ui.run_view import RunView, format_cost, format_tokens

TIER_SHORT = {Tier.PLANNER: "T1", Tier.LEAD: "T2", Tier.WORKER: "T3", Tier.DEFAULT_CHEAP: "T4"}


def usage_text(usage: Usage) -> str:
    return f"{format_tokens(usage.total_tokens)} {format_cost(usage)}"


class RunHeader(Widget):
    """A fixed two-line widget that renders itself: an update repaints these two lines only,
    where a `Static.update` would ask for a layout of the whole screen (a 2,000-row table)."""

    DEFAULT_CSS = """
    RunHeader { height: 2; padding: 0 1; background: $panel; }
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

    def on_mount(self) -> None:
        self.redraw()

    def _set_tooltip(self) -> None:
        if self._tooltip_rules == self.always:
            return  # a redraw per event batch: the tooltip only when the rules change
        self._tooltip_rules = list(self.always)
        lines = [f"repository override: {line}" for line in self.overrides]
        lines += [f"always allowed: {sanitize(rule, one_line=True)}" for rule in self.always]
        self.tooltip = Text("\n".join(lines)) if lines else None

    def redraw(self) -> None:
        view = self.view
        line = Text(no_wrap=True, overflow="ellipsis")
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
        if self.pending:
            line.append(f" · clutch: {self.pending} waiting", style="bold reverse")
        if self.linear:
            line.append(" · linear")
        if self.paused:
            line.append(" · paused", style="bold")
        if view.finished is not None:
            line.append(" · finished" if view.finished.ok else " · finished with problems", style="bold")
        line.append(f" · total {usage_text(view.total)}", style="bold")
        usage = Text(no_wrap=True, overflow="ellipsis", style="dim" if not view.total.total_tokens else "")
        if self.always:
            rules = ", ".join(sanitize(rule, one_line=True) for rule in self.always)
            usage.append(f"always allowed: {rules}", style="bold reverse")
            usage.append("  ")
        self._set_tooltip()
        usage.append("  ".join(f"{TIER_SHORT[t]} {usage_text(view.tier_usage.get(t, Usage()))}" for t in Tier))
        both = Text("\n").join([line, usage])
        both.no_wrap = True
        both.overflow = "ellipsis"
        self._content = both
        self.refresh()

    def render(self) -> Text:
        return self._content
