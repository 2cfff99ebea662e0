"""`slop status`: the tracks, tickets, states, usage and cost of a repository's last run."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "status"
HELP = "show the last run of a repository: tickets, states, usage and cost"
DESCRIPTION = (
    "Print the tracks and tickets of the run recorded in .slop/, with states, tokens and cost. "
    "Reads only: it works while a run is going (and says so), and never waits for it."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repo", type=Path, default=Path("."), help="the repository (default: the current directory)"
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from slop_tui.conductor.status import render_status
    from slop_tui.display import sanitize
    from slop_tui.errors import SlopError
    from slop_tui.store import Store, lock_holder

    repo: Path = args.repo
    if not repo.is_dir():
        raise SlopError(f"--repo {str(repo)!r} is not a directory")
    store = Store(repo)
    state = store.load_state()
    for warning in store.warnings:
        print(f"slop: warning: {sanitize(warning)}", file=sys.stderr)
    if state is None:
        print(sanitize(f"no run recorded in {store.root}"))
        return 1
    # Read without the lock (status never waits for a run or gets in its way); who holds it
    # only tells a live run from an interrupted one.
    print(render_status(state, running_pid=lock_holder(repo)), end="")
    stand_ins = _scripted_stand_ins(repo)
    if stand_ins:
        print(f"costs: the scripted (offline) team priced as the default models ({stand_ins})")
    import asyncio

    from slop_tui.conductor.status import run_branch_steps

    steps = asyncio.run(run_branch_steps(repo))
    if steps:
        print(f"\n{steps}")
    return 0


def _scripted_stand_ins(repo: Path) -> str:
    """`planner anthropic:…, worker deepseek:…` for the tiers the repository's config
    plays offline and `[prices]` does not price: their costs borrow those models' prices.
    Read from the config as it is now; an unreadable config says nothing here (doctor does)."""
    from slop_tui.config import load_config
    from slop_tui.errors import SlopError
    from slop_tui.models import Tier
    from slop_tui.providers.scripted import priced_as

    try:
        config = load_config(repo, read_credentials=False)
    except SlopError:
        return ""
    parts = []
    for tier in Tier:
        label = config.models.get(tier.value, "")
        model = priced_as(tier)
        if label.startswith("scripted:") and label not in config.prices and model:
            parts.append(f"{tier.value} {model}")
    return ", ".join(parts)
