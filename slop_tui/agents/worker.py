"""Tier 3: one worker runs one ticket, from a fresh context to `finish`, then is wiped.

`run_worker_lifecycle` builds the worker's first context (`agents.context`) and publishes
its report (`ContextBuilt`: paths, views, token counts), then loops:
model call -> each tool call is proposed -> the clutch decides -> the executor applies it ->
the result goes back to the model; until `finish`, the step budget, or a failure. The ticket
moves through its states as it goes, and every move, proposal, decision, result and usage is
published through `deps.emit` before the next step depends on it.

The message history lives in this call only: it is never published, never stored, and is
cleared when the ticket ends, so the next ticket's first request carries nothing of this one.
What stays is the summary, the usage and the event log.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import msgspec

from slop_tui.agents.context import RelatedMap, assemble_context
from slop_tui.agents.emit import Emit
from slop_tui.agents.mcp_tools import decode_mcp_call, mcp_tool_specs
from slop_tui.agents.history import History, call_record, clutch_edit_note, ran_diff_note
from slop_tui.agents.qa import QaTranslator, worker_message
from slop_tui.agents.transitions import transition
from slop_tui.config import RunSettings
from slop_tui.errors import SlopError
from slop_tui.memory.file_cache import FileCache
from slop_tui.models import (
    TOOL_ARGS,
    Approve,
    ApproveHunks,
    ChatMessage,
    ContextBuilt,
    ContextFile,
    ContextReport,
    Decision,
    DecisionMade,
    EditFileArgs,
    FileChanged,
    FinishArgs,
    ModelText,
    Proposal,
    ProposalContext,
    ProposalMade,
    Reject,
    RunCommandArgs,
    Ticket,
    TicketState,
    Tier,
    ToolArgs,
    ToolCall,
    ToolResult,
    Usage,
    decode_tool_args,
)
from slop_tui.providers import ModelRequest, Provider, ToolSpec, UsageLedger, tool_specs_for
from slop_tui.providers.window import TokenTally, window_problem
from slop_tui.tools.clutch import Clutch
from slop_tui.tools.clutch_loop import pass_clutch
from slop_tui.tools.executor import ToolExecutor
from slop_tui.tools.hunks import split_hunks

__all__ = [
    "ContextFile",
    "ContextReport",
    "MapSource",
    "WorkerDeps",
    "WorkerOutcome",
    "build_worker_context",
    "run_worker_lifecycle",
]

TOOLS = tool_specs_for(TOOL_ARGS.values())
# What the event log keeps of a tool result: enough to follow a run, not every file read.
EVENT_OUTPUT_CHARS = 4000
# The `tool` of the one event that reports a reply's calls past `max_tool_calls_per_reply`.
TOO_MANY_CALLS = "(too many calls)"
# What a proposal's context keeps of the worker's reason: the log writes it with every proposal.
REASON_CHARS = 4000
NUDGE = (
    "Reply with tool calls only: change files, run checks, or call finish(summary) if the "
    "ticket is done."
)


class MapSource(Protocol):
    async def current(self) -> RelatedMap | None:
        """The repository map, up to date with every landed ticket; None when there is none."""
        ...


@dataclass
class WorkerDeps:
    """The worker's collaborators (not a payload: nothing here is ever serialised)."""

    repo_root: Path
    provider: Provider
    qa: QaTranslator
    executor: ToolExecutor
    clutch: Clutch
    emit: Emit
    ledger: UsageLedger
    settings: RunSettings = field(default_factory=RunSettings)
    file_cache: FileCache = field(default_factory=FileCache)
    # The run's repository map (`conductor.map_holder.MapHolder`); None for a worker run
    # alone, whose context shows the skeletons of the files its targets import instead.
    repo_map: MapSource | None = None
    # Awaited before each model call made for the ticket, the Tier 4 hint's too (spend limits).
    gate: Callable[[], Awaitable[None]] | None = None


class WorkerOutcome(msgspec.Struct, kw_only=True):
    """What remains of a worker once its ticket ended (its messages do not)."""

    ticket_id: str
    state: TicketState
    summary: str | None
    usage: Usage
    steps: int  # model calls made
    context: ContextReport


