"""`slop` / `slop tui [--repo PATH]`: the interactive TUI on a repository."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "tui"
HELP = "the interactive TUI on a repository (what `slop` runs with no command)"
DESCRIPTION = (
    "Open the board on a repository with your config: type a request, review the plan, and "
    "approve, reject or edit every change at the clutch. A missing key is shown with its fix; "
    "an unfinished run in .slop/ is offered for resuming."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repo",
        type=Path,
        default=Path("."),
        help="the repository to work on (default: the current directory)",
    )


def run(args: argparse.Namespace) -> int:
    from slop_tui.store import check_private_state
    from slop_tui.ui.launch import build_app

    check_private_state(args.repo)  # a planted .slop/ is refused before the board opens
    app = build_app(args.repo)
    app.run()
    return app.return_code or 0
