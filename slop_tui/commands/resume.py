"""`slop resume`: continue the last run recorded in `.slop/` (after Ctrl+C, a crash, `kill -9`).

Done tickets stay done; a ticket that was running goes back to `todo`, its files restored from
their pre-images, and runs again. Same options and exit status as `slop run`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from slop_tui.commands.run import add_run_options

NAME = "resume"
HELP = "continue the last interrupted run of a repository"
DESCRIPTION = (
    "Continue the run recorded in the repository's .slop/: done tickets stay done, interrupted "
    "ones are restored from their pre-images and run again. Exit 0 when every ticket is done."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_options(parser)


def run(args: argparse.Namespace) -> int:
    from slop_tui.errors import SlopError
    from slop_tui.store.lock import RepoLock

    repo: Path = args.repo
    if not repo.is_dir():
        raise SlopError(f"--repo {str(repo)!r} is not a directory")
    from slop_tui.config import load_config

    config = load_config(repo)  # refused before anything is touched
    with RepoLock(repo):  # one writer: a run still going on this repository refuses the resume
        from slop_tui.conductor.headless import run_headless
        from slop_tui.conductor.interrupt import run_interruptible

        return run_interruptible(
            lambda: run_headless(
                repo, config, prompt=None, yes=args.yes, linear=args.linear, workers=args.workers
            )
        )
