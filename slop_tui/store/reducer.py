"""The session state and its reducer: the state is a fold of the event log."""

from __future__ import annotations

import copy
from collections.abc import Iterable

import msgspec

from slop_tui.models import (
    AnyEvent,
    ErrorRaised,
    PlanAccepted,
    RunFinished,
    RunStarted,
    Ticket,
    TicketState,
    TicketStateChanged,
    Tier,
    Track,
    Usage,
    UsageUpdated,
)

STATE_VERSION = 1


class SessionState(msgspec.Struct, kw_only=True):
    """One run as a checkpoint: what `slop status` shows and `slop resume` continues."""

    version: int = STATE_VERSION
    run_id: str
    prompt: str
    tracks: list[Track] = msgspec.field(default_factory=list)
    last_seq: int = 0  # the seq of the last event this state includes
    finished: bool = False
    ok: bool | None = None  # set with `finished`
    message: str = ""  # RunFinished's message
    last_error: str | None = None
    started_at: float = 0.0
    updated_at: float = 0.0
    usage: Usage = msgspec.field(default_factory=Usage)  # every tier, every call
    usage_by_tier: dict[Tier, Usage] = msgspec.field(default_factory=dict)

    def tickets(self) -> list[tuple[Track, Ticket]]:
        """Every ticket with its track, tracks in plan order."""
        return [(track, ticket) for track in self.tracks for ticket in track.tickets]

    def find_ticket(self, ticket_id: str, track_id: str | None = None) -> tuple[Track, Ticket]:
        """The ticket named `ticket_id` (in `track_id` when given); `KeyError` if absent.

        Ticket ids are unique within a track only, so without a track an id that two tracks
        share is ambiguous and raises `KeyError` too.
        """
        found = [
            (track, ticket)
            for track, ticket in self.tickets()
            if ticket.id == ticket_id and (track_id is None or track.id == track_id)
        ]
        if len(found) != 1:
            raise KeyError(ticket_id)
        return found[0]


def apply_event(
    state: SessionState | None, event: AnyEvent, warnings: list[str] | None = None
) -> SessionState | None:
    """Apply one event to `state` in place (or start a new one) and return the state.

    The log is the truth, so a state change is set, not checked against the state machine.
    Events before the first `RunStarted` belong to no run and are ignored.
    """
    if isinstance(event, RunStarted):
        return SessionState(
            run_id=event.run_id,
            prompt=event.prompt,
            last_seq=event.seq,
            started_at=event.at,
            updated_at=event.at,
        )
    if state is None:
        return None
    if isinstance(event, PlanAccepted):
        # Tier 2 may answer track by track: a track replaces the one with its id or is added.
        # A copy, so the state never shares (and later mutates) the event's objects.
        index = {track.id: i for i, track in enumerate(state.tracks)}
        for track in copy.deepcopy(event.tracks):
            if track.id in index:
                state.tracks[index[track.id]] = track
            else:
                index[track.id] = len(state.tracks)
                state.tracks.append(track)
    elif isinstance(event, TicketStateChanged):
        try:
            _, ticket = state.find_ticket(event.ticket_id, event.track_id)
        except KeyError:
            if warnings is not None:
                warnings.append(
                    f"event {event.seq}: state change of unknown or ambiguous ticket "
                    f"{event.ticket_id!r} ignored"
                )
        else:
            was_done = ticket.state is TicketState.DONE
            ticket.state = event.new
            ticket.blocked_reason = event.reason if event.new is TicketState.BLOCKED else None
            if event.summary is not None:
                ticket.result_summary = event.summary
            elif was_done and event.new is TicketState.TODO:
                ticket.result_summary = None  # reverted by undo
            if event.model is not None:
                ticket.assigned_model = event.model
            if not ticket.is_final and ticket.state is not TicketState.BLOCKED:
                # An undone or retried ticket of a finished run: the run is open again, so
                # status and the TUI offer to continue it rather than call it finished.
                state.finished = False
                state.ok = None
                state.message = ""
    elif isinstance(event, UsageUpdated):
        state.usage = state.usage + event.usage
        state.usage_by_tier[event.tier] = state.usage_by_tier.get(event.tier, Usage()) + event.usage
        if event.ticket_id is not None:
            try:
                _, ticket = state.find_ticket(event.ticket_id, event.track_id)
            except KeyError:
                pass  # usage before the plan exists (or of a shared id) counts for the run only
            else:
                ticket.usage = ticket.usage + event.usage
                if event.tier is Tier.WORKER:
                    ticket.assigned_model = event.model
    elif isinstance(event, ErrorRaised):
        state.last_error = event.message
    elif isinstance(event, RunFinished):
        state.finished = True
        state.ok = event.ok
        state.message = event.message
    state.last_seq = max(state.last_seq, event.seq)
    state.updated_at = max(state.updated_at, event.at)
    return state


def replay(
    events: Iterable[AnyEvent],
    base: SessionState | None = None,
    warnings: list[str] | None = None,
) -> SessionState | None:
    """Rebuild a run's state from its events (onto `base`, a checkpoint, when given).

    Uses `RunStarted`, `PlanAccepted`, `TicketStateChanged`, `UsageUpdated`, `ErrorRaised`
    and `RunFinished`; every event advances `last_seq`. None when no run has started.
    """
    state = base
    for event in events:
        state = apply_event(state, event, warnings)
    return state

