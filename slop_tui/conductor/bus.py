"""The event bus: every event is written ahead to the store, then fanned out to subscribers.

Group commit. `publish` queues its event and waits. On the loop's next turn the events
published during this one are handed to the bus's writer thread, which writes everything
handed to it since its last write as one batch (`Store.write_batch`: one write) and passes
it to a sync thread (`Store.sync_batch`: one fsync). The next batch is written while earlier
ones are still syncing (up to `_DEPTH` at once), and the store settles them in write order.
So the loop goes on running workers while the disk syncs, a burst of N events costs one
fsync instead of N, and a batch waits for its own sync, not for the one before it as well.
Once a batch is durable, back in the loop, its events are put on every subscriber's own
unbounded queue in seq order, and only then are their publishers released. So:

- an event a subscriber sees, and an event `publish` returned, is already in the log
  (write-ahead); a failed write reaches every publisher of its batch and no subscriber;
- seqs are gap-free and follow the order of the `publish` calls (batches are written one at
  a time, each in order, and settled in that order), and every subscriber sees that order;
- a slow subscriber (a TUI redrawing, a printer on a slow terminal) delays nobody and misses
  nothing.

A publish, once called, is carried through: a publisher cancelled while it waits still has
its event logged and fanned out exactly once, and its `CancelledError` is raised only after
that (the caller never goes on while its event's fate is open). The event belongs to the bus
from `publish` on: it is encoded in the writer thread, so nobody may change it meanwhile.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import NamedTuple

from slop_tui.agents.emit import Emit
from slop_tui.models import AnyEvent
from slop_tui.store import LogWrite, Store

__all__ = ["BusClosed", "Emit", "EventBus"]

_Waiting = tuple[AnyEvent, asyncio.Future[AnyEvent]]  # an event and its publisher's answer


class BusClosed(RuntimeError):
    """An event was published after `close()`: a programming error, never a user's."""


class EventBus:
    """Write-ahead publish, ordered fan-out. Without a store, the bus numbers events itself."""

    def __init__(self, store: Store | None) -> None:
        self.store = store
        self._subscribers: list[asyncio.Queue[AnyEvent | None]] = []
        self._closed = False
        self._ended = False  # subscribers were sent None
        self._seq = 0
        self._queued: list[_Waiting] = []  # published this turn, not yet handed to the writer
        self._handed = 0  # batches handed to the writer so far
        self._settled = 0  # of which settled in the loop (always the first ones)
        self._answers: dict[int, _Answer] = {}  # answered, waiting for an earlier batch
        self._writer: _LogWriter | None = None
        self._drained: list[asyncio.Future[None]] = []  # `close` calls waiting for the writer

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
        loop = asyncio.get_running_loop()
        logged: asyncio.Future[AnyEvent] = loop.create_future()
        if not self._queued:
            # On the loop's next turn: whatever else this turn publishes joins the batch.
            loop.call_soon(self._hand_over, loop)
        self._queued.append((event, logged))
        return await _carried_through(logged)

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self._queued = self._queued, []
        if not batch:
            return
        assert self.store is not None
        if self._writer is None:
            self._writer = _LogWriter(self.store)
        number = self._handed
        self._handed += 1
        try:
            self._writer.hand(_Handed(loop, number, batch, self._answered))
        except RuntimeError as exc:  # no thread to be had (the interpreter is shutting down)
            self._answered(number, batch, None, exc)

    def _answered(
        self,
        number: int,
        batch: list[_Waiting],
        events: list[AnyEvent] | None,
        error: BaseException | None,
    ) -> None:
        """Back in the loop: settle batches in the order they were handed over (answers come
        from several threads)."""
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

    def _fan_out(self, events: list[AnyEvent]) -> None:
        for queue in self._subscribers:
            for event in events:
                queue.put_nowait(event)

    def _end_streams(self) -> None:
        if not self._ended:
            self._ended = True
            for queue in self._subscribers:
                queue.put_nowait(None)
            self._subscribers.clear()
            if self._writer is not None:
                self._writer.stop()
                self._writer = None
        drained, self._drained = self._drained, []
        for waiter in drained:
            if not waiter.done():
                waiter.set_result(None)

    def subscribe(self) -> asyncio.Queue[AnyEvent | None]:
        """A new queue of every event published from now on, in order; `None` once closed."""
        queue: asyncio.Queue[AnyEvent | None] = asyncio.Queue()
        if self._closed:
            queue.put_nowait(None)
        else:
            self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[AnyEvent | None]) -> None:
        """Stop feeding `queue` (a closed screen); unknown queues are ignored."""
        try:
            self._subscribers.remove(queue)
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
_DEPTH = 3  # batches synced at once: a sync need not wait for the one before it to end
_IDLE_S = 2.0  # an idle writer ends its threads (a bus nobody closed leaves none behind)


