"""The event bus: every event is written ahead to the store, then fanned out to subscribers.

Group commit. `publish` queues its event and waits. The queued events are written as one
batch (`Store.write_batch`: one write to the page cache, in the loop, microseconds) and the
batch goes to a sync thread (`Store.sync_batch`: one fsync, off the loop): at once when no
sync is under way, else on the loop's next turn, so that everything published during a turn
or while earlier batches sync shares one fsync. Up to `_DEPTH` batches sync at once (a batch
waits for its own sync, not for the one before it as well), and the store settles them in
write order; while all are busy, what is published meanwhile becomes the next batch. (Where
syncs are faster than a turn of a busy loop, as on tmpfs, the bus measures it and writes and
syncs each event at once in `publish`, when no batch is under way.) So the loop goes on
running workers while the disk syncs, and a burst of N events costs a few fsyncs, not N.
Once a batch is durable, back in the loop, its events are put on every subscriber's own
unbounded queue in seq order, and only then are their publishers released. So:

- an event a subscriber sees, and an event `publish` returned, is already in the log
  (write-ahead); a failed write reaches every publisher of its batch and no subscriber;
- seqs are gap-free and follow the order of the `publish` calls (batches are written one at
  a time, each in order, and settled in that order), and every subscriber sees that order;
- a slow subscriber (a TUI redrawing, a printer on a slow terminal) delays nobody and misses
  nothing.

Besides events, a live subscriber (`subscribe_live`: the TUI) gets `ModelTextDelta`s, the text
of model calls as it streams, and `ModelToolDelta`s, the tool calls they are writing (`tell`).
They are never logged (a delta per fsync would cost a sync per few words) and reach nobody
else; a call's whole text is logged as `ModelText`.

A publish, once called, is carried through: a publisher cancelled while it waits still has
its event logged and fanned out exactly once, and its `CancelledError` is raised only after
that (the caller never goes on while its event's fate is open). The event belongs to the bus
from `publish` on: it is encoded when its batch is written, so nobody may change it meanwhile.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import NamedTuple, TypeVar

from slop_tui.agents.emit import Emit
from slop_tui.models import AnyEvent, LiveDelta
from slop_tui.store import LogWrite, Store

__all__ = ["BusClosed", "Emit", "EventBus", "Live"]

Live = AnyEvent | LiveDelta  # what a live subscriber's queue carries (`None`: the end)

_Q = TypeVar("_Q", AnyEvent | None, Live | None)  # what a subscriber's queue carries
_Waiting = tuple[AnyEvent, asyncio.Future[AnyEvent]]  # an event and its publisher's answer
_DEPTH = 3  # batches synced at once: a sync need not wait for the one before it to end
_IDLE_S = 2.0  # an idle sync thread ends (a bus nobody closed leaves none behind)
# Syncs faster than this on average (tmpfs: ~20 us with the store's bookkeeping) are done at
# once in the loop: waiting a turn to batch, and a thread's round trip, cost ~0.1 ms on an
# idle machine and ~1 ms on a loaded one; a disk's fsync (>= ~100 us) goes to the threads.
_INLINE_S = 0.00005


class BusClosed(RuntimeError):
    """An event was published after `close()`: a programming error, never a user's."""


