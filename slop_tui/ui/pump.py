"""The bus subscription of the app, moved onto its message queue in batches.

A burst of events becomes one `SessionEvents` message (one redraw, not one per event). Streamed
text (`ModelTextDelta`, never logged) comes in the same queue and leaves as `LiveText`
messages, one per run of it, so the app sees a call's text after its start and before its end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.message import Message

from slop_tui.conductor.bus import Live
from slop_tui.models import AnyEvent, LiveDelta, ModelTextDelta, ModelToolDelta
from slop_tui.ui.messages import SessionEvents

BATCH_LIMIT = 1000  # events per message at most, so one batch never stalls a frame for long


class LiveText(Message):
    """Streamed text and tool-call progress of model calls, in order with the `SessionEvents`
    around it."""

    def __init__(self, deltas: list[LiveDelta]) -> None:
        super().__init__()
        self.deltas = deltas


async def pump(queue: asyncio.Queue[Live | None], post: Callable[[Message], object]) -> None:
    """Move what `queue` carries to `post` in batches; ends when the bus closes."""
    while True:
        first = await queue.get()
        if first is None:
            return
        batch: list[Live] = [first]
        closed = False
        while not queue.empty() and len(batch) < BATCH_LIMIT:
            item = queue.get_nowait()
            if item is None:
                closed = True
                break
            batch.append(item)
        post_in_order(batch, post)
        if closed:
            return


def post_in_order(batch: list[Live], post: Callable[[Message], object]) -> None:
    """`batch` as messages, one per run of events or of streamed text, in its order."""
    events: list[AnyEvent] = []
    deltas: list[LiveDelta] = []
    for item in batch:
        if isinstance(item, (ModelTextDelta, ModelToolDelta)):
            if events:
                post(SessionEvents(events))
                events = []
            deltas.append(item)
        else:
            if deltas:
                post(LiveText(deltas))
                deltas = []
            events.append(item)
    if events:
        post(SessionEvents(events))
    if deltas:
        post(LiveText(deltas))
