"""`slop diff`: the whole run as one diff, for review before `slop land`."""

from __future__ import annotations

import argparse

NAME = "diff"
HELP = "show everything the run changed (its base to the run branch) as one diff"
DESCRIPTION = (
    "Print the unified diff from the commit the run started from to the tip of its branch "
    "(slop/<run-id>): every ticket's commit at once, through the display sanitiser."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from slop_tui.commands.land import add_run_arguments

    add_run_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from slop_tui.commands.land import check_repo
    from slop_tui.display import sanitize
    from slop_tui.vcs import find_run, run_diff

    repo = check_repo(args.repo)

    async def go() -> str:
        return await run_diff(repo, await find_run(repo, args.run))

    text = asyncio.run(go())
    print(sanitize(text), end="" if text.endswith("\n") or not text else "\n")
    return 0