class _Handed(NamedTuple):
    loop: asyncio.AbstractEventLoop
    number: int
    batch: list[_Waiting]
    answer: Callable[[int, list[_Waiting], list[AnyEvent] | None, BaseException | None], None]


class _LogWriter:
    """Threads that append handed batches to the store and answer each in its loop.

    The writer thread writes everything handed since its last write as one batch
    (`Store.write_batch`) and passes it to one of `_DEPTH` sync threads (`Store.sync_batch`,
    which settles batches in write order), so the next batch is written while earlier ones
    are still being synced: on a disk whose flushes complete together, a batch waits for
    its own sync, not for the one before it as well.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._cond = threading.Condition()
        self._handed: list[_Handed] = []
        self._syncs: queue.SimpleQueue[tuple[LogWrite, list[_Handed]] | None] = queue.SimpleQueue()
        self._in_sync = 0
        self._stopping = False
        self._running = False

    def hand(self, handed: _Handed) -> None:
        with self._cond:
            self._handed.append(handed)
            self._cond.notify_all()
            if not self._running:
                # Daemons: whatever a process that exits without `close` had not written was
                # never acknowledged, and must not keep it alive.
                for _ in range(_DEPTH):
                    threading.Thread(target=self._sync_loop, name="slop-log-sync", daemon=True).start()
                threading.Thread(target=self._write_loop, name="slop-log-write", daemon=True).start()
                self._running = True

    def stop(self) -> None:
        """End the threads once everything handed is written (`close` waits for that)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not (self._handed and self._in_sync < _DEPTH) and not (
                    self._stopping and not self._handed
                ):
                    if not self._cond.wait(_IDLE_S) and not self._handed and not self._in_sync:
                        break
                if not self._handed:
                    self._running = False
                    for _ in range(_DEPTH):
                        self._syncs.put(None)
                    return
                handed, self._handed = self._handed, []
                self._in_sync += 1
            events = [event for item in handed for event, _ in item.batch]
            try:
                write = self._store.write_batch(events)
            except BaseException as exc:  # every publisher of the batch gets it, in its loop
                self._answer(handed, None, exc)
                self._synced()
                continue
            self._syncs.put((write, handed))

    def _sync_loop(self) -> None:
        while (job := self._syncs.get()) is not None:
            write, handed = job
            logged: list[AnyEvent] | None = None
            error: BaseException | None = None
            try:
                logged = self._store.sync_batch(write)
            except BaseException as exc:
                error = exc
            self._answer(handed, logged, error)
            self._synced()

    def _synced(self) -> None:
        with self._cond:
            self._in_sync -= 1
            self._cond.notify_all()

    @staticmethod
    def _answer(
        handed: list[_Handed], logged: list[AnyEvent] | None, error: BaseException | None
    ) -> None:
        start = 0
        for item in handed:
            mine = None if logged is None else logged[start : start + len(item.batch)]
            start += len(item.batch)
            try:
                item.loop.call_soon_threadsafe(item.answer, item.number, item.batch, mine, error)
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
