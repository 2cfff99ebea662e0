"""`slop run` and `slop resume` without the TUI: a session, a printer, a terminal clutch.

The clutch is the terminal's (`TerminalClutch`) behind a policy: `AskForChanges` by default,
`AskForEverything` with `--linear`, `ApproveAll` with `--yes` (which never reads stdin, so a
run from CI, `nohup` or `< /dev/null` goes through). While a human is asked, the printer holds
its lines. Ctrl+C cancels the run: running commands are killed, interrupted tickets recorded,
the state saved; the caller turns the interrupt into exit status 130.
"""

from __future__ import annotations

import asyncio
import sys
from contextlib import suppress
from pathlib import Path
from typing import TextIO

from rich.console import Console

from slop_tui.conductor.plan_review import TerminalPlanReviewer
from slop_tui.conductor.printer import Printer
from slop_tui.conductor.session import RunSummary, Session
from slop_tui.conductor.terminal_clutch import TerminalClutch
from slop_tui.config import Config
from slop_tui.models import Decision, Proposal
from slop_tui.tools.clutch import ApproveAll, AskForChanges, AskForEverything, Clutch


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
    holder: list[Printer] = []
    clutch: Clutch
    reviewer: TerminalPlanReviewer | None = None
    if yes:
        clutch = ApproveAll()
    else:
        terminal = TerminalClutch(stdin=stdin, console=Console(file=out, highlight=False))
        policy = AskForEverything if linear else AskForChanges
        clutch = policy(HoldingClutch(terminal, holder))
        reviewer = TerminalPlanReviewer(
            stdin=stdin,
            console=Console(file=out, highlight=False),
            hold=lambda: holder[0].hold(),
        )
    session = Session(
        repo, config, clutch=clutch, plan_reviewer=reviewer, workers=workers, linear=linear
    )
    printer = Printer(session.bus.subscribe(), stream=out)
    holder.append(printer)
    printer_task = asyncio.create_task(printer.run(), name="printer")
    summary: RunSummary | None = None
    try:
        summary = await (session.run(prompt) if prompt is not None else session.resume())
    finally:
        with suppress(Exception):
            await session.close()
        await printer_task
        for warning in session.store.warnings:
            print(f"slop: warning: {warning}", file=err)
    assert summary is not None  # an exception would have left above
    if not summary.ok:
        # Also on stderr: a caller that only keeps stderr (cron, CI) still learns why.
        print(f"slop: {summary.message}", file=err)
    return 0 if summary.ok else 1
