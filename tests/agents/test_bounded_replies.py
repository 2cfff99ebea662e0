"""A worker reply is bounded: past `max_tool_calls_per_reply` calls, the rest are answered, not
run and not asked about; and a model's lone surrogate never reaches a file, an event or a log."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from slop_tui.agents.worker import TOO_MANY_CALLS, run_worker_lifecycle
from slop_tui.config import RunSettings
from slop_tui.models import (
    Approve,
    ChatMessage,
    Decision,
    FileChanged,
    ModelText,
    Proposal,
    TicketState,
    Tier,
    ToolResult,
    enc_hook,
)
from slop_tui.providers.scripted import ScriptedToolCall

from tests.agents.helpers import Events, Recording, call, make_deps, make_repo, scripted, step, ticket

MOD = 'def greet(name):\n    return "hello " + name\n'
REFUSAL = "not run: too many calls in one reply (at most {cap})"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"mod.py": MOD})


class CountingClutch:
    """Approves everything and counts the questions (a person would have to answer each)."""

    def __init__(self) -> None:
        self.asked: list[Proposal] = []

    async def decide(self, proposal: Proposal) -> Decision:
        self.asked.append(proposal)
        return Approve()


def tool_messages(messages: list[ChatMessage]) -> list[ChatMessage]:
    return [m for m in messages if m.role == "tool"]


async def test_ten_thousand_calls_in_one_reply_ask_the_clutch_sixteen_times(repo: Path) -> None:
    calls = [ScriptedToolCall(tool="write_file", arguments={"path": f"gen/f{i}.txt", "content": "x"})
             for i in range(10_000)]
    provider = Recording(scripted(Tier.WORKER, {"t1": [
        step(*calls), step(call("finish", summary="wrote some"))
    ]}))
    clutch = CountingClutch()
    events = Events()
    deps = make_deps(repo, provider, events, clutch=clutch)
    cap = deps.settings.max_tool_calls_per_reply
    assert cap == 16

    outcome = await run_worker_lifecycle(ticket(), deps)

    assert outcome.state is TicketState.DONE
    # 16 writes and the finish: the other 9,984 calls never reached the person.
    assert len(clutch.asked) == cap + 1
    assert sorted(p.name for p in (repo / "gen").iterdir()) == sorted(f"f{i}.txt" for i in range(cap))
    assert len(events.of(FileChanged)) == cap
    # Every call still got its answer (the APIs want one per call id), in order.
    answers = tool_messages(provider.requests[1].messages)
    assert [m.tool_call_id for m in answers] == [c.id for c in provider.requests[1].messages[1].tool_calls]
    assert len(answers) == 10_000
    assert all(not m.content.startswith("not run") for m in answers[:cap])
    assert {m.content for m in answers[cap:]} == {REFUSAL.format(cap=cap)}
    # The log says so once, not 9,984 times.
    excess = [e for e in events.of(ToolResult) if e.tool == TOO_MANY_CALLS]
    assert len(excess) == 1 and not excess[0].ok
    assert excess[0].output.startswith("9984 of 10000 calls not run")


async def test_the_cap_comes_from_the_run_settings_and_a_late_finish_is_not_run(repo: Path) -> None:
    writes = [call("write_file", path=f"w{i}.txt", content="y") for i in range(4)]
    provider = Recording(scripted(Tier.WORKER, {"t1": [
        step(*writes, call("finish", summary="too early")),
        step(call("finish", summary="done now")),
    ]}))
    clutch = CountingClutch()
    events = Events()
    deps = make_deps(repo, provider, events, clutch=clutch,
                     settings=RunSettings(max_tool_calls_per_reply=3))

    outcome = await run_worker_lifecycle(ticket(), deps)

    assert outcome.state is TicketState.DONE and outcome.summary == "done now"
    assert len(clutch.asked) == 3 + 1
    assert [(repo / f"w{i}.txt").exists() for i in range(4)] == [True, True, True, False]
    answers = tool_messages(provider.requests[1].messages)
    assert [m.content for m in answers[3:]] == [REFUSAL.format(cap=3)] * 2  # w3 and the finish


async def test_a_lone_surrogate_from_the_model_does_not_block_the_ticket(repo: Path) -> None:
    # `"\udcff"` is valid JSON; a str holding it cannot be encoded as UTF-8 (the log, files).
    provider = scripted(Tier.WORKER, {"t1": [
        step(call("write_file", path="note.txt", content="bad \udcff byte"), text="Writing \udcff."),
        step(call("finish", summary="wrote \udcff note")),
    ]})
    events = Events()
    outcome = await run_worker_lifecycle(ticket(), make_deps(repo, provider, events))

    assert outcome.state is TicketState.DONE, events.moves()
    assert outcome.summary == "wrote \ufffd note"
    assert (repo / "note.txt").read_text(encoding="utf-8") == "bad \ufffd byte"
    texts = [e.text for e in events.of(ModelText)]
    assert texts[0] == "Writing \ufffd."
    for event in events.all():
        msgspec.json.encode(event, enc_hook=enc_hook)  # what the event log does: no error

