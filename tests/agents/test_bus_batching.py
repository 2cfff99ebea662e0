"""The bus's group commit: bursts cost few fsyncs, seqs stay gap-free and in publish order,
failures reach every publisher of the batch, cancelled publishers neither lose nor duplicate
their event, `close` drains, and a `kill -9` loses nothing acknowledged."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import stat
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


async def _until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.001)


# Batched and synced in threads (0), or each event at once in the loop (syncs "always" fast).
SYNC_PATHS = pytest.mark.parametrize("inline_sync_s", [0.0, 1e9], ids=["threads", "in-loop"])


async def test_a_burst_of_publishes_costs_far_fewer_fsyncs_than_events(tmp_path: Path) -> None:
    store = Store(tmp_path)
    bus = EventBus(store, inline_sync_s=0.0)
    queue = bus.subscribe()
    n = 200
    published = await asyncio.gather(*(bus.publish(text(f"e{i}")) for i in range(n)))
    # One loop turn published all of them: one batch, one write, one fsync.
    assert store.log_fsyncs <= 2
    assert [e.seq for e in published] == list(range(1, n + 1))  # in publish order
    assert [e.seq for e in drain(queue)] == list(range(1, n + 1))
    assert log_texts(tmp_path) == [(i + 1, f"e{i}") for i in range(n)]
    await bus.close()


async def test_publishes_made_while_a_sync_is_under_way_share_the_next_fsync(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path)
    bus = EventBus(store, inline_sync_s=0.0)
    await bus.publish(text("warm-up"))
    before = store.log_fsyncs
    store._lock.acquire()  # a slow disk: the first batch cannot settle yet
    try:
        first = asyncio.create_task(bus.publish(text("first")))
        await asyncio.sleep(0)  # the disk was idle: written and being synced at once
        assert bus._handed == 2
        # Three waves, each published in one loop turn while earlier syncs are under way:
        # each becomes one batch; the third waits for a free sync (3 at once at most).
        waves = []
        for number in range(3):
            waves.append(
                [asyncio.create_task(bus.publish(text(f"w{number}-{i}"))) for i in range(30)]
            )
            await asyncio.sleep(0.02)
            assert bus._handed == min(3 + number, 4)
        assert len(bus._queued) == 30
    finally:
        store._lock.release()
    await first
    for tasks in waves:
        await asyncio.gather(*tasks)
    assert store.log_fsyncs - before == 4  # 91 events, 4 fsyncs
    assert [seq for seq, _ in log_texts(tmp_path)] == list(range(1, 93))
    await bus.close()


@SYNC_PATHS
async def test_interleaved_publishers_get_gap_free_seqs_in_call_order(
    tmp_path: Path, inline_sync_s: float
) -> None:
    store = Store(tmp_path)
    bus = EventBus(store, inline_sync_s=inline_sync_s)
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
    assert (bus._syncer is None) is (inline_sync_s > 0)  # the sync path it took
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


@pytest.mark.skipif(not os.path.exists("/dev/full") or os.geteuid() != 0, reason="needs /dev/full and mknod (root)")
@SYNC_PATHS
async def test_a_failed_write_reaches_every_waiting_publisher_and_the_bus_goes_on(
    tmp_path: Path, inline_sync_s: float
) -> None:
    store = Store(tmp_path)
    (tmp_path / ".slop").mkdir()
    assert store.last_seq == 0  # .slop/ is checked (and accepted) before the disk fills
    # A log that refuses every write: a full disk, for real (the kernel's /dev/full; a
    # symlink to it would be refused, never followed).
    full = os.stat("/dev/full").st_rdev
    os.mknod(tmp_path / ".slop" / "events.jsonl", stat.S_IFCHR | 0o600, full)
    bus = EventBus(store, inline_sync_s=inline_sync_s)
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


@pytest.mark.parametrize("where", ["syncing", "queued"])
async def test_a_publisher_cancelled_mid_batch_neither_loses_nor_duplicates_its_event(
    tmp_path: Path, where: str
) -> None:
    store = Store(tmp_path)
    bus = EventBus(store, inline_sync_s=0.0)  # syncs in threads, which can be held up
    queue = bus.subscribe()
    await bus.publish(text("warm-up"))  # the log is open, a sync thread runs
    drain(queue)
    # A slow disk: while the loop holds the store's lock no batch can be settled.
    store._lock.acquire()
    try:
        first = asyncio.create_task(bus.publish(text("first")))
        await _until(lambda: bus._handed == 2)  # written, its sync cannot settle
        victim = asyncio.create_task(bus.publish(text("victim")))
        await asyncio.sleep(0)  # it has published: queued, its batch not yet written
        if where == "syncing":
            await _until(lambda: bus._handed == 3)  # its batch written, being synced
        assert bus._handed == (3 if where == "syncing" else 2)
        victim.cancel()
        last = asyncio.create_task(bus.publish(text("last")))
        await asyncio.sleep(0.05)
        assert not victim.done()  # it waits for its batch before the cancellation lands
    finally:
        store._lock.release()
    with pytest.raises(asyncio.CancelledError):
        await victim
    # By the time the cancellation reached the publisher, its event was durable.
    assert [label for _, label in log_texts(tmp_path)][:3] == ["warm-up", "first", "victim"]
    assert (await first).seq == 2 and (await last).seq == 4
    assert [e.text for e in drain(queue)] == ["first", "victim", "last"]  # type: ignore[union-attr]
    await bus.close()
    assert log_texts(tmp_path) == [(1, "warm-up"), (2, "first"), (3, "victim"), (4, "last")]


@SYNC_PATHS
async def test_close_drains_pending_publishes_before_ending_the_streams(
    tmp_path: Path, inline_sync_s: float
) -> None:
    bus = EventBus(Store(tmp_path), inline_sync_s=inline_sync_s)
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
    assert bus._syncer is None  # its threads were told to end


CHILD = r"""
import asyncio, sys
from pathlib import Path
from slop_tui.conductor.bus import EventBus
from slop_tui.models import ModelText, Tier
from slop_tui.store import Store

async def main() -> None:
    bus = EventBus(Store(Path(sys.argv[1])), inline_sync_s=float(sys.argv[2]))
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


@pytest.mark.parametrize(("after", "inline_sync_s"), [(50, 0.0), (400, 0.0), (200, 1e9)])
def test_kill_9_during_group_commits_loses_no_acknowledged_event(
    tmp_path: Path, after: int, inline_sync_s: float
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), str(inline_sync_s)],
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
