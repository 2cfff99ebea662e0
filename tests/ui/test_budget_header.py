"""The header's second line shows the spend against the limits when a limit is set, and only
then: the run's, and the top ticket's against a per-ticket limit, after the run's total and
before the tiers' split (which a narrow terminal cuts first)."""

from __future__ import annotations

from textual.app import App, ComposeResult

from slop_tui.conductor.budget import Budget
from slop_tui.config import RunSettings
from slop_tui.models import PlanAccepted, Ticket, Tier, Track, Usage, UsageUpdated
from slop_tui.ui.run_view import RunView
from slop_tui.ui.widgets.run_header import RunHeader
from tests.ui.helpers import screen_text


class _HeaderApp(App[None]):
    def __init__(self, budget: Budget | None, view: RunView | None = None) -> None:
        super().__init__()
        self.view = view if view is not None else RunView()
        self.view.total = Usage(input_tokens=12_000, output_tokens=34, cost_usd=0.5)
        self.budget = budget

    def compose(self) -> ComposeResult:
        header = RunHeader(self.view)
        header.budget = self.budget
        yield header


async def _usage_line(budget: Budget | None, view: RunView | None = None) -> str:
    app = _HeaderApp(budget, view)
    async with app.run_test() as pilot:
        header = app.query_one(RunHeader)
        header.redraw()
        await pilot.pause()
        return header.render().plain.splitlines()[1]


async def test_the_header_shows_spend_against_the_limits() -> None:
    line = await _usage_line(Budget(RunSettings(max_run_tokens=50_000, max_run_usd=2.0)))
    assert line.startswith("total 12.0k $0.50 · budget 12,034/50,000 tok · $0.50/$2.00 │ T1 "), line


async def test_no_limit_no_budget_in_the_header() -> None:
    assert (await _usage_line(Budget(RunSettings()))).startswith("total 12.0k $0.50 │ T1 ")
    assert (await _usage_line(None)).startswith("total 12.0k $0.50 │ T1 ")


async def test_a_per_ticket_limit_shows_the_top_tickets_spend() -> None:
    view = RunView()
    view.apply(PlanAccepted(tracks=[Track(id="tr", title="t", tickets=[
        Ticket(id="a", title="a", description="", target_files=["a.py"]),
        Ticket(id="b", title="b", description="", target_files=["b.py"]),
    ])]))
    for ticket_id, tokens in (("a", 3_000), ("b", 7_500), ("a", 1_000)):
        view.apply(UsageUpdated(ticket_id=ticket_id, track_id="tr", tier=Tier.WORKER, model="m", usage=Usage(input_tokens=tokens)))
    line = await _usage_line(Budget(RunSettings(max_ticket_tokens=20_000)), view)
    assert "· budget top ticket 7,500/20,000 tok │ T1 " in line, line


async def test_at_80_columns_a_busy_header_keeps_the_budget_and_cuts_the_tiers_split() -> None:
    app = _HeaderApp(Budget(RunSettings(max_run_tokens=300_000, max_ticket_tokens=200_000, max_run_usd=20.0)))
    async with app.run_test(size=(80, 4)) as pilot:
        header = app.query_one(RunHeader)
        header.busy = "planning… " + "a long first line " * 6
        header.pending = 2
        header.redraw()
        await pilot.pause()
        first, second = screen_text(app).splitlines()[:2]
    assert first.rstrip().endswith("…"), first  # cut, never wrapped over the usage line
    assert second.strip().startswith("total 12.0k $0.50 · budget 12,034/300,000 tok · $0.50/$20.00"), second
    assert second.rstrip().endswith("…"), second  # the tiers' split is what is cut
