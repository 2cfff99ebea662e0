"""`slop resume`: continue the last run recorded in `.slop/` (after Ctrl+C, a crash, `kill -9`),
or a finished run with tickets left to do (undone or blocked).

Done and cancelled tickets keep their work. Before anything runs, every interrupted ticket (one
that was running, or saved as `todo` with its edits on disk) gets its files back from their
pre-images, and so does every blocked one; then they run again, with undone tickets. Same
options, exit status and no-terminal refusal as `slop run`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from slop_tui.commands.run import add_run_options, refuse_unsandboxed_yes

NAME = "resume"
HELP = "continue the last run: interrupted, blocked and undone tickets run again"
DESCRIPTION = (
    "Continue the run recorded in the repository's .slop/, after Ctrl+C, a crash or kill -9, "
    "or once it finished with tickets undone or blocked. Before anything runs, every "
    "interrupted ticket (one that was running, or left todo with its edits on disk) and every "
    "blocked ticket gets its files back from their pre-images; every ticket is checked first, "
    "and a file changed since stops the resume with nothing touched. Then the interrupted, "
    "blocked and undone tickets run again (with the tickets a blocked one held back); done "
    "and cancelled tickets keep their work. A lost pre-image index is rebuilt from the run's "
    "log, or the resume refuses: an edit is never applied twice. Refused while another "
    "slop runs on the repository, and without --yes when nobody can answer the clutch (no "
    "terminal, stdin at its end). Exit 0 when every ticket is done."
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
    if args.yes:
        refuse_unsandboxed_yes(config)
    else:
        from slop_tui.conductor.answerable import refuse_if_nobody_can_answer

        # `slop run`'s check: before the lock, a file restored or a model asked.
        refuse_if_nobody_can_answer(plan=False)
    with RepoLock(repo):  # one writer: a run still going on this repository refuses the resume
        from slop_tui.conductor.headless import run_headless
        from slop_tui.conductor.interrupt import run_interruptible

        return run_interruptible(
            lambda: run_headless(
                repo, config, prompt=None, yes=args.yes, linear=args.linear, workers=args.workers
            )
        )
