"""`slop ticket DESCRIPTION`: one ticket straight to a Tier 3 worker, no planning.

The worker proposes, the clutch asks in the terminal (writes and commands; reads run at once),
and every change is applied through the tools. Answers are read line by line from stdin, so a
pipe works as well as a person; the end of stdin rejects the waiting proposal and stops the
ticket, it never hangs. `--yes` approves everything without reading stdin.

The run is recorded in `.slop/` like any other (one track holding the one ticket), so
`slop status` shows it and `slop undo ID` restores its files. Like `slop run`, it takes the
repository's lock (one slop at a time) and, over an unfinished last run, asks in a terminal or
needs `--abandon-last`. Exit status: 0 when the ticket
ends done, 1 when it ends blocked, 2 for bad input or configuration, 130 after Ctrl+C.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from slop_tui.commands.run import add_abandon_option, refuse_unsandboxed_yes

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
    add_abandon_option(parser)


def run(args: argparse.Namespace) -> int:
    import msgspec

    from slop_tui.conductor.headless import confirm_new_run
    from slop_tui.conductor.interrupt import run_interruptible
    from slop_tui.config import load_config
    from slop_tui.errors import SlopError
    from slop_tui.models import PlanId
    from slop_tui.store.lock import RepoLock
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
    config = load_config(repo)  # refused before anything is touched (the lock makes `.slop/`)
    if args.yes:
        refuse_unsandboxed_yes(config)
    with RepoLock(root):
        # A ticket is a run of its own: it archives the last run as `slop run` does.
        if not confirm_new_run(root, yes=args.yes, abandon_last=args.abandon_last):
            return 1
        return run_interruptible(
            lambda: run_ticket(
                root, config, ticket_id=ticket_id, description=description, targets=targets, yes=args.yes
            )
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
    """Run one ticket on `repo` with `config`'s worker and QA models; the exit status.

    A session runs it as a one-track plan (`Session.run_tracks`): the log, the checkpoints
    and the pre-images are the ones every run has.
    """
    import asyncio

    from slop_tui.conductor.headless import asking_clutch, print_repo_overrides, run_and_close
    from slop_tui.conductor.printer import Printer
    from slop_tui.words import format_usage
    from slop_tui.conductor.session import Session
    from slop_tui.display import sanitize
    from slop_tui.models import Ticket, TicketState, Track
    from slop_tui.tools.clutch import ApproveAll, AskForChanges, Clutch

    out = stdout if stdout is not None else sys.stdout
    print_repo_overrides(config, out)
    holder: list[Printer] = []
    clutch: Clutch
    if yes:
        clutch = ApproveAll()
    else:
        clutch = asking_clutch(AskForChanges, stdin if stdin is not None else sys.stdin, out, repo, holder)
    session = Session(repo, config, clutch=clutch)
    ticket = Ticket(id=ticket_id, title=_title(description), description=description, target_files=targets)
    track = Track(id="ticket", title=ticket.title, description=description, tickets=[ticket])
    printer = Printer(session.bus.subscribe(), stream=out)
    holder.append(printer)
    printer_task = asyncio.create_task(printer.run(), name="printer")
    await run_and_close(session, printer_task, session.run_tracks(description, [track]), sys.stderr)
    _, ran = session.state.find_ticket(ticket.id, track.id)  # the session ran its own copy
    ok = ran.state is TicketState.DONE
    message = (
        f"{ran.id} done: {ran.result_summary}" if ok else f"{ran.id} {ran.state.value}: {ran.blocked_reason}"
    )
    figures = []
    outcome = session.outcomes.get((track.id, ticket.id))
    if outcome is not None:  # None when the worker failed before returning one
        figures.append(f"{outcome.steps} model call{'s' if outcome.steps != 1 else ''}")
    figures.append(format_usage(session.ledger.total))
    if outcome is not None:
        figures.append(f"first context {outcome.context.total_tokens:,} tokens")
    print(f"{sanitize(message)}\n({', '.join(figures)})", file=out)
    return 0 if ok else 1