def build_worker_context(
    ticket: Ticket, deps: WorkerDeps, repo_map: RelatedMap | None = None
) -> tuple[str, str, ContextReport]:
    """System prompt, first user message and its report, within `settings.context_tokens`."""
    return assemble_context(
        ticket,
        deps.repo_root,
        deps.file_cache,
        budget=deps.settings.context_tokens,
        instructions_tokens=deps.settings.instructions_tokens,
        repo_map=repo_map,
    )


class _Stop(Exception):
    """The clutch can no longer answer (its input ended): the ticket stops, blocked."""


@dataclass
class _CallResult:
    text: str  # what the model reads as the tool's result
    ok: bool
    finished: str | None = None  # the summary, when the call was an approved `finish`


async def run_worker_lifecycle(
    ticket: Ticket, deps: WorkerDeps, *, track_id: str | None = None
) -> WorkerOutcome:
    """Run `ticket` (which must be `todo`) to `done` or `blocked`; return what remains.

    `asyncio.CancelledError` propagates with the ticket still active: the conductor that
    cancelled it moves it back (`interrupt`) or cancels it.
    """
    run = _WorkerRun(ticket, deps, track_id)
    try:
        return await run.run()
    finally:
        run.discard()


class _WorkerRun:
    def __init__(self, ticket: Ticket, deps: WorkerDeps, track_id: str | None) -> None:
        self.ticket = ticket
        self.deps = deps
        self.track_id = track_id
        self.messages: list[ChatMessage] = []
        self.usage = Usage()
        self.steps = 0
        self.announced: set[str] = set()  # proposal ids already published
        self.proposals = 0  # every call proposed so far: "proposal N" at the clutch
        self.reason = ""  # the text of the reply whose calls are being handled
        # What each request re-sends of `messages`: compacted only at checkpoints (history.py).
        self.history = History()
        self.tally = TokenTally()  # the context window guard's estimates, each text once

    def discard(self) -> None:
        """Forget the conversation: nothing of it outlives the ticket."""
        self.messages.clear()
        self.history.clear()
        self.tally = TokenTally()

    async def _move(self, move: str, **kwargs: str | None) -> None:
        await self.deps.emit(transition(self.ticket, move, track_id=self.track_id, **kwargs))

    def _outcome(self, report: ContextReport) -> WorkerOutcome:
        return WorkerOutcome(
            ticket_id=self.ticket.id,
            state=self.ticket.state,
            summary=self.ticket.result_summary if self.ticket.state is TicketState.DONE else None,
            usage=self.usage,
            steps=self.steps,
            context=report,
        )

    async def run(self) -> WorkerOutcome:
        deps = self.deps
        await self._move("start", model=deps.provider.label)
        # The run's MCP tools, fixed for the whole ticket; their definitions cost context too.
        mcp_specs, mcp_rows = mcp_tool_specs(deps.executor)
        tools = TOOLS + mcp_specs
        mcp_tokens = sum(row.tokens for row in mcp_rows)
        budget = deps.settings.context_tokens
        if mcp_tokens:
            settings = msgspec.structs.replace(deps.settings, context_tokens=max(1, budget - mcp_tokens))
            deps = dataclasses.replace(deps, settings=settings)
        repo_map = await deps.repo_map.current() if deps.repo_map is not None else None
        if repo_map is None:
            system, first, report = build_worker_context(self.ticket, deps)
        else:  # ranking the map is CPU work: off the event loop, so the TUI keeps drawing
            system, first, report = await asyncio.to_thread(build_worker_context, self.ticket, deps, repo_map)
        deps = self.deps
        if mcp_rows:
            report = msgspec.structs.replace(
                report,
                files=[*report.files, *mcp_rows],
                total_tokens=report.total_tokens + mcp_tokens,
                budget=budget,
            )
        # What the worker was given, as a report (paths, views, tokens): the TUI's detail
        # shows this exact context, and the log keeps it without any file's text.
        await deps.emit(
            ContextBuilt(
                ticket_id=self.ticket.id,
                track_id=self.track_id,
                files=list(report.files),
                total_tokens=report.total_tokens,
                budget=report.budget,
            )
        )
        self.messages = [ChatMessage(role="user", content=first)]
        while self.steps < deps.settings.worker_steps:
            self.steps += 1
            request, too_big = self._request(system, tools)
            if too_big is not None:
                self.steps -= 1  # counted as a model call, and never sent
                await self._move("mark_blocked", reason=too_big)
                return self._outcome(report)
            await self._spend_gate()
            try:
                reply = await deps.provider.complete(request, ticket_id=self.ticket.id)
            except SlopError as exc:
                await self._move("mark_blocked", reason=f"model call failed: {exc}")
                return self._outcome(report)
            await self._account(reply.usage)
            if reply.text.strip():
                await deps.emit(ModelText(ticket_id=self.ticket.id, tier=Tier.WORKER, text=reply.text))
            self.reason = reply.text.strip()
            self.messages.append(
                ChatMessage(role="assistant", content=reply.text, tool_calls=list(reply.tool_calls))
            )
            if not reply.tool_calls:
                self.messages.append(ChatMessage(role="user", content=NUDGE))
                continue
            summary = await self._calls(reply.tool_calls)
            if isinstance(summary, _Stop):
                await self._move("mark_blocked", reason=str(summary))
                return self._outcome(report)
            if summary is not None:
                await self._move("mark_complete", summary=summary)
                return self._outcome(report)
        await self._move(
            "mark_blocked",
            reason=f"step budget spent: {deps.settings.worker_steps} model calls without finish",
        )
        return self._outcome(report)

    def _request(self, system: str, tools: list[ToolSpec]) -> tuple[ModelRequest, str | None]:
        """This step's request, and why it cannot be sent (None: it can).

        Over the model's context window, history is compacted at once (a forced checkpoint);
        still over it, the ticket cannot go on: an API error after the round trip would say
        the same, later and less clearly.
        """
        provider = self.deps.provider
        window = provider.spec.context_window

        def fits(messages: list[ChatMessage]) -> bool:
            request = ModelRequest(system=system, messages=messages, tools=tools)
            return window is None or self.tally.needed(request) <= window

        plan = self.history.request(self.messages, self.steps, fits if window is not None else None)
        request = ModelRequest(system=system, messages=plan.messages, tools=tools)
        if window is None:
            return request, None
        return request, window_problem(provider.spec, self.tally.needed(request), provider.label)

    async def _account(self, usage: Usage) -> None:
        provider = self.deps.provider
        event = self.deps.ledger.record(
            Tier.WORKER, provider.label, self.ticket.id, usage, provider.spec.price
        )
        event.track_id = self.track_id
        self.usage = self.usage + event.usage
        self.ticket.usage = self.ticket.usage + event.usage
        await self.deps.emit(event)

    async def _calls(self, calls: list[ToolCall]) -> str | _Stop | None:
        """Handle one reply's tool calls in order; the finish summary, a stop, or None.

        Every call gets a result message (the APIs require one per call id). A `finish` after
        a call that failed or was rejected in the same reply is refused: the model has not seen
        that result yet. Only the first `max_tool_calls_per_reply` calls are considered at all:
        a reply of 10,000 calls must not become 10,000 questions at the clutch.
        """
        cap = max(1, self.deps.settings.max_tool_calls_per_reply)
        considered, excess = calls[:cap], calls[cap:]
        outcome = await self._considered(considered)
        if excess:
            refusal = f"not run: too many calls in one reply (at most {cap})"
            for call in excess:
                self._answer(call, refusal)
            # One event for them all: the log need not grow by a line per ignored call.
            await self.deps.emit(
                ToolResult(
                    ticket_id=self.ticket.id,
                    tool=TOO_MANY_CALLS,
                    ok=False,
                    output=f"{len(excess)} of {len(calls)} calls {refusal}",
                )
            )
        return outcome

    async def _considered(self, calls: list[ToolCall]) -> str | _Stop | None:
        troubled = False
        for index, call in enumerate(calls):
            try:
                result = await self._call(call, refuse_finish=troubled)
            except _Stop as stop:
                for rest in calls[index:]:
                    self._answer(rest, f"Not run: {stop}")
                return stop
            self._answer(call, result.text)
            if result.finished is not None:
                for rest in calls[index + 1 :]:
                    self._answer(rest, "Not run: the ticket finished.")
                return result.finished
            troubled = troubled or not result.ok
        return None

    def _answer(self, call: ToolCall, text: str) -> None:
        self.messages.append(ChatMessage(role="tool", content=text, tool_call_id=call.id))

    async def _result(self, tool: str, ok: bool, text: str) -> _CallResult:
        shown = text if len(text) <= EVENT_OUTPUT_CHARS else text[:EVENT_OUTPUT_CHARS] + "\n[…]"
        await self.deps.emit(ToolResult(ticket_id=self.ticket.id, tool=tool, ok=ok, output=shown))
        return _CallResult(text=text, ok=ok)

    async def _call(self, call: ToolCall, *, refuse_finish: bool) -> _CallResult:
        deps = self.deps
        ticket_id = self.ticket.id
        try:
            args = decode_mcp_call(deps.executor, call.name, call.arguments) or decode_tool_args(
                call.name, call.arguments
            )
        except SlopError as exc:
            return await self._result(call.name, False, f"error: {exc}")
        if isinstance(args, FinishArgs) and refuse_finish:
            return await self._result(
                "finish",
                False,
                "Not finished: a call before it in the same reply failed or was rejected; "
                "deal with that result first.",
            )
        proposal = self._with_context(deps.executor.propose(ticket_id, args))
        if proposal.error is not None:
            # It cannot apply as asked (a path outside the repository, an `old` text that is
            # not in the file): nothing would change, so the person is not asked.
            await self._announce(proposal)
            near = deps.executor.edit_context(args) if isinstance(args, EditFileArgs) else ""
            return await self._result(proposal.tool, False, f"error: {proposal.error}{near}")
        decision, final, shown = await self._decide(proposal)
        if isinstance(decision, Reject):
            return await self._result(final.tool, False, f"Rejected by the person: {decision.reason}")
        edited = ""
        if isinstance(decision, ApproveHunks):
            await self._announce(final)
            # What ran is the person's choice of hunks: logged as approved, like any proposal
            # that runs (undo and resume read the proposals that ran).
            await deps.emit(DecisionMade(proposal_id=final.id, ticket_id=ticket_id, decision=Approve()))
            # Hunk headers alone would leave the model guessing which of its lines ran.
            edited = hunks_told(shown, decision) + self._ran_diff(proposal.arguments, final.arguments)
        elif final.arguments != proposal.arguments:  # an unchanged "edit" is no edit
            edited = clutch_edit_note(proposal.arguments, final.arguments)
        arguments = final.arguments
        if isinstance(arguments, FinishArgs):
            result = await self._result("finish", True, edited + arguments.summary)
            result.finished = arguments.summary
            return result
        # Only the person's own approval allows the network; the model's request does not.
        network = isinstance(decision, Approve) and decision.network
        outcome = await deps.executor.execute(ticket_id, arguments, network=network)
        self.history.note(call.id, call_record(arguments, outcome, deps.executor.root, altered=bool(edited)))
        for rel in outcome.changed:
            deps.file_cache.invalidate([deps.repo_root / rel])
            await deps.emit(
                FileChanged(
                    ticket_id=ticket_id,
                    path=rel,
                    preimage=outcome.preimages.get(rel),
                    after=outcome.hashes.get(rel),
                )
            )
        command = outcome.command_result
        if isinstance(arguments, RunCommandArgs) and command is not None and not command.ok:
            await self._spend_gate()  # the hint is a model call too
            hint = await deps.qa.hint_for(ticket_id, command, deps.repo_root, track_id=self.track_id)
            return await self._result(final.tool, False, edited + worker_message(command, hint))
        return await self._result(final.tool, outcome.ok, edited + outcome.output)

    async def _spend_gate(self) -> None:
        """Returns at once unless a spend limit is reached (see `conductor.spend`)."""
        if self.deps.gate is not None:
            await self.deps.gate()

    def _ran_diff(self, proposed: ToolArgs, ran: ToolArgs) -> str:
        """The file as `proposed` would leave it -> as `ran` will (read before it runs)."""
        try:
            rel, _now, mine = self.deps.executor.texts(proposed)
            _rel, _same, final = self.deps.executor.texts(ran)
        except (SlopError, OSError):
            return ""  # the hunk list above still says what was left out
        return ran_diff_note(rel, mine, final)

    def _with_context(self, proposal: Proposal) -> Proposal:
        """`proposal` with why it is asked and where the ticket stands, for the clutch."""
        self.proposals += 1
        reason = self.reason
        if len(reason) > REASON_CHARS:
            reason = reason[:REASON_CHARS] + " […]"
        context = ProposalContext(
            reason=reason,
            ticket_title=self.ticket.title,
            number=self.proposals,
            model=self.deps.provider.label,
            tokens=self.ticket.usage.total_tokens,
        )
        return msgspec.structs.replace(proposal, context=context)

    async def _announce(self, proposal: Proposal) -> None:
        if proposal.id not in self.announced:
            self.announced.add(proposal.id)
            await self.deps.emit(ProposalMade(proposal=proposal))

    async def _decide(self, proposal: Proposal) -> tuple[Decision, Proposal, Proposal]:
        """Pass the clutch; the ticket is `awaiting_approval` only while the clutch waits.

        Only the clutch's own `decide` is watched: it runs as a task given one turn of the loop.
        A policy that answers at once (ApproveAll, reads under AskForChanges) is done by then
        and the ticket never leaves `in_progress`; one that waits for a person is not, and the
        ticket moves to `awaiting_approval` until it answers. Publishing the proposal and the
        decision (which may take several turns while the store fsyncs) is outside that window,
        so a slow disk never makes an automatic approval look like a wait.

        Returns the decision, the proposal it leads to, and the proposal the person answered
        last (for `ApproveHunks`, the one whose hunks were chosen).
        """
        run = self
        shown: list[Proposal] = [proposal]

        class _Watching:
            async def decide(self, current: Proposal) -> Decision:
                await run._announce(current)  # an edit's re-proposal is announced too
                asked = asyncio.ensure_future(run.deps.clutch.decide(current))
                try:
                    await asyncio.sleep(0)
                    if asked.done():
                        return asked.result()
                    await run._move("await_approval")
                    decision = await asked
                except SlopError as exc:  # the terminal's input ended: reject and stop
                    raise _Stop(f"the clutch stopped: {exc}") from None
                except BaseException:
                    asked.cancel()
                    raise
                await run._move("resume")
                return decision

        async def on_decision(current: Proposal, decision: Decision) -> None:
            shown[0] = current
            await self.deps.emit(
                DecisionMade(proposal_id=current.id, ticket_id=self.ticket.id, decision=decision)
            )

        decision, final = await pass_clutch(
            _Watching(), self.deps.executor, proposal, on_decision=on_decision
        )
        return decision, final, shown[0]


def hunks_told(proposal: Proposal, decision: ApproveHunks) -> str:
    """What the worker reads of a partial approval: the hunks applied, those left out, why."""
    hunks = split_hunks(proposal.diff)
    chosen = set(decision.hunks)
    applied = [h.header for h in hunks if h.index in chosen]
    left = [h.header for h in hunks if h.index not in chosen]
    path = getattr(proposal.arguments, "path", "")
    lines = [
        f"The person applied only part of your change to {path}: "
        f"{len(applied)} of {len(hunks)} hunks. The file now differs from what you proposed.",
        "Applied: " + ("; ".join(applied) or "none"),
        "Left out: " + ("; ".join(left) or "none"),
        f"Why the rest was left out: {decision.reason.strip() or '(no reason given)'}",
    ]
    return "\n".join(lines) + "\n"
