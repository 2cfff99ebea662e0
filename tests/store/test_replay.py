"""replay(): the state is a fold of the event log; random runs persist and reload exactly."""

from __future__ import annotations

import tempfile
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slop_tui.models import (
    AnyEvent,
    ErrorRaised,
    IllegalTransition,
    PlanAccepted,
    RunFinished,
    RunStarted,
    TicketState,
    TicketStateChanged,
    Tier,
    Usage,
    UsageUpdated,
)
from slop_tui.store import SessionState, Store, replay
from tests.store.helpers import change, sample_track, started_run

S = TicketState


def test_events_before_a_run_are_ignored_and_a_new_run_starts_afresh() -> None:
    assert replay([]) is None
    assert replay([ErrorRaised(message="x", seq=1)]) is None
    state = replay(
        [
            RunStarted(run_id="r1", prompt="one", seq=1, at=10.0),
            PlanAccepted(tracks=[sample_track()], seq=2, at=11.0),
            RunStarted(run_id="r2", prompt="two", seq=3, at=12.0),
        ]
    )
    assert state is not None
    assert (state.run_id, state.prompt, state.tracks, state.last_seq) == ("r2", "two", [], 3)
    assert (state.started_at, state.updated_at) == (12.0, 12.0)


def test_plans_merge_by_track_and_do_not_share_objects_with_events() -> None:
    first, second, redo = sample_track("a"), sample_track("b"), sample_track("a")
    redo.title = "Redone"
    plan = PlanAccepted(tracks=[first], seq=2)
    state = replay(
        [
            RunStarted(run_id="r", prompt="p", seq=1),
            plan,
            PlanAccepted(tracks=[second], seq=3),
            PlanAccepted(tracks=[redo], seq=4),
        ]
    )
    assert state is not None
    assert [(t.id, t.title) for t in state.tracks] == [("a", "Redone"), ("b", "Refactor config")]
    state.tracks[1].tickets[0].start()
    assert second.tickets[0].state is S.TODO


def test_state_changes_usage_errors_and_the_end() -> None:
    warnings: list[str] = []
    def moved(
        old: TicketState, new: TicketState, seq: int, reason: str | None = None,
        summary: str | None = None, model: str | None = None,
    ) -> TicketStateChanged:
        return TicketStateChanged(
            ticket_id="stub", track_id="b", old=old, new=new, seq=seq,
            reason=reason, summary=summary, model=model,
        )

    def used(ticket: str | None, tier: Tier, model: str, usage: Usage, seq: int) -> UsageUpdated:
        track = "b" if tier is Tier.WORKER else None
        return UsageUpdated(
            ticket_id=ticket, track_id=track, tier=tier, model=model, usage=usage, seq=seq
        )

    events: list[AnyEvent] = [
        RunStarted(run_id="r", prompt="p", seq=1),
        PlanAccepted(tracks=[sample_track("a"), sample_track("b")], seq=2),
        used(None, Tier.PLANNER, "big", Usage(input_tokens=100, cost_usd=1.0), 3),
        moved(S.TODO, S.IN_PROGRESS, 4, model="w"),
        used("stub", Tier.WORKER, "w2", Usage(output_tokens=5), 5),
        used("stub", Tier.DEFAULT_CHEAP, "cheap", Usage(input_tokens=1), 6),  # no track given
        moved(S.IN_PROGRESS, S.BLOCKED, 7, reason="no"),
        moved(S.BLOCKED, S.TODO, 8),
        moved(S.TODO, S.DONE, 9, summary="did"),
        TicketStateChanged(ticket_id="stub", old=S.TODO, new=S.DONE, seq=10),  # ambiguous
        TicketStateChanged(ticket_id="ghost", track_id="a", old=S.TODO, new=S.DONE, seq=11),
        ErrorRaised(message="worker crashed", seq=12),
        RunFinished(ok=False, message="stopped", seq=13),
    ]
    state = replay(events, warnings=warnings)
    assert state is not None
    stub_a, stub_b = state.find_ticket("stub", "a")[1], state.find_ticket("stub", "b")[1]
    assert stub_a.state is S.TODO and stub_a.usage == Usage()
    assert (stub_b.state, stub_b.blocked_reason, stub_b.result_summary) == (S.DONE, None, "did")
    assert stub_b.assigned_model == "w2"  # the worker's usage names the model that ran
    assert stub_b.usage.output_tokens == 5
    # QA's usage names an id two tracks share: it counts for the run and its tier only.
    assert state.usage == Usage(input_tokens=101, output_tokens=5, cost_usd=1.0)
    assert state.usage_by_tier[Tier.PLANNER] == Usage(input_tokens=100, cost_usd=1.0)
    assert state.usage_by_tier[Tier.DEFAULT_CHEAP] == Usage(input_tokens=1)
    assert stub_b.usage.input_tokens == 0
    assert (state.finished, state.ok, state.message) == (True, False, "stopped")
    assert state.last_error == "worker crashed" and state.last_seq == 13
    assert len(warnings) == 2 and "'stub'" in warnings[0] and "'ghost'" in warnings[1]


