"""Typed messages the conductor side posts to the UI (the app handles them on its own loop).

The session runs as an async Textual worker on the app's loop; the event pump, the clutch and
the plan reviewer post these instead of touching widgets, so the UI redraws on its own turn
and never waits on a model call or a command.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from textual.message import Message

from slop_tui.models import AnyEvent, Proposal, Track


class SessionEvents(Message):
    """A batch of bus events, in publish order (everything queued when the pump woke up)."""

    def __init__(self, events: list[AnyEvent]) -> None:
        super().__init__()
        self.events = events


class ClutchChanged(Message):
    """A proposal was queued at the clutch, decided, or withdrawn (its ticket was cancelled)."""


@dataclass(eq=False)
class PlanRequest:
    """The plan waiting for the person's review, and where the answer goes."""

    tracks: list[Track]
    answer: asyncio.Future[object]
    comment_history: list[str]


class PlanReviewRequested(Message):
    def __init__(self, request: PlanRequest) -> None:
        super().__init__()
        self.request = request


class RunEnded(Message):
    """The session's run (or resume) returned, or failed with a one-line error."""

    def __init__(self, *, ok: bool, message: str) -> None:
        super().__init__()
        self.ok = ok
        self.message = message


@dataclass(eq=False)
class PendingProposal:
    """One proposal waiting at the clutch; `answer` resolves when the person decides."""

    proposal: Proposal
    answer: asyncio.Future[object]
    note: str | None = None
