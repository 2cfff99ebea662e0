"""`slop undo TICKET`: take back what a ticket did and move it back to `todo`.

Never loses work. In a git run the ticket's commit is reverted (a new commit); a conflict with
later work stops with git's own message, nothing changed. Otherwise the files come back from
their pre-images, each only while it still holds exactly what the ticket left there: when the
person or a later ticket has changed one since, the undo stops, naming the files and who
changed them, with nothing touched. There is no `--force`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "undo"
HELP = "take back a ticket's changes (never over later edits) and move it back to todo"
DESCRIPTION = (
    "Take back what TICKET changed and move it back to todo, so `slop resume` runs it again. "
    "In a git run (the ticket has a commit) its commit is reverted by a new commit on the "
    "checked-out branch, the run's or yours after `slop land`; when later work conflicts, git's "
    "own message is shown and nothing is changed. Otherwise every file the ticket changed is "
    "restored from its pre-image (a file it created is deleted), and only while it still holds "
    "exactly what the ticket left there: when you or a later ticket changed a file since, the "
    "undo refuses, naming the files and who changed them, and touches nothing (undo the later "
    "tickets first, or keep your changes). Your edits are never overwritten, and no option "
    "overrides that. Refused while the ticket or another slop is running on the repository."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ticket", metavar="TICKET", help="the ticket id, as `slop status` shows it")
    parser.add_argument(
        "--repo", type=Path, default=Path("."), help="the repository (default: the current directory)"
    )


def run(args: argparse.Namespace) -> int:
    import asyncio

    from slop_tui.conductor.session import Session
    from slop_tui.config import load_config
    from slop_tui.errors import SlopError
    from slop_tui.tools.clutch import ApproveAll

    repo: Path = args.repo
    if not repo.is_dir():
        raise SlopError(f"--repo {str(repo)!r} is not a directory")

    from slop_tui.conductor.git_run import UndoOutcome, undo_message
    from slop_tui.display import sanitize
    from slop_tui.store.lock import RepoLock

    async def undo() -> UndoOutcome:
        session = Session(repo, load_config(repo), clutch=ApproveAll())
        try:
            return await session.undo_ticket(args.ticket)
        finally:
            await session.close()

    with RepoLock(repo):  # one writer: never undo under a run that is still writing
        outcome = asyncio.run(undo())
    for notice in outcome.notices:
        print(f"slop: warning: {sanitize(notice, one_line=True)}", file=sys.stderr)
    print(sanitize(undo_message(args.ticket, outcome), one_line=True))
    print(sanitize(f"ticket {args.ticket} is todo again; `slop resume` runs it", one_line=True))
    return 0
