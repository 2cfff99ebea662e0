"""`slop run` and `slop resume` without the TUI: a session, a printer, a terminal clutch.

The clutch is the terminal's (`TerminalClutch`) behind a policy: `AskForChanges` by default,
`AskForEverything` with `--linear`, `ApproveAll` with `--yes` (which never reads stdin, so a
run from CI, `nohup` or `< /dev/null` goes through). While a human is asked, the printer holds
its lines. Ctrl+C cancels the run (`slop_tui.conductor.interrupt`): running commands are
killed, interrupted tickets recorded, the state saved, and the closing (the last checkpoint,
the printer's last lines) is carried through even if it is what the cancel interrupted.
`run_interruptible` turns the interrupt into exit status 130.

A new run archives the last one, so over an unfinished run (`confirm_new_run`) a terminal is
asked first, and `--yes` or no terminal refuses unless `--abandon-last`.

What a repository's `.slop.toml` changed is printed first, one line each, so a cloned
repository cannot tighten (or try to change) a run silently. Every console writes escape codes
only to a terminal; model text goes through the display sanitiser in every one of them.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from slop_tui.conductor.printer import Printer, stream_is_terminal
from slop_tui.conductor.session import Session
from slop_tui.conductor.status import run_branch_steps
from slop_tui.config import Config
from slop_tui.display import sanitize
from slop_tui.store import SessionState
from slop_tui.models import Decision, Proposal, TicketState
from slop_tui.tools.clutch import ApproveAll, AskForChanges, AskForEverything, Clutch

if TYPE_CHECKING:  # a terminal's: imported only when someone is asked (rich, pygments)
    from rich.console import Console

    from slop_tui.conductor.plan_review import TerminalPlanReviewer

T = TypeVar("T")


class HoldingClutch:
    """Asks `inner` with the printer on hold, so no progress line is drawn over the question.

    The printer is created after the session (it subscribes to the session's bus), while the
    session needs its clutch first: `holder` receives the printer once it exists.
    """

    def __init__(self, inner: Clutch, holder: list[Printer]) -> None:
        self.asker = inner
        self._holder = holder

    async def decide(self, proposal: Proposal) -> Decision:
        if not self._holder:
            return await self.asker.decide(proposal)
        with self._holder[0].hold():
            return await self.asker.decide(proposal)


def asking_clutch(
    policy: Callable[[Clutch], Clutch], stdin: TextIO, out: TextIO, repo: Path, holder: list[Printer]
) -> Clutch:
    """The terminal's clutch behind `policy`, asking with the printer on hold (the terminal's
    modules, rich's syntax and pygments among them, are loaded here: only when someone is asked)."""
    from slop_tui.conductor.terminal_clutch import TerminalClutch

    terminal = TerminalClutch(stdin=stdin, console=terminal_console(out), repo=repo)
    return policy(HoldingClutch(terminal, holder))


def terminal_console(out: TextIO) -> Console:
    """A console on `out` that styles only a terminal: a pipe or a file gets plain text,
    whatever FORCE_COLOR says."""
    from rich.console import Console

    tty = stream_is_terminal(out)
    # Piped, lines are not wrapped at a made-up width: a diff keeps its `+`/`-` column.
    return Console(file=out, highlight=False, force_terminal=tty, no_color=not tty, soft_wrap=not tty)


def print_repo_overrides(config: Config, out: TextIO) -> None:
    """One line per setting the repository's `.slop.toml` changed, before anything runs."""
    for line in config.repo_overrides:
        print(f"repository override: {' '.join(sanitize(line).split())}", file=out)
    if config.repo_overrides:
        out.flush()


def unfinished_tickets(state: SessionState | None) -> tuple[int, int] | None:
    """(done, total) when `state` has a ticket still to run (not done, not cancelled: todo,
    undone, blocked or interrupted); None when nothing of it is left to do."""
    if state is None:
        return None
    tickets = [t for _, t in state.tickets()]
    if all(t.state in (TicketState.DONE, TicketState.CANCELLED) for t in tickets):
        return None
    return sum(1 for t in tickets if t.state is TicketState.DONE), len(tickets)


def confirm_new_run(
    repo: Path,
    *,
    yes: bool,
    abandon_last: bool,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> bool:
    """Whether a new run may replace the last one recorded in `repo/.slop/`.

    Starting a run archives the last one: its tickets can no longer be resumed or undone. So
    over an unfinished run a person at a terminal is asked (default no: False, and the caller
    exits 1); with `--yes` or no terminal nobody can be asked, and the run is refused
    (`SlopError`) unless `abandon_last`. Call it with the repository's lock held, or the
    answer could be about a run that is changing meanwhile.
    """
    from slop_tui.errors import SlopError
    from slop_tui.store import Store

    inp = stdin if stdin is not None else sys.stdin
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    store = Store(repo)
    try:
        left = unfinished_tickets(store.load_state())
    finally:
        store.close()
    for warning in store.warnings:
        print(f"slop: warning: {sanitize(warning)}", file=err)
    if left is None or abandon_last:
        return True
    done, total = left
    what = f"the last run is unfinished ({done} of {total} done)"
    if yes or not stream_is_terminal(inp):
        raise SlopError(
            f"{what}: `slop resume` continues it, or add --abandon-last to start a new run "
            "(the last one is archived and its tickets can no longer be undone)"
        )
    print(f"{what}; a new run archives it, and its tickets can no longer be undone.", file=out)
    print("abandon it and start a new one? [y/N] ", end="", file=out, flush=True)
    answer = inp.readline()
    if answer.strip().lower() in ("y", "yes"):
        return True
    print("slop: the last run is kept; `slop resume` continues it", file=err)
    return False


async def run_headless(
    repo: Path,
    config: Config,
    *,
    prompt: str | None,
    yes: bool = False,
    linear: bool = False,
    workers: int | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run (`prompt`) or resume (`prompt=None`) and print progress; the exit status.

    0 when every ticket is done, 1 otherwise (planning failed, the plan was rejected, a ticket
    is blocked or cancelled).
    """
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    stdin = stdin if stdin is not None else sys.stdin
    print_repo_overrides(config, out)
    print_sandbox_notice(err)
    holder: list[Printer] = []
    clutch: Clutch
    reviewer: TerminalPlanReviewer | None = None
    if yes:
        clutch = ApproveAll()
    else:
        from slop_tui.conductor.plan_review import TerminalPlanReviewer

        clutch = asking_clutch(AskForEverything if linear else AskForChanges, stdin, out, repo, holder)
        reviewer = TerminalPlanReviewer(
            stdin=stdin,
            console=terminal_console(out),
            hold=lambda: holder[0].hold(),
        )
    session = Session(
        repo, config, clutch=clutch, plan_reviewer=reviewer, workers=workers, linear=linear
    )
    # A resumed run's plan was logged by the run it continues: the printer starts from it.
    resumed = session.store.load_state() if prompt is None else None
    printer = Printer(
        session.bus.subscribe(), stream=out, tracks=resumed.tracks if resumed is not None else None
    )
    holder.append(printer)
    printer_task = asyncio.create_task(printer.run(), name="printer")
    summary = await run_and_close(
        session,
        printer_task,
        session.run(prompt) if prompt is not None else session.resume(),
        err,
    )
    if not summary.ok:
        # Also on stderr: a caller that only keeps stderr (cron, CI) still learns why.
        print(f"slop: {sanitize(summary.message)}", file=err)
    steps = await run_branch_steps(repo)
    if steps:
        print(steps, file=out)
    return 0 if summary.ok else 1


def print_sandbox_notice(err: TextIO) -> None:
    """Say once, at the start, when commands will run without the OS sandbox, and why."""
    from slop_tui.sandbox import detect

    info = detect()
    if not info.available:
        reason = sanitize(info.reason or "no bwrap", one_line=True)
        print(f"slop: warning: commands run unsandboxed (with your powers): {reason}", file=err)


async def run_and_close(
    session: Session, printer_task: asyncio.Task[None], work: Awaitable[T], err: TextIO
) -> T:
    """Await `work` (the session's run), then close the run whatever happened. On a Ctrl+C the
    closing is carried through and the person is told how to continue."""
    try:
        result = await work
    except asyncio.CancelledError:
        await _carried_through(_close(session, printer_task, err))
        print(f"slop: interrupted; {_resume_hint(session)}", file=err)
        raise
    except BaseException:
        await _carried_through(_close(session, printer_task, err))
        raise
    await _carried_through(_close(session, printer_task, err))
    return result


async def _close(session: Session, printer_task: asyncio.Task[None], err: TextIO) -> None:
    """The last checkpoint, the bus, the providers, the log; then the printer's last lines."""
    try:
        await session.close()
    except Exception as exc:  # the event log still holds every event: resume rebuilds the state
        print(f"slop: warning: closing the run: {sanitize(str(exc))}", file=err)
    finally:
        if not session.bus.closed:
            with suppress(Exception):
                await session.bus.close()  # the printer's stream must end, or it waits forever
    await printer_task
    for warning in session.store.warnings:
        print(f"slop: warning: {sanitize(warning)}", file=err)


async def _carried_through(closing: Coroutine[Any, Any, None]) -> None:
    """Run `closing` to its end even if this task is cancelled meanwhile (a Ctrl+C during the
    closing of a finished run); the cancellation is raised once it is done. Bounded: the
    interrupt guard's deadline ends the process if closing hangs."""
    task = asyncio.ensure_future(closing)
    cancelled = False
    while True:
        try:
            await asyncio.shield(task)
            break
        except asyncio.CancelledError:
            cancelled = True
            if task.done():
                break
    if cancelled:
        raise asyncio.CancelledError
    task.result()


def _resume_hint(session: Session) -> str:
    state = session.state
    if state.tracks and not all(t.is_final for _, t in state.tickets()):
        return "running commands were stopped and the run saved: `slop resume` continues it"
    if state.tracks:
        return "every ticket had ended"
    return "the run stopped before its plan was accepted; nothing ran"
