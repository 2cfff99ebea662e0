"""`slop demo`: the TUI on a copy of the bundled sample repository, fully offline."""

from __future__ import annotations

import argparse

NAME = "demo"
HELP = "the TUI on a bundled sample repository with a scripted team: no key, no network"
DESCRIPTION = (
    "Copy the bundled sample repository to a temporary folder and open the TUI on it, with "
    "every tier played by the offline scripted provider (labelled 'offline demo' on screen): "
    "plan review, a stub, tickets in parallel, clutch diffs, a failing command and its QA hint."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from slop_tui.demo import DEMO_PROMPT
    from slop_tui.demo import make_git_repository
    from slop_tui.ui.launch import build_app, prepare_demo

    repo, env = prepare_demo()
    plain = make_git_repository(repo)  # the run is a branch, a commit per ticket
    if plain:
        print(f"slop demo: {plain}")
    # The demo's config is its own; the theme choice is still the person's.
    app = build_app(repo, env=env, demo=True, initial_prompt=DEMO_PROMPT, prefs_env=None)
    app.run()
    print(f"slop demo: the sample repository, as the run left it, is in {repo}")
    if not plain:
        print("slop demo: there, `slop diff` shows the run, `slop land` or `slop drop` ends it")
    return app.return_code or 0
