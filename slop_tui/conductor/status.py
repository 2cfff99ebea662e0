"""The text of `slop status`: a run's tracks, tickets, states, usage and cost, as plain lines.

Titles, reasons and messages are models' and commands' words: each is one line, sanitised.
"""

from __future__ import annotations

import time
from pathlib import Path

from slop_tui.display import sanitize
from slop_tui.models import TicketState, Tier, Usage
from slop_tui.store import SessionState
from slop_tui.words import format_usage

_ACTIVE = (TicketState.IN_PROGRESS, TicketState.AWAITING_APPROVAL)


def _flat(text: str) -> str:
    """One line, escaped before it is split: U+2028 shown, not turned into a space."""
    return " ".join(sanitize(text).split())


def usage_line(usage: Usage) -> str:
    """`1,200 in, 30,400 cached, 900 out, $0.0123`: cached input is billed at a fraction of
    the input price, so a cost reads only beside the split it comes from."""
    text = f"{usage.input_tokens:,} in, {usage.cache_read_tokens:,} cached"
    if usage.cache_write_tokens:
        text += f", {usage.cache_write_tokens:,} cache-written"
    text += f", {usage.output_tokens:,} out"
    return text + (f", ${usage.cost_usd:.4f}" if usage.cost_usd is not None else ", cost unknown (unpriced)")


def ticket_counts(state: SessionState) -> str:
    """What the tickets stand at, in the states' own words: `3 of 4 done, 1 todo`."""
    tickets = [t for _, t in state.tickets()]
    done = sum(1 for t in tickets if t.state is TicketState.DONE)
    others = [
        f"{n} {s.value}"
        for s in TicketState
        if s is not TicketState.DONE and (n := sum(1 for t in tickets if t.state is s))
    ]
    return ", ".join([f"{done} of {len(tickets)} done", *others])


def run_outcome(state: SessionState, running_pid: int | None = None) -> str:
    """One phrase for where the run stands, with the counts it is based on.

    Worked out from the tickets, not from the run's last `RunFinished`: a finished run whose
    ticket was undone afterwards has work left, and says so (never "every ticket done" next
    to a todo). `running_pid`: the process holding the repository's lock, if one does.
    """
    tickets = [t for _, t in state.tickets()]
    counts = ticket_counts(state)
    if running_pid is not None and not state.finished:
        return f"running now (pid {running_pid}): {counts}"
    if running_pid is not None:  # a TUI left open after its run: it still holds the repository
        return f"{run_outcome(state)}; slop pid {running_pid} has this repository open"
    if not state.tracks:
        return "stopped before its plan was accepted; nothing ran"
    left = [t for t in tickets if t.state not in (TicketState.DONE, TicketState.CANCELLED)]
    if not left:
        if all(t.state is TicketState.DONE for t in tickets):
            return f"finished, every ticket done ({counts})"
        return f"finished: {counts} (cancelled tickets do not run again)"
    if any(t.state in _ACTIVE for t in tickets):
        return f"interrupted: {counts} (`slop resume` continues it)"
    them = "it" if len(left) == 1 else "them"
    if state.finished:
        return f"finished: {counts} (`slop resume` runs {them})"
    return f"not finished: {counts} (`slop resume` continues it)"


def render_status(state: SessionState, running_pid: int | None = None) -> str:
    """`slop status`'s text; `running_pid` is the process running the repository now, if any."""
    lines: list[str] = []
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(state.started_at)) if state.started_at else "?"
    lines.append(f"run {state.run_id} (started {started}): {run_outcome(state, running_pid)}")
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
            if ticket.usage.total_tokens:
                lines.append(f"  {'':<{width}}  tokens: {usage_line(ticket.usage)}")
            if ticket.state is TicketState.BLOCKED and ticket.blocked_reason:
                lines.append(f"  {'':<{width}}  reason: {_flat(ticket.blocked_reason)}")
            if ticket.depends_on:
                lines.append(f"  {'':<{width}}  after: {_flat(', '.join(ticket.depends_on))}")
    lines.append("")
    lines.append(f"usage: {format_usage(state.usage)} ({usage_line(state.usage)})")
    for tier in Tier:
        usage = state.usage_by_tier.get(tier)
        if usage is not None:
            lines.append(f"  {tier.value:<14} {usage_line(usage)}")
    if state.message:
        lines.append(f"last message: {_flat(state.message)}")
    if state.last_error and not state.finished:
        lines.append(f"last error: {_flat(state.last_error)}")
    # The sink: whatever a line above forgot (a run id, a ticket id) is escaped here.
    return sanitize("\n".join(lines)) + "\n"


async def run_branch_steps(repo: Path) -> str:
    """What to do with the run branch checked out in `repo` (one line), or "" in a plain folder
    or on the user's own branch."""
    from slop_tui.vcs import current_run

    run = await current_run(repo)
    if run is None:
        return ""
    return sanitize(
        f"the run is on branch {run.branch} (from {run.base_branch}): `slop diff` shows it, "
        f"`slop land` brings it onto {run.base_branch}, `slop drop` discards it",
        one_line=True,
    )
