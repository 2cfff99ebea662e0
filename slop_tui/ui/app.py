"""The Textual application: the board, the clutch queue, and the session running underneath.

The session runs as an async Textual worker on the app's own event loop (model calls and
commands are awaited, never blocking); a second worker pumps the session's bus subscription
into `SessionEvents` messages, in batches, so a burst of events costs one redraw. The app
folds each batch into its `RunView` and tells the open screens which rows changed. The text
of model calls as it streams comes the same way, unlogged (`LiveText`), for the header's
spinner line and the worker tab.

Run messages and errors quote models and commands: every toast goes through `notify`, which
sanitises it and never parses it as markup (`[@click=app.quit]` in a title is shown, not run).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol

from textual import on
from textual.app import App
from textual.notifications import SeverityLevel

from slop_tui.conductor.bus import EventBus, Live
from slop_tui.conductor.git_run import UndoOutcome, undo_message
from slop_tui.conductor.planning import PlanReviewer
from slop_tui.conductor.session import RunSummary
from slop_tui.conductor.spend import BudgetAsker
from slop_tui.display import sanitize
from slop_tui.errors import SlopError
from slop_tui.providers.request_log import RequestLog
from slop_tui.models import (
    AnyEvent,
    Decision,
    Edit,
    ModelCallRetrying,
    ModelTextDelta,
    PlanAccepted,
    RunStarted,
)
from slop_tui.tools.clutch import AllowList, AskForChanges, Clutch
from slop_tui.ui import theming
from slop_tui.ui.bridge import UiClutch, UiPlanReviewer
from slop_tui.ui.budget_asker import UiBudgetAsker
from slop_tui.ui.controls import RunControls
from slop_tui.ui.messages import (
    ClutchChanged,
    PendingProposal,
    PlanReviewRequested,
    RunEnded,
    SessionEvents,
)
from slop_tui.ui.palette import SlopCommands
from slop_tui.ui.pump import LiveText, pump
from slop_tui.ui.run_view import Level, LogEntry, RunView, TicketView, undo_refusal
from slop_tui.ui.screens.board import BoardScreen
from slop_tui.ui.screens.budget import BudgetScreen
from slop_tui.ui.screens.clutch import ClutchScreen
from slop_tui.ui.screens.doctor import DoctorScreen
from slop_tui.ui.screens.plan_review import PlanReviewScreen
from slop_tui.ui.screens.resume import ResumeChoice, ResumeScreen
from slop_tui.ui.screens.run_end import RunEndScreen, one_line_error
from slop_tui.ui.screens.ticket_detail import TicketDetailScreen
from slop_tui.ui.widgets.run_header import ModelCalls, retry_line
from slop_tui.vcs import current_run, run_commits
from slop_tui.words import counted

TicketAction = Literal["retry", "cancel", "undo"]
FLUSH_S = 0.1  # events reach the screen at most this long after they are published


class _Closing(Exception):
    """The board is gone: the app is shutting down."""


class SessionLike(Protocol):
    """What the app drives (`conductor.session.Session`)."""

    bus: EventBus
    budget_asker: BudgetAsker | None
    requests: RequestLog  # the latest request of each ticket, for the ticket detail

    async def run(self, prompt: str) -> RunSummary: ...
    async def resume(self) -> RunSummary: ...
    def pause(self) -> None: ...
    def unpause(self) -> None: ...
    def set_linear(self, on: bool) -> None: ...
    async def retry_ticket(self, ticket_id: str) -> None: ...
    async def cancel_ticket(self, ticket_id: str) -> None: ...
    async def undo_ticket(self, ticket_id: str) -> UndoOutcome: ...
    async def close(self) -> None: ...


# (clutch, plan reviewer, linear) -> a new session on the app's repository.
SessionFactory = Callable[[Clutch, PlanReviewer, bool], SessionLike]


class SlopApp(RunControls):
    CSS_PATH = "app.tcss"
    TITLE = "slop"
    COMMANDS = App.COMMANDS | {SlopCommands}
    # A mode rather than `get_default_screen`: Textual loads a mode screen's own stylesheet.
    MODES = {"board": BoardScreen}
    DEFAULT_MODE = "board"

    def __init__(
        self,
        *,
        repo_root: Path,
        session_factory: SessionFactory | None,
        config_problem: str | None = None,
        demo: bool = False,
        initial_prompt: str = "",
        resume_summary: str | None = None,
        prefs_env: Mapping[str, str] | None = None,
        replay: list[AnyEvent] | None = None,
        repo_overrides: list[str] | None = None,
        config_env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.config_env = config_env  # the environment the config was read with (the demo's own)
        self.repo_root = repo_root
        self.repo_overrides = list(repo_overrides or [])  # what the repository's .slop.toml changed
        self.session_factory = session_factory
        self.config_problem = config_problem
        self.demo = demo
        self.initial_prompt = initial_prompt
        self.resume_summary = resume_summary  # an unfinished run in .slop/, offered at start
        self.prefs_env = prefs_env
        self.view = RunView()
        self.clutch = UiClutch(self)
        self.allow_list = AllowList()  # the run's "always allow" rules; a new run starts empty
        self.reviewer = UiPlanReviewer(self)
        # A reached spend limit asks here instead of stopping; the clutch waits behind it.
        self.budget_asker = UiBudgetAsker(self, on_closed=self._after_budget)
        self.session: SessionLike | None = None
        self.running = False  # a run or a resume is under way
        self.linear = False
        self.paused = False
        self.busy: str | None = None
        self.calls = ModelCalls()  # model calls under way: the header's spinner and retry line
        self.stopping = False  # a stop was asked for; the session is winding down
        self.clutch_deferred = False
        self._clutch_screen: tuple[PendingProposal, ClutchScreen] | None = None
        self._pump_queue: asyncio.Queue[Live | None] | None = None
        self._dirty: set[str] = set()  # rows changed since the last repaint
        self._live_dirty: set[str] = set()  # tickets whose streamed text grew since then
        self._board_due = False  # events came since the last repaint (not only streamed text)
        self._new_plan = False
        self._flush_pending = False
        self.log_shown = 0  # entries of `view.log` already handed to the log pane
        self.bundled_theme_names: list[str] = []
        for theme in theming.bundled_themes():
            self.register_theme(theme)
            self.bundled_theme_names.append(theme.name)
        own, self.theme_problems = theming.user_themes(prefs_env)
        for theme in own:
            self.register_theme(theme)
        wanted = theming.load_prefs(prefs_env).theme
        self.theme = wanted if wanted in self.available_themes else theming.DEFAULT_THEME
        if replay:
            for event in replay:
                self.view.apply(event)

    # -- start -----------------------------------------------------------------------------------

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every toast (screens' and widgets' too: theirs call this) as plain, sanitised text.

        `markup` is accepted for Textual's signature and ignored: a toast's text is never markup.
        """
        super().notify(
            sanitize(message),
            title=sanitize(title, one_line=True),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(theming.VARIABLE_DEFAULTS)

    @property
    def board(self) -> BoardScreen:
        return self._mode_screen()

    def header_changed(self) -> None:
        self.board.refresh_header()

    def _mode_screen(self) -> BoardScreen:
        for screen in self.screen_stack:
            if isinstance(screen, BoardScreen):
                return screen
        raise _Closing()

    @property
    def ui_alive(self) -> bool:
        """False once the app is shutting down (a timer or a late message must then do nothing)."""
        return any(isinstance(screen, BoardScreen) and screen.is_attached for screen in self.screen_stack)

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._remember_theme)
        # Probing bwrap starts a process: off the event loop, so the first frame does not wait.
        self.run_worker(self._sandbox_notice, name="sandbox check", thread=True, exit_on_error=False)
        for problem in self.theme_problems:
            self.notify(problem, severity="warning", timeout=10)
        if self.config_problem is not None:
            self.open_doctor(problem=self.config_problem)
        elif self.resume_summary is not None:
            self.push_screen(ResumeScreen(self.resume_summary), callback=self._resume_chosen)

    def _sandbox_notice(self) -> None:
        """Say once, at the start, when commands will run without the OS sandbox, and why."""
        from slop_tui.sandbox import detect

        info = detect()
        if not info.available:
            reason = sanitize(info.reason or "no bwrap", one_line=True)
            self.call_from_thread(
                self.notify,
                f"Commands will run UNSANDBOXED, with your full powers and network: {reason}. "
                "Each clutch says so; `slop doctor` shows the fix.",
                title="No sandbox",
                severity="warning",
                timeout=30,
            )

    def _remember_theme(self, theme: object) -> None:
        name = getattr(theme, "name", None)
        if isinstance(name, str):
            try:
                theming.save_prefs(theming.UiPrefs(theme=name), self.prefs_env)
            except OSError as exc:
                self.notify(f"could not remember the theme: {exc}", severity="warning")

    def _resume_chosen(self, choice: ResumeChoice | None) -> None:
        if choice == "resume":
            self.resume_run()

    # -- the session -------------------------------------------------------------------------

    def _new_session(self) -> SessionLike | None:
        if self.session_factory is None:
            self.open_doctor(problem=self.config_problem or "no configuration")
            return None
        try:
            allow = AllowList()
            allow.on_change = self._allow_changed
            session = self.session_factory(AskForChanges(self.clutch, allow), self.reviewer, self.linear)
        except SlopError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return None
        self.allow_list = allow
        self._allow_changed()
        session.budget_asker = self.budget_asker
        if self.paused:
            session.pause()
        self.attach_bus(session.bus)
        return session

    def attach_bus(self, bus: EventBus) -> None:
        """Show every event `bus` publishes from now on (a session's, or a benchmark's)."""
        queue = bus.subscribe_live()  # its model calls stream while the app shows them
        self._pump_queue = queue
        self.run_worker(pump(queue, self.post_message), name="event pump", group="pump", exit_on_error=False)

    async def _replace_session(self) -> SessionLike | None:
        old, self.session = self.session, None
        if old is not None:
            await old.close()  # closes its bus: the old pump drains what is left and stops
        self.session = self._new_session()
        return self.session

    def start_run(self, prompt: str) -> bool:
        """Start a new run on `prompt`; False (and a message) if one is under way."""
        if self.running:
            self.notify("A run is under way; wait for it to finish first.", severity="warning")
            return False
        if self.session_factory is None:
            self.open_doctor(problem=self.config_problem or "no configuration")
            return False
        self.running = True
        self.clutch_deferred = False
        self.view.reset()  # a fresh mirror for the new run
        self.busy = "planning…"
        self.board.refresh_plan()
        self.board.reset_log()
        self.run_worker(self._start(lambda s: s.run(prompt)), name="session", group="session", exit_on_error=False)
        return True

    def resume_run(self) -> None:
        if self.running:
            return
        if self.session_factory is None:
            self.open_doctor(problem=self.config_problem or "no configuration")
            return
        self.running = True
        self.clutch_deferred = False  # a "later" was for the run that stopped
        self.busy = "resuming…"
        self.board.refresh_header()
        self.run_worker(self._start(lambda s: s.resume(), replay_log=True), name="session", group="session", exit_on_error=False)

    async def _start(self, go: Callable[[SessionLike], Any], *, replay_log: bool = False) -> None:
        session = await self._replace_session()
        if session is None:
            self.post_message(RunEnded(ok=False, message="the session could not start"))
            return
        if replay_log:
            # The mirror is rebuilt from the log, so the board, the history and the diffs of a
            # resumed run look as they did before the restart.
            store = getattr(session, "store", None)
            if store is not None:
                self.view.reset()
                for event in store.events():
                    self.view.apply(event)
                self.calls.clear()  # the calls of a run that stopped are not under way
                self.board.refresh_plan()
                self.board.reset_log()
        await self._drive(go(session))

    async def _continue(self) -> None:
        """Dispatch again after a retry on a finished run (the session keeps its state)."""
        if self.session is not None:
            await self._drive(self.session.resume())

    async def _drive(self, run: Any) -> None:
        try:
            summary: RunSummary = await run
        except asyncio.CancelledError:
            # Stopped (S, Ctrl+C, quit): the session saved the run on its way out.
            self.post_message(RunEnded(ok=False, message=self.stopped_message()))
            raise
        except SlopError as exc:
            self.post_message(RunEnded(ok=False, message=str(exc)))
        except Exception as exc:  # a bug must not take the person's screen away: show it
            self.post_message(RunEnded(ok=False, message=f"internal error: {type(exc).__name__}: {exc}"))
        else:
            self.post_message(RunEnded(ok=summary.ok, message=summary.message))

    # -- messages --------------------------------------------------------------------------------

    @on(SessionEvents)
    def _events(self, message: SessionEvents) -> None:
        """Fold events into the mirror at once; repaint at most every `FLUSH_S`.

        Folding is cheap; repainting a 2,000-row table is not. Coalescing keeps a stream of
        hundreds of events a second from starving the keys: a key's repaint waits for at most
        one flush, not for a queue of them.
        """
        view = self.view
        for event in message.events:
            if self.calls.apply(event) and isinstance(event, ModelCallRetrying):
                # The retry as it happens, in the log too (the header shows its countdown).
                view.log.append(LogEntry(seq=event.seq, level=Level.WARN, ticket_id=event.ticket_id,
                                         text=retry_line(event)))
            self._dirty |= view.apply(event)
            if isinstance(event, (PlanAccepted, RunStarted)):
                self._new_plan = True
            if isinstance(event, PlanAccepted):
                self.busy = None
        self._board_due = True
        self._schedule_flush()

    @on(LiveText)
    def _live_text(self, message: LiveText) -> None:
        """Streamed text: the header draws it on its spinner's next frame; an open worker tab
        on the next flush (at most every `FLUSH_S`). A tool call being written: the header."""
        for delta in message.deltas:
            self.calls.apply(delta)
            key = self.view.apply_live(delta) if isinstance(delta, ModelTextDelta) else None
            if key is not None:
                self._live_dirty.add(key)
        if self._live_dirty:
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self._flush_pending:
            self._flush_pending = True
            self.set_timer(FLUSH_S, self._flush_events)

    def _flush_events(self) -> None:
        self._flush_pending = False
        if not self.ui_alive:
            return
        view = self.view
        changed, self._dirty = self._dirty, set()
        grew, self._live_dirty = self._live_dirty, set()
        entries = view.log[self.log_shown :]
        self.log_shown = len(view.log)
        board = self.board
        due, self._board_due = self._board_due, False
        if self._new_plan:
            self._new_plan = False
            board.refresh_plan()
            board.apply_changes(set(), entries)
        elif due or changed or entries:
            # Streamed text alone changes nothing there: the header draws it on its own frames.
            board.apply_changes(changed, entries)
        for screen in self.screen_stack:
            if not isinstance(screen, TicketDetailScreen):
                continue
            whole = screen.view.key in changed or any(e.ticket_id == screen.view.ticket.id for e in entries)
            if whole or screen.view.key in grew:
                fresh = view.tickets.get(screen.view.key)
                if fresh is not None and fresh is not screen.view:
                    screen.view = fresh
            if whole:
                screen.refresh_view()
            elif screen.view.key in grew:
                screen.refresh_worker()  # only the text grew: the other tabs stay as drawn

    @on(RunEnded)
    def _run_ended(self, message: RunEnded) -> None:
        if not self.ui_alive:
            return
        self.running = False
        stopped, self.stopping = self.stopping, False
        self.busy = None
        self.calls.clear()
        self.view.drop_live()
        self.board.refresh_header()
        self.notify(message.message or ("run finished" if message.ok else "run stopped"),
                    severity="information" if message.ok else "warning", timeout=8)
        if not message.ok and self.view.finished is None:
            # No RunFinished event says it (planning failed, an error): keep it in the log too.
            level = Level.WARN if stopped else Level.ERROR  # a stop asked for is no error
            self.view.log.append(LogEntry(seq=0, level=level, ticket_id=None, text=message.message))
            self._schedule_flush()
        self.open_run_end(quiet=True)

    @on(PlanReviewRequested)
    def _plan_review(self, message: PlanReviewRequested) -> None:
        if not self.ui_alive:
            return
        request = message.request
        self.busy = "plan review"
        self.board.refresh_header()

        def answered(review: object) -> None:
            self.busy = "planning again…" if getattr(review, "action", "") == "revise" else None
            self.board.refresh_header()
            if not request.answer.done():
                request.answer.set_result(review)

        self.push_screen(PlanReviewScreen(request.tracks), callback=answered)

    @on(ClutchChanged)
    def _clutch_changed(self) -> None:
        if not self.ui_alive:
            return
        self.board.refresh_header()
        if self._clutch_screen is not None:
            item, screen = self._clutch_screen
            if item not in self.clutch.pending:
                # Withdrawn (its ticket was cancelled): its screen goes too.
                self._clutch_screen = None
                if self.screen is screen:
                    self.pop_screen()
        self._show_clutch()

    # -- the clutch queue --------------------------------------------------------------------------

    def _show_clutch(self) -> None:
        if self._clutch_screen is not None or self.clutch_deferred or not self.clutch.pending:
            return
        if any(isinstance(screen, BudgetScreen) for screen in self.screen_stack):
            return  # the budget question first: one question at a time
        item = self.clutch.pending[0]
        screen = ClutchScreen(item.proposal, waiting=len(self.clutch.pending), note=item.note, repo_root=self.repo_root)
        self._clutch_screen = (item, screen)
        self.push_screen(screen, callback=partial(self._clutch_decided, item))

    def _after_budget(self) -> None:
        if self.ui_alive:
            self.call_after_refresh(self._show_clutch)

    def _clutch_decided(self, item: PendingProposal, decision: Decision | None) -> None:
        self._clutch_screen = None
        if decision is None:  # "later": it stays queued
            self.clutch_deferred = True
            waiting = len(self.clutch.pending)
            self.notify(f"{counted(waiting, 'proposal')} waiting at the clutch: press c to decide.", timeout=6)
            self.board.refresh_header()
            return
        if isinstance(decision, Edit):
            self.clutch.edited_ticket = item.proposal.ticket_id
        self.clutch.resolve(item, decision)
        self.call_after_refresh(self._show_clutch)

    def _allow_changed(self) -> None:
        if self.ui_alive:
            self.board.refresh_header()

    def revoke_always(self, rule: str) -> None:
        """The palette's "Revoke always-allow": the command is asked about again from now on."""
        self.allow_list.remove(rule)
        self.notify(f"No longer always allowed: {sanitize(rule, one_line=True)}")

    def open_clutch(self) -> None:
        self.clutch_deferred = False
        if not self.clutch.pending:
            self.notify("Nothing is waiting at the clutch.")
            return
        self._show_clutch()

    # -- the end of a git-native run ------------------------------------------------------------

    def open_run_end(self, *, quiet: bool = False) -> None:
        """The run branch's tickets, its whole diff, land and drop (`RunEndScreen`).

        `quiet` (a run just ended): opens only on a run branch with commits, and says nothing
        otherwise; asked for (a key, the palette): says why there is nothing to show.
        """
        if any(isinstance(screen, RunEndScreen) for screen in self.screen_stack):
            return
        self.run_worker(self._open_run_end(quiet), name="run end", group="run-end", exclusive=True, exit_on_error=False)

    async def _open_run_end(self, quiet: bool) -> None:
        try:
            run = await current_run(self.repo_root)
            if run is not None and quiet and not await run_commits(self.repo_root, run):
                return
        except Exception as exc:  # a bug or a git failure is a line, never a traceback
            if not quiet:
                self.notify(one_line_error(exc), severity="error", timeout=10)
            return
        if run is None:
            if not quiet:
                self.notify("No run branch to land or drop: the repository is not on a slop/<run-id> branch.")
            return
        if self.ui_alive and not any(isinstance(screen, RunEndScreen) for screen in self.screen_stack):
            self.push_screen(RunEndScreen(self.repo_root, run))

    # -- controls ------------------------------------------------------------------------------------

    def open_ticket(self, view: TicketView) -> None:
        self.push_screen(TicketDetailScreen(view))

    def open_doctor(self, problem: str | None = None) -> None:
        self.push_screen(DoctorScreen(self.repo_root, problem=problem, env=self.config_env))

    def focus_prompt(self) -> None:
        while len(self.screen_stack) > 1 and not isinstance(self.screen, (ClutchScreen, PlanReviewScreen, BudgetScreen)):
            self.pop_screen()
        self.board.action_new_run()

    def switch_theme(self, name: str) -> None:
        self.theme = name

    def set_linear(self, on: bool) -> None:
        self.linear = on
        if self.session is not None:
            self.session.set_linear(on)
        self.notify("Linear mode: one ticket at a time, every tool call stops at the clutch." if on else "Linear mode off.")
        self.board.refresh_header()

    def set_paused(self, on: bool) -> None:
        self.paused = on
        if self.session is not None:
            (self.session.pause if on else self.session.unpause)()
        self.notify("Dispatch paused: no new ticket starts." if on else "Dispatch resumed.")
        self.board.refresh_header()

    def ticket_action(self, action: TicketAction, view: TicketView, *, confirmed: bool = False) -> None:
        if self.session is None:
            self.notify("No run in this session yet.", severity="warning")
            return
        if action in ("cancel", "undo") and not confirmed:
            ticket = view.ticket
            if action == "cancel":
                question = f"Cancel ticket {ticket.id}?"
                detail = "Its worker stops for good; tickets after it are held. r retries it later."
            else:
                question = f"Undo ticket {ticket.id}?"
                detail = "The files it changed are put back as they were before it ran."
            self.confirm(question, detail, partial(self.ticket_action, action, view, confirmed=True), yes=action)
            return
        self.run_worker(self._ticket_action(action, view.ticket.id), group="actions", exit_on_error=False)

    async def _ticket_action(self, action: TicketAction, ticket_id: str) -> None:
        session = self.session
        assert session is not None
        try:
            if action == "retry":
                await session.retry_ticket(ticket_id)
                self.notify(f"{ticket_id}: back to todo")
                if not self.running:
                    self.running = True
                    self.run_worker(self._continue(), name="session", group="session", exit_on_error=False)
            elif action == "cancel":
                await session.cancel_ticket(ticket_id)
                self.notify(f"{ticket_id}: cancelled")
            else:
                outcome = await session.undo_ticket(ticket_id)
                # The same words as `slop undo`; paths and git's words are not markup.
                for notice in outcome.notices:
                    self.notify(sanitize(notice, one_line=True), severity="warning", timeout=10, markup=False)
                self.notify(sanitize(undo_message(ticket_id, outcome), one_line=True), markup=False)
        except SlopError as exc:
            said = undo_refusal(self.view.find(ticket_id), exc, self.view) if action == "undo" else str(exc)
            self.notify(sanitize(said, one_line=True), severity="error", timeout=10, markup=False)

    async def on_unmount(self) -> None:
        if self.session is not None:
            try:
                await self.session.close()
            except Exception:  # closing is best effort: the state is already on disk
                pass
