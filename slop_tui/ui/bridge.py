"""The conductor's view of the UI: a `Clutch` and a `PlanReviewer` that ask the person.

Both are called from the session, which runs as an async worker on the app's own event loop:
they queue what must be decided, post a message, and await a future the app resolves when a
screen is dismissed. The session waits; the UI goes on drawing.
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
        self.app.post_message(PlanReviewRequested(PlanRequest(tracks=tracks, answer=answer, comment_history=self.comments)))
        review = cast(PlanReview, await answer)
        if review.action == "revise":
            self.comments.append(review.comment)
        return review
