"""A spend limit reached mid-ticket in the TUI pauses the run and asks: raised, the run goes on
to the demo's own end; stopped, the running tickets' files are put back and R continues it. A
limit reached while planning asks before the next planner call; stopped there, nothing changed.

The demo (scripted team, latencies 0) on the sample repository, driven through the pilot with
every clutch approved; a token limit of 85,000 is reached while tickets run (the whole demo
spends ~127,000, cache reads included). Snapshots of the question at 80x24 and 120x40. Update them with
`pytest tests/ui/test_budget_pause.py -n 0 --snapshot-update`, then look at the SVGs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from slop_tui.conductor.budget import BudgetReached
from slop_tui.demo import DEMO_PROMPT
from slop_tui.models import FileChanged, FilesRestored, ModelCallStarted, PlanAccepted, TicketState, Tier
from slop_tui.store import Store
from slop_tui.ui.app import SlopApp
from slop_tui.ui.launch import build_app, prepare_demo
from slop_tui.ui.screens.budget import BudgetScreen
from slop_tui.ui.screens.clutch import ClutchScreen
from slop_tui.ui.screens.plan_review import PlanReviewScreen
from tests.conductor.demo import DemoRun, tree
from tests.ui.helpers import SIZES, wait_for
from tests.ui.test_demo_parity import without_latency
from tests.ui.test_pilot import drive, states
from tests.ui.test_snapshots import replayed_app

LIMIT = 85_000


@pytest.fixture(scope="module")
def final_files(demo: DemoRun) -> dict[str, bytes]:
    """The demo's files at its end, played headless with no limit."""
    assert demo.summary.ok, demo.summary.message
    return tree(demo.repo)


def limited_app(base: Path, limit: int = LIMIT) -> tuple[SlopApp, Path, Path]:
    """(app, repository, agents.toml) of the demo with `max_run_tokens = limit`."""
    repo, env = prepare_demo(base)
    env = without_latency(env, base)
    agents = Path(env["SLOP_CONFIG_DIR"]) / "agents.toml"
    agents.write_text(agents.read_text() + f"\n[run]\nmax_run_tokens = {limit}\n")
    app = build_app(repo, env=env, demo=True, initial_prompt=DEMO_PROMPT,
                    prefs_env={"SLOP_CONFIG_DIR": str(base / "prefs")})
    return app, repo, agents


