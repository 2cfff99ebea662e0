"""`slop ticket DESCRIPTION`: one ticket straight to a Tier 3 worker, no planning.

The worker proposes, the clutch asks in the terminal (writes and commands; reads run at once),
and every change is applied through the tools. Answers are read line by line from stdin, so a
pipe works as well as a person; the end of stdin rejects the waiting proposal and stops the
ticket, it never hangs. `--yes` approves everything without reading stdin.

The run is recorded in `.slop/` like any other (one track holding the one ticket), so
`slop status` shows it and `slop undo ID` restores its files. Exit status: 0 when the ticket
ends done, 1 when it ends blocked, 2 for bad input or configuration, 130 after Ctrl+C.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from slop_tui.config import Config

NAME = "ticket"
HELP = "give one ticket straight to a worker, no planning"
DESCRIPTION = (
    "Run one ticket through a Tier 3 worker with a fresh context built from the --target files. "
    "The clutch asks in the terminal before every write and command (reads run at once); with "
    "--yes it approves everything. Exit 0 when the ticket ends done, 1 otherwise."
)
DEFAULT_ID = "ticket"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("description", metavar="DESCRIPTION", help="what the ticket should do")
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="FILE",
        help="a file the ticket changes (repository-relative; repeat for several)",
    )
    parser.add_argument(
        "--repo", type=Path, default=Path("."), help="the repository (default: the current directory)"
    )
    parser.add_argument("--yes", action="store_true", help="approve every tool call without asking")
    parser.add_argument(
        "--id",
        default=DEFAULT_ID,
        dest="ticket_id",
        help=f"the ticket's id (default: {DEFAULT_ID}; a scripted scenario keys replies by it)",
    )


def run(args: argparse.Namespace) -> int:
    import asyncio

    import msgspec

    from slop_tui.config import load_config
    from slop_tui.errors import SlopError
    from slop_tui.models import PlanId
    from slop_tui.tools.sandbox import repo_relative, resolve_in_repo

    repo: Path = args.repo
    if not repo.is_dir():
        raise SlopError(f"--repo {str(repo)!r} is not a directory")
    description = args.description.strip()
    if not description:
        raise SlopError("the ticket's description is empty; say what should be done")
    try:
        ticket_id = msgspec.convert(args.ticket_id, PlanId)
    except msgspec.ValidationError:
        raise SlopError(f"--id {args.ticket_id!r}: use letters, digits, '_', '.', ':' or '-'") from None
    root = repo.resolve()
    targets = [repo_relative(root, resolve_in_repo(root, target)) for target in args.target]
    config = load_config(repo)
    return asyncio.run(
        run_ticket(root, config, ticket_id=ticket_id, description=description, targets=targets, yes=args.yes)
    )


def _title(description: str) -> str:
    first = description.splitlines()[0].strip()
    return first if len(first) <= 72 else first[:71] + "…"


async def run_ticket(
    repo: Path,
    config: Config,
    *,
    ticket_id: str,
    description: str,
    targets: list[str],
    yes: bool = False,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Run one ticket on `repo` with `config`'s worker and QA models; the exit status."""
    import asyncio
    import uuid

    from rich.console import Console

    from slop_tui.agents.qa import QaTranslator
    from slop_tui.agents.transitions import transition
    from slop_tui.agents.worker import WorkerDeps, WorkerOutcome, run_worker_lifecycle
    from slop_tui.conductor.bus import EventBus
    from slop_tui.conductor.headless import HoldingClutch
    from slop_tui.conductor.printer import Printer, format_usage
    from slop_tui.conductor.terminal_clutch import TerminalClutch
    from slop_tui.errors import SlopError
    from slop_tui.memory.file_cache import default_cache
    from slop_tui.models import (
        AnyEvent,
        PlanAccepted,
        RunFinished,
        RunStarted,
        Ticket,
        TicketState,
        TicketStateChanged,
        Tier,
        Track,
    )
    from slop_tui.providers import Provider, UsageLedger, make_provider
    from slop_tui.store import SessionState, Store, apply_event
    from slop_tui.tools.clutch import ApproveAll, AskForChanges, Clutch
    from slop_tui.tools.executor import ToolExecutor

    out = stdout if stdout is not None else sys.stdout
    _CHECKPOINT = (RunStarted, PlanAccepted, TicketStateChanged, RunFinished)
    worker_provider = make_provider(config.model_for(Tier.WORKER))  # a bad config stops here
    try:
        cheap: Provider | None = make_provider(config.model_for(Tier.DEFAULT_CHEAP))
    except SlopError:
        cheap = None  # Tier 4 falls back to its deterministic hint
    store = Store(repo, secrets=list(config.keys.values()))
    bus = EventBus(store)
    state: SessionState | None = None

    async def emit(event: AnyEvent) -> AnyEvent:
        # Logged first (the bus), then folded into the checkpoint that `slop status` reads;
        # the checkpoint is written on the moves that matter, as a session does.
        nonlocal state
        logged = await bus.publish(event)
        state = apply_event(state, logged, store.warnings)
        if state is not None and isinstance(logged, _CHECKPOINT):
            store.save_state(state)
        return logged

    holder: list[Printer] = []
    clutch: Clutch
    if yes:
        clutch = ApproveAll()
    else:
        terminal = TerminalClutch(
            stdin=stdin if stdin is not None else sys.stdin, console=Console(file=out, highlight=False)
        )
        clutch = AskForChanges(HoldingClutch(terminal, holder))
    printer = Printer(bus.subscribe(), stream=out)
    holder.append(printer)
    printer_task = asyncio.create_task(printer.run(), name="printer")
    ledger = UsageLedger()
    deps = WorkerDeps(
        repo_root=repo,
        provider=worker_provider,
        qa=QaTranslator(cheap, ledger=ledger, emit=emit),
        executor=ToolExecutor(
            repo,
            store=store,
            scrub_env=sorted(config.key_env_names()),
            command_timeout_s=config.run.command_timeout_s,
        ),
        clutch=clutch,
        emit=emit,
        ledger=ledger,
        settings=config.run,
        file_cache=default_cache,
    )
    ticket = Ticket(id=ticket_id, title=_title(description), description=description, target_files=targets)
    track = Track(id="ticket", title=ticket.title, description=description, tickets=[ticket])
    outcome: WorkerOutcome | None = None
    try:
        store.archive_run()
        await emit(RunStarted(run_id=uuid.uuid4().hex[:12], prompt=description))
        await emit(PlanAccepted(tracks=[track]))
        try:
            outcome = await run_worker_lifecycle(ticket, deps, track_id=track.id)
        except asyncio.CancelledError:
            if ticket.state in (TicketState.IN_PROGRESS, TicketState.AWAITING_APPROVAL):
                await emit(transition(ticket, "interrupt", track_id=track.id, reason="Ctrl+C"))
            raise
        ok = outcome.state is TicketState.DONE
        message = (
            f"{ticket.id} done: {outcome.summary}"
            if ok
            else f"{ticket.id} {outcome.state.value}: {ticket.blocked_reason}"
        )
        await emit(RunFinished(ok=ok, message=message))
    finally:
        await bus.close()
        await printer_task
        for provider in (worker_provider, cheap):
            if provider is not None:
                try:
                    await provider.aclose()
                except Exception:  # closing is best effort; the outcome is already saved
                    pass
        store.close()
    steps = f"{outcome.steps} model call{'s' if outcome.steps != 1 else ''}"
    context = f"first context {outcome.context.total_tokens:,} tokens"
    print(f"{message}\n({steps}, {format_usage(ledger.total)}, {context})", file=out)
    return 0 if ok else 1
