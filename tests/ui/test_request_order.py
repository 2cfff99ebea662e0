"""A question the session asks (the plan review, a clutch proposal) reaches the app after every
event the session published before it.

Events come through the event pump; the questions are posted straight to the app. When the
bus writes inline (a fast disk: it does not yield), a run of publishes followed by a question
never gave the pump a turn, so the question could arrive first: the plan review opened while
the header still showed the lead's call under way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slop_tui.conductor.bus import EventBus
from slop_tui.models import ModelCallEnded, ModelCallStarted, Tier
from slop_tui.ui.app import SlopApp
from slop_tui.ui.screens.clutch import ClutchScreen
from slop_tui.ui.screens.plan_review import PlanReviewScreen
from tests.ui.helpers import sample_tracks, wait_for, write_proposal


async def _asked_after_a_call_ended(app: SlopApp, pilot: Any, ask: Any, screen_type: type) -> list[bool]:
    """Publish a call's start, let it show; then its end and, in the same turn, `ask()`.
    Returns whether a call was under way each time a screen of `screen_type` came on top."""
    bus = EventBus(None)  # no store: each publish fans out at once, without yielding
    app.attach_bus(bus)
    seen: list[bool] = []

    def changed(screen: object) -> None:
        if isinstance(screen, screen_type):
            seen.append(bool(app.calls))

    app.screen_change_signal.subscribe(app, changed)
    await bus.publish(ModelCallStarted(call=7, tier=Tier.LEAD, model="m"))
    await wait_for(lambda: bool(app.calls), pilot=pilot)

    async def end_then_ask() -> object:
        await bus.publish(ModelCallEnded(call=7, tier=Tier.LEAD, ok=True))  # returns without yielding
        return await ask()

    asked = app.run_worker(end_then_ask(), exit_on_error=False)
    await wait_for(lambda: isinstance(app.screen, screen_type), pilot=pilot)
    asked.cancel()
    await bus.close()
    return seen


async def test_the_plan_review_comes_after_the_events_before_it() -> None:
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None)
    async with app.run_test(size=(120, 40)) as pilot:
        seen = await _asked_after_a_call_ended(app, pilot, lambda: app.reviewer.review(sample_tracks()), PlanReviewScreen)
    assert seen == [False]  # the lead's call had ended when its plan was shown


async def test_a_clutch_proposal_comes_after_the_events_before_it() -> None:
    app = SlopApp(repo_root=Path("/nonexistent/repo"), session_factory=None)
    async with app.run_test(size=(120, 40)) as pilot:
        seen = await _asked_after_a_call_ended(app, pilot, lambda: app.clutch.decide(write_proposal()), ClutchScreen)
    assert seen == [False]
