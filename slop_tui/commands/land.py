"""`slop land`: bring a finished run onto the branch it started from."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "land"
HELP = "switch back to your branch and bring the run's commits onto it"
DESCRIPTION = (
    "Switch back to the branch the run started from and fast-forward it to the run branch "
    "(slop/<run-id>), or merge the run when your branch moved meanwhile (a conflict is left to "
    "git's usual tools). The run branch is deleted once landed. `slop diff` shows what lands."
)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """--repo and --run: shared by `land`, `diff` and `drop`."""
    parser.add_argument(
        "--repo", type=Path, default=Path("."), help="the repository (default: the current directory)"
    )
    parser.add_argument(
        "--run", metavar="ID", default=None,
        help="the run id (default: the run branch checked out, or the only one there is)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)


def check_repo(repo: Path) -> Path:
    from slop_tui.errors import SlopError

    if not repo.is_dir():
        raise SlopError(f"--repo {str(repo)!r} is not a directory")
    return repo.resolve()


def run(args: argparse.Namespace) -> int:
    import asyncio

    from slop_tui.display import sanitize
    from slop_tui.store import RepoLock
    from slop_tui.vcs import find_run, land

    repo = check_repo(args.repo)
    run_branch = asyncio.run(find_run(repo, args.run))
    with RepoLock(repo):  # never while a run works in this tree (its holder is named)
        print(sanitize(asyncio.run(land(repo, run_branch)), one_line=True))
    return 0
