"""A plan edited at review (or given to `slop ticket`) is held to the same size limits as a
model's: a reviewer's paste cannot bring in what a planner's answer could not."""

from __future__ import annotations

import msgspec
import pytest

from slop_tui.conductor.session import check_edited_plan
from slop_tui.models import PlanError, PlanLimits
from tests.conductor.helpers import ticket, track


def test_too_many_tracks_are_refused() -> None:
    tracks = [track(ticket(f"t{i}"), tid=f"tr{i}") for i in range(4)]
    check_edited_plan(tracks, PlanLimits(max_tracks=4))
    with pytest.raises(PlanError, match="the plan has 4 tracks; at most 3"):
        check_edited_plan(tracks, PlanLimits(max_tracks=3))


def test_too_many_tickets_and_long_fields_are_refused() -> None:
    many = track(*(ticket(f"t{i}") for i in range(6)))
    with pytest.raises(PlanError, match="tickets: 6 tickets; at most 5 per track"):
        check_edited_plan([many], PlanLimits(max_tickets_per_track=5))
    long = ticket("t1")
    long = msgspec.structs.replace(long, description="x" * 5000)
    with pytest.raises(PlanError, match=r"tickets\[0\].description: 5000 characters; at most 4096"):
        check_edited_plan([track(long)])
