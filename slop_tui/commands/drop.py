"""`slop drop`: throw a run away: back to your branch, the run branch deleted."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slop_tui.vcs import RunBranch

NAME = "drop"
HELP = "switch back to your branch and delete the run branch (after confirming)"
DESCRIPTION = (
    "Switch back to the branch the run started from (unchanged) and delete the run branch "
    "(slop/<run-id>) with its commits, after a yes/no question in the terminal; --yes skips it. "
    "Refused while tracked files have uncommitted changes."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from slop_tui.commands.land import add_run_arguments

    add_run_arguments(parser)
    parser.add_argument("--yes", action="store_true", help="do not ask")


def run(args: argparse.Namespace) -> int:
    import asyncio

    from slop_tui.commands.land import check_repo
    from slop_tui.store import RepoLock
    from slop_tui.vcs import find_run

    repo = check_repo(args.repo)
    run_branch = asyncio.run(find_run(repo, args.run))
    with RepoLock(repo):  # never while a run works in this tree (its holder is named)
        return _drop(repo, run_branch, yes=args.yes)


def _drop(repo: Path, run_branch: RunBranch, *, yes: bool) -> int:
    import asyncio
    import sys

    from slop_tui.display import sanitize
    from slop_tui.vcs import drop, run_commits
    from slop_tui.words import counted

    if not yes:
        commits = asyncio.run(run_commits(repo, run_branch))
        question = (
            f"delete {run_branch.branch} and its {counted(len(commits), 'commit')}, and go back to "
            f"{run_branch.base_branch}? [y/N] "
        )
        print(sanitize(question, one_line=True), end="", flush=True)
        answer = sys.stdin.readline()
        if not answer:
            print()
            print("slop drop: no answer (input ended); nothing was changed; --yes drops without asking",
                  file=sys.stderr)
            return 1
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing was changed")
            return 1
    print(sanitize(asyncio.run(drop(repo, run_branch)), one_line=True))
    return 0
