"""Plans are bounded: tracks per plan, tickets per track, characters per field and entries per
list, from the run settings; an answer over a cap is refused precisely and sent back to the
model like any other bad answer, then the planning stops cleanly."""

from __future__ import annotations

import json
import time
from typing import Any

import msgspec
import pytest

from slop_tui.agents.planner import PlanningFailed, plan_limits, plan_tickets, plan_tracks
from slop_tui.config import RunSettings
from slop_tui.models import (
    MAX_PLAN_LIST_ITEMS,
    ErrorRaised,
    ModelText,
    PlanError,
    PlanLimits,
    PlannedTrack,
    Tier,
    decode_ticket_plan,
    decode_track_plan,
    enc_hook,
)
from slop_tui.providers.scripted import Scenario
from slop_tui.providers.usage import UsageLedger
from tests.conductor.helpers import EventSink, Recording, reply

TRACK = PlannedTrack(id="cfg", title="Refactor config", description="Split app/config.py")


def tracks(n: int, **extra: Any) -> dict[str, Any]:
    return {"tracks": [{"id": f"t{i}", "title": f"track {i}", "description": "d", **extra}
                       for i in range(n)]}


def tickets(n: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"id": f"k{i}", "title": f"ticket {i}", "description": "d", "archetype": "implementer",
             "depends_on": [], "target_files": [f"app/m{i}.py"], **extra} for i in range(n)]


def test_the_default_limits_are_the_run_settings_defaults() -> None:
    assert plan_limits(RunSettings()) == PlanLimits()
    assert PlanLimits() == PlanLimits(max_tracks=20, max_tickets_per_track=50, max_field_chars=4096)


async def test_seven_thousand_tracks_are_refused_by_count_then_planning_stops() -> None:
    huge = json.dumps(tracks(7000))
    provider = Recording(Tier.PLANNER, Scenario(planner=[reply(text=huge)] * 3))
    sink = EventSink()
    started = time.monotonic()
    with pytest.raises(PlanningFailed) as failed:
        await plan_tracks(provider, "x", repo_summary="", retries=2, ledger=UsageLedger(), emit=sink)
    assert time.monotonic() - started < 5  # no quadratic duplicate check over 7,000 ids
    refusal = "track plan: tracks: 7000 tracks; at most 20 per plan"
    message = str(failed.value)
    assert "\n" not in message and message.endswith(refusal)
    assert "no valid answer after 3 attempts" in message
    # Each refusal went back to the model as the next user message.
    assert len(provider.requests) == 3
    for _, request in provider.requests[1:]:
        assert request.messages[-1].role == "user" and refusal in request.messages[-1].content
    errors = [e.message for e in sink.events if isinstance(e, ErrorRaised)]
    assert len(errors) == 3 and all(refusal in m for m in errors)
    # The model is told the cap up front.
    assert "at most 20 tracks" in provider.requests[0][1].messages[0].content


async def test_the_track_cap_comes_from_the_run_settings_and_a_retry_within_it_is_accepted() -> None:
    provider = Recording(Tier.PLANNER, Scenario(planner=[reply(tracks(4)), reply(tracks(3))]))
    limits = plan_limits(RunSettings(max_tracks=3))
    sink = EventSink()
    plan = await plan_tracks(provider, "x", repo_summary="", retries=1, ledger=UsageLedger(),
                             emit=sink, limits=limits)
    assert [t.id for t in plan.tracks] == ["t0", "t1", "t2"]
    retry = provider.requests[1][1].messages[-1].content
    assert "track plan: tracks: 4 tracks; at most 3 per plan" in retry


async def test_five_thousand_tickets_are_refused_by_count() -> None:
    provider = Recording(Tier.LEAD, Scenario(lead=[reply(tickets(5000)), reply(tickets(2))]))
    sink = EventSink()
    plan = await plan_tickets(provider, TRACK, skeletons="", retries=1, ledger=UsageLedger(), emit=sink)
    assert len(plan.tickets) == 2
    retry = provider.requests[1][1].messages[-1].content
    assert "ticket plan for track 'cfg': tickets: 5000 tickets; at most 50 per track" in retry
    assert "at most 50 tickets" in provider.requests[0][1].messages[0].content


async def test_a_long_description_is_refused_naming_its_place_and_length() -> None:
    answer = tickets(5)
    answer[3]["description"] = "d" * 9120
    provider = Recording(Tier.LEAD, Scenario(lead=[reply(answer), reply(answer)]))
    with pytest.raises(PlanningFailed) as failed:
        await plan_tickets(provider, TRACK, skeletons="", retries=1, ledger=UsageLedger(),
                           emit=EventSink())
    assert str(failed.value).endswith(
        "ticket plan for track 'cfg': tickets[3].description: 9120 characters; at most 4096"
    )


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("title", "t" * 101, "tickets[0].title: 101 characters; at most 100"),
        ("description", "d" * 101, "tickets[0].description: 101 characters; at most 100"),
        ("target_files", ["ok.py", "p/" * 60], "tickets[0].target_files[1]: 120 characters; at most 100"),
    ],
)
def test_every_text_field_is_capped_by_max_field_chars(field: str, value: Any, expected: str) -> None:
    answer = tickets(1)
    answer[0][field] = value
    limits = plan_limits(RunSettings(max_field_chars=100))
    with pytest.raises(PlanError) as refused:
        decode_ticket_plan(json.dumps(answer), "cfg", limits)
    assert str(refused.value) == f"ticket plan for track 'cfg': {expected}"
    decode_ticket_plan(json.dumps(answer), "cfg")  # within the default 4096


def test_a_track_field_is_capped_too() -> None:
    answer = tracks(2)
    answer["tracks"][1]["description"] = "x" * 5000
    with pytest.raises(PlanError, match=r"^track plan: tracks\[1\]\.description: 5000 characters; at most 4096$"):
        decode_track_plan(json.dumps(answer))


@pytest.mark.parametrize("field", ["depends_on", "target_files"])
def test_too_many_entries_in_a_ticket_list_are_refused(field: str) -> None:
    answer = tickets(2)
    n = MAX_PLAN_LIST_ITEMS + 1
    answer[1][field] = ["k0"] * n if field == "depends_on" else [f"a/{i}.py" for i in range(n)]
    with pytest.raises(PlanError) as refused:
        decode_ticket_plan(json.dumps(answer))
    assert str(refused.value) == (
        f"ticket plan: tickets[1].{field}: {n} entries; at most {MAX_PLAN_LIST_ITEMS} per ticket"
    )


async def test_a_lone_surrogate_in_a_planner_answer_is_replaced_not_fatal() -> None:
    # `\udcff` is valid JSON but not valid UTF-8: msgspec refuses it and the log cannot hold it.
    answer = {"tracks": [{"id": "cfg", "title": "Tidy \udcff", "description": "d"}]}
    text = json.dumps(answer, ensure_ascii=False)
    provider = Recording(Tier.PLANNER, Scenario(planner=[reply(text=text)]))
    sink = EventSink()
    plan = await plan_tracks(provider, "x", repo_summary="", retries=0, ledger=UsageLedger(), emit=sink)
    assert plan.tracks[0].title == "Tidy \ufffd"
    for event in sink.events:
        msgspec.json.encode(event, enc_hook=enc_hook)
    assert [e for e in sink.events if isinstance(e, ModelText)][0].text == text.replace("\udcff", "\ufffd")
