"""The ticket state machine, checked against the rules as the issue states them."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slop_tui.errors import SlopError
from slop_tui.models import (
    TRANSITIONS,
    Archetype,
    IllegalTransition,
    PlanError,
    Ticket,
    TicketState,
    Track,
)

S = TicketState
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
FINAL = {S.DONE, S.CANCELLED}


def expected(state: TicketState, move: str) -> TicketState | None:
    """The rules written out from the issue text, independently of `TRANSITIONS`."""
    if move == "start":
        return S.IN_PROGRESS if state is S.TODO else None
    if move == "await_approval":
        return S.AWAITING_APPROVAL if state is S.IN_PROGRESS else None
    if move == "resume":
        return S.IN_PROGRESS if state is S.AWAITING_APPROVAL else None
    if move == "mark_complete":
        return S.DONE if state is S.IN_PROGRESS else None
    if move == "mark_blocked":
        return S.BLOCKED if state not in FINAL and state is not S.BLOCKED else None
    if move == "retry":
        return S.TODO if state is S.BLOCKED else None
    if move == "cancel":
        return S.CANCELLED if state not in FINAL else None
    if move == "interrupt":
        return S.TODO if state in (S.IN_PROGRESS, S.AWAITING_APPROVAL) else None
    if move == "revert":
        return S.TODO if state is S.DONE else None
    raise AssertionError(move)


def do(ticket: Ticket, move: str) -> TicketState:
    method = getattr(ticket, move)
    return method("waiting for a stub") if move == "mark_blocked" else method()


def snapshot(ticket: Ticket) -> bytes:
    return msgspec.json.encode(ticket)


def test_the_table_names_every_mutator() -> None:
    assert sorted(TRANSITIONS) == sorted(MOVES)


def three_ticket_track() -> Track:
    return Track(
        id="cfg",
        title="Refactor config",
        tickets=[
            Ticket(id="stub", title="Stub", archetype=Archetype.CONTRACT_STUBBER),
            Ticket(id="impl", title="Implement", depends_on=["stub"]),
            Ticket(id="test", title="Test", archetype=Archetype.TESTER, depends_on=["impl"]),
        ],
    )


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("move", MOVES)
def test_every_state_and_move_on_a_three_ticket_track(state: TicketState, move: str) -> None:
    track = three_ticket_track()
    track.validate()
    ticket = track.ticket("impl")
    ticket.state = state
    if state is S.BLOCKED:
        ticket.blocked_reason = "earlier reason"
    before = snapshot(ticket)
    others = [snapshot(t) for t in track.tickets if t is not ticket]
    target = expected(state, move)
    if target is None:
        with pytest.raises(IllegalTransition) as info:
            do(ticket, move)
        assert snapshot(ticket) == before  # nothing changed
        message = str(info.value)
        assert "'impl'" in message and repr(state.value) in message and move in message
        assert (info.value.ticket_id, info.value.state, info.value.move) == ("impl", state, move)
    else:
        assert do(ticket, move) is state  # the mutator answers the old state
        assert ticket.state is target
        if target is S.BLOCKED:
            assert ticket.blocked_reason == "waiting for a stub"
        else:
            assert ticket.blocked_reason is None
    assert [snapshot(t) for t in track.tickets if t is not ticket] == others


def test_the_happy_path_and_the_side_paths() -> None:
    ticket = Ticket(id="t1", title="x")
    ticket.start()
    ticket.await_approval()
    ticket.resume()
    ticket.mark_complete("added the parser")
    assert ticket.state is S.DONE and ticket.result_summary == "added the parser"
    assert ticket.is_final
    ticket.revert()
    assert ticket.state is S.TODO and ticket.result_summary is None
    ticket.mark_blocked("the stub is missing")
    assert ticket.blocked_reason == "the stub is missing"
    ticket.retry()
    assert ticket.state is S.TODO and ticket.blocked_reason is None
    ticket.start()
    ticket.interrupt()
    assert ticket.state is S.TODO
    ticket.cancel()
    assert ticket.state is S.CANCELLED and ticket.is_final
    with pytest.raises(IllegalTransition, match="cannot start from state 'cancelled'"):
        ticket.start()


def test_blocked_needs_a_reason_and_illegal_wins_over_a_missing_reason() -> None:
    ticket = Ticket(id="t1", title="x")
    with pytest.raises(SlopError, match="needs a reason"):
        ticket.mark_blocked("  ")
    assert ticket.state is S.TODO
    ticket.start()
    ticket.mark_complete()
    with pytest.raises(IllegalTransition):
        ticket.mark_blocked("")


def test_states_and_archetypes_given_as_strings_become_enums() -> None:
    ticket = Ticket(id="t", title="x", state="done", archetype="tester")  # type: ignore[arg-type]
    assert ticket.state is S.DONE and ticket.archetype is Archetype.TESTER
    track = Track(id="tr", title="t", tickets=[ticket, Ticket(id="u", title="y", depends_on=["t"])])
    assert [t.id for t in track.ready_tickets()] == ["u"]


def test_an_unknown_archetype_is_a_validation_error() -> None:
    with pytest.raises(PlanError, match="unknown value 'designer'.*contract_stubber"):
        Ticket(id="t", title="x", archetype="designer")  # type: ignore[arg-type]
    with pytest.raises(msgspec.ValidationError, match="Invalid enum value 'designer'"):
        msgspec.json.decode(b'{"id":"t","title":"x","archetype":"designer"}', type=Ticket)
    with pytest.raises(PlanError, match="state: unknown value 'finished'"):
        Ticket(id="t", title="x", state="finished")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(MOVES), max_size=40))
def test_random_transition_sequences_follow_the_rules(moves: list[str]) -> None:
    ticket = Ticket(id="t", title="x")
    state = S.TODO
    for move in moves:
        target = expected(state, move)
        before = snapshot(ticket)
        if target is None:
            with pytest.raises(IllegalTransition):
                do(ticket, move)
            assert snapshot(ticket) == before
        else:
            do(ticket, move)
            state = target
        assert ticket.state is state
        assert (ticket.blocked_reason is not None) == (state is S.BLOCKED)
