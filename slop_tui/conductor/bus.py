"""The event bus: every event is written ahead to the store, then fanned out to subscribers.

`publish` appends the event to the store first (one fsynced JSON line) and only then puts it
on each subscriber's own unbounded queue, so an event a subscriber sees is already durable, a
slow subscriber (a TUI redrawing, a printer on a slow terminal) delays nobody, and none misses
an event. Between the append and the last `put_nowait` there is no `await`: concurrent
publishers cannot interleave, so every subscriber sees the same order as the log.
"""

from __future__ import annotations

import asyncio

from slop_tui.agents.emit import Emit
from slop_tui.models import AnyEvent
from slop_tui.store import Store

__all__ = ["BusClosed", "Emit", "EventBus"]


class BusClosed(RuntimeError):
    """An event was published after `close()`: a programming error, never a user's."""


class EventBus:
    """Write-ahead publish, ordered fan-out. Without a store, the bus numbers events itself."""

    def __init__(self, store: Store | None) -> None:
        self.store = store
        self._subscribers: list[asyncio.Queue[AnyEvent | None]] = []
        self._closed = False
        self._seq = 0

    @property
    def closed(self) -> bool:
        return self._closed

    async def publish(self, event: AnyEvent) -> AnyEvent:
        """Log `event` (write-ahead), then queue it for every subscriber; return it with its seq.

        A `StoreError` from the append propagates and nobody is told of the event: what
        subscribers see is never ahead of what the log holds.
        """
        if self._closed:
            raise BusClosed(f"event bus is closed; cannot publish {type(event).__name__}")
        if self.store is not None:
            # Synchronous on purpose: no await between logging and fan-out (see module doc).
            event = self.store.append(event)
        else:
            self._seq += 1
            event.seq = self._seq
        for queue in self._subscribers:
            queue.put_nowait(event)
        return event

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
        """Tell every subscriber the stream ended (`None`); later publishes raise `BusClosed`."""
        if self._closed:
            return
        self._closed = True
        for queue in self._subscribers:
            queue.put_nowait(None)
        self._subscribers.clear()
