"""The text of `slop status`: a run's tracks, tickets, states, usage and cost, as plain lines.

Titles, reasons and messages are models' and commands' words: each is one line, sanitised.
"""

from __future__ import annotations

import time

from slop_tui.conductor.printer import format_usage
from slop_tui.display import sanitize
from slop_tui.models import TicketState, Tier
from slop_tui.store import SessionState

_ACTIVE = (TicketState.IN_PROGRESS, TicketState.AWAITING_APPROVAL)


def _flat(text: str) -> str:
    """One line, escaped before it is split: U+2028 shown, not turned into a space."""
    return " ".join(sanitize(text).split())


def run_outcome(state: SessionState) -> str:
    """One phrase for where the run stands."""
    tickets = [t for _, t in state.tickets()]
    if state.finished:
        return "finished, every ticket done" if state.ok else "finished with tickets not done"
    if not state.tracks:
        return "stopped before its plan was accepted"
    if any(t.state in _ACTIVE for t in tickets):
        return "interrupted (`slop resume` continues it)"
    return "not finished (`slop resume` continues it)"


def render_status(state: SessionState) -> str:
    lines: list[str] = []
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(state.started_at)) if state.started_at else "?"
    lines.append(f"run {state.run_id} (started {started}): {run_outcome(state)}")
    lines.append(f"request: {_flat(state.prompt)}")
    tickets = [t for _, t in state.tickets()]
    counts = {s: sum(1 for t in tickets if t.state is s) for s in TicketState}
    shown = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
    lines.append(f"tickets: {len(tickets)}" + (f" ({shown})" if shown else ""))
    for number, track in enumerate(state.tracks, start=1):
        lines.append("")
        lines.append(f"track {number}: {_flat(track.id)} - {_flat(track.title)}")
        width = max((len(t.id) for t in track.tickets), default=4)
        for ticket in track.tickets:
            row = (
                f"  {ticket.id:<{width}}  {ticket.state.value:<17}  {ticket.archetype.value:<16}  "
                f"{format_usage(ticket.usage):>18}  {_flat(ticket.title)}"
            )
            lines.append(row)
            if ticket.state is TicketState.BLOCKED and ticket.blocked_reason:
                lines.append(f"  {'':<{width}}  reason: {_flat(ticket.blocked_reason)}")
            if ticket.depends_on:
                lines.append(f"  {'':<{width}}  after: {_flat(', '.join(ticket.depends_on))}")
    lines.append("")
    lines.append(f"usage: {format_usage(state.usage)}")
    for tier in Tier:
        usage = state.usage_by_tier.get(tier)
        if usage is not None:
            lines.append(
                f"  {tier.value:<14} {usage.input_tokens:,} in, {usage.output_tokens:,} out"
                + (f", ${usage.cost_usd:.4f}" if usage.cost_usd is not None else "")
            )
    if state.message:
        lines.append(f"last message: {_flat(state.message)}")
    if state.last_error and not state.finished:
        lines.append(f"last error: {_flat(state.last_error)}")
    # The sink: whatever a line above forgot (a run id, a ticket id) is escaped here.
    return sanitize("\n".join(lines)) + "\n"
