"""Tier 1 (the planner) and Tier 2 (the tech lead): a request becomes tracks, a track tickets.

Both tiers answer JSON decoded against the plan Structs (`models.TrackPlan`, `TicketPlan`); the
JSON Schema generated from those Structs goes with the request, and providers that support
structured output enforce it. Every problem with an answer (bad JSON, a schema violation, an
unknown archetype, a duplicate id, an unknown dependency, a cycle, a path outside the
repository, an id another track already uses, more tracks, tickets or characters than
`PlanLimits` allow) goes back to the model as a precise message, for
`retries` more attempts; then `PlanningFailed` stops the run. Nothing here touches the session
state: a caller only ever receives a whole, valid plan.

Neither tier sees raw files: Tier 1 gets the repository map's overview (folders ordered by the
rank of what they hold, then the most central definitions), Tier 2 the map personalized by its
track, both within `[run] map_tokens` (`tracks_overview`, `track_map`; the session builds the
map once per run).
Both see the root's instruction file (`AGENTS.md`, else `CLAUDE.md`) at the end of their
system prompt, as the project's requests (`planner_instructions`); the nested ones are for the
tickets under their folders, so the workers'.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from importlib import resources
from pathlib import Path
from typing import Protocol, TypeVar

from slop_tui.agents.instructions import ProjectInstructions, load_instructions
from slop_tui.config import RunSettings
from slop_tui.errors import SlopError
from slop_tui.models import (
    AnyEvent,
    ChatMessage,
    ErrorRaised,
    ModelText,
    PlanError,
    PlanLimits,
    PlannedTrack,
    TicketPlan,
    Tier,
    TrackPlan,
    decode_ticket_plan,
    decode_track_plan,
    plan_json_schema,
)
from slop_tui.providers.base import ModelRequest, Provider, ProviderError
from slop_tui.providers.window import check_window
from slop_tui.providers.usage import UsageLedger
from slop_tui.tools.sandbox import PathRefused, check_lexical
from slop_tui.words import plural

Emit = Callable[[AnyEvent], Awaitable[AnyEvent]]
# Awaited before each planner call: returns to go on; raises `PlanningFailed` to stop planning
# (the session's spend limits: a limit reached by an earlier call, and nobody raised it).
Gate = Callable[[], Awaitable[None]]

PLAN_MAX_TOKENS = 4096


class PlanningFailed(SlopError):
    """Tier 1 or Tier 2 gave no valid plan within the allowed attempts (or the call failed)."""


def plan_limits(settings: RunSettings) -> PlanLimits:
    """The run's caps on plans (`[run] max_tracks`, `max_tickets_per_track`, `max_field_chars`)."""
    return PlanLimits(
        max_tracks=settings.max_tracks,
        max_tickets_per_track=settings.max_tickets_per_track,
        max_field_chars=settings.max_field_chars,
    )


def _prompt(name: str) -> str:
    return (resources.files("slop_tui.agents") / "prompts" / name).read_text(encoding="utf-8")


def planner_instructions(repo_root: Path, settings: RunSettings) -> ProjectInstructions:
    """The root's instruction file for Tier 1 and Tier 2, within `[run] instructions_tokens`;
    pass its `system_section()` as `instructions` to `plan_tracks` and `plan_tickets`."""
    return load_instructions(repo_root, budget=settings.instructions_tokens)


def _with_instructions(system: str, instructions: str) -> str:
    return f"{system.rstrip()}\n\n{instructions}" if instructions.strip() else system


# ---------------------------------------------------------------------------
# What the planners see of the repository
# ---------------------------------------------------------------------------


class PlannerMap(Protocol):
    """What the planners need of the repository map (`memory.repo_map.RepoMap`): both texts
    fit their `tokens`, everything they print included."""

    def overview(self, *, tokens: int) -> str: ...

    def render(self, *, tokens: int, focus: Sequence[str] = (), targets: Sequence[str] = ()) -> str: ...


def track_focus(track: PlannedTrack) -> list[str]:
    """What personalizes Tier 2's map: the track's title and description (the paths and names
    they mention come first in the map)."""
    return [track.title, track.description]


def tracks_overview(repo_map: PlannerMap, settings: RunSettings) -> str:
    """Tier 1's view of the repository: folders by rank, then the map, within `map_tokens`."""
    return repo_map.overview(tokens=settings.map_tokens) or "(the repository is empty)"


def track_map(repo_map: PlannerMap, track: PlannedTrack, settings: RunSettings) -> str:
    """Tier 2's view: the map personalized by `track`, within `map_tokens`."""
    return repo_map.render(tokens=settings.map_tokens, focus=track_focus(track)) or "(no source files)"


# ---------------------------------------------------------------------------
# The ask / check / send-back loop
# ---------------------------------------------------------------------------

_P = TypeVar("_P")


