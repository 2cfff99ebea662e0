"""Tier 1 (the planner) and Tier 2 (the tech lead): a request becomes tracks, a track tickets.

Both tiers answer JSON decoded against the plan Structs (`models.TrackPlan`, `TicketPlan`); the
JSON Schema generated from those Structs goes with the request, and providers that support
structured output enforce it. Every problem with an answer (bad JSON, a schema violation, an
unknown archetype, a duplicate id, an unknown dependency, a cycle, a path outside the
repository, an id another track already uses, more tracks, tickets or characters than
`PlanLimits` allow) goes back to the model as a precise message, for
`retries` more attempts; then `PlanningFailed` stops the run. Nothing here touches the session
state: a caller only ever receives a whole, valid plan.

Tier 2 sees skeleton views of the repository's Python files (signatures, no bodies) within a
token budget, never raw files: `skeleton_digest` builds that text, `repo_overview` the file list
Tier 1 sees. Both see the root's instruction file (`AGENTS.md`, else `CLAUDE.md`) at the end of
their system prompt, as the project's requests (`planner_instructions`); the nested ones are
for the tickets under their folders, so the workers'.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Collection, Iterable
from importlib import resources
from pathlib import Path
from typing import Protocol, TypeVar

from slop_tui.agents.instructions import ProjectInstructions, load_instructions
from slop_tui.config import RunSettings
from slop_tui.errors import SlopError
from slop_tui.memory.file_cache import ViewError
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
from slop_tui.providers.usage import UsageLedger
from slop_tui.tokens import estimate_tokens
from slop_tui.tools.sandbox import PathRefused, check_lexical

Emit = Callable[[AnyEvent], Awaitable[AnyEvent]]

# Directories never worth showing a planner: tool state, VCS data, environments, caches.
SKIPPED_DIRS = frozenset(
    {".slop", ".git", ".hg", ".svn", ".venv", "venv", "env", "node_modules", "__pycache__",
     ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", "build", "dist", ".eggs"}
)
OVERVIEW_MAX_FILES = 400
PLAN_MAX_TOKENS = 4096


class PlanningFailed(SlopError):
    """Tier 1 or Tier 2 gave no valid plan within the allowed attempts (or the call failed)."""


class SkeletonSource(Protocol):
    """What `skeleton_digest` needs of the file cache."""

    def get_skeleton_view(self, path: Path) -> str: ...


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


def repo_files(repo_root: Path, *, suffixes: Collection[str] | None = None) -> list[str]:
    """Repository-relative POSIX paths of the files worth planning over, sorted.

    Hidden directories, tool state and environments are skipped; symlinks are not followed
    (a link out of the repository must not widen what a model sees).
    """
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(repo_root, followlinks=False):
        dirnames[:] = sorted(
            d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith(".")
            and not d.endswith(".egg-info")
        )
        rel_dir = Path(dirpath).relative_to(repo_root)
        for name in sorted(filenames):
            if name.startswith(".") or name.endswith((".pyc", ".pyo")):
                continue
            if suffixes is not None and not name.endswith(tuple(suffixes)):
                continue
            if os.path.islink(os.path.join(dirpath, name)):
                continue
            found.append((rel_dir / name).as_posix())
    return found


def repo_overview(repo_root: Path, *, max_files: int = OVERVIEW_MAX_FILES) -> str:
    """The file list Tier 1 sees: paths with sizes, cut (and saying so) past `max_files`."""
    files = repo_files(repo_root)
    lines = []
    for rel in files[:max_files]:
        try:
            size = (repo_root / rel).stat().st_size
        except OSError:
            continue
        lines.append(f"{rel} ({size} bytes)")
    if len(files) > max_files:
        lines.append(f"... and {len(files) - max_files} more files")
    return "\n".join(lines) if lines else "(the repository is empty)"


def skeleton_digest(
    repo_root: Path,
    cache: SkeletonSource,
    *,
    budget_tokens: int,
    focus: Iterable[str] = (),
) -> str:
    """Skeleton views of the repository's `.py` files, as many as fit in `budget_tokens`.

    Files whose path (or module name) appears in `focus` texts come first, then the rest from
    the smallest up, so a budget covers as many files as it can. Files that do not fit are
    still listed by path, so Tier 2 knows they exist.
    """
    files = repo_files(repo_root, suffixes=(".py",))
    focus_text = " ".join(focus)

    def mentioned(rel: str) -> bool:
        stem = rel.removesuffix(".py")
        return rel in focus_text or stem.replace("/", ".") in focus_text or (
            Path(rel).stem != "__init__" and Path(rel).stem in focus_text
        )

    def size(rel: str) -> int:
        try:
            return (repo_root / rel).stat().st_size
        except OSError:
            return 0

    ordered = sorted(files, key=lambda rel: (not mentioned(rel), size(rel), rel))
    parts: list[str] = []
    left_out: list[str] = []
    spent = 0
    for rel in ordered:
        try:
            view = cache.get_skeleton_view(repo_root / rel)
        except (OSError, SlopError, UnicodeDecodeError, ViewError):
            left_out.append(rel)
            continue
        block = f"# file: {rel}\n{view.rstrip()}\n"
        cost = estimate_tokens(block)
        if spent + cost > budget_tokens:
            left_out.append(rel)
            continue
        parts.append(block)
        spent += cost
    if left_out:
        parts.append("# not shown (token budget): " + ", ".join(sorted(left_out)) + "\n")
    return "\n".join(parts) if parts else "(no Python files)"


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
        try:
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
        f"Request:\n{prompt.strip()}\n\nRepository files:\n{repo_summary}\n\n"
        f"Give at most {limits.max_tracks} tracks; keep every text field under "
        f"{limits.max_field_chars} characters.\n"
    )


def _ticket_user_message(
    track: PlannedTrack, skeletons: str, reserved: Collection[str], limits: PlanLimits
) -> str:
    text = (
        f"Track {track.id}: {track.title}\n{track.description.strip()}\n\n"
        f"Repository skeleton:\n{skeletons}\n\n"
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
) -> TrackPlan:
    """Tier 1: the request (and the repository's file list) becomes an ordered list of tracks.

    `feedback` is a reviewer's comment on an earlier plan, sent along when the plan is redone.
    `instructions` (`ProjectInstructions.system_section()`) ends the system prompt.
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
    )


def check_ticket_plan(plan: TicketPlan, track_id: str, reserved: Collection[str] = ()) -> None:
    """What `decode_ticket_plan` cannot know: ids of earlier tracks, and safe target paths."""
    where = f"ticket plan for track {track_id!r}"
    clashes = sorted({t.id for t in plan.tickets} & set(reserved))
    if clashes:
        raise PlanError(
            f"{where}: ticket id(s) {', '.join(clashes)} already used by an earlier track; "
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
) -> TicketPlan:
    """Tier 2: one track becomes tickets (a DAG) over the repository's skeleton views.

    `instructions` (`ProjectInstructions.system_section()`) ends the system prompt.
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
    )
