import pytest

from slop_tui.agents.transitions import transition
from slop_tui.errors import SlopError
from slop_tui.models import IllegalTransition, Ticket, TicketState


def make() -> Ticket:
    return Ticket(id="t1", title="do it")


def test_start_assigns_the_model_and_says_so() -> None:
    ticket = make()
    event = transition(ticket, "start", track_id="tr", model="deepseek:deepseek-chat")
    assert (event.old, event.new) == (TicketState.TODO, TicketState.IN_PROGRESS)
    assert event.track_id == "tr" and event.model == "deepseek:deepseek-chat"
    assert ticket.assigned_model == "deepseek:deepseek-chat"


def test_complete_carries_the_summary() -> None:
    ticket = make()
    transition(ticket, "start")
    event = transition(ticket, "mark_complete", summary="did it")
    assert event.new is TicketState.DONE and event.summary == "did it"
    assert ticket.result_summary == "did it"


def test_blocked_needs_and_records_a_reason() -> None:
    ticket = make()
    transition(ticket, "start")
    with pytest.raises(SlopError, match="needs a reason"):
        transition(ticket, "mark_blocked")
    assert ticket.state is TicketState.IN_PROGRESS
    event = transition(ticket, "mark_blocked", reason="out of steps")
    assert event.reason == "out of steps" and ticket.blocked_reason == "out of steps"


def test_illegal_move_changes_nothing() -> None:
    ticket = make()
    with pytest.raises(IllegalTransition, match="cannot mark_complete from state 'todo'"):
        transition(ticket, "mark_complete", summary="nope")
    assert ticket.state is TicketState.TODO and ticket.result_summary is None


def test_unknown_move_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown ticket move 'explode'"):
        transition(make(), "explode")


def test_reason_of_other_moves_is_kept_on_the_event() -> None:
    ticket = make()
    transition(ticket, "start")
    event = transition(ticket, "interrupt", reason="Ctrl+C")
    assert event.new is TicketState.TODO and event.reason == "Ctrl+C"
