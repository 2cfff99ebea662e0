"""The bus's group commit: bursts cost few fsyncs, seqs stay gap-free and in publish order,
failures reach every publisher of the batch, cancelled publishers neither lose nor duplicate
their event, `close` drains, and a `kill -9` loses nothing acknowledged."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slop_tui.conductor.bus import BusClosed, EventBus
from slop_tui.models import AnyEvent, ModelText, Tier
from slop_tui.store import Store, StoreError

ROOT = Path(__file__).resolve().parents[2]


def text(label: str) -> ModelText:
    return ModelText(ticket_id="t1", tier=Tier.WORKER, text=label)


def drain(queue: asyncio.Queue[AnyEvent | None]) -> list[AnyEvent]:
    seen: list[AnyEvent] = []
    while not queue.empty():
        event = queue.get_nowait()
        assert event is not None
        seen.append(event)
    return seen


def log_texts(repo: Path) -> list[tuple[int, str]]:
    return [(e.seq, e.text) for e in Store(repo).events()]  # type: ignore[union-attr]


async def test_a_burst_of_publishes_costs_far_fewer_fsyncs_than_events(tmp_path: Path) -> None:
    store = Store(tmp_path)
    bus = EventBus(store)
    queue = bus.subscribe()
    n = 200
    published = await asyncio.gather(*(bus.publish(text(f"e{i}")) for i in range(n)))
    # One loop turn published all of them: one batch, one write, one fsync.
    assert store.log_fsyncs <= 2
    assert [e.seq for e in published] == list(range(1, n + 1))  # in publish order
    assert [e.seq for e in drain(queue)] == list(range(1, n + 1))
    assert log_texts(tmp_path) == [(i + 1, f"e{i}") for i in range(n)]
    await bus.close()


async def test_interleaved_publishers_get_gap_free_seqs_in_call_order(tmp_path: Path) -> None:
    store = Store(tmp_path)
    bus = EventBus(store)
    fast, slow = bus.subscribe(), bus.subscribe()
    calls: list[str] = []  # the order publish() was called in
    rng = random.Random(7)
    delays = [[rng.choice([0.0, 0.0, 0.0005, 0.002]) for _ in range(40)] for _ in range(6)]

    async def publisher(k: int) -> list[int]:
        seqs = []
        for i, delay in enumerate(delays[k]):
            label = f"p{k}-{i}"
            calls.append(label)
            seqs.append((await bus.publish(text(label))).seq)
            await asyncio.sleep(delay)
        return seqs

    results = await asyncio.gather(*(publisher(k) for k in range(6)))
    await bus.close()
    total = 6 * 40
    assert all(seqs == sorted(seqs) for seqs in results)  # each publisher's own order
    log = log_texts(tmp_path)
    assert [seq for seq, _ in log] == list(range(1, total + 1))  # gap-free, no duplicate
    assert [label for _, label in log] == calls  # seq order is publish order
    for queue in (fast, slow):
        seen = []
        while (event := queue.get_nowait()) is not None:
            seen.append((event.seq, event.text))  # type: ignore[union-attr]
        assert seen == log
    # Publishers that overlap share fsyncs (the exact count depends on the disk's speed).
    assert store.log_fsyncs < total * 3 // 4


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
async def test_a_failed_write_reaches_every_waiting_publisher_and_the_bus_goes_on(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path)
    (tmp_path / ".slop").mkdir()
    # A log that refuses every write: a full disk, for real.
    (tmp_path / ".slop" / "events.jsonl").symlink_to("/dev/full")
    bus = EventBus(store)
    queue = bus.subscribe()
    events = [text(f"lost{i}") for i in range(20)]
    outcomes = await asyncio.gather(*(bus.publish(e) for e in events), return_exceptions=True)
    assert all(isinstance(o, StoreError) and "No space left" in str(o) for o in outcomes)
    assert all(e.seq == 0 for e in events)  # nothing acknowledged, no seq used
    assert queue.empty()  # and nobody told of them

    (tmp_path / ".slop" / "events.jsonl").unlink()  # space again
    again = await asyncio.gather(*(bus.publish(text(f"kept{i}")) for i in range(5)))
    assert [e.seq for e in again] == [1, 2, 3, 4, 5]
    assert [e.seq for e in drain(queue)] == [1, 2, 3, 4, 5]
    assert log_texts(tmp_path) == [(i + 1, f"kept{i}") for i in range(5)]
    await bus.close()


async def _until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.001)


@pytest.mark.parametrize("where", ["being written", "queued behind a batch being written"])
async def test_a_publisher_cancelled_mid_batch_neither_loses_nor_duplicates_its_event(
    tmp_path: Path, where: str
) -> None:
    store = Store(tmp_path)
    bus = EventBus(store)
    queue = bus.subscribe()
    await bus.publish(text("warm-up"))  # the log is open, the writer threads run
    drain(queue)
    # A slow disk: while the loop holds the store's lock the writer cannot write.
    store._lock.acquire()
    try:
        first = asyncio.create_task(bus.publish(text("first")))
        await _until(lambda: bus._handed == 2)  # handed over: the writer waits on the disk
        victim = asyncio.create_task(bus.publish(text("victim")))
        if where == "being written":
            await _until(lambda: bus._handed == 3)
        else:
            await asyncio.sleep(0)  # published, still queued in the loop
        last = asyncio.create_task(bus.publish(text("last")))
        await asyncio.sleep(0.05)
        victim.cancel()
        await asyncio.sleep(0.05)
        assert not victim.done()  # it waits for its batch before the cancellation lands
    finally:
        store._lock.release()
    with pytest.raises(asyncio.CancelledError):
        await victim
    # By the time the cancellation reached the publisher, its event was durable.
    assert [label for _, label in log_texts(tmp_path)] == ["warm-up", "first", "victim", "last"]
    assert (await first).seq == 2 and (await last).seq == 4
    assert [e.text for e in drain(queue)] == ["first", "victim", "last"]  # type: ignore[union-attr]
    await bus.close()
    assert [seq for seq, _ in log_texts(tmp_path)] == [1, 2, 3, 4]


async def test_close_drains_pending_publishes_before_ending_the_streams(tmp_path: Path) -> None:
    bus = EventBus(Store(tmp_path))
    queue = bus.subscribe()
    tasks = [asyncio.create_task(bus.publish(text(f"e{i}"))) for i in range(30)]
    await asyncio.sleep(0)  # they have published; none is written yet
    await bus.close()
    assert [t.result().seq for t in tasks] == list(range(1, 31))
    seen = []
    while (event := queue.get_nowait()) is not None:
        seen.append(event.seq)
    assert seen == list(range(1, 31))
    with pytest.raises(BusClosed):
        await bus.publish(text("late"))
    assert bus._writer is None  # its threads were told to end


CHILD = r"""
import asyncio, sys
from pathlib import Path
from slop_tui.conductor.bus import EventBus
from slop_tui.models import ModelText, Tier
from slop_tui.store import Store

