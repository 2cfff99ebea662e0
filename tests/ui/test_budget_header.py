"""The header shows the run's spend against its limits when a limit is set, and only then."""

from __future__ import annotations

from textual.app import App, ComposeResult

from slop_tui.conductor.budget import Budget
from slop_tui.config import RunSettings
from slop_tui.models import Usage
from slop_tui.ui.run_view import RunView
from slop_tui.ui.widgets.run_header import RunHeader


class _HeaderApp(App[None]):
    def __init__(self, budget: Budget | None) -> None:
        super().__init__()
        self.view = RunView()
        self.view.total = Usage(input_tokens=12_000, output_tokens=34, cost_usd=0.5)
        self.budget = budget

    def compose(self) -> ComposeResult:
        header = RunHeader(self.view)
        header.budget = self.budget
        yield header


async def _first_line(budget: Budget | None) -> str:
    app = _HeaderApp(budget)
    async with app.run_test() as pilot:
        header = app.query_one(RunHeader)
        header.redraw()
        await pilot.pause()
        return header.render().plain.splitlines()[0]


async def test_the_header_shows_spend_against_the_limits() -> None:
    line = await _first_line(Budget(RunSettings(max_run_tokens=50_000, max_run_usd=2.0)))
    assert line.endswith("budget 12,034/50,000 tok · $0.50/$2.00"), line


async def test_no_limit_no_budget_in_the_header() -> None:
    assert "budget" not in await _first_line(Budget(RunSettings()))
    assert "budget" not in await _first_line(None)
