"""The worker lifecycle with the scripted provider, real tools and real files."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import msgspec
import pytest
from rich.console import Console

from slop_tui.agents.worker import run_worker_lifecycle
from slop_tui.conductor.terminal_clutch import TerminalClutch
from slop_tui.config import RunSettings
from slop_tui.models import (
    AnyEvent,
    Approve,
    ContextBuilt,
    Decision,
    DecisionMade,
    Edit,
    EditFileArgs,
    FileChanged,
    ModelText,
    Proposal,
    ProposalMade,
    Reject,
    TicketState,
    TicketStateChanged,
    Tier,
    ToolResult,
    UsageUpdated,
)
from slop_tui.providers import ModelReply, ModelRequest
from slop_tui.providers.scripted import ScriptedReply, ScriptedToolCall
from slop_tui.tools.clutch import AskForChanges, AskForEverything

from tests.agents.helpers import (
    Events,
    Recording,
    call,
    make_deps,
    make_repo,
    scripted,
    step,
    ticket,
)

MOD = 'def greet(name):\n    return "hello " + name\n'


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"mod.py": MOD, "README.md": "a repo\n"})


class Person:
    """Stands in for the human at the clutch: answers from a list, after `gate` opens."""

    def __init__(self, *answers: Decision) -> None:
        self.answers = list(answers)
        self.asked: list[Proposal] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def decide(self, proposal: Proposal) -> Decision:
        self.asked.append(proposal)
        await self.gate.wait()
        return self.answers.pop(0)


async def test_a_ticket_runs_to_done(repo: Path) -> None:
    provider = scripted(
        Tier.WORKER,
        {
            "t1": [
                step(call("read_file", path="mod.py", view="raw"), text="Reading the module."),
                step(call("edit_file", path="mod.py", old='"hello "', new='"hi "')),
                step(call("run_command", command="python -c 'import mod; print(mod.greet(\"x\"))'")),
                step(call("finish", summary="greet says hi")),
            ]
        },
    )
    events = Events()
    the_ticket = ticket()
    outcome = await run_worker_lifecycle(the_ticket, make_deps(repo, provider, events), track_id="tr")

    assert (repo / "mod.py").read_text() == MOD.replace('"hello "', '"hi "')
    assert outcome.state is TicketState.DONE and the_ticket.state is TicketState.DONE
    assert outcome.summary == the_ticket.result_summary == "greet says hi"
    assert outcome.steps == 4
    # ApproveAll answers at once: the ticket never waits at the clutch.
    assert events.moves() == [("todo", "in_progress"), ("in_progress", "done")]
    assert [p.proposal.tool for p in events.of(ProposalMade)] == [
        "read_file", "edit_file", "run_command", "finish"
    ]
    assert all(isinstance(d.decision, Approve) for d in events.of(DecisionMade))
    results = events.of(ToolResult)
    assert [r.ok for r in results] == [True, True, True, True]
    assert "hi x" in results[2].output
    assert [(f.path, f.ticket_id) for f in events.of(FileChanged)] == [("mod.py", "t1")]
    usage = events.of(UsageUpdated)
    assert len(usage) == 4 and all(u.tier is Tier.WORKER and u.track_id == "tr" for u in usage)
    assert outcome.usage.input_tokens > 0 and the_ticket.usage == outcome.usage
    assert [m.text for m in events.of(ModelText)] == ["Reading the module."]
    assert the_ticket.assigned_model == provider.label


async def test_the_ticket_awaits_approval_only_while_the_person_decides(repo: Path) -> None:
    provider = scripted(
        Tier.WORKER,
        {
            "t1": [
                step(call("read_file", path="mod.py")),
                step(call("write_file", path="mod.py", content="x = 1\n")),
                step(call("finish", summary="gave up")),
            ]
        },
    )
    person = Person(Reject(reason="keep greet"))
    person.gate.clear()
    events = Events()
    the_ticket = ticket()
    deps = make_deps(repo, provider, events, clutch=AskForChanges(person))
    task = asyncio.create_task(run_worker_lifecycle(the_ticket, deps))
    for _ in range(200):
        if the_ticket.state is TicketState.AWAITING_APPROVAL:
            break
        await asyncio.sleep(0.01)
    assert the_ticket.state is TicketState.AWAITING_APPROVAL
    assert [p.tool for p in person.asked] == ["write_file"]  # the read was never asked
    person.gate.set()
    outcome = await task

    assert outcome.state is TicketState.DONE
    assert (repo / "mod.py").read_text() == MOD
    assert events.moves() == [
        ("todo", "in_progress"),
        ("in_progress", "awaiting_approval"),
        ("awaiting_approval", "in_progress"),
        ("in_progress", "done"),
    ]
    rejected = [r for r in events.of(ToolResult) if r.tool == "write_file"]
    assert rejected[0].output == "Rejected by the person: keep greet" and not rejected[0].ok


async def test_rejection_reason_and_invalid_arguments_go_back_to_the_model(repo: Path) -> None:
    provider = Recording(
        scripted(
            Tier.WORKER,
            {
                "t1": [
                    ScriptedReply(
                        tool_calls=[ScriptedToolCall(tool="write_file", raw_arguments='{"path": "mod.py"')]
                    ),
                    step(call("write_file", path="mod.py", content="x = 1\n", surprise=True)),
                    step(call("write_file", path="mod.py", content="x = 1\n")),
                    step(call("finish", summary="done")),
                ]
            },
        )
    )
    person = Person(Reject(reason="not like that"), Approve())
    events = Events()
    await run_worker_lifecycle(ticket(), make_deps(repo, provider, events, clutch=AskForEverything(person)))

    tool_messages = [m.content for m in provider.requests[-1].messages if m.role == "tool"]
    assert tool_messages[0].startswith("error: invalid arguments for write_file")
    assert "surprise" in tool_messages[1]
    assert tool_messages[2] == "Rejected by the person: not like that"
    # Invalid payloads never reach the person; the valid write and the finish do.
    assert [p.tool for p in person.asked] == ["write_file", "finish"]


async def test_an_edit_by_the_person_is_what_runs(repo: Path) -> None:
    provider = Recording(
        scripted(
            Tier.WORKER,
            {
                "t1": [
                    step(call("edit_file", path="mod.py", old='"hello "', new='"bye "')),
                    step(call("finish", summary="done")),
                ]
            },
        )
    )
    edited = EditFileArgs(path="mod.py", old='"hello "', new='"howdy "')
    person = Person(Edit(arguments=edited), Approve())
    events = Events()
    await run_worker_lifecycle(ticket(), make_deps(repo, provider, events, clutch=AskForChanges(person)))

    assert '"howdy "' in (repo / "mod.py").read_text()
    # The person saw the edited diff before it was applied.
    assert '+    return "howdy " + name' in person.asked[1].diff
    first_result = [m.content for m in provider.requests[1].messages if m.role == "tool"][0]
    assert first_result.startswith("The person edited your call before it ran")
    assert "howdy" in first_result and first_result.endswith("edited mod.py: +1 -1")
    decisions = [type(d.decision).__name__ for d in events.of(DecisionMade)]
    assert decisions == ["Edit", "Approve", "Approve"]  # the edit, its approval, the finish
    assert len({p.proposal.id for p in events.of(ProposalMade)}) == 3  # original, edited, finish


async def test_a_call_that_cannot_apply_is_not_put_to_the_person(repo: Path) -> None:
    provider = scripted(
        Tier.WORKER,
        {
            "t1": [
                step(call("edit_file", path="mod.py", old="not there", new="x")),
                step(call("write_file", path="../outside.py", content="x")),
                step(call("finish", summary="done")),
            ]
        },
    )
    person = Person(Approve())
    events = Events()
    await run_worker_lifecycle(ticket(), make_deps(repo, provider, events, clutch=AskForChanges(person)))
    results = events.of(ToolResult)
    assert "does not occur" in results[0].output and not results[0].ok
    assert results[1].output.startswith("error: ") and not results[1].ok
    assert not (repo.parent / "outside.py").exists()
    assert person.asked == []  # finish is a read under AskForChanges


async def test_finish_in_the_same_reply_as_a_failed_call_is_refused(repo: Path) -> None:
    provider = scripted(
        Tier.WORKER,
        {
            "t1": [
                step(call("write_file", path="mod.py", content="x = 1\n"), call("finish", summary="early")),
                step(call("finish", summary="after reading the rejection")),
            ]
        },
    )
    events = Events()
    the_ticket = ticket()
    deps = make_deps(repo, provider, events, clutch=AskForChanges(Person(Reject(reason="no"))))
    outcome = await run_worker_lifecycle(the_ticket, deps)
    assert outcome.summary == "after reading the rejection"
    refused = [r for r in events.of(ToolResult) if r.tool == "finish" and not r.ok]
    assert refused and refused[0].output.startswith("Not finished")


async def test_the_step_budget_blocks_the_ticket(repo: Path) -> None:
    provider = scripted(
        Tier.WORKER, {"t1": [step(call("list_files", path=".")), ScriptedReply(text="thinking")]}
    )
    events = Events()
    the_ticket = ticket()
    deps = make_deps(repo, provider, events, settings=RunSettings(worker_steps=2))
    outcome = await run_worker_lifecycle(the_ticket, deps)
    assert outcome.state is TicketState.BLOCKED and outcome.steps == 2
    assert the_ticket.blocked_reason == "step budget spent: 2 model calls without finish"


async def test_a_failed_model_call_blocks_the_ticket_with_the_reason(repo: Path) -> None:
    events = Events()
    the_ticket = ticket()
    outcome = await run_worker_lifecycle(the_ticket, make_deps(repo, scripted(Tier.WORKER, {}), events))
    assert outcome.state is TicketState.BLOCKED
    assert the_ticket.blocked_reason is not None
    assert the_ticket.blocked_reason.startswith("model call failed: ")
    assert "no more worker replies for ticket t1" in the_ticket.blocked_reason


async def test_end_of_input_at_the_terminal_clutch_rejects_and_stops(repo: Path) -> None:
    provider = scripted(
        Tier.WORKER,
        {"t1": [step(call("write_file", path="mod.py", content="x = 1\n")), step(call("finish", summary="x"))]},
    )
    out = io.StringIO()
    clutch = TerminalClutch(stdin=io.StringIO(""), console=Console(file=out, width=100))
    events = Events()
    the_ticket = ticket()
    outcome = await asyncio.wait_for(
        run_worker_lifecycle(the_ticket, make_deps(repo, provider, events, clutch=AskForChanges(clutch))),
        timeout=10,
    )
    assert outcome.state is TicketState.BLOCKED
    assert the_ticket.blocked_reason is not None and "input ended" in the_ticket.blocked_reason
    assert (repo / "mod.py").read_text() == MOD
    assert "+x = 1" in out.getvalue()  # the diff was shown before the input ran out
    assert events.moves()[-1] == ("awaiting_approval", "blocked")


async def test_cancelling_the_worker_propagates_and_stops_asking(repo: Path) -> None:
    provider = scripted(Tier.WORKER, {"t1": [step(call("write_file", path="mod.py", content="x\n"))]})
    person = Person(Approve())
    person.gate.clear()
    events = Events()
    the_ticket = ticket()
    task = asyncio.create_task(
        run_worker_lifecycle(the_ticket, make_deps(repo, provider, events, clutch=person))
    )
    for _ in range(200):
        if person.asked:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert the_ticket.state is TicketState.AWAITING_APPROVAL  # the conductor interrupts it
    assert (repo / "mod.py").read_text() == MOD


class SeesEvents(Recording):
    """Records, at each model call, every event published before it."""

    def __init__(self, inner: Recording, events: Events) -> None:
        super().__init__(inner.inner)
        self.events = events
        self.before: list[list[AnyEvent]] = []

    async def complete(self, request: ModelRequest, *, ticket_id: str | None = None) -> ModelReply:
        self.before.append(list(self.events.all()))
        return await super().complete(request, ticket_id=ticket_id)


async def test_the_context_report_is_published_before_the_first_model_call(tmp_path: Path) -> None:
    marker = "UNIQUE_BODY_MARKER = 'only in the file text'"
    repo = make_repo(
        tmp_path / "repo",
        {
            "app/__init__.py": "",
            "app/helper.py": f'def helper(x):\n    """Helper docstring."""\n    {marker}\n    return x\n',
            "app/mod.py": "from app.helper import helper\n\n\n# [HOT]\ndef greet(name):\n"
            f"    {marker}\n    return helper(name)\n",
        },
    )
    events = Events()
    provider = SeesEvents(Recording(scripted(Tier.WORKER, {"t1": [step(call("finish", summary="ok"))]})), events)
    the_ticket = ticket(targets=["app/mod.py", "app/new.py"])
    deps = make_deps(repo, provider, events, settings=RunSettings(context_tokens=5000))
    outcome = await run_worker_lifecycle(the_ticket, deps, track_id="tr")

    assert outcome.state is TicketState.DONE
    # Published once, after the start and before the first request went out.
    first_call = provider.before[0]
    assert [type(e) for e in first_call] == [TicketStateChanged, ContextBuilt]
    built = first_call[1]
    assert isinstance(built, ContextBuilt)
    assert len(events.of(ContextBuilt)) == 1
    assert (built.ticket_id, built.track_id, built.budget) == ("t1", "tr", 5000)
    # Exactly the worker's own report, which is what its first request holds.
    assert built.files == outcome.context.files
    assert built.total_tokens == outcome.context.total_tokens > 0
    assert [(f.path, f.role, f.view) for f in built.files] == [
        ("app/mod.py", "target", "curated"),
        ("app/new.py", "target", "new"),
        ("app/helper.py", "import", "skeleton"),
    ]
    assert built.files[0].tokens > 0
    assert "UNIQUE_BODY_MARKER" in provider.requests[0].messages[0].content  # the [HOT] body was sent...
    logged = msgspec.json.encode(built)
    # ...but the event holds paths, views and counts only: no file text, no message array.
    for forbidden in (b"UNIQUE_BODY_MARKER", b"Helper docstring", b"def greet", b'"messages"', b'"content"'):
        assert forbidden not in logged
    assert msgspec.json.decode(logged, type=AnyEvent) == built  # a member of the event union


class SlowEvents(Events):
    """A bus whose publish takes several loop turns, as it does while the store group-commits."""

    async def emit(self, event: AnyEvent) -> AnyEvent:
        for _ in range(5):
            await asyncio.sleep(0)
        return await super().emit(event)


async def test_an_automatic_approval_never_looks_like_a_wait_on_a_slow_bus(repo: Path) -> None:
    provider = scripted(
        Tier.WORKER,
        {"t1": [step(call("read_file", path="mod.py")), step(call("finish", summary="read it"))]},
    )
    events = SlowEvents()
    the_ticket = ticket()
    deps = make_deps(repo, provider, events, clutch=AskForChanges(Person()))
    outcome = await run_worker_lifecycle(the_ticket, deps)

    assert outcome.state is TicketState.DONE
    # Neither the read (AskForChanges approves it at once) nor the finish ever waited.
    assert events.moves() == [("todo", "in_progress"), ("in_progress", "done")]
    assert [type(d.decision) for d in events.of(DecisionMade)] == [Approve, Approve]


async def test_the_tier_4_call_after_a_failed_command_waits_at_the_spend_gate(repo: Path) -> None:
    """A limit reached (by another ticket's call) while this ticket's command ran closes the
    gate: the hint for its failure is a model call too, and waits there like the next step."""
    provider = scripted(
        Tier.WORKER,
        {"t1": [step(call("run_command", command="python -c 'raise SystemExit(3)'")), step(call("finish", summary="done"))]},
    )
    qa = Recording(scripted(Tier.DEFAULT_CHEAP, {"t1": [step(text="The command exits with status 3 on purpose.")]}))
    deps = make_deps(repo, provider, Events(), qa_provider=qa)
    opened = asyncio.Event()
    passes = 0

    async def gate() -> None:  # open for the first call, then closed until `opened`
        nonlocal passes
        passes += 1
        if passes > 1:
            await opened.wait()

    deps.gate = gate
    worker = asyncio.create_task(run_worker_lifecycle(ticket(), deps, track_id="tr"))
    async with asyncio.timeout(30):
        while passes < 2:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # what the worker would do next, it has done
    assert qa.requests == []  # the hint waits at the closed gate, not sent
    opened.set()
    outcome = await worker
    assert outcome.state is TicketState.DONE
    assert len(qa.requests) == 1
