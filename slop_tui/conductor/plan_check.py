"""A plan given by a person (the review screen's edits, `slop ticket`) held to a model's rules."""

from __future__ import annotations

from slop_tui.agents.planner import check_ticket_plan
from slop_tui.models import (
    PlanError,
    PlanLimits,
    PlannedTicket,
    TicketPlan,
    TicketState,
    Track,
    check_plan_limits,
)


def check_edited_plan(tracks: list[Track], limits: PlanLimits | None = None) -> None:
    """A reviewer's edited plan must be as valid as a model's, and within the same `limits`
    (the defaults when None): `PlanError` says what is not."""
    if not tracks:
        raise PlanError("the plan has no track")
    limits = limits or PlanLimits()
    if len(tracks) > limits.max_tracks:
        raise PlanError(f"the plan has {len(tracks)} tracks; at most {limits.max_tracks}")
    seen_tracks: set[str] = set()
    reserved: set[str] = set()
    for track in tracks:
        if track.id in seen_tracks:
            raise PlanError(f"duplicate track id {track.id!r}")
        seen_tracks.add(track.id)
        if not track.tickets:
            raise PlanError(f"track {track.id!r} has no ticket")
        track.validate()
        for ticket in track.tickets:
            if ticket.state is not TicketState.TODO:
                raise PlanError(f"ticket {ticket.id!r} must start as todo, not {ticket.state.value}")
        as_plan = TicketPlan(
            tickets=[
                PlannedTicket(
                    id=t.id,
                    title=t.title,
                    description=t.description,
                    archetype=t.archetype,
                    depends_on=list(t.depends_on),
                    target_files=list(t.target_files),
                )
                for t in track.tickets
            ]
        )
        check_plan_limits(as_plan, limits, f"track {track.id!r}")
        check_ticket_plan(as_plan, track.id, reserved)
        reserved |= {t.id for t in track.tickets}
