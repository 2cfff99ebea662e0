"""Planning a run: Tier 1 and Tier 2 over the repository map, then the person's review.

Nothing of a plan reaches the session's state before the whole plan is valid and accepted.
"""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Literal, Protocol

import msgspec

from slop_tui.agents.emit import Emit
from slop_tui.agents.planner import (
    Gate,
    plan_limits,
    plan_tickets,
    plan_tracks,
    planner_instructions,
    track_map,
    tracks_overview,
)
from slop_tui.conductor.map_holder import MapHolder
from slop_tui.conductor.plan_check import check_edited_plan
from slop_tui.config import RunSettings
from slop_tui.errors import SlopError
from slop_tui.models import ErrorRaised, PlanError, Track, plan_to_track
from slop_tui.providers.base import Provider
from slop_tui.providers.usage import UsageLedger


_NO_MAP = "(no repository map)"  # what the planners read where the map failed


class PlanReview(msgspec.Struct, kw_only=True):
    """A reviewer's answer: accept (the tracks, possibly edited), revise with a comment, or abort."""

    action: Literal["accept", "revise", "abort"]
    tracks: list[Track] | None = None  # accept: the plan to run (None: as proposed)
    comment: str = ""  # revise: what Tier 1 and Tier 2 should change

    @classmethod
    def accept(cls, tracks: list[Track] | None = None) -> PlanReview:
        return cls(action="accept", tracks=tracks)

    @classmethod
    def revise(cls, comment: str) -> PlanReview:
        return cls(action="revise", comment=comment)

    @classmethod
    def abort(cls, comment: str = "") -> PlanReview:
        return cls(action="abort", comment=comment)


class PlanReviewer(Protocol):
    """Whoever looks at a plan before any ticket runs (the TUI's plan screen, a terminal)."""

    async def review(self, tracks: list[Track]) -> PlanReview: ...


class PlanRejected(SlopError):
    """The reviewer stopped the run at the plan; nothing ran."""


async def plan_and_review(
    prompt: str,
    *,
    planner: Provider,
    lead: Provider,
    settings: RunSettings,
    repo_root: Path,
    map_holder: MapHolder,
    ledger: UsageLedger,
    emit: Emit,
    reviewer: PlanReviewer | None,
    gate: Gate | None = None,
) -> list[Track]:
    """Tier 1 cuts `prompt` into tracks, Tier 2 each track into tickets, over the repository
    map; the reviewer (if any) accepts, edits, sends back with a comment (planned again) or
    aborts (`PlanRejected`). An edited plan breaking the limits is shown again with the error.
    `gate` is awaited before every planner and lead call (the session's spend limits)."""
    retries = settings.plan_retries
    feedback: str | None = None
    repo_map = await map_holder.current()
    if repo_map is None:
        await emit(ErrorRaised(message=f"{map_holder.problem}; planning without it"))
    # Read once: every planner call of the run sees the same bytes.
    instructions = planner_instructions(repo_root, settings).system_section()
    limits = plan_limits(settings)
    while True:
        overview = _NO_MAP
        if repo_map is not None:
            overview = await asyncio.to_thread(tracks_overview, repo_map, settings)
        track_plan = await plan_tracks(
            planner,
            prompt,
            repo_summary=overview,
            retries=retries,
            ledger=ledger,
            emit=emit,
            feedback=feedback,
            limits=limits,
            instructions=instructions,
            gate=gate,
        )
        tracks: list[Track] = []
        reserved: set[str] = set()
        for planned in track_plan.tracks:
            skeletons = _NO_MAP
            if repo_map is not None:
                skeletons = await asyncio.to_thread(track_map, repo_map, planned, settings)
            ticket_plan = await plan_tickets(
                lead,
                planned,
                skeletons=skeletons,
                retries=retries,
                ledger=ledger,
                emit=emit,
                reserved_ids=reserved,
                limits=limits,
                instructions=instructions,
                gate=gate,
            )
            track = plan_to_track(planned, ticket_plan)
            tracks.append(track)
            reserved |= {t.id for t in track.tickets}
        if reviewer is None:
            return tracks
        while True:
            review = await reviewer.review(copy.deepcopy(tracks))
            if review.action == "abort":
                raise PlanRejected(
                    "the plan was rejected at review; nothing ran"
                    + (f" ({review.comment.strip()})" if review.comment.strip() else "")
                )
            if review.action == "revise":
                feedback = review.comment.strip() or "Make a different plan."
                break
            chosen = review.tracks if review.tracks is not None else tracks
            try:
                check_edited_plan(chosen, limits)
            except PlanError as exc:
                await emit(ErrorRaised(message=f"edited plan refused: {exc}"))
                continue  # shown to the reviewer again, with the error in the log
            return chosen
