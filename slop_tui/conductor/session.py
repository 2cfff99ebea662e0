"""The session runner: one request from plan to finished tickets, the thing the TUI drives.

`Session.run(prompt)` plans (Tier 1, then Tier 2 per track) and has the plan reviewed
(`conductor/planning.py`), then
dispatches every track in order; `Session.run_tracks(prompt, tracks)` runs tracks built
elsewhere (`slop ticket`) the same way, without planning; `Session.resume()` continues the
last run from `.slop/`.
Every event goes through the bus (the store writes it ahead, fsynced, before anyone else sees
it), is folded into `state` (`store.apply_event`), and the state is checkpointed after every
ticket transition (`conductor/checkpoints.py`), so a crash or `kill -9` loses nothing that was acknowledged.

Nothing of a plan reaches the state before the whole plan is valid and accepted: a bad answer
or a rejected review leaves the state as it was.

Undo, retry and resume put a ticket's files back through `conductor/restore.py`, which never
writes over a file someone changed since the ticket left it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from pathlib import Path

import msgspec

from slop_tui.agents.planner import PlanningFailed, plan_limits
from slop_tui.agents.qa import QaTranslator
from slop_tui.agents.transitions import transition
from slop_tui.agents.worker import WorkerDeps, WorkerOutcome, run_worker_lifecycle
from slop_tui.config import Config, config_dir
from slop_tui.conductor.budget import Budget, LimitName
from slop_tui.conductor.bus import EventBus
from slop_tui.conductor.checkpoints import StateCheckpoints
from slop_tui.conductor.dispatcher import Dispatcher, release_held
from slop_tui.conductor.plan_check import check_edited_plan
from slop_tui.conductor.planning import PlanRejected, PlanReview, PlanReviewer, plan_and_review
from slop_tui.conductor.git_run import GitRun, UndoOutcome
from slop_tui.conductor.map_holder import MapHolder
from slop_tui.conductor.restore import Restorer
from slop_tui.conductor.spend import BudgetAsker, SpendGuard
from slop_tui.conductor.stub_resolver import StubResolver
from slop_tui.errors import SlopError
from slop_tui.words import plural
from slop_tui.memory.file_cache import default_cache
from slop_tui.models import (
    AnyEvent,
    Decision,
    ErrorRaised,
    PlanAccepted,
    Proposal,
    RunFinished,
    RunStarted,
    Ticket,
    TicketState,
    TicketStateChanged,
    Tier,
    Track,
    Usage,
    UsageUpdated,
)
from slop_tui.providers.base import Provider
from slop_tui.providers.factory import make_provider
from slop_tui.providers.observed import observed
from slop_tui.providers.request_log import RequestLog
from slop_tui.providers.usage import UsageLedger
from slop_tui.store import SessionState, Store, apply_event
from slop_tui.tools.clutch import AllowList, AskForChanges, AskForEverything, Clutch
from slop_tui.tools.executor import ToolExecutor
from slop_tui.mcp.hub import McpHub
from slop_tui.tools.shell_runner import kill_repository_commands

_ACTIVE = frozenset({TicketState.IN_PROGRESS, TicketState.AWAITING_APPROVAL})

__all__ = ["PlanRejected", "PlanReview", "PlanReviewer", "RunSummary", "Session", "check_edited_plan"]


class RunSummary(msgspec.Struct, kw_only=True):
    ok: bool  # every ticket done
    done: int
    blocked: int
    cancelled: int
    usage: Usage
    message: str
    todo: int = 0  # tickets that never ran (the run was stopped before them)


class _SessionClutch:
    """The clutch the workers see: the session's, or stop-at-everything in linear mode.

    Linear mode asks the human about every call, reads included, by going around the policy
    wrappers (`AskForChanges(inner)`, `AskForEverything(inner)`) to the clutch they ask. With
    no human behind the policy (`ApproveAll`, for `--yes`), linear mode only serialises.
    """

    def __init__(self, clutch: Clutch, linear: bool) -> None:
        self.base = clutch
        self.linear = linear
        allow = getattr(clutch, "allow", None)
        self.allow = allow if isinstance(allow, AllowList) else AllowList()

    def _asker(self) -> Clutch:
        clutch: Clutch = self.base
        while isinstance(clutch, (AskForChanges, AskForEverything)):
            clutch = clutch.inner
        return clutch

    async def decide(self, proposal: Proposal) -> Decision:
        if self.linear:
            # The run's always-allow rules hold in linear mode too.
            return await AskForEverything(self._asker(), self.allow).decide(proposal)
        return await self.base.decide(proposal)


class Session:
    """One repository's run: planning, review, dispatch, resume, undo."""

    def __init__(
        self,
        repo_root: Path,
        config: Config,
        *,
        clutch: Clutch,
        plan_reviewer: PlanReviewer | None = None,
        workers: int | None = None,
        linear: bool = False,
        providers: Mapping[Tier, Provider] | None = None,
    ) -> None:
        self.repo_root = Path(repo_root).resolve()
        if not self.repo_root.is_dir():
            raise SlopError(f"repository {str(repo_root)!r} is not a directory")
        self.config = config
        self.settings = config.run
        self.plan_reviewer = plan_reviewer
        self.linear = linear
        self._workers = max(1, workers if workers is not None else self.settings.workers)
        self._given_providers = dict(providers) if providers is not None else {}
        self._providers: dict[Tier, Provider] = {}
        secrets = config.secrets()  # used, shadowed and refused keys, and secret-looking env
        self.store = Store(self.repo_root, secrets=secrets)
        # The latest request of each ticket, in memory only, for the TUI's "request" view.
        self.requests = RequestLog(secrets)
        self._checkpoints = StateCheckpoints(Store(self.repo_root, secrets=secrets))
        self.bus = EventBus(self.store)
        self.state = SessionState(run_id="", prompt="")
        self.ledger = UsageLedger()
        # The module-level cache: the executor's `read_file` views come from it too, so a
        # rebuild after a stub is seen by every reader.
        self.file_cache = default_cache
        self.resolver = StubResolver(self.repo_root, self.file_cache)
        # Built on first use (planning, or the first worker), off the event loop.
        self.repo_map = MapHolder(self.repo_root)
        self.executor = ToolExecutor(
            self.repo_root,
            store=self.store,
            scrub_env=sorted(config.key_env_names()),
            command_timeout_s=self.settings.command_timeout_s,
            max_write_bytes=self.settings.max_write_bytes,
            network=self.settings.network == "on",
            env_extra=self.settings.env,
        )
        # The user's MCP servers: started when the run starts (`start_mcp`), stopped by `close`.
        self.mcp: McpHub | None = None
        if config.mcp:
            self.mcp = McpHub(
                config.mcp,
                self.repo_root,
                scrub_env=sorted(config.key_env_names()),
                secrets=[s.reveal() for s in secrets],
                hidden=[config_dir()],
            )
        self.restorer = Restorer(self.store, self.executor, self.repo_root, self.file_cache, self.emit)
        self.clutch = _SessionClutch(clutch, linear)
        self.dispatcher = Dispatcher(
            run_ticket=self._run_ticket,
            emit=self.emit,
            limit=1 if linear else self._workers,
            on_done=self._ticket_done,
        )
        self._deps: WorkerDeps | None = None
        self.spend = SpendGuard(self)  # the spend limits: the step gate, pause, ask or stop
        self.git = GitRun(self)  # a branch and a commit per ticket in a git repository
        self._ticket_usage: dict[str, Usage] = {}
        # What remains of each worker of this run, by (track id, ticket id): the last one
        # when a ticket ran more than once. Steps and context size for a caller's summary.
        self.outcomes: dict[tuple[str, str], WorkerOutcome] = {}

    # -- providers ------------------------------------------------------------------------

    def check_tiers(self, *tiers: Tier) -> None:
        """Refuse, before any model is paid, a run some tier of which (`tiers`, or all) cannot
        make its calls (no key, a key that is not ASCII, an unknown provider): `ConfigError`
        names the tier."""
        for tier in tiers or tuple(Tier):
            if tier not in self._given_providers:
                self.config.model_for(tier)

    def provider(self, tier: Tier) -> Provider:
        """The tier's provider, built on first use (no SDK is imported before a call)."""
        provider = self._given_providers.get(tier) or self._providers.get(tier)
        if provider is None:
            provider = make_provider(self.config.model_for(tier))
            self._providers[tier] = provider
        # Its calls, retries and waits on the bus, its text told live, its requests kept.
        return observed(provider, tier, self.emit, requests=self.requests, live=self.bus)

    def _worker_deps(self) -> WorkerDeps:
        if self._deps is None:
            try:
                cheap: Provider | None = self.provider(Tier.DEFAULT_CHEAP)
            except SlopError:
                cheap = None  # QA falls back to its deterministic hint
            self._deps = WorkerDeps(
                repo_root=self.repo_root,
                provider=self.provider(Tier.WORKER),
                qa=QaTranslator(cheap, ledger=self.ledger, emit=self.emit),
                executor=self.executor,
                clutch=self.clutch,
                emit=self.emit,
                ledger=self.ledger,
                settings=self.settings,
                file_cache=self.file_cache,
                repo_map=self.repo_map,
                gate=self.spend.gate,
            )
        return self._deps

    # -- events ---------------------------------------------------------------------------

    async def emit(self, event: AnyEvent) -> AnyEvent:
        """Publish through the bus (logged first), fold into the state, checkpoint on moves."""
        logged = await self.bus.publish(event)
        self.resolver.observe(logged)
        if isinstance(logged, RunStarted):
            self.state = apply_event(None, logged) or self.state
            self._checkpoints.request(self.state)
            return logged
        apply_event(self.state, logged, self.store.warnings)
        if isinstance(logged, UsageUpdated) and logged.ticket_id is not None:
            # A ticket's usage is the sum of its events, as a replay of the log computes it;
            # set, not added, because the worker also adds its own calls to its ticket.
            total = self._ticket_usage.get(logged.ticket_id, Usage()) + logged.usage
            self._ticket_usage[logged.ticket_id] = total
            try:
                _, ticket = self.state.find_ticket(logged.ticket_id, logged.track_id)
            except KeyError:
                pass
            else:
                ticket.usage = total
        if isinstance(logged, UsageUpdated):
            tid = logged.ticket_id
            self.spend.observe(self.state.usage, self._ticket_usage.get(tid) if tid is not None else None, tid)
        if isinstance(logged, RunFinished):
            await self._checkpoints.flush(self.state)
        elif isinstance(logged, (TicketStateChanged, PlanAccepted)):
            self._checkpoints.request(self.state)
        return logged

    # -- controls (the TUI calls these while a run goes on) -------------------------------

    @property
    def budget(self) -> Budget:
        """The run's spend limits (the TUI header shows the run's spend against them)."""
        return self.spend.budget

    @property
    def budget_asker(self) -> BudgetAsker | None:
        """Who is asked at a reached limit (the TUI); None: the run stops there (headless)."""
        return self.spend.asker

    @budget_asker.setter
    def budget_asker(self, asker: BudgetAsker | None) -> None:
        self.spend.asker = asker

    def raise_limit(self, name: LimitName, value: float) -> None:
        """Raise a spend limit for this session only (`agents.toml` is unchanged); a run
        waiting at it goes on. `SlopError` unless `value` is above the limit and its spend."""
        self.spend.raise_limit(name, value)

    def pause(self) -> None:
        self.dispatcher.pause()

    def unpause(self) -> None:
        self.dispatcher.unpause()

    def set_linear(self, on: bool) -> None:
        """Linear: one ticket at a time, and the clutch stops at every tool call."""
        self.linear = on
        self.clutch.linear = on
        self.dispatcher.set_limit(1 if on else self._workers)

    def set_workers(self, workers: int) -> None:
        self._workers = max(1, workers)
        if not self.linear:
            self.dispatcher.set_limit(self._workers)

    def _find(self, ticket_id: str) -> tuple[Track, Ticket]:
        try:
            return self.state.find_ticket(ticket_id)
        except KeyError:
            raise SlopError(f"no ticket {ticket_id!r} in the current run") from None

    async def retry_ticket(self, ticket_id: str) -> None:
        """A blocked ticket goes back to `todo`, with the tickets it held; a `todo` one (undone,
        or never run) is left to the next dispatch. A blocked ticket's files are restored
        first (checked as an undo is), so its fresh start does not apply its edits twice."""
        if not self.state.tracks:
            self._load_for_commands()
        track, ticket = self._find(ticket_id)
        if ticket.state is TicketState.TODO:
            self.dispatcher.wake()
            return
        if ticket.state is not TicketState.BLOCKED:
            raise SlopError(
                f"ticket {ticket_id!r} is {ticket.state.value}; only a blocked or todo ticket can be retried"
            )
        await self._restore(ticket_id, finished=True, verb="retry")
        await self.emit(transition(ticket, "retry", track_id=track.id))
        for held in release_held(track):
            await self.emit(transition(held, "retry", track_id=track.id))
        self.dispatcher.wake()

    async def _restore(self, ticket_id: str, *, finished: bool, verb: str) -> list[str]:
        """Check, then restore, one ticket's files (`Restorer`); the stub resolver forgets it."""
        events = self.store.events()
        if not self.restorer.has_changes(ticket_id, events):
            return []
        self.restorer.check(ticket_id, events, finished=finished, verb=verb)
        restored = await self.restorer.restore(ticket_id)
        self.resolver.forget(ticket_id)
        return restored

    async def cancel_ticket(self, ticket_id: str) -> None:
        """Stop a ticket for good (its worker, if running); its dependents are held."""
        track, ticket = self._find(ticket_id)
        if ticket.is_final:
            raise SlopError(f"ticket {ticket_id!r} is already {ticket.state.value}")
        if self.dispatcher.cancel_running(ticket_id):
            return  # the dispatcher records the cancel once the worker has stopped
        await self.emit(transition(ticket, "cancel", track_id=track.id))
        self.dispatcher.wake()

    async def undo_ticket(self, ticket_id: str) -> UndoOutcome:
        """Put back the files a ticket changed; the ticket goes to `todo` (and can run again).

        Refused while the ticket runs. A file is restored only while it still holds exactly
        what the ticket left there: a file a person or a later ticket changed since stops the
        undo, named, with nothing touched (`RestoreRefused`). In a git run its commit is
        reverted instead, and the outcome names both commits (`undo_message` says it).
        """
        if not self.state.tracks:
            self._load_for_commands()
        track, ticket = self._find(ticket_id)
        if ticket.state in _ACTIVE or ticket_id in self.dispatcher.running():
            raise SlopError(f"ticket {ticket_id!r} is running; stop it before undoing it")
        if (reverted := await self.git.undo(ticket_id)) is not None:
            self.repo_map.landed(reverted.paths)
            return reverted  # its commit reverted
        paths = await self._undo_from_preimages(track, ticket)
        self.repo_map.landed(paths)
        return UndoOutcome(paths=paths)

    async def _undo_from_preimages(self, track: Track, ticket: Ticket) -> list[str]:
        """The plain-folder undo: every file checked, then restored from its pre-image."""
        events = self.store.events()
        if not self.restorer.has_changes(ticket.id, events) and ticket.state is not TicketState.DONE:
            raise SlopError(f"ticket {ticket.id!r} changed no file and is not done; nothing to undo")
        restored = await self._restore(ticket.id, finished=ticket.state is not TicketState.TODO, verb="undo")
        if ticket.state is TicketState.DONE:
            await self.emit(transition(ticket, "revert", track_id=track.id))
        elif ticket.state is TicketState.BLOCKED:
            await self.emit(transition(ticket, "retry", track_id=track.id))
            for held in release_held(track):
                await self.emit(transition(held, "retry", track_id=track.id))
        return restored

    def _load_for_commands(self) -> None:
        state = self.store.load_state()
        if state is None:
            raise SlopError(f"no run recorded in {self.store.root}")
        self.state = state
        self._ticket_usage = {t.id: t.usage for _, t in state.tickets()}

    # -- planning -------------------------------------------------------------------------

    async def _plan(self, prompt: str) -> list[Track]:
        return await plan_and_review(
            prompt,
            planner=self.provider(Tier.PLANNER),
            lead=self.provider(Tier.LEAD),
            settings=self.settings,
            repo_root=self.repo_root,
            map_holder=self.repo_map,
            ledger=self.ledger,
            emit=self.emit,
            reviewer=self.plan_reviewer,
            gate=self._planning_gate,
        )

    async def _planning_gate(self) -> None:
        """Before each planner or lead call: a reached spend limit is asked about (the TUI) or
        stops the run here, with the same words as a stop at the limit mid-run."""
        reached = await self.spend.before_planning()
        if reached is not None:
            raise PlanningFailed(reached.message())

    # -- running --------------------------------------------------------------------------

    async def start_mcp(self) -> None:
        """Start the configured MCP servers (once per session), before the first ticket, so
        every ticket's tool list is fixed from its first request. `McpStartError` names a
        server that did not start, with the end of its stderr."""
        if self.mcp is not None and not self.mcp.started:
            await self.mcp.start()
            self.executor.mcp = self.mcp

    async def run(self, prompt: str) -> RunSummary:
        """Plan, review and dispatch a new run. The previous run in `.slop/` is archived."""
        _check_prompt(prompt)
        self.check_tiers()
        await self.start_mcp()
        await self._begin(prompt)
        try:
            tracks = await self._plan(prompt)
        except (PlanningFailed, PlanRejected) as exc:
            return await self._finish(message=str(exc), failed=True)
        return await self._run_accepted(tracks)

    async def run_tracks(self, prompt: str, tracks: list[Track]) -> RunSummary:
        """A new run of `tracks` as they are: no planning, no review, then what `run` does
        after review (log, checkpoints, dispatch, summary), so `slop status`, `slop undo` and
        `slop resume` work on it. The previous run in `.slop/` is archived.

        The tracks must be as valid as a reviewer's edited plan (`PlanError` otherwise). The
        state runs copies of them: read the outcome from `state` (or `outcomes`), not from
        the objects passed in. A worker model that cannot be made stops here, before
        anything in `.slop/` changes.
        """
        _check_prompt(prompt)
        check_edited_plan(tracks, plan_limits(self.settings))
        self._worker_deps()
        await self.start_mcp()
        await self._begin(prompt)
        return await self._run_accepted(tracks)

    async def _begin(self, prompt: str) -> None:
        """Archive the last run and start a new one (`RunStarted`)."""
        await self._checkpoints.flush(None)  # nothing of an earlier run lands after the archive
        kill_repository_commands(self.repo_root)  # a killed slop's commands must not go on
        await self.git.before_run()  # uncommitted tracked changes refuse the run
        self.store.archive_run()
        self._ticket_usage = {}
        self.outcomes = {}
        await self.emit(RunStarted(run_id=uuid.uuid4().hex[:12], prompt=prompt))
        await self.git.started(self.state.run_id)
        await self.spend.warn()

    async def _run_accepted(self, tracks: list[Track]) -> RunSummary:
        """The one way an accepted plan runs, planned (`run`) or given (`run_tracks`)."""
        await self.emit(PlanAccepted(tracks=tracks))
        return await self._dispatch_all()

    async def resume(self) -> RunSummary:
        """Continue the last run: interrupted tickets are restored and run again. Commands a
        killed slop left running in this repository are killed first: none writes on after
        the restore."""
        kill_repository_commands(self.repo_root)
        state = self.store.load_state()
        if state is None:
            raise SlopError(f"nothing to resume: no run recorded in {self.store.root}")
        if not state.tracks:
            raise SlopError(
                "nothing to resume: the last run stopped before its plan was accepted; "
                "start it again with `slop run`"
            )
        self.check_tiers(Tier.WORKER)  # a resumed run plans nothing: its workers must run
        self.spend.reset()  # the limits as configured now, maybe raised
        self.dispatcher.unpause()
        await self.start_mcp()
        self.state = state
        self._ticket_usage = {t.id: t.usage for _, t in state.tickets()}
        await self.spend.warn()
        await self._restore_for_resume()
        return await self._dispatch_all()

    async def _restore_for_resume(self) -> None:
        """Every ticket about to start afresh gets its files back first (`Restorer.resume`)."""
        for ticket_id in await self.restorer.resume(self.state):
            self.resolver.forget(ticket_id)

    async def _dispatch_all(self) -> RunSummary:
        self._worker_deps()
        reached = await self.spend.dispatch(self._dispatch_tracks)
        if reached is None:
            return await self._finish()
        if self.spend.asker is not None:
            # The person chose to stop at the limit: stopped as `S` stops a run (not finished,
            # so R and the resume offer continue it), with the files of its tickets put back.
            return self.summary(reached.stopped())
        await self.emit(ErrorRaised(message=reached.short()))
        return await self._finish(message=reached.message(), failed=True)

    async def _dispatch_tracks(self) -> None:
        try:
            for track in self.state.tracks:
                if all(t.is_final for t in track.tickets):
                    continue
                await self.dispatcher.run_track(track)
        except asyncio.CancelledError:
            # The dispatcher has interrupted the running tickets (their moves are logged);
            # the checkpoint says so too before the run stops. The run is not finished: a
            # resume runs them again.
            await self._checkpoints.flush(self.state)
            raise

    def given_provider(self, tier: Tier) -> Provider | None:
        """The provider passed in for `tier` (tests, `slop demo`), if any."""
        return self._given_providers.get(tier)

    async def restore_stopped(self, ticket_id: str) -> None:
        """Put back the files of a ticket a stop interrupted (checked as an undo is)."""
        await self._restore(ticket_id, finished=False, verb="stop")

    async def checkpoint_now(self) -> None:
        """Write the state now (after a stop), the writer thread's pending write first."""
        await self._checkpoints.flush(self.state)

    def summary(self, message: str = "") -> RunSummary:
        tickets = [t for _, t in self.state.tickets()]
        count = {s: sum(1 for t in tickets if t.state is s) for s in TicketState}
        ok = bool(tickets) and count[TicketState.DONE] == len(tickets) and not message
        if not message:
            parts = [f"{count[TicketState.DONE]}/{len(tickets)} {plural(len(tickets), 'ticket')} done"]
            if count[TicketState.BLOCKED]:
                blocked = [t for t in tickets if t.state is TicketState.BLOCKED]
                parts.append(
                    "blocked: " + "; ".join(f"{t.id} ({t.blocked_reason})" for t in blocked)
                )
            if count[TicketState.CANCELLED]:
                parts.append(f"{count[TicketState.CANCELLED]} cancelled")
            message = ", ".join(parts)
        return RunSummary(
            ok=ok,
            done=count[TicketState.DONE],
            blocked=count[TicketState.BLOCKED],
            cancelled=count[TicketState.CANCELLED],
            todo=count[TicketState.TODO],
            usage=self.state.usage,
            message=message,
        )

    async def _finish(self, *, message: str = "", failed: bool = False) -> RunSummary:
        summary = self.summary(message)
        if failed:
            summary = msgspec.structs.replace(summary, ok=False)
        await self.emit(RunFinished(ok=summary.ok, message=summary.message))
        return summary

    # -- the worker, through the dispatcher -----------------------------------------------

    async def _run_ticket(self, ticket: Ticket, track: Track) -> None:
        self.resolver.forget(ticket.id)
        try:
            outcome = await run_worker_lifecycle(ticket, self._worker_deps(), track_id=track.id)
        finally:
            # Its files are free for other tickets once it ended; a done one keeps them until
            # its commit is made (`_ticket_done`), so no other ticket's change slips into it.
            if ticket.state is not TicketState.DONE:
                self.executor.owners.release(ticket.id)
        self.outcomes[(track.id, ticket.id)] = outcome

    async def _ticket_done(self, ticket: Ticket, track: Track) -> None:
        # Its files' map entries are re-tagged before the next ticket's context is built.
        self.repo_map.landed({*ticket.target_files, *self.resolver.touched(ticket.id)})
        try:
            await self.resolver.ticket_done(ticket, track)
            await self.git.ticket_done(ticket)
        finally:
            self.executor.owners.release(ticket.id)

    async def close(self) -> None:
        """Write the last checkpoint, close the bus (subscribers get None), the providers'
        clients and the log."""
        if self.mcp is not None:
            self.executor.mcp = None
            await self.mcp.close()
        if self.state.run_id:
            await self._checkpoints.flush(self.state)
        await self.bus.close()
        for provider in list(self._providers.values()):
            try:
                await provider.aclose()
            except Exception:  # closing is best effort; the run's outcome is already saved
                pass
        self.store.close()


def _check_prompt(prompt: str) -> None:
    if not prompt.strip():
        raise SlopError("the request is empty; say what should be done")
