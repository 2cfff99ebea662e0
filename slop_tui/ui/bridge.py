"""The conductor's view of the UI: a `Clutch` and a `PlanReviewer` that ask the person.

Both are called from the session, which runs as an async worker on the app's own event loop:
they queue what must be decided, post a message, and await a future the app resolves when a
screen is dismissed. The session waits; the UI goes on drawing.

A question must not overtake the events published before it: those reach the app through the
event pump (`ui/pump.py`), and a bus that writes inline returns from `publish` without
yielding, so the pump may not have run yet. `_after_events` gives it that turn first.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

from slop_tui.conductor.planning import PlanReview
from slop_tui.models import Decision, Proposal, Track
from slop_tui.ui.messages import ClutchChanged, PendingProposal, PlanRequest, PlanReviewRequested

if TYPE_CHECKING:
    from textual.app import App

EDITED_NOTE = "Your edit, re-proposed: this is exactly what would be applied."


async def _after_events() -> None:
    """One turn of the loop: the pump, woken by the events already published, posts them
    before the question is posted (asyncio runs ready tasks in the order they were woken)."""
    await asyncio.sleep(0)


class UiClutch:
    """Proposals wait here, in order, until the person decides; none is dropped.

    A proposal re-asked right after the person edited it (the conductor re-diffs every edit)
    goes to the front, so the redrawn diff comes up at once, before other tickets' proposals.
    """

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self.pending: list[PendingProposal] = []
        self.edited_ticket: str | None = None  # the ticket whose edit is being re-proposed

    async def decide(self, proposal: Proposal) -> Decision:
        await _after_events()  # before it is queued: a cancel meanwhile leaves nothing behind
        answer: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if self.edited_ticket is not None and proposal.ticket_id == self.edited_ticket:
            self.edited_ticket = None
            item = PendingProposal(proposal=proposal, answer=answer, note=EDITED_NOTE)
            self.pending.insert(0, item)
        else:
            item = PendingProposal(proposal=proposal, answer=answer)
            self.pending.append(item)
        self.app.post_message(ClutchChanged())
        try:
            return cast(Decision, await answer)
        finally:
            # Decided, or withdrawn because the ticket was cancelled: either way it leaves.
            if item in self.pending:
                self.pending.remove(item)
            self.app.post_message(ClutchChanged())

    def resolve(self, item: PendingProposal, decision: Decision) -> None:
        if not item.answer.done():
            item.answer.set_result(decision)


class UiPlanReviewer:
    """Shows the plan on its own screen and waits for start / edit / send back / abort."""

    def __init__(self, app: App[Any]) -> None:
        self.app = app
        self.comments: list[str] = []

    async def review(self, tracks: list[Track]) -> PlanReview:
        answer: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        await _after_events()
        self.app.post_message(PlanReviewRequested(PlanRequest(tracks=tracks, answer=answer, comment_history=self.comments)))
        review = cast(PlanReview, await answer)
        if review.action == "revise":
            self.comments.append(review.comment)
        return review
