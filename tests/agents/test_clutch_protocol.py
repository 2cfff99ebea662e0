"""The clutch protocol through a real worker: hunks, always-allow, unchanged edits, context.

Scripted model, real executor, real files; the person is a list of answers.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from slop_tui.agents.worker import run_worker_lifecycle
from slop_tui.models import (
    Approve,
    ApproveHunks,
    Decision,
    DecisionMade,
    Edit,
    EditFileArgs,
    FileChanged,
    Proposal,
    ProposalMade,
    RunCommandArgs,
    TicketState,
    Tier,
    ToolResult,
)
from slop_tui.providers import ModelRequest
from slop_tui.tools.clutch import AllowList, AskForChanges
from slop_tui.tools.executor import ToolExecutor
from slop_tui.tools.hunks import apply_hunks, split_hunks

from tests.agents.helpers import Events, Recording, call, make_deps, make_repo, scripted, step, ticket

BEFORE = "".join(f"line {i}\n" for i in range(30))
AFTER = BEFORE.replace("line 2\n", "LINE 2\n").replace("line 15\n", "line 15\nnew 15\n").replace("line 27\n", "")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"mod.py": BEFORE, "README.md": "a repo\n"})


class Person:
    """Answers from a list and keeps every proposal it was shown."""

    def __init__(self, *answers: Decision) -> None:
        self.answers = list(answers)
        self.asked: list[Proposal] = []

    async def decide(self, proposal: Proposal) -> Decision:
        self.asked.append(proposal)
        await asyncio.sleep(0.01)  # a person: never answers within the same turn
        return self.answers.pop(0)


def _tool_messages(requests: list[ModelRequest]) -> list[str]:
    """The tool results the model was sent, in order (the last request holds them all)."""
    return [m.content for m in requests[-1].messages if m.role == "tool"]


async def test_approved_hunks_are_applied_exactly_and_the_worker_is_told(repo: Path) -> None:
    provider = Recording(
        scripted(
            Tier.WORKER,
            {
                "t1": [
                    step(call("write_file", path="mod.py", content=AFTER), text="Three fixes."),
                    step(call("finish", summary="done")),
                ]
            },
        )
    )
    person = Person(ApproveHunks(hunks=[0, 2], reason="line 15 stays as it is"), Approve())
    events = Events()
    outcome = await run_worker_lifecycle(ticket(), make_deps(repo, provider, events, clutch=AskForChanges(person)))

    assert outcome.state is TicketState.DONE
    expected = apply_hunks(BEFORE, AFTER, [0, 2])
    assert (repo / "mod.py").read_text() == expected
    assert "LINE 2\n" in expected and "new 15" not in expected and "line 27\n" not in expected
    hunks = split_hunks(person.asked[0].diff)
    told = _tool_messages(provider.requests)[0]
    assert "applied only part of your change to mod.py: 2 of 3 hunks" in told
    assert f"Applied: {hunks[0].header}; {hunks[2].header}" in told
    assert f"Left out: {hunks[1].header}" in told
    assert "line 15 stays as it is" in told
    assert "wrote mod.py" in told
    # The log: the choice on the proposal shown, then the partial write proposed and approved.
    proposals = [e.proposal for e in events.of(ProposalMade)]
    assert len(proposals) == 3 and proposals[1].arguments.content == expected  # type: ignore[union-attr]
    assert proposals[1].context == proposals[0].context  # the re-proposal keeps why
    decisions = [(d.proposal_id, d.decision) for d in events.of(DecisionMade)]
    assert decisions[0] == (proposals[0].id, ApproveHunks(hunks=[0, 2], reason="line 15 stays as it is"))
    assert decisions[1] == (proposals[1].id, Approve())
    assert [f.path for f in events.of(FileChanged)] == ["mod.py"]


async def test_hunks_of_an_edit_stay_an_edit(repo: Path) -> None:
    old = "".join(f"line {i}\n" for i in range(2, 28))
    new = AFTER[AFTER.index("LINE 2") : AFTER.index("line 28")]
    provider = scripted(
        Tier.WORKER,
        {"t1": [step(call("edit_file", path="mod.py", old=old, new=new)), step(call("finish", summary="ok"))]},
    )
    person = Person(ApproveHunks(hunks=[1], reason="only the insertion"), Approve())
    events = Events()
    await run_worker_lifecycle(ticket(), make_deps(repo, provider, events, clutch=AskForChanges(person)))
    assert (repo / "mod.py").read_text() == apply_hunks(BEFORE, AFTER, [1])
    rerun = events.of(ProposalMade)[1].proposal
    assert isinstance(rerun.arguments, EditFileArgs)
    assert [h.lines for h in split_hunks(rerun.diff)] == [split_hunks(person.asked[0].diff)[1].lines]


async def test_a_hunk_out_of_range_is_refused_and_asked_again(repo: Path) -> None:
    provider = scripted(
        Tier.WORKER,
        {"t1": [step(call("write_file", path="mod.py", content=AFTER)), step(call("finish", summary="ok"))]},
    )
    person = Person(ApproveHunks(hunks=[0, 7], reason="x"), Approve(), Approve())
    await run_worker_lifecycle(ticket(), make_deps(repo, provider, Events(), clutch=AskForChanges(person)))
    second = person.asked[1]
    assert second.error is not None and second.error.startswith("edit refused: no hunk 8")
    assert second.diff == person.asked[0].diff
    assert (repo / "mod.py").read_text() == AFTER  # then approved whole


async def test_no_hunk_chosen_is_a_rejection_with_its_reason(repo: Path) -> None:
    provider = Recording(
        scripted(
            Tier.WORKER,
            {"t1": [step(call("write_file", path="mod.py", content=AFTER)), step(call("finish", summary="ok"))]},
        )
    )
    person = Person(ApproveHunks(hunks=[], reason="none of it"), Approve())
    events = Events()
    await run_worker_lifecycle(ticket(), make_deps(repo, provider, events, clutch=AskForChanges(person)))
    assert (repo / "mod.py").read_text() == BEFORE
    assert _tool_messages(provider.requests)[0] == "Rejected by the person: none of it"
    assert events.of(DecisionMade)[0].decision.reason == "none of it"


async def test_always_allow_skips_the_second_ask_never_a_metacharacter(repo: Path) -> None:
    provider = scripted(
        Tier.WORKER,
        {
            "t1": [
                step(call("run_command", command="echo first")),
                step(call("run_command", command="echo second")),
                step(call("run_command", command="echo third; echo sneaky")),
                step(call("run_command", command="echo fourth", network=True)),
                step(call("finish", summary="ok")),
            ]
        },
    )
    allow = AllowList()
    person = Person(Approve(always="echo"), Approve(), Approve(), Approve())
    events = Events()
    deps = make_deps(repo, provider, events, clutch=AskForChanges(person, allow))
    deps.executor = ToolExecutor(repo, command_timeout_s=60, sandboxed=True)
    outcome = await run_worker_lifecycle(ticket(), deps)
    assert outcome.state is TicketState.DONE
    asked = [p.arguments.command for p in person.asked if isinstance(p.arguments, RunCommandArgs)]
    assert asked == ["echo first", "echo third; echo sneaky", "echo fourth"]
    assert allow.rules() == ["echo"]
    outputs = [r.output for r in events.of(ToolResult) if r.tool == "run_command"]
    assert "second" in outputs[1]
    # Allowed by the rule: an approval with no network and no new rule; the ticket never waited.
    assert events.of(DecisionMade)[1].decision == Approve()


async def test_an_unchanged_edit_is_not_reported_as_an_edit(repo: Path) -> None:
    args = {"path": "mod.py", "old": "line 3\n", "new": "line three\n"}
    provider = Recording(
        scripted(
            Tier.WORKER,
            {
                "t1": [
                    step(call("edit_file", **args)),
                    step(call("edit_file", path="mod.py", old="line 4\n", new="line four\n")),
                    step(call("finish", summary="ok")),
                ]
            },
        )
    )
    person = Person(
        Edit(arguments=EditFileArgs(**args)),  # Ctrl+S of the payload as it was
        Edit(arguments=EditFileArgs(path="mod.py", old="line 4\n", new="line FOUR\n")),
        Approve(),
        Approve(),
    )
    events = Events()
    await run_worker_lifecycle(ticket(), make_deps(repo, provider, events, clutch=AskForChanges(person)))
    told = _tool_messages(provider.requests)
    assert told[0] == "edited mod.py: +1 -1"
    assert told[1].startswith("The person edited your call before it ran") and "line FOUR" in told[1]
    decisions = [d.decision for d in events.of(DecisionMade)]
    assert decisions[0] == Approve()  # logged as what it was
    assert isinstance(decisions[1], Edit)
    assert "line three\nline FOUR\n" in (repo / "mod.py").read_text()


async def test_context_says_why_which_and_what_it_cost(repo: Path) -> None:
    provider = scripted(
        Tier.WORKER,
        {
            "t1": [
                step(call("read_file", path="mod.py"), text="Reading first."),
                step(call("edit_file", path="mod.py", old="line 1\n", new="line one\n"), text="Rename line 1\x1b[2J."),
                step(
                    call("edit_file", path="mod.py", old="line 2\n", new="line two\n"),
                    call("run_command", command="echo done"),
                ),
                step(call("finish", summary="ok")),
            ]
        },
    )
    person = Person(
        Approve(),
        Edit(arguments=EditFileArgs(path="mod.py", old="line 2\n", new="line TWO\n")),
        Approve(),
        Approve(),
        Approve(),
    )
    events = Events()
    the_ticket = ticket()
    await run_worker_lifecycle(the_ticket, make_deps(repo, provider, events, clutch=AskForChanges(person)))
    contexts = [p.context for p in person.asked]
    assert all(c is not None for c in contexts)
    first, second, edited, command = contexts[:4]
    assert first is not None and second is not None and edited is not None and command is not None
    assert first.reason == "Rename line 1\x1b[2J."  # kept as written: the screen sanitises it
    assert first.number == 2  # the read was proposal 1
    assert first.ticket_title == the_ticket.title
    assert first.model == provider.label
    assert 0 < first.tokens < second.tokens
    assert second.reason == "" and second.number == 3
    assert edited == second  # the edit's re-proposal keeps its context
    assert command.number == 4 and command.tokens == second.tokens
    read = events.of(ProposalMade)[0].proposal
    assert read.context is not None and read.context.reason == "Reading first." and read.context.number == 1


def test_old_event_logs_still_decode_and_new_fields_stay_out_of_them() -> None:
    import msgspec

    from slop_tui.models import AnyEvent

    old_proposal = (
        b'{"kind":"proposal","seq":3,"at":1.0,"proposal":{"id":"p","ticket_id":"t1","tool":"run_command",'
        b'"arguments":{"tool":"run_command","command":"ls"},"diff":"","cwd":".","error":null}}'
    )
    event = msgspec.json.decode(old_proposal, type=AnyEvent)
    assert isinstance(event, ProposalMade) and event.proposal.context is None
    old_decision = b'{"kind":"decision","seq":4,"at":1.0,"proposal_id":"p","ticket_id":"t1","decision":{"type":"approve"}}'
    decision = msgspec.json.decode(old_decision, type=AnyEvent)
    assert isinstance(decision, DecisionMade) and decision.decision == Approve()
    assert msgspec.json.encode(Approve()) == b'{"type":"approve"}'
    assert msgspec.json.encode(Approve(always="make")) == b'{"type":"approve","always":"make"}'
    hunks = msgspec.json.decode(b'{"type":"approve_hunks","hunks":[0,2],"reason":"r"}', type=Decision)
    assert hunks == ApproveHunks(hunks=[0, 2], reason="r")
