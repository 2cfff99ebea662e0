"""Bytes written to the terminal per second while a model's text streams in (over SSH every
byte crosses the network): the idle board, a call in flight without text (the spinner
alone), the same call streaming 60 pieces a second through the bus (coalesced by
`ObservedProvider` to `DELTA_S`, drawn by the spinner's frames), and the same with the
ticket's worker tab open (the text grows there too). 120x40, headless, counting driver.

    PYTHONPATH=. python benchmarks/bench_streaming.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_tui import ByteCount  # noqa: E402

PIECES_PER_S = 60  # a fast model's tokens a second
SECONDS = 3.0


async def main() -> None:
    from slop_tui.conductor.bus import EventBus
    from slop_tui.config import ModelSpec, ProviderSpec
    from slop_tui.models import AnyEvent, ChatMessage, Tier, Usage
    from slop_tui.providers.base import ModelReply, ModelRequest
    from slop_tui.providers.observed import ObservedProvider
    from slop_tui.ui.app import SlopApp
    from tests.ui.helpers import sample_events

    class Endless:
        """A provider whose reply streams `PIECES_PER_S` words a second until told to stop."""

        def __init__(self) -> None:
            self.spec = ModelSpec(tier=Tier.WORKER, provider=ProviderSpec(name="bench", kind="scripted"), model="")
            self.label = "bench"
            self.stop = asyncio.Event()

        async def complete(self, request: ModelRequest, *, ticket_id: str | None = None) -> ModelReply:
            await self.stop.wait()
            return self._reply()

        def _reply(self) -> ModelReply:
            return ModelReply(text="", tool_calls=[], stop_reason="end_turn", usage=Usage(), model="bench")

        async def stream(self, request: ModelRequest, *, ticket_id: str | None = None) -> AsyncIterator[str | ModelReply]:
            n = 0
            while not self.stop.is_set():
                yield f"word{n} "
                n += 1
                await asyncio.sleep(1 / PIECES_PER_S)
            yield self._reply()

        async def aclose(self) -> None:
            return None

    events = sample_events()
    with tempfile.TemporaryDirectory() as tmp:
        app = SlopApp(repo_root=Path(tmp), session_factory=None, replay=events, prefs_env={"SLOP_CONFIG_DIR": tmp})
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("escape")
            bus = EventBus(None)
            app.attach_bus(bus)
            count = ByteCount(app)
            app.screen.refresh()
            await asyncio.sleep(1.0)
            idle = await count.per_second(SECONDS)
            ticket = next(v for v in app.view.tickets.values())
            inner = Endless()

            async def publish(event: AnyEvent) -> AnyEvent:
                return await bus.publish(event)

            request = ModelRequest(system="", messages=[ChatMessage(role="user", content="go")])

            async def call(live: Any) -> float:
                inner.stop.clear()
                provider = ObservedProvider(inner, Tier.WORKER, publish, live=live)  # type: ignore[arg-type]
                task = asyncio.create_task(provider.complete(request, ticket_id=ticket.ticket.id))
                await asyncio.sleep(0.5)
                rate = await count.per_second(SECONDS)
                inner.stop.set()
                await task
                await asyncio.sleep(0.5)
                return rate

            class Quiet:
                has_live = False

                def tell(self, delta: Any) -> None:
                    return None

            spinner = await call(Quiet())
            streaming = await call(bus)
            app.open_ticket(ticket)
            await asyncio.sleep(0.3)
            await pilot.press("2")
            await asyncio.sleep(0.5)
            detail_idle = await count.per_second(SECONDS)
            detail_spinner = await call(Quiet())
            tab = await call(bus)
            await bus.close()
            app.exit()
    print(f"bytes written to the terminal per second (120x40, {SECONDS:.0f} s each; streaming {PIECES_PER_S} pieces/s):")
    print(f"  idle board                         {idle:8.0f} B/s")
    print(f"  a call in flight, spinner only     {spinner:8.0f} B/s")
    print(f"  a call streaming, spinner line     {streaming:8.0f} B/s")
    print(f"  worker tab open, no call           {detail_idle:8.0f} B/s")
    print(f"  worker tab open, a call, no text   {detail_spinner:8.0f} B/s")
    print(f"  a call streaming, worker tab open  {tab:8.0f} B/s")
    # The peer in the same run: the spinner alone. Streamed text should cost about as much.
    print(f"streaming / spinner only on the board: {streaming / max(spinner, 1):.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
