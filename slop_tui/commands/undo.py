"""`slop undo TICKET`: put back the files a ticket changed and move it back to `todo`.

Never loses work: a file restores only while it still holds exactly what the ticket left there.
When the person or a later ticket has changed one since, the undo stops, naming the files and
who changed them, with nothing touched. There is no `--force`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "undo"
HELP = "restore the files a ticket changed and move it back to todo"
DESCRIPTION = (
    "Restore every file TICKET changed from its pre-image (deleting the files it created) and "
    "move the ticket back to todo, so `slop resume` runs it again. Only files still exactly as "
    "the ticket left them are restored: when you or a later ticket changed one since, nothing "
    "is touched and the files are named (undo the later tickets first)."
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

    async def undo() -> list[str]:
        session = Session(repo, load_config(repo), clutch=ApproveAll())
        try:
            return await session.undo_ticket(args.ticket)
        finally:
            await session.close()

    from slop_tui.display import sanitize

    from slop_tui.store.lock import RepoLock

    with RepoLock(repo):  # one writer: never undo under a run that is still writing
        restored = asyncio.run(undo())
    if restored:
        print(sanitize(f"ticket {args.ticket}: restored {len(restored)} file(s): {', '.join(restored)}", one_line=True))
    else:
        print(sanitize(f"ticket {args.ticket}: no file to restore", one_line=True))
    print(sanitize(f"ticket {args.ticket} is todo again; `slop resume` runs it", one_line=True))
    return 0
