import asyncio
from pathlib import Path

import pytest

from slop_tui.conductor.bus import BusClosed, EventBus
from slop_tui.models import ErrorRaised, ModelText, Tier
from slop_tui.store import Store, StoreError


def text(n: int) -> ModelText:
    return ModelText(ticket_id="t1", tier=Tier.WORKER, text=f"message {n}")


async def test_events_are_logged_before_subscribers_see_them(tmp_path: Path) -> None:
    store = Store(tmp_path)
    bus = EventBus(store)
    queue = bus.subscribe()
    published = await bus.publish(text(1))
    assert published.seq == 1
    seen = queue.get_nowait()
    assert seen is not None and seen.seq == 1
    # A fresh Store reads the same line back from disk: the append was durable.
    assert [e.seq for e in Store(tmp_path).events()] == [1]


async def test_every_subscriber_gets_every_event_in_order_even_when_slow() -> None:
    bus = EventBus(None)
    fast = bus.subscribe()
    slow = bus.subscribe()

    async def publisher(offset: int) -> None:
        for n in range(50):
            await bus.publish(text(offset + n))
            await asyncio.sleep(0)

    await asyncio.gather(publisher(0), publisher(100))
    await bus.close()
    fast_seen = []
    while (event := fast.get_nowait()) is not None:
        fast_seen.append(event.seq)
    slow_seen = []
    while (event := slow.get_nowait()) is not None:
        slow_seen.append(event.seq)
    assert fast_seen == slow_seen == list(range(1, 101))


async def test_a_late_subscriber_sees_only_later_events_and_close_ends_streams() -> None:
    bus = EventBus(None)
    await bus.publish(text(1))
    late = bus.subscribe()
    await bus.publish(text(2))
    await bus.close()
    first = late.get_nowait()
    assert isinstance(first, ModelText) and first.text == "message 2"
    assert late.get_nowait() is None
    after_close = bus.subscribe()
    assert after_close.get_nowait() is None
    with pytest.raises(BusClosed):
        await bus.publish(text(3))


async def test_unsubscribed_queue_gets_nothing_more() -> None:
    bus = EventBus(None)
    queue = bus.subscribe()
    bus.unsubscribe(queue)
    await bus.publish(text(1))
    assert queue.empty()


async def test_a_failed_append_reaches_no_subscriber(tmp_path: Path) -> None:
    (tmp_path / ".slop").write_text("a file where the directory should be")
    bus = EventBus(Store(tmp_path))
    queue = bus.subscribe()
    with pytest.raises(StoreError):
        await bus.publish(ErrorRaised(message="boom"))
    assert queue.empty()
