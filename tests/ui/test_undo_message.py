"""The TUI's `u` says what the undo did, in the words of `slop undo`: the revert commit in a
git run, the restored files in a plain folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from slop_tui.models import TicketState
from slop_tui.ui.screens.board import BoardScreen
from slop_tui.ui.screens.run_end import RunEndScreen
from tests.ui.git_run import git
from tests.ui.helpers import wait_for
from tests.ui.scenario import app_on, make_repo
from tests.ui.test_pilot import SIZE, run_to_end, select, states
from tests.ui.test_run_end import Toasts


@pytest.mark.parametrize("in_git", [True, False], ids=["git", "plain"])
async def test_u_says_what_the_undo_did(tmp_path: Path, in_git: bool) -> None:
    repo, env = make_repo(tmp_path)
    if in_git:
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "README.md")
        git(repo, "commit", "-q", "-m", "Initial commit")
    app = app_on(repo, env, tmp_path)
    toasts = Toasts(app)
    async with app.run_test(size=SIZE) as pilot:
        await run_to_end(pilot, app)
        if in_git:
            await wait_for(lambda: isinstance(app.screen, RunEndScreen), pilot=pilot)
            await pilot.press("escape")
            await wait_for(lambda: isinstance(app.screen, BoardScreen), pilot=pilot)
        await select(pilot, app, "c")
        await pilot.press("u", "y")  # asked first
        await wait_for(lambda: states(app)["c"] is TicketState.TODO, pilot=pilot)
        await wait_for(lambda: any(m.startswith("ticket c") for m, _ in toasts.seen), pilot=pilot)
    said = [m for m, _ in toasts.seen if m.startswith("ticket c")]
    if in_git:
        revert = git(repo, "rev-parse", "HEAD")
        reverted = git(repo, "log", "-1", "--format=%H", "--grep=^Slop-Ticket: c$", "HEAD~1")
        branch = git(repo, "symbolic-ref", "--short", "HEAD")
        assert said == [f"ticket c reverted: commit {revert[:7]} reverts {reverted[:7]} on {branch} (1 file)"]
        assert git(repo, "log", "-1", "--format=%s", "HEAD").startswith("Revert")
    else:
        assert said == ["ticket c: restored 1 file: notes.md"]
    assert not (repo / "notes.md").exists()