class EventBus:
    """Write-ahead publish, ordered fan-out. Without a store, the bus numbers events itself.

    `inline_sync_s`: syncs that take less than this on average are done at once in the loop
    (0: always batched and synced in the sync threads).
    """

    def __init__(self, store: Store | None, *, inline_sync_s: float = _INLINE_S) -> None:
        self.store = store
        self.inline_sync_s = inline_sync_s
        self._subscribers: list[asyncio.Queue[AnyEvent | None]] = []
        self._live: list[asyncio.Queue[Live | None]] = []  # events and streamed text
        self._closed = False
        self._ended = False  # subscribers were sent None
        self._seq = 0
        self._queued: list[_Waiting] = []  # published this turn, not yet handed to the writer
        self._handed = 0  # batches written (or refused) so far
        self._settled = 0  # of which settled in the loop (always the first ones)
        self._syncing = 0  # batches in the sync threads
        self._answers: dict[int, _Answer] = {}  # answered, waiting for an earlier batch
        self._syncer: _Syncer | None = None
        self._sync_s = 0.0  # recent syncs' duration, a moving average
        self._drained: list[asyncio.Future[None]] = []  # `close` calls waiting for the syncs

    @property
    def closed(self) -> bool:
        return self._closed

    async def publish(self, event: AnyEvent) -> AnyEvent:
        """Log `event` (write-ahead, batched), queue it for every subscriber, return it with
        its seq.

        A `StoreError` from the write propagates to every publisher of the batch and nobody
        is told of their events: what subscribers see is never ahead of what the log holds.
        """
        if self._closed:
            raise BusClosed(f"event bus is closed; cannot publish {type(event).__name__}")
        if self.store is None:
            self._seq += 1
            event.seq = self._seq
            self._fan_out([event])
            return event
        if not self._busy and self._sync_s < self.inline_sync_s:
            return self._publish_now(event)
        loop = asyncio.get_running_loop()
        logged: asyncio.Future[AnyEvent] = loop.create_future()
        self._queued.append((event, logged))
        if len(self._queued) == 1:
            if self._syncing == 0:
                self._hand_over(loop)  # the disk is idle: no reason to wait for company
            else:
                # On the loop's next turn: whatever else this turn publishes joins the batch.
                loop.call_soon(self._hand_over, loop)
        return await _carried_through(logged)

    def _publish_now(self, event: AnyEvent) -> AnyEvent:
        """Write and sync `event` alone, without leaving the loop's turn: where a sync costs
        less than waiting a turn for others to batch with (tmpfs, a fast SSD)."""
        assert self.store is not None
        started = time.perf_counter()
        try:
            logged = self.store.sync_batch(self.store.write_batch([event]))
        finally:
            self._timed(time.perf_counter() - started)
        self._fan_out(logged)
        return logged[0]

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """Write what was queued as one batch and give it to a sync thread (in the loop)."""
        if self._syncing >= _DEPTH or not self._queued:
            return  # handed over when a sync ends (`_answered`)
        batch, self._queued = self._queued, []
        assert self.store is not None
        number = self._handed
        self._handed += 1
        try:
            write = self.store.write_batch([event for event, _ in batch])
        except Exception as exc:  # every publisher of the batch gets it
            self._answered(number, batch, None, exc)
            return
        if self._syncing == 0 and self._sync_s < self.inline_sync_s:
            # Waking a thread and being woken back costs more than this sync (measured).
            started = time.perf_counter()
            try:
                events = self.store.sync_batch(write)
            except Exception as exc:
                self._answered(number, batch, None, exc)
                return
            self._timed(time.perf_counter() - started)
            self._answered(number, batch, events, None)
            return
        if self._syncer is None:
            self._syncer = _Syncer(self.store)
        self._syncing += 1
        self._syncer.sync(_Sync(loop, number, batch, write, self._synced))

    def _timed(self, seconds: float) -> None:
        self._sync_s += (seconds - self._sync_s) * 0.2

    def _synced(
        self,
        number: int,
        batch: list[_Waiting],
        events: list[AnyEvent] | None,
        error: BaseException | None,
        seconds: float,
    ) -> None:
        self._syncing -= 1
        self._timed(seconds)
        self._answered(number, batch, events, error)
        if self._queued:
            self._hand_over(asyncio.get_running_loop())  # what waited for a free sync

    def _answered(
        self,
        number: int,
        batch: list[_Waiting],
        events: list[AnyEvent] | None,
        error: BaseException | None,
    ) -> None:
        """Back in the loop: settle batches in the order they were written (answers come from
        several threads)."""
        self._answers[number] = (batch, events, error)
        while self._settled in self._answers:
            batch, events, error = self._answers.pop(self._settled)
            self._settled += 1
            if events is not None:
                self._fan_out(events)  # before the publishers go on: they may read their queues
            for index, (_, logged) in enumerate(batch):
                if logged.done():
                    continue
                if events is not None:
                    logged.set_result(events[index])
                else:
                    assert error is not None
                    logged.set_exception(error)
        if self._closed and not self._busy:
            self._end_streams()

    @property
    def _busy(self) -> bool:
        return bool(self._queued) or self._settled < self._handed

    def _queues(self) -> Iterator[asyncio.Queue[AnyEvent | None] | asyncio.Queue[Live | None]]:
        """Every subscriber's queue, the plain ones and the live ones (both carry events)."""
        return itertools.chain(self._subscribers, self._live)

    def _fan_out(self, events: list[AnyEvent]) -> None:
        for queue in self._queues():
            for event in events:
                queue.put_nowait(event)

    @property
    def has_live(self) -> bool:
        """Whether anyone shows streamed text (a model call streams only then)."""
        return bool(self._live) and not self._closed

    def tell(self, delta: LiveDelta) -> None:
        """Hand `delta` to the live subscribers, unlogged. It follows, in their queues, every
        event whose `publish` returned before this call (a call's start comes first)."""
        if self._closed:
            return
        for live in self._live:
            live.put_nowait(delta)

    def _end_streams(self) -> None:
        if not self._ended:
            self._ended = True
            for queue in self._queues():
                queue.put_nowait(None)
            self._subscribers.clear()
            self._live.clear()
            if self._syncer is not None:
                self._syncer.stop()
                self._syncer = None
        drained, self._drained = self._drained, []
        for waiter in drained:
            if not waiter.done():
                waiter.set_result(None)

    def subscribe(self) -> asyncio.Queue[AnyEvent | None]:
        """A new queue of every event published from now on, in order; `None` once closed."""
        return self._joined(self._subscribers)

    def subscribe_live(self) -> asyncio.Queue[Live | None]:
        """`subscribe`, plus the live deltas told from now on, in order with the events."""
        return self._joined(self._live)

    def _joined(self, queues: list[asyncio.Queue[_Q]]) -> asyncio.Queue[_Q]:
        """A new queue added to `queues`, or one already ended (`None`) if the bus is closed."""
        queue: asyncio.Queue[_Q] = asyncio.Queue()
        if self._closed:
            queue.put_nowait(None)
        else:
            queues.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[AnyEvent | None] | asyncio.Queue[Live | None]) -> None:
        """Stop feeding `queue` (a closed screen); unknown queues are ignored."""
        for queues in (self._subscribers, self._live):
            try:
                queues.remove(queue)  # type: ignore[arg-type]
            except ValueError:
                pass

    async def close(self) -> None:
        """Refuse new publishes (`BusClosed`), let the ones already made be written and fanned
        out, then tell every subscriber the stream ended (`None`)."""
        self._closed = True
        if not self._busy:
            self._end_streams()
            return
        # The streams end when the writer is done, even if this wait is cancelled.
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._drained.append(waiter)
        await asyncio.shield(waiter)


