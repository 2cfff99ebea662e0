"""The DAG dispatcher with an injected worker: order, limits, file overlap, holds, cancel."""

from __future__ import annotations

import asyncio
import random

import pytest

from slop_tui.agents.transitions import transition
from slop_tui.conductor.dispatcher import (
    Dispatcher,
    is_held_reason,
    release_held,
    topological_order,
)
from slop_tui.models import Ticket, TicketState, TicketStateChanged, Track
from tests.conductor.helpers import EventSink, ticket, track


class FakeWorker:
    """Moves a ticket start -> done (or blocked) after `delay`, recording what ran when."""

    def __init__(self, emit: EventSink, *, delay: float = 0.01, block: set[str] | None = None, fail: set[str] | None = None) -> None:
        self.emit = emit
        self.delay = delay
        self.block = block or set()
        self.fail = fail or set()
        self.running: set[str] = set()
        self.max_running = 0
        self.started: list[str] = []
        self.overlaps: list[tuple[str, str]] = []
        self.tickets: dict[str, Ticket] = {}

    async def __call__(self, t: Ticket, tr: Track) -> None:
        for other in self.running:
            if set(self.tickets[other].target_files) & set(t.target_files):
                self.overlaps.append((other, t.id))
        self.tickets[t.id] = t
        self.running.add(t.id)
        self.max_running = max(self.max_running, len(self.running))
        self.started.append(t.id)
        try:
            await self.emit(transition(t, "start", track_id=tr.id))
            await asyncio.sleep(self.delay)
            if t.id in self.fail:
                raise RuntimeError("boom")
            if t.id in self.block:
                await self.emit(transition(t, "mark_blocked", track_id=tr.id, reason="tests fail"))
            else:
                await self.emit(transition(t, "mark_complete", track_id=tr.id, summary="ok"))
        finally:
            self.running.discard(t.id)


def states(tr: Track) -> dict[str, TicketState]:
    return {t.id: t.state for t in tr.tickets}


async def test_dependencies_first_and_the_limit_holds() -> None:
    tr = track(ticket("a"), ticket("b"), ticket("c"), ticket("d", ["a", "b", "c"]), ticket("e", ["d"]))
    sink = EventSink()
    worker = FakeWorker(sink)
    await Dispatcher(run_ticket=worker, emit=sink, limit=2).run_track(tr)
    assert set(states(tr).values()) == {TicketState.DONE}
    assert worker.max_running == 2
    assert worker.started.index("d") > max(worker.started.index(x) for x in "abc")
    assert worker.started[-1] == "e"


