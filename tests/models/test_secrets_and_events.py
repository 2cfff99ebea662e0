"""Credentials never show; every event kind survives the JSON round trip as its own type."""

from __future__ import annotations

import pickle

import msgspec
import pytest

from slop_tui.models import (
    AnyEvent,
    Approve,
    ChatMessage,
    DecisionMade,
    Edit,
    ErrorRaised,
    FileChanged,
    HintGiven,
    ModelText,
    PlanAccepted,
    Proposal,
    ProposalMade,
    Reject,
    RunFinished,
    RunStarted,
    Secret,
    Ticket,
    TicketState,
    TicketStateChanged,
    Tier,
    ToolResult,
    Track,
    Usage,
    UsageUpdated,
    WorkerContext,
    WriteFileArgs,
    enc_hook,
)

KEY = "sk-ant-api03-very-secret-value-0123456789"


def context() -> WorkerContext:
    return WorkerContext(
        ticket_id="t1",
        assigned_model="anthropic:claude",
        credentials=Secret(KEY),
        messages=[ChatMessage(role="user", content="do it")],
    )


def test_worker_context_never_shows_its_credentials() -> None:
    ctx = context()
    for text in (repr(ctx), str(ctx), f"{ctx}", repr(ctx.credentials), f"{ctx.credentials}"):
        assert KEY not in text and KEY[:12] not in text
    assert "***" in repr(ctx)
    encoded = msgspec.json.encode(ctx, enc_hook=enc_hook)
    assert KEY.encode() not in encoded and b'"credentials":"***"' in encoded
    assert KEY not in repr(msgspec.structs.asdict(ctx))
    # Without the project's hook, the encoders refuse rather than leak.
    with pytest.raises(TypeError):
        msgspec.json.encode(ctx)
    with pytest.raises(TypeError):
        msgspec.to_builtins(ctx)
    with pytest.raises(TypeError):
        pickle.dumps(ctx)
    assert ctx.credentials is not None and ctx.credentials.reveal() == KEY


def test_secret_masks_show_at_most_four_characters() -> None:
    assert Secret(KEY).masked() == f"sk-a… ({len(KEY)} chars)"
    assert Secret("short").masked() == "*** (5 chars)"
    assert not Secret("") and Secret("x")


EVENTS: list[AnyEvent] = [
    RunStarted(run_id="r1", prompt="Refactor config"),
    PlanAccepted(tracks=[Track(id="tr", title="t", tickets=[Ticket(id="a", title="A")])]),
    TicketStateChanged(
        ticket_id="a", old=TicketState.IN_PROGRESS, new=TicketState.BLOCKED, reason="stub"
    ),
    ProposalMade(
        proposal=Proposal(
            id="p1",
            ticket_id="a",
            tool="write_file",
            arguments=WriteFileArgs(path="x.py", content="x = 1\n"),
            diff="+x = 1",
        )
    ),
    DecisionMade(proposal_id="p1", ticket_id="a", decision=Approve()),
    DecisionMade(proposal_id="p1", ticket_id="a", decision=Reject(reason="no")),
    DecisionMade(
        proposal_id="p1",
        ticket_id="a",
        decision=Edit(arguments=WriteFileArgs(path="x.py", content="x = 2\n")),
    ),
    ToolResult(ticket_id="a", tool="run_command", ok=False, output="boom"),
    FileChanged(ticket_id="a", path="x.py", preimage=None),
    HintGiven(ticket_id="a", command="pytest", exit_code=1, hint="fix x", raw_output="trace"),
    UsageUpdated(
        ticket_id="a", tier=Tier.WORKER, model="m", usage=Usage(input_tokens=3, cost_usd=0.1)
    ),
    ModelText(ticket_id=None, tier=Tier.PLANNER, text="plan"),
    ErrorRaised(message="oops"),
    RunFinished(ok=True),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_kind_round_trips_as_its_own_type(event: AnyEvent) -> None:
    data = msgspec.json.encode(event, enc_hook=enc_hook)
    decoded = msgspec.json.decode(data, type=AnyEvent)
    assert type(decoded) is type(event) and decoded == event
    assert msgspec.json.decode(data)["kind"] == type(event).__struct_config__.tag


def test_an_unknown_event_kind_is_a_validation_error() -> None:
    with pytest.raises(msgspec.ValidationError, match="Invalid value 'telepathy'"):
        msgspec.json.decode(b'{"kind":"telepathy","seq":1}', type=AnyEvent)