_Answer = tuple[list[_Waiting], list[AnyEvent] | None, BaseException | None]


class _Sync(NamedTuple):
    loop: asyncio.AbstractEventLoop
    number: int
    batch: list[_Waiting]
    write: LogWrite
    answer: Callable[
        [int, list[_Waiting], list[AnyEvent] | None, BaseException | None, float], None
    ]


class _Syncer:
    """Up to `_DEPTH` threads that fsync written batches (`Store.sync_batch`, which settles
    them in write order) and answer each in its loop."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Sync | None] = queue.SimpleQueue()
        self._threads = 0

    def sync(self, job: _Sync) -> None:
        with self._lock:
            self._jobs.put(job)
            if self._threads < _DEPTH:
                # Daemons: a process that exits without `close` had acknowledged nothing of
                # what they were syncing, and must not be kept alive by them.
                threading.Thread(target=self._run, name="slop-log-sync", daemon=True).start()
                self._threads += 1

    def stop(self) -> None:
        """End the threads (`close` has waited for every sync)."""
        with self._lock:
            for _ in range(self._threads):
                self._jobs.put(None)

    def _run(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=_IDLE_S)
            except queue.Empty:
                with self._lock:
                    if self._jobs.empty():
                        self._threads -= 1
                        return
                continue
            if job is None:
                return
            logged: list[AnyEvent] | None = None
            error: BaseException | None = None
            started = time.perf_counter()
            try:
                logged = self._store.sync_batch(job.write)
            except BaseException as exc:  # every publisher of the batch gets it, in its loop
                error = exc
            seconds = time.perf_counter() - started
            try:
                job.loop.call_soon_threadsafe(
                    job.answer, job.number, job.batch, logged, error, seconds
                )
            except RuntimeError:  # that loop is closed: nobody waits for the answer
                pass


async def _carried_through(logged: asyncio.Future[AnyEvent]) -> AnyEvent:
    """`logged`'s result; a cancellation is raised only once the batch has settled it."""
    try:
        return await asyncio.shield(logged)
    except asyncio.CancelledError:
        while not logged.done():
            try:
                await asyncio.shield(logged)
            except asyncio.CancelledError:
                continue  # cancelled again: it is still being written
            except Exception:
                break  # the write failed; the cancellation is what the caller asked for
        raise
