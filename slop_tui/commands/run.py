"""`slop run PROMPT`: the whole pipeline without the TUI, with a live progress display.

Plans (Tier 1, Tier 2), shows the plan for review (unless `--yes`), dispatches every ticket and
asks at the clutch in the terminal. Exit status: 0 when every ticket is done, 1 otherwise
(or when the person keeps an unfinished last run), 2 for bad input or configuration, another
slop running the repository, or an unfinished last run without --abandon-last where nobody can
be asked; 130 after Ctrl+C (the run can be resumed).

The repository's lock (`store/lock.py`) is taken first and held to the end: one slop process
runs a repository at a time.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slop_tui.config import Config

NAME = "run"
HELP = "run a request through planning, review and every ticket, without the TUI"
DESCRIPTION = (
    "Plan PROMPT into tracks and tickets, review the plan (unless --yes), then run every ticket "
    "with the clutch asking in the terminal: writes and commands by default, every tool call "
    "with --linear, nothing with --yes. Progress is a live table on a terminal and plain lines "
    "otherwise. Over an unfinished last run a terminal asks first; --yes or no terminal refuses "
    "unless --abandon-last. One slop runs a repository at a time: a second is refused. Exit 0 "
    "when every ticket is done, 1 otherwise, 130 after Ctrl+C (then `slop resume` continues)."
)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """--repo, --yes | --linear, --workers: shared by `run` and `resume`."""
    parser.add_argument(
        "--repo", type=Path, default=Path("."), help="the repository (default: the current directory)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--yes", action="store_true", help="accept the plan and approve every tool call without asking"
    )
    mode.add_argument(
        "--linear",
        action="store_true",
        help="one ticket at a time, and the clutch stops at every tool call, reads included",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        metavar="N",
        help="tickets run at once (default: [run] workers in agents.toml, 4)",
    )


def add_abandon_option(parser: argparse.ArgumentParser) -> None:
    """--abandon-last: shared by `run` and `ticket`, which both start a new run."""
    parser.add_argument(
        "--abandon-last",
        action="store_true",
        help="start even if the last run is unfinished (it is archived; its tickets can no "
        "longer be resumed or undone). Without it a terminal asks, and --yes or no terminal refuses",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompt", metavar="PROMPT", help="what should be done, e.g. \"Refactor config system\"")
    add_run_options(parser)
    add_abandon_option(parser)


def refuse_unsandboxed_yes(config: Config) -> None:
    """`--yes` approves every command unseen: where no OS sandbox can be made, that is refused
    (one line naming the fix) unless the user's own config says `[run] allow_unsandboxed = true`
    (a repository cannot: `config/overrides.py`)."""
    if config.run.allow_unsandboxed:
        return
    from slop_tui.errors import SlopError
    from slop_tui.sandbox import detect

    info = detect()
    if info.available:
        return
    raise SlopError(
        f"--yes refused: commands cannot run in an OS sandbox here ({info.reason or 'bwrap unavailable'}); "
        f"run without --yes to approve each command, or set [run] allow_unsandboxed = true in "
        f"{config.agents_path} (see slop doctor)"
    )


def run(args: argparse.Namespace) -> int:
    from slop_tui.errors import SlopError
    from slop_tui.store.lock import RepoLock

    repo: Path = args.repo
    if not repo.is_dir():
        raise SlopError(f"--repo {str(repo)!r} is not a directory")
    from slop_tui.config import load_config

    # A config the repository may not set is refused before anything is touched (the lock
    # makes `.slop/`); then, before the heavy imports, a second run is refused at once, and the
    # question about the last run is answered about a run nobody else is changing.
    config = load_config(repo)
    from slop_tui.models import Tier

    for tier in Tier:  # a tier that cannot run (no key) is refused before `.slop/` is made
        config.model_for(tier)
    if args.yes:
        refuse_unsandboxed_yes(config)
    with RepoLock(repo):
        from slop_tui.conductor.answerable import refuse_if_nobody_can_answer
        from slop_tui.conductor.headless import confirm_new_run, run_headless
        from slop_tui.conductor.interrupt import run_interruptible

        if not confirm_new_run(repo, yes=args.yes, abandon_last=args.abandon_last):
            return 1
        if not args.yes:
            refuse_if_nobody_can_answer()  # before a planner token is spent or a run recorded
        return run_interruptible(
            lambda: run_headless(
                repo, config, prompt=args.prompt, yes=args.yes, linear=args.linear, workers=args.workers
            )
        )
