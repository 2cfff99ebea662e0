"""The headless printer: plain lines when piped, a live table on a terminal, quiet on hold."""

from __future__ import annotations

import asyncio
import io

from slop_tui.agents.transitions import transition
from slop_tui.conductor.bus import EventBus
from slop_tui.conductor.printer import Printer
from slop_tui.models import (
    ErrorRaised,
    FilesRestored,
    PlanAccepted,
    RunFinished,
    RunStarted,
    TicketState,
    Tier,
    Usage,
    UsageUpdated,
)
from tests.conductor.helpers import ticket, track


async def _play(printer_live: bool) -> tuple[str, PlanAccepted]:
    bus = EventBus(None)
    stream = io.StringIO()
    printer = Printer(bus.subscribe(), stream=stream, live=printer_live)
    task = asyncio.create_task(printer.run())
    plan = track(ticket("stub"), ticket("impl", ["stub"]))
    accepted = PlanAccepted(tracks=[plan])
    await bus.publish(RunStarted(run_id="r1", prompt="Refactor\nconfig system"))
    await bus.publish(accepted)
    work = track(ticket("stub"), ticket("impl", ["stub"]))
    await bus.publish(transition(work.tickets[0], "start"))
    await bus.publish(UsageUpdated(ticket_id="stub", tier=Tier.WORKER, model="m", usage=Usage(input_tokens=1000, output_tokens=234, cost_usd=0.0125)))
    await bus.publish(transition(work.tickets[0], "mark_complete", summary="stubbed"))
    await bus.publish(transition(work.tickets[1], "start"))
    await bus.publish(ErrorRaised(message="something odd", ticket_id="impl"))
    await bus.publish(transition(work.tickets[1], "mark_blocked", reason="tests fail"))
    await bus.publish(RunFinished(ok=False, message="1/2 tickets done"))
    await bus.close()
    await asyncio.wait_for(task, 5)
    return stream.getvalue(), accepted


async def test_plain_lines_when_piped() -> None:
    out, accepted = await _play(False)
    assert "\x1b[" not in out
    lines = out.splitlines()
    assert lines[0] == "run r1: Refactor config system"
    assert "    impl [implementer] ticket impl (after stub)" in lines
    assert "[stub] done (1,234 tok $0.0125): stubbed" in lines
    assert "[impl] error: something odd" in lines
    assert "[impl] blocked (0 tok): tests fail" in lines
    assert lines[-1] == "run stopped: 1/2 tickets done, 1,234 tok $0.0125"
    # The printer keeps its own copy: the event other subscribers see is untouched.
    assert [t.state for t in accepted.tracks[0].tickets] == [TicketState.TODO, TicketState.TODO]


async def test_a_live_table_on_a_terminal() -> None:
    out, _ = await _play(True)
    assert "\x1b[" in out  # drawn, coloured, redrawn in place
    tail = out[out.rindex("usage"):]  # the last table (after its header), left on the screen
    assert "stub" in tail and "done" in tail and "blocked" in tail and "total 1,234 tok $0.0125" in tail


async def test_hold_defers_lines_until_the_question_is_answered() -> None:
    bus = EventBus(None)
    stream = io.StringIO()
    printer = Printer(bus.subscribe(), stream=stream, live=False)
    with printer.hold():
        printer.handle(RunStarted(run_id="r2", prompt="x"))
        printer.handle(ErrorRaised(message="later"))
        assert stream.getvalue() == ""
    assert stream.getvalue().splitlines() == ["run r2: x", "error: later"]


async def test_restored_files_get_their_line_through_the_sanitiser() -> None:
    stream = io.StringIO()
    printer = Printer(EventBus(None).subscribe(), stream=stream, live=False)
    printer.handle(FilesRestored(ticket_id="T", paths=["a.py", "b.py"]))
    # A path a model chose may carry an escape sequence: shown escaped, never sent raw.
    printer.handle(FilesRestored(ticket_id="U", paths=["evil\x1b[2Jname.py"]))
    out = stream.getvalue()
    assert "\x1b" not in out
    lines = out.splitlines()
    assert lines[0] == "[T] restored 2 files: a.py, b.py"
    assert lines[1].startswith("[U] restored 1 file: evil") and lines[1].endswith("[2Jname.py")


async def test_a_retry_is_said_as_it_happens() -> None:
    # A hung or failing provider is no silence in a headless run either: each retry gets a line.
    from slop_tui.models import ModelCallRetrying

    stream = io.StringIO()
    printer = Printer(EventBus(None).subscribe(), stream=stream, live=False)
    printer.handle(ModelCallRetrying(call=1, tier=Tier.PLANNER, attempt=2, tries=3, wait_s=4.2, status=429))
    printer.handle(ModelCallRetrying(call=2, tier=Tier.WORKER, attempt=2, tries=2, wait_s=0.5, ticket_id="impl"))
    assert stream.getvalue().splitlines() == [
        "T1 planner: 429, retrying in 4 s (2/3)",
        "[impl] T3 worker: no answer, retrying in 0 s (2/2)",
    ]