def test_an_undo_clears_the_summary() -> None:
    state = replay(
        [
            RunStarted(run_id="r", prompt="p", seq=1),
            PlanAccepted(tracks=[sample_track()], seq=2),
            change("stub", S.IN_PROGRESS, S.DONE, summary="x", seq=3),
            change("stub", S.DONE, S.TODO, seq=4),
        ]
    )
    assert state is not None and state.tracks[0].tickets[0].result_summary is None


def test_record_appends_applies_and_saves(tmp_path: Path) -> None:
    store, state = started_run(tmp_path)
    event = store.record(state, change("stub", S.TODO, S.IN_PROGRESS))
    assert event.seq == 3 and state.last_seq == 3
    assert state.tracks[0].tickets[0].state is S.IN_PROGRESS
    assert Store(tmp_path).load_state() == state
    with pytest.raises(TypeError):
        store.record(state, RunStarted(run_id="x", prompt="y"))


def test_archive_run_moves_everything_aside(tmp_path: Path) -> None:
    store, _ = started_run(tmp_path)
    store.save_preimage("stub", "a.py", b"x")
    archive = store.archive_run()
    assert archive is not None and archive.parent == store.root / "runs"
    assert "run-1" in archive.name
    assert sorted(p.name for p in archive.iterdir()) == ["events.jsonl", "preimages", "state.json"]
    assert store.load_state() is None and store.preimages("stub") == {}
    assert store.append(RunStarted(run_id="run-2", prompt="q")).seq == 1
    assert Store(tmp_path).archive_run() is not None
    assert Store(tmp_path).archive_run() is None


MOVES = [
    "start",
    "await_approval",
    "resume",
    "mark_complete",
    "mark_blocked",
    "retry",
    "cancel",
    "interrupt",
    "revert",
]
ONE = Usage(input_tokens=1)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["stub", "impl", "test"]), st.sampled_from(MOVES), st.booleans()),
        max_size=30,
    )
)
def test_random_runs_persisted_step_by_step_reload_exactly(
    steps: list[tuple[str, str, bool]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        store, state = started_run(repo)
        for ticket_id, move, checkpoint in steps:
            _, ticket = state.find_ticket(ticket_id, "cfg")
            args = ("reason",) if move == "mark_blocked" else ()
            try:
                old = getattr(ticket, move)(*args)
            except IllegalTransition:
                continue
            # Write-ahead: the event is logged before the next change; checkpoints are optional.
            event = store.append(change(ticket_id, old, ticket.state, reason=ticket.blocked_reason))
            store.append(
                UsageUpdated(
                    ticket_id=ticket_id, track_id="cfg", tier=Tier.WORKER, model="m", usage=ONE
                )
            )
            ticket.usage = ticket.usage + ONE
            ticket.assigned_model = "m"
            state.usage = state.usage + ONE
            state.usage_by_tier[Tier.WORKER] = state.usage_by_tier.get(Tier.WORKER, Usage()) + ONE
            state.last_seq = event.seq + 1
            state.updated_at = store.events()[-1].at
            if checkpoint:
                store.save_state(state)
        store.close()
        loaded = Store(repo).load_state()
        rebuilt = replay(Store(repo).events())
        assert loaded is not None and rebuilt is not None
        expected = msgspec.json.encode(state)
        assert msgspec.json.encode(loaded) == expected
        assert msgspec.json.encode(rebuilt) == expected
        assert isinstance(loaded, SessionState)
