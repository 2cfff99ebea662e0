"""Tier 1 and Tier 2: schema sent, answers decoded, refusals sent back, bounded retries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slop_tui.agents.planner import (
    PlanningFailed,
    plan_tickets,
    plan_tracks,
    track_map,
    tracks_overview,
)
from slop_tui.config import RunSettings
from slop_tui.memory.repo_map import RepoMap
from slop_tui.models import (
    Archetype,
    ErrorRaised,
    ModelText,
    PlannedTrack,
    Tier,
    UsageUpdated,
)
from slop_tui.providers.scripted import Scenario
from slop_tui.providers.usage import UsageLedger
from slop_tui.tokens import estimate_tokens
from tests.conductor.helpers import EventSink, Recording, reply

TRACK = PlannedTrack(id="cfg", title="Refactor config", description="Split app/config.py")


def ticket_json(tid: str, deps: list[str] | None = None, archetype: str = "implementer", files: list[str] | None = None) -> dict[str, object]:
    return {
        "id": tid,
        "title": f"do {tid}",
        "description": "",
        "archetype": archetype,
        "depends_on": deps or [],
        "target_files": files if files is not None else [f"app/{tid}.py"],
    }


async def test_tracks_decoded_with_schema_and_usage_recorded() -> None:
    answer = {"tracks": [{"id": "cfg", "title": "Refactor config", "description": "d"}]}
    provider = Recording(Tier.PLANNER, Scenario(planner=[reply(answer)]))
    sink, ledger = EventSink(), UsageLedger()
    plan = await plan_tracks(provider, "Refactor config system", repo_summary="app/config.py (10 bytes)", retries=2, ledger=ledger, emit=sink)
    assert [t.id for t in plan.tracks] == ["cfg"]
    (_, request), = provider.requests
    assert request.response_schema is not None
    assert request.response_schema["required"] == ["tracks"]
    assert "$defs" not in json.dumps(request.response_schema)
    assert "Refactor config system" in request.messages[0].content
    assert "app/config.py" in request.messages[0].content
    usage = [e for e in sink.events if isinstance(e, UsageUpdated)]
    assert len(usage) == 1 and usage[0].tier is Tier.PLANNER and usage[0].ticket_id is None
    assert ledger.for_tier(Tier.PLANNER).total_tokens > 0
    assert any(isinstance(e, ModelText) for e in sink.events)


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("not json at all", "not valid JSON"),
        (json.dumps({"tickets": [ticket_json("a", archetype="wizard")]}), "archetype"),
        (json.dumps({"tickets": [ticket_json("a"), ticket_json("a")]}), "duplicate ticket id: a"),
        (json.dumps({"tickets": [ticket_json("a", ["ghost"])]}), "unknown ticket: ghost"),
        (json.dumps({"tickets": [ticket_json("a", ["b"]), ticket_json("b", ["a"])]}), "dependency cycle"),
        (json.dumps({"tickets": [ticket_json("a", files=["../etc/passwd"])]}), "'..' is not allowed"),
        (json.dumps({"tickets": [{"id": "a"}]}), "does not match the schema"),
    ],
)
async def test_each_refusal_goes_back_to_the_model_precisely(bad: str, expected: str) -> None:
    good = {"tickets": [ticket_json("stub", archetype="contract_stubber"), ticket_json("impl", ["stub"])]}
    provider = Recording(Tier.LEAD, Scenario(lead=[reply(text=bad), reply(good)]))
    sink = EventSink()
    plan = await plan_tickets(provider, TRACK, skeletons="# file: app/config.py\n...", retries=2, ledger=UsageLedger(), emit=sink)
    assert [t.id for t in plan.tickets] == ["stub", "impl"]
    assert plan.tickets[0].archetype is Archetype.CONTRACT_STUBBER
    assert len(provider.requests) == 2
    second = provider.requests[1][1].messages
    assert second[1].role == "assistant" and second[1].content == bad
    assert second[2].role == "user" and expected in second[2].content
    errors = [e for e in sink.events if isinstance(e, ErrorRaised)]
    assert len(errors) == 1 and expected in errors[0].message and "attempt 1 of 3" in errors[0].message


async def test_retries_are_bounded_then_planning_fails_with_the_last_problem() -> None:
    bad = json.dumps({"tickets": [ticket_json("a", ["a"])]})
    provider = Recording(Tier.LEAD, Scenario(lead=[reply(text=bad)] * 5))
    with pytest.raises(PlanningFailed) as info:
        await plan_tickets(provider, TRACK, skeletons="", retries=1, ledger=UsageLedger(), emit=EventSink())
    assert len(provider.requests) == 2  # one attempt plus one retry
    message = str(info.value)
    assert "track 'cfg'" in message and "2 attempts" in message and "depends on itself" in message


async def test_zero_retries_means_one_attempt() -> None:
    provider = Recording(Tier.PLANNER, Scenario(planner=[reply(text="{}"), reply({"tracks": []})]))
    with pytest.raises(PlanningFailed, match="1 attempt;"):
        await plan_tracks(provider, "x", repo_summary="", retries=0, ledger=UsageLedger(), emit=EventSink())
    assert len(provider.requests) == 1


async def test_ids_of_earlier_tracks_are_refused() -> None:
    clash = {"tickets": [ticket_json("stub")]}
    fine = {"tickets": [ticket_json("stub2")]}
    provider = Recording(Tier.LEAD, Scenario(lead=[reply(clash), reply(fine)]))
    plan = await plan_tickets(provider, TRACK, skeletons="", retries=1, ledger=UsageLedger(), emit=EventSink(), reserved_ids={"stub"})
    assert [t.id for t in plan.tickets] == ["stub2"]
    first = provider.requests[0][1].messages[0].content
    assert "already used by earlier tracks" in first and "stub" in first
    assert "already used by an earlier track" in provider.requests[1][1].messages[2].content


async def test_a_provider_failure_stops_planning_clearly() -> None:
    provider = Recording(Tier.PLANNER, Scenario(planner=[]))  # the script is empty
    with pytest.raises(PlanningFailed, match=r"Tier 1 \(planner\): .*no more planner replies"):
        await plan_tracks(provider, "x", repo_summary="", retries=2, ledger=UsageLedger(), emit=EventSink())


async def test_feedback_from_review_reaches_tier_1() -> None:
    answer = {"tracks": [{"id": "t", "title": "T", "description": ""}]}
    provider = Recording(Tier.PLANNER, Scenario(planner=[reply(answer)]))
    await plan_tracks(provider, "x", repo_summary="", retries=0, ledger=UsageLedger(), emit=EventSink(), feedback="only one track please")
    assert "only one track please" in provider.requests[0][1].messages[0].content


def _repo(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir(parents=True)
    (tmp_path / "app" / "config.py").write_text("def load(path: str) -> dict:\n    return {'secret_body': 1}\n")
    (tmp_path / "app" / "big.py").write_text("".join(f"def f{i}(x: int) -> int:\n    return x\n" for i in range(300)))
    (tmp_path / ".slop").mkdir()
    (tmp_path / ".slop" / "state.json").write_text("{}")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref")
    (tmp_path / "README.md").write_text("hello")
    return tmp_path


def _map(repo: Path) -> RepoMap:
    return RepoMap.build(repo, cache_dir=repo.parent / "map-cache")


def test_overview_shows_folders_and_definitions_not_tool_state(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    text = tracks_overview(_map(repo), RunSettings(map_tokens=300))
    assert "app/ 2 files: python" in text and "app/big.py:\n  def f0(x)" in text
    assert ".slop" not in text and ".git" not in text
    assert estimate_tokens(text) <= 300


def test_track_map_shows_signatures_not_bodies_within_budget(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    repo_map = _map(repo)
    text = track_map(repo_map, TRACK, RunSettings(map_tokens=100))
    # The file the track names comes first, with parameter names only; no body, ever.
    assert text.startswith("app/config.py:\n") and "def load(path)" in text
    assert "secret_body" not in text
    assert estimate_tokens(text) <= 100
    assert "not shown" in text  # app/big.py's 300 functions do not fit, and it says so
    wide = track_map(repo_map, TRACK, RunSettings(map_tokens=100_000))
    assert "def f299(x)" in wide