async def _ask_for_plan(
    provider: Provider,
    *,
    tier: Tier,
    what: str,
    system: str,
    user: str,
    schema_name: str,
    schema: dict[str, object],
    decode: Callable[[str], _P],
    retries: int,
    ledger: UsageLedger,
    emit: Emit,
    gate: Gate | None,
) -> _P:
    messages = [ChatMessage(role="user", content=user)]
    attempts = max(0, retries) + 1
    last_error = ""
    for attempt in range(1, attempts + 1):
        request = ModelRequest(
            system=system,
            messages=list(messages),
            response_schema=dict(schema),
            schema_name=schema_name,
            max_tokens=PLAN_MAX_TOKENS,
        )
        if gate is not None:
            await gate()  # each attempt is a call: the spend limits hold before every one
        try:
            check_window(provider.spec, request)  # over the window: said before any call
            reply = await provider.complete(request)
        except ProviderError as exc:
            raise PlanningFailed(f"{what}: {exc}") from None
        await emit(ledger.record(tier, provider.label, None, reply.usage, provider.spec.price))
        await emit(ModelText(ticket_id=None, tier=tier, text=reply.text))
        try:
            return decode(reply.text)
        except PlanError as exc:
            last_error = str(exc)
        await emit(ErrorRaised(message=f"{what}: attempt {attempt} of {attempts} refused: {last_error}"))
        messages.append(ChatMessage(role="assistant", content=reply.text))
        messages.append(
            ChatMessage(
                role="user",
                content=(
                    f"Your answer was refused: {last_error}\n"
                    "Answer again with the whole corrected JSON object and nothing else."
                ),
            )
        )
    raise PlanningFailed(
        f"{what}: no valid answer after {attempts} attempt{'s' if attempts != 1 else ''}; "
        f"last problem: {last_error}"
    )


def _track_user_message(prompt: str, repo_summary: str, limits: PlanLimits) -> str:
    return (
        f"Request:\n{prompt.strip()}\n\nRepository overview:\n{repo_summary}\n\n"
        f"Give at most {limits.max_tracks} tracks; keep every text field under "
        f"{limits.max_field_chars} characters.\n"
    )


def _ticket_user_message(
    track: PlannedTrack, skeletons: str, reserved: Collection[str], limits: PlanLimits
) -> str:
    text = (
        f"Track {track.id}: {track.title}\n{track.description.strip()}\n\n"
        f"Repository map (the definitions most related to this track first):\n{skeletons}\n\n"
        f"Give at most {limits.max_tickets_per_track} tickets; keep every text field under "
        f"{limits.max_field_chars} characters and every list under {limits.max_list_items} "
        "entries.\n"
    )
    if reserved:
        text += (
            "\nThese ticket ids are already used by earlier tracks; do not reuse them: "
            + ", ".join(sorted(reserved))
            + "\n"
        )
    return text


async def plan_tracks(
    provider: Provider,
    prompt: str,
    *,
    repo_summary: str,
    retries: int,
    ledger: UsageLedger,
    emit: Emit,
    feedback: str | None = None,
    limits: PlanLimits | None = None,
    instructions: str = "",
    gate: Gate | None = None,
) -> TrackPlan:
    """Tier 1: the request (and the repository's overview) becomes an ordered list of tracks.

    `feedback` is a reviewer's comment on an earlier plan, sent along when the plan is redone.
    `instructions` (`ProjectInstructions.system_section()`) ends the system prompt; `gate` is
    awaited before each call (see `Gate`).
    A plan over `limits` (the defaults when None) is refused like any other bad answer, so
    the caller never pays a lead call per track of a runaway plan.
    """
    caps = limits or PlanLimits()
    user = _track_user_message(prompt, repo_summary, caps)
    if feedback:
        user += f"\nA reviewer sent the previous plan back with this comment:\n{feedback.strip()}\n"
    return await _ask_for_plan(
        provider,
        tier=Tier.PLANNER,
        what="Tier 1 (planner)",
        system=_with_instructions(_prompt("planner.md"), instructions),
        user=user,
        schema_name="track_plan",
        schema=plan_json_schema(TrackPlan),
        decode=lambda text: decode_track_plan(text, caps),
        retries=retries,
        ledger=ledger,
        emit=emit,
        gate=gate,
    )


def check_ticket_plan(plan: TicketPlan, track_id: str, reserved: Collection[str] = ()) -> None:
    """What `decode_ticket_plan` cannot know: ids of earlier tracks, and safe target paths."""
    where = f"ticket plan for track {track_id!r}"
    clashes = sorted({t.id for t in plan.tickets} & set(reserved))
    if clashes:
        raise PlanError(
            f"{where}: {plural(len(clashes), 'ticket id')} {', '.join(clashes)} already used by an "
            "earlier track; "
            "ticket ids must be unique across the whole plan"
        )
    for ticket in plan.tickets:
        for path in ticket.target_files:
            try:
                check_lexical(path)
            except PathRefused as exc:
                raise PlanError(f"{where}: ticket {ticket.id!r}: target_files: {exc}") from None


async def plan_tickets(
    provider: Provider,
    track: PlannedTrack,
    *,
    skeletons: str,
    retries: int,
    ledger: UsageLedger,
    emit: Emit,
    reserved_ids: Collection[str] = (),
    limits: PlanLimits | None = None,
    instructions: str = "",
    gate: Gate | None = None,
) -> TicketPlan:
    """Tier 2: one track becomes tickets (a DAG) over `skeletons`, the repository map.

    `instructions` (`ProjectInstructions.system_section()`) ends the system prompt; `gate` is
    awaited before each call (see `Gate`).
    `reserved_ids` are ticket ids earlier tracks already use: the store, `slop undo` and the
    scenario files name tickets by id alone, so ids must be unique across the plan.
    """
    reserved = frozenset(reserved_ids)
    caps = limits or PlanLimits()

    def decode(text: str) -> TicketPlan:
        plan = decode_ticket_plan(text, track.id, caps)
        check_ticket_plan(plan, track.id, reserved)
        return plan

    return await _ask_for_plan(
        provider,
        tier=Tier.LEAD,
        what=f"Tier 2 (lead) for track {track.id!r}",
        system=_with_instructions(_prompt("lead.md"), instructions),
        user=_ticket_user_message(track, skeletons, reserved, caps),
        schema_name="ticket_plan",
        schema=plan_json_schema(TicketPlan),
        decode=decode,
        retries=retries,
        ledger=ledger,
        emit=emit,
        gate=gate,
    )
