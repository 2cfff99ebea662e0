"""The conductor's budget question, answered on the TUI's budget screen.

The session (an async worker on the app's own loop) awaits `ask`; the screen's answer resolves
it. When the session withdraws the question (its last tickets ended, or the run was stopped),
the screen goes away with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from textual.app import App

from slop_tui.conductor.budget import BudgetReached
from slop_tui.conductor.spend import BudgetAnswer
from slop_tui.ui.screens.budget import BudgetScreen


class UiBudgetAsker:
    def __init__(self, app: App[Any], on_closed: Callable[[], None] | None = None) -> None:
        self.app = app
        self.on_closed = on_closed  # the app's: show what waited behind the question (the clutch)

    async def ask(self, reached: BudgetReached) -> BudgetAnswer:
        answer: asyncio.Future[BudgetAnswer] = asyncio.get_running_loop().create_future()
        screen = BudgetScreen(reached)

        def answered(result: BudgetAnswer | None) -> None:
            if not answer.done():
                answer.set_result(result if result is not None else BudgetAnswer.stop())

        self.app.push_screen(screen, callback=answered)
        try:
            return await answer
        finally:
            if answer.cancelled() and self.app.screen is screen:
                self.app.pop_screen()  # withdrawn: nobody waits for this answer any more
            if self.on_closed is not None:
                self.on_closed()
