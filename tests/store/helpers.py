"""A small run (one track of three tickets) written through a real Store."""

from __future__ import annotations

from pathlib import Path

from slop_tui.models import (
    Archetype,
    PlanAccepted,
    RunStarted,
    Ticket,
    TicketState,
    TicketStateChanged,
    Track,
)
from slop_tui.store import SessionState, Store, replay


def sample_track(track_id: str = "cfg") -> Track:
    return Track(
        id=track_id,
        title="Refactor config",
        tickets=[
            Ticket(id="stub", title="Stub", archetype=Archetype.CONTRACT_STUBBER),
            Ticket(id="impl", title="Implement", depends_on=["stub"]),
            Ticket(id="test", title="Test", archetype=Archetype.TESTER, depends_on=["impl"]),
        ],
    )


def change(ticket: str, old: TicketState, new: TicketState, **kw: object) -> TicketStateChanged:
    return TicketStateChanged(
        ticket_id=ticket, old=old, new=new, track_id="cfg", **kw  # type: ignore[arg-type]
    )


def started_run(repo: Path) -> tuple[Store, SessionState]:
    """A store with RunStarted and PlanAccepted logged and the state saved."""
    store = Store(repo)
    events = [
        store.append(RunStarted(run_id="run-1", prompt="Refactor config")),
        store.append(PlanAccepted(tracks=[sample_track()])),
    ]
    state = replay(events)
    assert state is not None
    store.save_state(state)
    return store, state


def slop_bytes(repo: Path) -> bytes:
    """Everything under `.slop/`, concatenated (for "the key is nowhere" checks)."""
    return b"".join(p.read_bytes() for p in sorted((repo / ".slop").rglob("*")) if p.is_file())
