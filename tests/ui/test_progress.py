"""Feedback while a model works: a spinner and the elapsed time in the header while a tier's
call is under way, a rate-limited call's retry shown as it happens (through the real OpenAI
SDK against the scripted HTTP server on 127.0.0.1), and planning cancelled from the board."""

from __future__ import annotations

import json
import re
from pathlib import Path

from slop_tui.config import load_config
from slop_tui.conductor.session import PlanReviewer, Session
from slop_tui.models import ModelCallEnded, ModelCallRetrying, ModelCallStarted, Tier
from slop_tui.providers import make_provider
from slop_tui.store import Store
from slop_tui.testing import HTTPReply, LLMServer
from slop_tui.tools.clutch import Clutch
from slop_tui.ui.app import SessionLike, SlopApp
from slop_tui.ui.screens.clutch import ClutchScreen
from slop_tui.ui.screens.confirm import ConfirmScreen
from slop_tui.ui.screens.plan_review import PlanReviewScreen
from tests.providers.helpers import spec_for
from tests.ui.helpers import screen_text, wait_for
from tests.ui.scenario import PLAN_TRACKS, app_on, make_repo

SIZE = (100, 30)
SPIN = re.compile(r"([⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]) T1 planner (\d+) s")


def slow_planner(tmp_path: Path, latency_s: float) -> tuple[Path, dict[str, str]]:
    """The pilot scenario with a planner that takes `latency_s` to answer."""
    repo, env = make_repo(tmp_path)
    scenario = tmp_path / "scenario.toml"
    text = scenario.read_text()
    scenario.write_text(text.replace("[[planner]]\n", f"[[planner]]\nlatency_s = {latency_s}\n", 1))
    return repo, env


def header(app: SlopApp) -> str:
    return screen_text(app).splitlines()[0]


async def test_spinner_and_elapsed_while_planning_then_cancel(tmp_path: Path) -> None:
    repo, env = slow_planner(tmp_path, 60)
    app = app_on(repo, env, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await wait_for(lambda: SPIN.search(header(app)) is not None, pilot=pilot)
        frames: set[str] = set()

        def moving() -> bool:
            found = SPIN.search(header(app))
            assert found is not None, header(app)  # never a static `planning…` meanwhile
            frames.add(found.group(1))
            return int(found.group(2)) >= 1 and len(frames) >= 3

        await wait_for(moving, timeout=8, pilot=pilot)
        # The header is explained by its tooltip (and the help screen).
        assert "T1 planner, T2 lead" in str(app.board.query_one("#header").tooltip)

        await pilot.press("S")
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen), pilot=pilot)
        assert "Cancel the planning?" in screen_text(app)
        await pilot.press("y")
        await wait_for(lambda: not app.running, timeout=8, pilot=pilot)
        shown = screen_text(app)
        assert "planning cancelled; nothing ran" in shown
        assert not SPIN.search(shown) and "planning…" not in shown
        assert not app.calls  # the cancelled call is no longer under way
    events = list(Store(repo).events())
    assert any(isinstance(e, ModelCallStarted) and e.tier is Tier.PLANNER for e in events)


async def test_a_rate_limited_call_shows_its_retry(tmp_path: Path) -> None:
    repo, env = make_repo(tmp_path)
    with LLMServer(api_key="sk-test-0123456789abcdefSECRET") as srv:
        srv.fail_next(429, retry_after=3)
        srv.push(HTTPReply(text=json.dumps(PLAN_TRACKS)))
        planner = make_provider(spec_for("openai", srv, tier=Tier.PLANNER, max_retries=2, timeout_s=10))
        config = load_config(repo, env=env)

        def factory(clutch: Clutch, reviewer: PlanReviewer, linear: bool) -> SessionLike:
            return Session(repo, config, clutch=clutch, plan_reviewer=reviewer, linear=linear,
                           providers={Tier.PLANNER: planner})

        app = SlopApp(repo_root=repo, session_factory=factory, initial_prompt="Build calc",
                      prefs_env={"SLOP_CONFIG_DIR": str(tmp_path / "prefs")})
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("enter")
            retry = re.compile(r"T1 planner \d+ s · 429, retrying in ([0-3]) s \(2/3\)")
            await wait_for(lambda: retry.search(header(app)) is not None, timeout=10, pilot=pilot)
            first = int(retry.search(header(app)).group(1))  # type: ignore[union-attr]
            # The wait counts down, and the log keeps the retry as it happened.
            await wait_for(lambda: (m := retry.search(header(app))) is None or int(m.group(1)) < first,
                           timeout=5, pilot=pilot)
            assert any("T1 planner: 429, retrying in 3 s (2/3)" in e.text for e in app.view.log)
            # The retry succeeds: the plan comes, and nothing is under way any more at review.
            await wait_for(lambda: isinstance(app.screen, PlanReviewScreen), timeout=15, pilot=pilot)
            assert not app.calls  # its end came before the review (tests/ui/test_request_order.py)
            await pilot.press("q", "y")  # abort at review (asked first)
            await wait_for(lambda: not app.running, timeout=8, pilot=pilot)
        await planner.aclose()
    events = [e for e in Store(repo).events() if isinstance(e, (ModelCallStarted, ModelCallRetrying, ModelCallEnded))]
    retries = [e for e in events if isinstance(e, ModelCallRetrying)]
    assert [(r.status, r.attempt, r.tries, r.wait_s) for r in retries] == [(429, 2, 3, 3.0)]
    ended = [e for e in events if isinstance(e, ModelCallEnded) and e.call == retries[0].call]
    assert [e.ok for e in ended] == [True]


async def test_stop_from_the_board_mid_run_then_resume(tmp_path: Path) -> None:
    repo, env = make_repo(tmp_path)
    app = app_on(repo, env, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, PlanReviewScreen), pilot=pilot)
        await pilot.press("s")
        await wait_for(lambda: isinstance(app.screen, ClutchScreen), pilot=pilot)
        await pilot.press("escape")  # later: back to the board, the proposal stays queued
        await wait_for(lambda: not isinstance(app.screen, ClutchScreen), pilot=pilot)
        assert "S stop" in screen_text(app)
        await pilot.press("S")
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen), pilot=pilot)
        await pilot.press("y")
        await wait_for(lambda: not app.running, timeout=8, pilot=pilot)
        assert "R continues it" in screen_text(app) or "R resume" in screen_text(app)
        assert app.can_resume and not app.clutch.pending
        await pilot.press("R")

        async def approve_all() -> bool:
            if isinstance(app.screen, ClutchScreen):
                await pilot.press("a")
            return not app.running and app.view.finished is not None

        rounds = 0
        while not await approve_all():
            rounds += 1
            assert rounds < 300, f"the resumed run did not finish: {type(app.screen).__name__} {app.running} {[(v.ticket.id, v.ticket.state) for v in app.view.tickets.values()]}\n{screen_text(app)}"
            await pilot.pause(0.03)
        assert "3/3 done" in screen_text(app)