async def test_parallel_really_runs_in_parallel() -> None:
    tr = track(*(ticket(f"t{i}") for i in range(8)))
    sink = EventSink()
    worker = FakeWorker(sink, delay=0.1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await Dispatcher(run_ticket=worker, emit=sink, limit=4).run_track(tr)
    elapsed = loop.time() - start
    assert worker.max_running == 4
    # Four at once (above), never more: at least two waves of 0.1 s. (How much faster than
    # eight waves it is depends on the machine's load, so it is not asserted.)
    assert elapsed >= 0.2


async def test_overlapping_target_files_never_run_together_and_keep_linear_order() -> None:
    def plan() -> Track:
        return track(
            ticket("d"),
            ticket("u", ["d"], files=["shared.py", "u.py"]),
            ticket("t", files=["./shared.py"]),
            ticket("x", files=["x.py"]),
        )

    parallel, linear = plan(), plan()
    sink = EventSink()
    worker = FakeWorker(sink)
    await Dispatcher(run_ticket=worker, emit=sink, limit=4).run_track(parallel)
    lin_worker = FakeWorker(EventSink())
    await Dispatcher(run_ticket=lin_worker, emit=lin_worker.emit, limit=1).run_track(linear)
    assert worker.overlaps == []
    assert lin_worker.max_running == 1
    # `t` was ready first but waits for `u`, which comes before it in plan order: the shared
    # file sees u then t in both runs.
    for run in (worker.started, lin_worker.started):
        assert run.index("u") < run.index("t")
    assert worker.max_running >= 2  # unrelated tickets still overlap in time


async def test_a_blocked_ticket_holds_its_dependents_and_the_rest_go_on() -> None:
    tr = track(ticket("a"), ticket("b", ["a"]), ticket("c", ["b"]), ticket("z"))
    sink = EventSink()
    await Dispatcher(run_ticket=FakeWorker(sink, block={"a"}), emit=sink, limit=2).run_track(tr)
    assert states(tr) == {"a": TicketState.BLOCKED, "b": TicketState.BLOCKED, "c": TicketState.BLOCKED, "z": TicketState.DONE}
    b, c = tr.ticket("b"), tr.ticket("c")
    assert is_held_reason(b.blocked_reason) and "depends on a, which is blocked (tests fail)" in (b.blocked_reason or "")
    assert "depends on b" in (c.blocked_reason or "")
    held_events = [e for e in sink.events if isinstance(e, TicketStateChanged) and e.ticket_id == "b"]
    assert [(e.old, e.new) for e in held_events] == [(TicketState.TODO, TicketState.BLOCKED)]
    # Retrying `a` releases both held tickets, in order.
    transition(tr.ticket("a"), "retry")
    assert [t.id for t in release_held(tr)] == ["b", "c"]


async def test_a_crashing_worker_blocks_its_ticket_with_the_reason() -> None:
    tr = track(ticket("a"), ticket("b"))
    sink = EventSink()
    await Dispatcher(run_ticket=FakeWorker(sink, fail={"a"}), emit=sink, limit=2).run_track(tr)
    assert tr.ticket("a").state is TicketState.BLOCKED
    assert "worker failed: RuntimeError: boom" in (tr.ticket("a").blocked_reason or "")
    assert tr.ticket("b").state is TicketState.DONE


async def test_a_worker_that_returns_without_settling_is_blocked_not_looped() -> None:
    tr = track(ticket("a"))
    sink = EventSink()

    async def lazy(t: Ticket, tr: Track) -> None:
        await sink(transition(t, "start"))

    await asyncio.wait_for(Dispatcher(run_ticket=lazy, emit=sink).run_track(tr), 2)
    assert tr.ticket("a").state is TicketState.BLOCKED
    assert "without finishing" in (tr.ticket("a").blocked_reason or "")


async def test_cancelling_the_dispatch_interrupts_running_tickets() -> None:
    tr = track(ticket("a"), ticket("b"), ticket("c", ["a"]))
    sink = EventSink()
    worker = FakeWorker(sink, delay=10)
    task = asyncio.create_task(Dispatcher(run_ticket=worker, emit=sink, limit=4).run_track(tr))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert states(tr) == {"a": TicketState.TODO, "b": TicketState.TODO, "c": TicketState.TODO}
    moves = [(e.ticket_id, e.old, e.new) for e in sink.events if isinstance(e, TicketStateChanged)]
    assert ("a", TicketState.IN_PROGRESS, TicketState.TODO) in moves
    assert ("b", TicketState.IN_PROGRESS, TicketState.TODO) in moves
    assert worker.running == set()  # every worker really stopped


async def test_cancelling_one_running_ticket() -> None:
    tr = track(ticket("a"), ticket("b", ["a"]), ticket("z"))
    sink = EventSink()
    slow = FakeWorker(sink, delay=0.3)
    dispatcher = Dispatcher(run_ticket=slow, emit=sink, limit=4)
    task = asyncio.create_task(dispatcher.run_track(tr))
    await asyncio.sleep(0.05)
    assert dispatcher.cancel_running("a") is True
    assert dispatcher.cancel_running("nope") is False
    await asyncio.wait_for(task, 2)
    assert states(tr) == {"a": TicketState.CANCELLED, "b": TicketState.BLOCKED, "z": TicketState.DONE}
    assert "which is cancelled" in (tr.ticket("b").blocked_reason or "")


async def test_pause_stops_new_starts_until_unpause() -> None:
    tr = track(ticket("a"), ticket("b", ["a"]))
    sink = EventSink()
    dispatcher = Dispatcher(run_ticket=FakeWorker(sink, delay=0.05), emit=sink)
    task = asyncio.create_task(dispatcher.run_track(tr))
    await asyncio.sleep(0.01)
    dispatcher.pause()
    await asyncio.sleep(0.2)
    assert states(tr) == {"a": TicketState.DONE, "b": TicketState.TODO}
    assert not task.done()
    dispatcher.unpause()
    await asyncio.wait_for(task, 2)
    assert tr.ticket("b").state is TicketState.DONE


async def test_on_done_runs_before_any_dependent_starts() -> None:
    tr = track(ticket("stub"), ticket("impl", ["stub"]))
    sink = EventSink()
    worker = FakeWorker(sink)
    seen: list[str] = []

    async def on_done(t: Ticket, tr: Track) -> None:
        await asyncio.sleep(0.05)
        seen.append(f"done:{t.id}:{len(worker.started)}")

    await Dispatcher(run_ticket=worker, emit=sink, on_done=on_done).run_track(tr)
    assert seen == ["done:stub:1", "done:impl:2"]


async def test_set_limit_while_running() -> None:
    tr = track(*(ticket(f"t{i}") for i in range(6)))
    sink = EventSink()
    worker = FakeWorker(sink, delay=0.05)
    dispatcher = Dispatcher(run_ticket=worker, emit=sink, limit=1)
    task = asyncio.create_task(dispatcher.run_track(tr))
    await asyncio.sleep(0.01)
    dispatcher.set_limit(3)
    await asyncio.wait_for(task, 2)
    assert worker.max_running == 3


def test_topological_order_is_stable_and_refuses_cycles() -> None:
    tr = track(ticket("b", ["a"]), ticket("a"), ticket("c"))
    assert [t.id for t in topological_order(tr)] == ["a", "b", "c"]
    from slop_tui.models import PlanError

    with pytest.raises(PlanError, match="cycle"):
        topological_order(track(ticket("x", ["y"]), ticket("y", ["x"])))


async def test_random_dags_finish_with_every_dependency_respected() -> None:
    rng = random.Random(7)
    for _ in range(20):
        n = rng.randint(1, 25)
        tickets = [
            ticket(f"t{i}", [f"t{j}" for j in range(i) if rng.random() < 0.15], files=[f"f{rng.randint(0, 6)}.py"])
            for i in range(n)
        ]
        tr = track(*tickets)
        sink = EventSink()
        worker = FakeWorker(sink, delay=0)
        await asyncio.wait_for(Dispatcher(run_ticket=worker, emit=sink, limit=rng.randint(1, 5)).run_track(tr), 5)
        assert all(t.state is TicketState.DONE for t in tr.tickets)
        assert worker.overlaps == []
        for t in tr.tickets:
            for d in t.depends_on:
                assert worker.started.index(d) < worker.started.index(t.id)