async def until_asked(pilot: Pilot[Any], app: SlopApp, timeout: float = 60) -> BudgetScreen:
    """Approve the plan and every clutch until the budget question is on top."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not isinstance(app.screen, BudgetScreen):
        assert loop.time() < deadline, "the budget was never reached"
        assert app.view.finished is None, "the run ended without reaching the budget"
        await pilot.pause(0.03)
        if isinstance(app.screen, PlanReviewScreen):
            await pilot.press("s")
        elif isinstance(app.screen, ClutchScreen):
            await pilot.press("a")
    return app.screen


def question(screen: BudgetScreen) -> str:
    return str(screen.query_one("#budget-question", Static).render())


async def test_a_reached_limit_pauses_the_run_and_raising_it_finishes_the_demo(
    tmp_path: Path, final_files: dict[str, bytes]
) -> None:
    app, repo, agents = limited_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        screen = await until_asked(pilot, app)
        asked = question(screen)
        assert asked.startswith(f"budget reached: max_run_tokens {LIMIT:,} (spent "), asked
        assert "raise by more than " in asked and asked.endswith(" or stop")
        assert "for this run; agents.toml is unchanged" in str(screen.query_one("#budget-label", Static).render())
        session: Any = app.session
        # No new ticket starts while it asks (that workers wait at the gate is the conductor's
        # test: tests/conductor/test_budget.py).
        assert session.dispatcher.paused
        assert session.budget.reached is not None

        # The prefilled value is above the spend; a value under it is refused, with the reason.
        value = screen.query_one("#budget-value", Input)
        assert float(value.value) > session.budget.reached.spent
        value.value = "1000"
        await pilot.press("enter")
        assert app.screen is screen
        error = str(screen.query_one("#budget-error", Static).render())
        assert error.startswith("1,000 is not above the spend "), error
        value.value = "1,000,000"
        await pilot.press("enter")
        await drive(pilot, app, timeout=120)

        assert app.view.finished is not None and app.view.finished.ok, app.view.finished
        assert set(states(app).values()) == {TicketState.DONE}
        assert session.budget.limits["max_run_tokens"] == 1_000_000
        assert any("budget raised for this run: max_run_tokens 85,000 -> 1,000,000" in e.text for e in app.view.log)
    assert tree(repo) == final_files
    assert f"max_run_tokens = {LIMIT}" in agents.read_text()  # the raise was for this run only


async def test_stop_at_the_limit_puts_files_back_and_r_asks_again(tmp_path: Path) -> None:
    app, repo, _ = limited_app(tmp_path)
    original = tree(repo)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await until_asked(pilot, app)
        await pilot.press("S")
        await wait_for(lambda: not app.running, timeout=30, pilot=pilot)

        # Stopped as `slop run` stops at a limit: nothing half-done, the run resumable.
        state = Store(repo).load_state()
        assert state is not None and not state.finished
        left = {t.id: t.state for _, t in state.tickets()}
        assert set(left.values()) <= {TicketState.DONE, TicketState.TODO}, left
        assert TicketState.TODO in left.values()
        events = Store(repo).events()
        restored = {e.ticket_id for e in events if isinstance(e, FilesRestored)}
        done_paths = {e.path for e in events if isinstance(e, FileChanged) and left.get(e.ticket_id or "") is TicketState.DONE}
        undone_paths = {e.path for e in events if isinstance(e, FileChanged) and left.get(e.ticket_id or "") is TicketState.TODO}
        assert restored and undone_paths, "no ticket was stopped with files changed"
        now = tree(repo)
        changed = {p for p in set(now) | set(original) if now.get(p) != original.get(p)}
        assert changed <= done_paths, changed
        assert not (undone_paths - done_paths) & changed
        assert app.view.finished is None
        assert any(e.text.startswith("stopped at the budget: max_run_tokens 85,000") for e in app.view.log)

        # R resumes in a new session, whose limit is the configured one again: it asks before
        # any ticket starts (raising there goes on as above; the headless tests resume to the end).
        await pilot.press("escape", "R")
        await until_asked(pilot, app)
        assert not any(s is TicketState.IN_PROGRESS for s in states(app).values())
        await pilot.press("S")
        await wait_for(lambda: not app.running, timeout=30, pilot=pilot)
    state = Store(repo).load_state()
    assert state is not None and not state.finished
    assert {t.id: t.state for _, t in state.tickets()} == left
    assert tree(repo) == now


async def test_a_limit_reached_while_planning_asks_before_the_next_planner_call(tmp_path: Path) -> None:
    """Tier 1's answer alone is over 50 tokens: the question comes before Tier 2 is called
    (no plan to review yet), and stopping there ends the run with nothing changed."""
    app, repo, _ = limited_app(tmp_path, limit=50)
    original = tree(repo)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        screen = await until_asked(pilot, app)
        assert question(screen).startswith("budget reached: max_run_tokens 50 (spent ")
        started = [e.tier for e in Store(repo).events() if isinstance(e, ModelCallStarted)]
        assert started == [Tier.PLANNER]
        await pilot.press("S")
        await wait_for(lambda: not app.running, timeout=30, pilot=pilot)
        finished = app.view.finished
        assert finished is not None and not finished.ok
        assert finished.message.startswith("budget reached: max_run_tokens 50 (spent "), finished.message
    assert not any(isinstance(e, PlanAccepted) for e in Store(repo).events())
    assert tree(repo) == original


def _ask(reached: BudgetReached) -> Any:
    async def before(pilot: Pilot[Any]) -> None:
        pilot.app.push_screen(BudgetScreen(reached))
        await pilot.pause()

    return before


@SIZES
def test_budget_question(snap_compare: Any, size: tuple[int, int]) -> None:
    reached = BudgetReached(limit="max_run_tokens", value=44_000, spent=45_512)
    assert snap_compare(replayed_app(), run_before=_ask(reached), terminal_size=size)


@SIZES
def test_budget_question_refuses_a_value_under_the_spend(snap_compare: Any, size: tuple[int, int]) -> None:
    reached = BudgetReached(limit="max_ticket_usd", value=0.5, spent=0.5312, ticket_id="use-config")

    async def before(pilot: Pilot[Any]) -> None:
        await _ask(reached)(pilot)
        pilot.app.screen.query_one("#budget-value", Input).value = "0.50"
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(replayed_app(), run_before=before, terminal_size=size)
