"""Counting the bytes a Textual app writes to its terminal, for tests and benchmarks.

Over SSH every byte an app writes crosses the network. Under `App.run_test` the headless driver
writes nothing; told it is not headless, Textual renders each frame to escape sequences and
hands them to `write`, which here counts them instead of sending them anywhere.
"""

from __future__ import annotations

import asyncio
from typing import Any


class TerminalBytes:
    """Counts from now on what `app` (running under `run_test`) writes to its terminal."""

    def __init__(self, app: Any) -> None:
        from textual.drivers.headless_driver import HeadlessDriver

        counter = self

        class Counting(HeadlessDriver):
            @property
            def is_headless(self) -> bool:
                return False

            def write(self, data: str) -> None:
                counter.total += len(data.encode("utf-8"))

        self.total = 0
        driver = app._driver
        if not isinstance(driver, HeadlessDriver):
            raise TypeError("TerminalBytes counts an app running under run_test (a headless driver)")
        driver.__class__ = Counting

    async def per_second(self, seconds: float) -> float:
        """Bytes written per second over the next `seconds`."""
        start = self.total
        await asyncio.sleep(seconds)
        return (self.total - start) / seconds
