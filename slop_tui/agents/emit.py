"""`Emit`: how agents publish events without knowing the bus (the conductor passes
`EventBus.publish`; a test passes a list's appender). The awaited result is the event as
logged, with its `seq`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slop_tui.models import AnyEvent

Emit = Callable[[AnyEvent], Awaitable[AnyEvent]]
