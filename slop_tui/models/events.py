"""Events (a tagged union, written ahead to the log), the context report, the model-call
events, and the live deltas a screen is told while a call streams."""

from __future__ import annotations

import time
from typing import Literal, Union

import msgspec

from slop_tui.models.tickets import TIER_ROLE, TIER_SHORT, TicketState, Tier, Track
from slop_tui.models.tools import Decision, Proposal
from slop_tui.models.usage import Usage

# ---------------------------------------------------------------------------
# Events: a tagged union, written ahead to the log before they are acknowledged
# ---------------------------------------------------------------------------


class Event(msgspec.Struct, tag_field="kind", kw_only=True):
    """Base of every event. The store sets `seq`; `at` is wall-clock seconds."""

    seq: int = 0
    at: float = msgspec.field(default_factory=time.time)


class RunStarted(Event, tag="run_started"):
    run_id: str
    prompt: str


class PlanAccepted(Event, tag="plan_accepted"):
    tracks: list[Track]


class TicketStateChanged(Event, tag="ticket_state"):
    ticket_id: str
    old: TicketState
    new: TicketState
    track_id: str | None = None
    reason: str | None = None  # why it is blocked (new == blocked)
    summary: str | None = None  # the worker's result summary (new == done)
    model: str | None = None  # the model assigned to the ticket, when it starts


class ProposalMade(Event, tag="proposal"):
    proposal: Proposal


class DecisionMade(Event, tag="decision"):
    proposal_id: str
    ticket_id: str
    decision: Decision


class ToolResult(Event, tag="tool_result"):
    ticket_id: str
    tool: str
    ok: bool
    output: str


class FileChanged(Event, tag="file_changed"):
    """A tool wrote `path`; its pre-image is in the store under `preimage`."""

    ticket_id: str
    path: str
    preimage: str | None  # store-relative name; None when the file did not exist before
    # sha256 (hex) of the bytes the write left in `path`: undo restores the file only while it
    # still holds exactly these bytes (None: logged by a slop that did not record it).
    after: str | None = None


class FilesRestored(Event, tag="files_restored"):
    """A ticket's files were put back from their pre-images (undo, or resume before a fresh
    start): its `FileChanged` events before this one no longer describe the repository."""

    ticket_id: str
    paths: list[str] = msgspec.field(default_factory=list)


class HintGiven(Event, tag="hint"):
    """Tier 4's answer for a failed command; the raw output is kept here, not in the worker."""

    ticket_id: str
    command: str
    exit_code: int
    hint: str
    raw_output: str


class UsageUpdated(Event, tag="usage"):
    ticket_id: str | None
    tier: Tier
    model: str
    usage: Usage
    track_id: str | None = None  # ticket ids are unique within a track only


class ModelText(Event, tag="model_text"):
    """Text a model produced (streamed in pieces to the UI; the log keeps whole replies)."""

    ticket_id: str | None
    tier: Tier
    text: str


# What a worker's first context holds: paths, views and token counts, never file text, so
# the log can carry it (`ContextBuilt`) without growing a copy of the repository.
# "related"/"map": a file's section of the repository map; "instructions": AGENTS.md;
# "tools": MCP tool definitions.
ContextRole = Literal["target", "import", "mentioned", "related", "instructions", "tools"]
ContextView = Literal["raw", "curated", "skeleton", "map", "new", "omitted"]


class ContextFile(msgspec.Struct, kw_only=True, frozen=True):
    """One file of a worker's first context: which view it got and what it cost."""

    path: str  # repository-relative
    role: ContextRole
    view: ContextView
    tokens: int
    note: str = ""  # why it was omitted, or a view's syntax warning


class ContextReport(msgspec.Struct, kw_only=True):
    """What a worker's first request holds, in tokens (the `tokens.estimate_tokens` rule)."""

    files: list[ContextFile]
    total_tokens: int  # system prompt + first user message
    budget: int
    system_tokens: int = 0


class ContextBuilt(Event, tag="context_built"):
    """The first context a worker built for its ticket, before its first model call.

    The report of it, not the context: which view of which file, at what cost. The messages
    themselves are never published (they die with the worker).
    """

    ticket_id: str
    files: list[ContextFile]
    total_tokens: int  # system prompt + first user message
    budget: int  # `RunSettings.context_tokens` when it was built
    track_id: str | None = None  # ticket ids are unique within a track only


# A tier's model call while it is under way: the TUI's spinner, elapsed time and retry line.
# `call` pairs the three; a call cancelled with its run has no `ModelCallEnded`.


class ModelCallStarted(Event, tag="model_call"):
    call: int
    tier: Tier
    model: str
    ticket_id: str | None = None


class ModelCallRetrying(Event, tag="model_retry"):
    """The last try failed (`status`: its HTTP status; None: no answer or a broken
    connection); try `attempt` of `tries` starts in `wait_s` seconds."""

    call: int
    tier: Tier
    attempt: int
    tries: int
    wait_s: float
    status: int | None = None
    ticket_id: str | None = None

    def words(self) -> str:
        """`T1 planner: 429, retrying in 4 s (2/3)`, as the TUI's log and the printer say it."""
        what = str(self.status) if self.status is not None else "no answer"
        return (
            f"{TIER_SHORT[self.tier]} {TIER_ROLE[self.tier]}: {what}, retrying in "
            f"{self.wait_s:.0f} s ({self.attempt}/{self.tries})"
        )


class ModelCallEnded(Event, tag="model_call_end"):
    call: int
    tier: Tier
    ok: bool
    ticket_id: str | None = None


class ModelTextDelta(msgspec.Struct, kw_only=True, frozen=True):
    """Text a call has streamed since its last delta, for a screen only.

    Not an `Event` and not in `AnyEvent`, so it cannot reach the write-ahead log (which
    fsyncs each event): the bus hands it to live subscribers alone (`EventBus.tell`), a few
    times a second per call, and the whole reply is logged once as `ModelText`."""

    call: int  # the `ModelCallStarted.call` it belongs to
    tier: Tier
    text: str
    ticket_id: str | None = None


class ModelToolDelta(msgspec.Struct, kw_only=True, frozen=True):
    """A tool call a call is streaming, for a screen only (like `ModelTextDelta`, never logged):
    the tool, the path its arguments name once they do (as the model wrote it: sanitise before
    showing), and how many characters of arguments have come so far."""

    call: int
    tier: Tier
    tool: str
    path: str = ""
    chars: int = 0
    ticket_id: str | None = None


LiveDelta = ModelTextDelta | ModelToolDelta  # what a call tells while it streams


class ErrorRaised(Event, tag="error"):
    message: str
    ticket_id: str | None = None


class RunFinished(Event, tag="run_finished"):
    ok: bool
    message: str = ""


AnyEvent = Union[
    RunStarted,
    PlanAccepted,
    TicketStateChanged,
    ProposalMade,
    DecisionMade,
    ToolResult,
    FileChanged,
    FilesRestored,
    HintGiven,
    UsageUpdated,
    ModelText,
    ContextBuilt,
    ErrorRaised,
    RunFinished,
    ModelCallStarted,
    ModelCallRetrying,
    ModelCallEnded,
]