async def main() -> None:
    bus = EventBus(Store(Path(sys.argv[1])))
    async def publisher(k: int) -> None:
        n = 0
        while True:
            n += 1
            event = await bus.publish(
                ModelText(ticket_id=f"t{k}", tier=Tier.WORKER, text="x" * (n * 997 % 20000))
            )
            print(event.seq, flush=True)  # acknowledged
            await asyncio.sleep(0)
    await asyncio.gather(*(publisher(k) for k in range(8)))

asyncio.run(main())
"""


@pytest.mark.parametrize("after", [50, 400])
def test_kill_9_during_group_commits_loses_no_acknowledged_event(tmp_path: Path, after: int) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    acknowledged: list[int] = []
    deadline = time.monotonic() + 30
    while len(acknowledged) < after and time.monotonic() < deadline:
        line = child.stdout.readline()
        assert line, "the child died on its own"
        acknowledged.append(int(line))
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL
    acknowledged += [int(line) for line in child.stdout.read().split()]
    child.stdout.close()

    store = Store(tmp_path)
    seqs = [e.seq for e in store.events()]
    assert seqs == list(range(1, len(seqs) + 1))  # no gap, no duplicate
    assert set(acknowledged) <= set(seqs)  # nothing acknowledged is lost
    assert store.append(text("resumed")).seq == len(seqs) + 1  # a torn tail is cut first
