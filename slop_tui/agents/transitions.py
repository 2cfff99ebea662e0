"""Ticket moves as events: run the state machine's mutator, return the event that says so.

Callers publish the returned event (through the bus, which writes it ahead to the store)
before they do anything that depends on the new state, so what the log says and what the
ticket is never disagree for longer than one `await`.
"""

from __future__ import annotations

from slop_tui.models import TRANSITIONS, Ticket, TicketState, TicketStateChanged


def transition(
    ticket: Ticket,
    move: str,
    *,
    track_id: str | None = None,
    reason: str | None = None,
    summary: str | None = None,
    model: str | None = None,
) -> TicketStateChanged:
    """Apply `move` (a mutator name of `models.TRANSITIONS`) to `ticket`; return the event.

    `reason` is required by `mark_blocked` and recorded for any other move (why a ticket was
    cancelled or interrupted); `summary` is what `mark_complete` stores; `model` is the model
    a `start` assigns. An illegal move raises `IllegalTransition` and changes nothing.
    """
    if move not in TRANSITIONS:
        raise ValueError(f"unknown ticket move {move!r} (known: {', '.join(TRANSITIONS)})")
    if move == "mark_blocked":
        old = ticket.mark_blocked(reason or "")
    elif move == "mark_complete":
        old = ticket.mark_complete(summary)
    else:
        old = getattr(ticket, move)()
    if move == "start" and model is not None:
        ticket.assigned_model = model
    new = ticket.state
    return TicketStateChanged(
        ticket_id=ticket.id,
        old=old,
        new=new,
        track_id=track_id,
        reason=ticket.blocked_reason if new is TicketState.BLOCKED else reason,
        summary=ticket.result_summary if new is TicketState.DONE else None,
        model=model if move == "start" else None,
    )
