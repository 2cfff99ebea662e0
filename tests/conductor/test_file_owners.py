"""Two tickets running in parallel through a Session: a file one of them changed is refused to
the other until the first has ended; then it is free."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec

from slop_tui.conductor.session import Session
from slop_tui.config import load_config
from slop_tui.models import (
    Approve,
    Decision,
    FileChanged,
    FinishArgs,
    ListFilesArgs,
    Proposal,
    TicketState,
    TicketStateChanged,
    ToolResult,
    WriteFileArgs,
)
from slop_tui.providers.scripted import Scenario
from slop_tui.store import Store
from tests.conductor.demo import write_config
from tests.conductor.helpers import ticket, tool_reply, track

BUSY = "app/x.py is being changed by ticket a, which is still running; wait for it or leave the file alone"


class _Interleave:
    """Approves everything, holding calls so the two tickets meet in one order every time:
    b looks (list_files) only after a wrote app/x.py; a finishes only after b was refused and
    went on; b's next call waits until a has ended (its worker, its on-done hook)."""

    def __init__(self) -> None:
        self.session: Session | None = None
        self.a_wrote = asyncio.Event()
        self.b_refused = asyncio.Event()

    async def decide(self, proposal: Proposal) -> Decision:
        args = proposal.arguments
        if proposal.ticket_id == "b" and isinstance(args, ListFilesArgs):
            await self.a_wrote.wait()
        elif proposal.ticket_id == "a" and isinstance(args, FinishArgs):
            self.a_wrote.set()
            await self.b_refused.wait()
        elif proposal.ticket_id == "b" and isinstance(args, WriteFileArgs) and args.path == "b.py":
            self.b_refused.set()
            assert self.session is not None
            while "a" in self.session.dispatcher.running():
                await asyncio.sleep(0.005)  # a condition polled, not a guessed delay
        return Approve()


async def test_a_running_tickets_file_is_refused_to_the_other_until_it_ends(tmp_path: Path) -> None:
    scenario = Scenario(
        worker={
            "a": [
                tool_reply("write_file", path="app/x.py", content="X = 'a'\n"),
                tool_reply("finish", summary="a wrote x"),
            ],
            "b": [
                tool_reply("list_files", path="."),
                tool_reply("write_file", path="app/x.py", content="X = 'b'\n"),  # refused
                tool_reply("write_file", path="b.py", content="B = 1\n"),
                tool_reply("write_file", path="app/x.py", content="X = 'b'\n"),  # a has ended
                tool_reply("finish", summary="b wrote x after a"),
            ],
        }
    )
    scenario_path = tmp_path / "scenario.json"
    scenario_path.write_bytes(msgspec.json.encode(scenario))
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "x.py").write_text("X = 0\n")
    config = load_config(repo, env={"SLOP_CONFIG_DIR": str(write_config(tmp_path / "config", scenario_path))})
    clutch = _Interleave()
    session = Session(repo, config, clutch=clutch, workers=2)
    clutch.session = session
    # Declared targets do not overlap, so the dispatcher runs the two at once.
    tracks = [track(ticket("a", files=["app/x.py"]), ticket("b", files=["b.py"]), tid="T")]
    summary = await asyncio.wait_for(session.run_tracks("two at once", tracks), timeout=30)
    await session.close()
    assert summary.ok, summary.message

    events = Store(repo).events()
    refusals = [e for e in events if isinstance(e, ToolResult) and e.ticket_id == "b" and not e.ok]
    assert [e.output for e in refusals] == [f"error: {BUSY}"]
    a_done = next(
        e.seq for e in events
        if isinstance(e, TicketStateChanged) and e.ticket_id == "a" and e.new is TicketState.DONE
    )
    b_started = next(
        e.seq for e in events
        if isinstance(e, TicketStateChanged) and e.ticket_id == "b" and e.new is TicketState.IN_PROGRESS
    )
    assert b_started < a_done  # they did run at the same time
    changed = [(e.ticket_id, e.path, e.seq > a_done) for e in events if isinstance(e, FileChanged)]
    assert changed == [("a", "app/x.py", False), ("b", "b.py", True), ("b", "app/x.py", True)]
    # b's write came after a's: its pre-image is what a left, so undoing b keeps a's change.
    assert Store(repo).preimages("b")["app/x.py"] == b"X = 'a'\n"
    assert (repo / "app" / "x.py").read_text() == "X = 'b'\n"
    assert session.executor.owners.held_by("a") == session.executor.owners.held_by("b") == []
